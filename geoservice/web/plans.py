"""Plans (规划方案): the JSON API, the list page, a plan's page (map editing, status,
history, downloads) and the comparison of two plans (or a plan with today).

Every change goes through ``geoservice.services.plans`` with the current actor (the
service checks the role, writes the audit row and refuses changes to an approved plan);
session POSTs carry the CSRF token (``web/auth.py``). Errors are raised and turned into
Chinese JSON / pages by the app's one handler.
"""

from __future__ import annotations

from urllib.parse import quote

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, redirect, render_template, request, url_for

from geoservice.analysis.coverage import filter_facilities
from geoservice.analysis.vocabulary import (
    FACILITY_LAYERS,
    PLAN_STATUS,
    TODAY,
    level_field,
    level_label,
)
from geoservice.errors import BadParameter, Conflict, InvalidInput, NotFound, http_status
from geoservice.reports.plans import (
    compare_cost,
    compare_rows,
    compare_xlsx,
    plan_geojson,
    plan_xlsx,
)
from geoservice.reports.xlsx import XLSX_MIME
from geoservice.services import plans as svc
from geoservice.services.accounts import Forbidden, Unauthorized, can
from geoservice.services.coverage import coverage_params
from geoservice.services.demand import demand_defaults, demand_text
from geoservice.services.params import text
from geoservice.services.workspace import workspace_info
from geoservice.web.auth import current_actor
from geoservice.web.common import json_object, json_response, map_settings, workspace_store
from geoservice.web.coverage import PAGE_ERRORS, cost_args, cost_form, uploaded_matrix
from geoservice.web.pages import bulk_layer, large_layer, map_layers
from layers import KINDS
from layers.crs import STORED_CRS
from maps import compare_map, map_parts, plan_map, side_by_side

bp = Blueprint("plans", __name__)

# The query parameters of a comparison (besides a and b), as /api/coverage takes them; the
# travel cost ones (COST_KEYS) too, and POST (multipart) an OD matrix ``cost_matrix``
COMPARE_KEYS = ("radius", "level", "weighting", "target", "year", "growth")
YEAR_FROM = {"given": "按所填年份", "plans": "按方案目标年份（两方案中较晚者）",
             "current": "当前数据（两方案均未设目标年份）"}


# --- what several views share ----------------------------------------------------------------

def _list_rows(store) -> list[dict]:
    """Every plan as a row of the list: its fields, site count and beds (one read of the
    planned_sites layer for all of them)."""
    sites = svc.all_sites(store)
    names = sites["scenario"].astype(str)
    out = []
    for plan in svc.list_plans(store):
        mine = sites[names == plan.name]
        d = plan.to_dict()
        d["site_count"] = int(len(mine))
        d["beds"] = int(pd.to_numeric(mine["beds"], errors="coerce").fillna(0).sum())
        out.append(d)
    return out


def _plan_json(store, name) -> dict:
    return svc.plan_dict(store, svc.get_plan(store, name))


def _name_of(name: str) -> str:
    """The plan's name as the service knows it (404 when there is none)."""
    return svc.get_plan(workspace_store(), name).name


def _download(data: bytes, ascii_name: str, name: str, mimetype: str) -> Response:
    """An attachment named ``name`` (UTF-8, RFC 6266/5987) with ``ascii_name`` for
    clients that only read the plain ``filename``."""
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": disposition})


def _file_part(text: str) -> str:
    """A plan name as part of a file name: no characters file systems refuse."""
    return "".join("_" if c in '<>:"/\\|?*' or ord(c) < 32 else c for c in text).strip() or "plan"


@bp.app_context_processor
def plan_menu():
    """``plan_choices()`` for the coverage and siting forms' plan selector (called only
    by the templates that show one)."""
    def plan_choices() -> list[dict]:
        return [{"name": p.name, "layer": p.layer, "layer_label": KINDS[p.layer].label,
                 "status_label": p.status_label}
                for p in svc.list_plans(workspace_store())]
    return {"plan_choices": plan_choices}


# --- JSON API --------------------------------------------------------------------------------

@bp.get("/api/plans")
def api_list():
    rows = _list_rows(workspace_store())
    return json_response({"count": len(rows), "plans": rows})


@bp.post("/api/plans")
def api_create():
    data = json_object('{"name": "方案甲", "layer": "elderly_service_points"}')
    store = workspace_store()
    plan = svc.create_plan(store, current_actor(), data.get("name"), data.get("layer"),
                           target_year=data.get("target_year"), note=data.get("note") or "")
    return json_response(svc.plan_dict(store, plan), 201), {
        "Location": url_for("plans.api_plan", name=plan.name)}


def _src():
    """The request's parameters: the form of a POST (multipart, with an OD matrix), else
    the query string."""
    return request.form if request.method == "POST" else request.args


def _compare_args(src=None) -> dict:
    src = _src() if src is None else src
    return {**{k: src.get(k) for k in COMPARE_KEYS}, **cost_args(src)}


def _compare_results(src=None) -> tuple[dict, tuple]:
    """The comparison asked for and its two coverage results. The cost parameters go to
    ``coverage_params`` as the coverage page's do (``web.coverage.params_from_args``): an
    OD matrix uploaded as ``cost_matrix`` (POST multipart) is read within the configured
    import limits."""
    src = _src() if src is None else src
    a, b = src.get("a"), src.get("b")
    if not (a or "").strip() or not (b or "").strip():
        raise BadParameter("参数 a、b（要比较的两个规划方案）不能为空；与现状比较时写“现状”")
    with uploaded_matrix() as (path, name):
        limits = None
        if path is not None:
            from geoservice.web.uploads import import_limits

            limits = import_limits()
        return svc.compare_plan_results(workspace_store(), a, b, **_compare_args(src),
                                        matrix_path=path, matrix_name=name, limits=limits)


def _compare(src=None) -> dict:
    return _compare_results(src)[0]


@bp.route("/api/plans/compare", methods=["GET", "POST"])
def api_compare():
    """The comparison as JSON; GET with the cost parameters in the query string (straight
    line, road network), POST (multipart) also with an OD matrix ``cost_matrix``."""
    return json_response(_compare())


@bp.get("/api/plans/<name>")
def api_plan(name: str):
    return json_response(_plan_json(workspace_store(), name))


@bp.post("/api/plans/<name>")
def api_update(name: str):
    data = json_object('{"status": "submitted", "note": "…", "target_year": 2030}')
    unknown = sorted(set(data) - {"status", "note", "target_year"})
    if unknown:
        raise BadParameter(f"未知参数：{'、'.join(unknown)}；可修改 status、note、target_year")
    store = workspace_store()
    year = data.get("target_year")
    plan = svc.update_plan(store, current_actor(), name, status=data.get("status"),
                           note=data.get("note"),
                           target_year=None if year is None else str(year))
    return json_response(svc.plan_dict(store, plan))


def _changed(store, name: str, version, counts=None) -> Response:
    body = {"version": version.to_dict(), "plan": _plan_json(store, name)}
    if counts is not None:
        body["counts"] = counts
    return json_response(body)


@bp.post("/api/plans/<name>/sites")
def api_sites(name: str):
    data = json_object('{"ops": [{"op": "move", "site_id": 1, "lon": 103.8, "lat": 29.8}], '
                       '"base": 3}')
    store = workspace_store()
    version, counts = svc.edit_sites(store, current_actor(), name, data.get("ops"),
                                     base=data.get("base"))
    return _changed(store, name, version, counts)


@bp.post("/api/plans/<name>/undo")
def api_undo(name: str):
    store = workspace_store()
    return _changed(store, name, svc.undo_last(store, current_actor(), name))


@bp.post("/api/plans/<name>/restore")
def api_restore(name: str):
    data = json_object('{"version": 3}')
    store = workspace_store()
    return _changed(store, name, svc.restore_plan(store, current_actor(), name,
                                                  data.get("version")))


def _history(name: str) -> list[dict]:
    """A plan's audit rows: who changed it, when (as the audit trail, only for those who
    may see the plan layer's audit rows: planners and administrators)."""
    actor = current_actor()
    if actor is None:
        raise Unauthorized("请先登录：查看规划方案的修改记录需要登录")
    if not can(actor, "plan_change"):
        raise Forbidden(f"查看规划方案的修改记录需要“管理员”或“规划人员”角色；您（{actor.name}）"
                        f"的角色是“{actor.role_label}”")
    return svc.plan_history(workspace_store(), name)


@bp.get("/api/plans/<name>/history")
def api_history(name: str):
    rows = _history(name)
    return json_response({"plan": _name_of(name), "count": len(rows), "rows": rows})


@bp.get("/api/plans/<name>/sites.geojson")
def api_geojson(name: str):
    body = plan_geojson(_plan_json(workspace_store(), name))
    return json_response(body, mimetype="application/geo+json")


@bp.get("/plans/<name>/sites.xlsx")
def sites_xlsx(name: str):
    plan = _plan_json(workspace_store(), name)
    return _download(plan_xlsx(plan), "plan_sites.xlsx",
                     f"规划方案_{_file_part(plan['name'])}_站点.xlsx", XLSX_MIME)


# POST (multipart): a comparison on an uploaded OD matrix, which cannot travel in a link
@bp.route("/plans/compare.xlsx", methods=["GET", "POST"])
def compare_download():
    cmp = _compare()
    return _download(compare_xlsx(cmp), "plans_compare.xlsx",
                     f"方案对比_{_file_part(cmp['a']['name'])}_{_file_part(cmp['b']['name'])}.xlsx",
                     XLSX_MIME)


# --- pages -----------------------------------------------------------------------------------

def _list_context(store, error: str | None = None, form: dict | None = None) -> dict:
    d = demand_defaults()
    return {"info": workspace_info(store), "plans": _list_rows(store), "error": error,
            "form": form or {}, "today": TODAY,
            "layers": [(k, KINDS[k].label) for k in FACILITY_LAYERS],
            "can_change": can(current_actor(), "plan_change"),
            "year_min": d["base_year"], "year_max": d["base_year"] + d["max_years"]}


@bp.get("/plans")
def page():
    return render_template("plans.html", **_list_context(workspace_store()))


@bp.post("/plans")
def page_create():
    store = workspace_store()
    form = {k: (request.form.get(k) or "") for k in ("name", "layer", "target_year", "note")}
    try:
        plan = svc.create_plan(store, current_actor(), form["name"], form["layer"],
                               target_year=form["target_year"], note=form["note"])
    except (BadParameter, Conflict) as exc:
        return render_template("plans.html", **_list_context(store, str(exc), form)), \
            http_status(exc)
    return redirect(url_for("plans.plan_page", name=plan.name, created=1), code=303)


@bp.get("/plans/<name>")
def plan_page(name: str):
    store = workspace_store()
    plan = _plan_json(store, name)
    actor = current_actor()
    info = workspace_info(store)
    settings = map_settings()
    frames, sources = map_layers(store, ["townships", "villages", plan["layer"]])
    sites = _sites_frame(plan["sites"])
    m = plan_map(frames, plan_layer=plan["layer"], sites=sites,
                 title=f"{info['title']} · 规划方案“{plan['name']}”", notes=info["notes"],
                 settings=settings, by_view=sources)
    can_change = can(actor, "plan_change")
    editable = can_change and not plan["read_only"]
    urls = {
        "plan": url_for("plans.api_plan", name=plan["name"]),
        "sites": url_for("plans.api_sites", name=plan["name"]),
        "undo": url_for("plans.api_undo", name=plan["name"]),
        "restore": url_for("plans.api_restore", name=plan["name"]),
        "history": url_for("plans.api_history", name=plan["name"]),
        "page": url_for("plans.plan_page", name=plan["name"]),
    }
    config = {"plan": plan, "urls": urls, "editable": editable, "can_change": can_change,
              "is_admin": bool(actor and actor.role == "admin"), "shifted": settings.shifted}
    d = demand_defaults()
    return render_template(
        "plan.html", info=info, map=map_parts(m), plan=plan, config=config,
        editable=editable, can_change=can_change, is_admin=config["is_admin"],
        history=svc.plan_history(store, plan["name"]) if can_change else None,
        statuses=list(PLAN_STATUS.items()), urls=urls,
        year_min=d["base_year"], year_max=d["base_year"] + d["max_years"],
        created=bool(request.args.get("created")), saved=bool(request.args.get("saved")),
        coverage_url=url_for("coverage.page", layer=plan["layer"], plan=plan["name"]),
        siting_url=url_for("siting.page", layer=plan["layer"], plan=plan["name"]),
        xlsx_url=url_for("plans.sites_xlsx", name=plan["name"]),
        geojson_url=url_for("plans.api_geojson", name=plan["name"]))


def _sites_frame(rows: list[dict]) -> gpd.GeoDataFrame:
    """A plan's site rows (``site_table``) as points (stored CRS)."""
    df = pd.DataFrame(rows, columns=["site_id", "name", "level", "level_label", "beds",
                                     "lon", "lat"])
    return gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]),
                            geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=STORED_CRS)


def _verdict(key: str, diff, measures: dict) -> str:
    """"better" when B is better than A on ``key`` by ``diff``, "worse", or ""."""
    higher = (measures.get(key) or {}).get("higher_is_better")
    if higher is None or diff is None or diff == 0:
        return ""
    return "better" if (diff > 0) == higher else "worse"


def _compare_maps(cmp: dict, results: tuple, info: dict):
    """The two maps of a comparison: each side's villages as that side's coverage run
    (``results``: the comparison's own runs, same parameters and cost) colours them,
    today's facilities, its sites."""
    store = workspace_store()
    p = cmp["parameters"]
    layer = p["layer"]
    settings = map_settings()
    by_view = large_layer(store, layer)
    level = p.get("level")
    facilities = None
    if by_view is None:
        facilities = filter_facilities(store.read(layer), layer, level)
    where = {level_field(layer): [level]} if by_view and level else None
    maps = []
    cost = compare_cost(cmp)
    for index, (key, result) in enumerate(zip(("a", "b"), results, strict=True)):
        side = cmp[key]
        plan = side["plan"]
        label = "A" if key == "a" else "B"
        title = f"{label}：{side['name'] if plan is None else '方案“' + side['name'] + '”'}"
        if not cost["straight"]:
            title += f"（{cost['label']}）"
        maps.append(compare_map(
            result.villages, facilities, _sites_frame(side["sites"]), layer=layer,
            radius_m=float(result.summary["radius_m"]), title=title, index=index,
            notes=info["notes"], settings=settings, facilities_by_view=by_view,
            facility_where=where,
            villages_source=bulk_layer(store, "villages", result.villages),
            circles=(result.summary.get("cost") or {}).get("kind", "straight") == "straight"))
    return side_by_side(*maps)


def _compare_cost_form(store, args, cmp: dict | None) -> dict:
    """What the 出行成本 fields of the comparison form show (``web.coverage.cost_form``):
    the cost asked for (straight line when it cannot be read), an OD matrix as the
    comparison used it (the file itself is not in the parameters)."""
    matrix = text(args.get("cost")) == "matrix"
    try:
        params = coverage_params(**({} if matrix else cost_args(args)))
    except PAGE_ERRORS:
        params = coverage_params()
    form = cost_form(params, store)
    if matrix:
        unit = text(args.get("cost_unit"))
        form.update(cost="matrix", unit=unit if unit in ("m", "min") else "m")
        if cmp is not None:
            form.update(unit=cmp["unit"], matrix_name=cmp["cost"].get("matrix"),
                        label=cmp["cost"].get("label", form["label"]))
    return form


@bp.route("/plans/compare", methods=["GET", "POST"])
def compare_page():
    """The comparison page; POST (multipart) when the 出行成本 is an OD matrix (the form
    switches to POST and sends the file)."""
    store = workspace_store()
    info = workspace_info(store)
    args = _src()
    ctx = {"info": info, "plans": _list_rows(store), "today": TODAY, "cmp": None,
           "error": None, "a": args.get("a", ""), "b": args.get("b", ""),
           "args": {k: args.get(k, "") for k in COMPARE_KEYS}, "parts": None}
    status = 200
    cmp = None
    if args.get("a") or args.get("b"):
        try:
            cmp, results = _compare_results()
        except (BadParameter, NotFound, InvalidInput) as exc:
            ctx["error"] = str(exc)
            status = http_status(exc)
        else:
            query = {"a": cmp["a"]["name"], "b": cmp["b"]["name"],
                     **{k: v for k, v in _compare_args().items() if v not in (None, "")}}
            p = cmp["parameters"]
            summary = cmp["a"]["summary"]
            ctx.update(
                cmp=cmp, rows=compare_rows(cmp), parts=_compare_maps(cmp, results, info),
                query=query, cost=compare_cost(cmp),
                measures=cmp["measures"],
                township_keys=[k for k in ("village_coverage", "elderly_coverage",
                                           "care_beds_per_1000_elderly", "plan_sites")
                               if k in cmp["measures"]],
                verdict=_verdict, xlsx_url=url_for("plans.compare_download", **query),
                json_url=url_for("plans.api_compare", **query),
                demand=demand_text(summary.get("demand")),
                year_from=YEAR_FROM.get(p.get("year_from"), p.get("year_from") or ""),
                radius_from=(summary.get("inputs") or {}).get("radius_from", ""),
                layer_label=KINDS[p["layer"]].label,
                level_label=level_label(p["layer"], p["level"]) if p.get("level") else "")
    ctx["cost_form"] = _compare_cost_form(store, args, cmp)
    ctx["form_layer"] = cmp["parameters"]["layer"] if cmp else "elderly_service_points"
    return render_template("plans_compare.html", **ctx), status
