"""Coverage: the JSON API, the map page with its form and township table, downloads."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request

from geoservice.analysis.settings import coverage_defaults
from geoservice.analysis.vocabulary import (
    COST_FIELDS,
    COST_UNITS,
    COSTS,
    FACILITY_LAYERS,
    FCA_METHODS,
    FCA_SHORT,
    WEIGHTINGS,
    level_field,
)
from geoservice.analysis.vocabulary import level_choices as layer_levels
from geoservice.errors import BadParameter, InvalidInput, NotFound
from geoservice.reports.coverage import care_label, coverage_csv, coverage_xlsx, summary_rows
from geoservice.reports.xlsx import XLSX_MIME
from geoservice.services.costs import network_kinds
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.demand import demand_text, read_projection
from geoservice.services.network import coverage_service_areas
from geoservice.services.workspace import workspace_info
from geoservice.web.common import (
    field_list,
    json_response,
    map_settings,
    page_params,
    workspace_store,
)
from geoservice.web.pages import bulk_layer, large_layer
from layers import KINDS
from maps import coverage_map, map_parts

bp = Blueprint("coverage", __name__)
# the most facilities whose road service areas a page draws (about 10 ms each)
SERVICE_AREA_MAX_FACILITIES = 300


# The travel cost parameters every analysis page and API takes (services/costs.py); the OD
# matrix itself comes as the multipart file ``cost_matrix`` (POST only).
COST_KEYS = ("cost", "network", "cost_field", "cost_unit")


@contextlib.contextmanager
def uploaded_file(field: str):
    """The file uploaded as multipart ``field`` saved to a temporary path for the ``with``
    block: yields (path, the name the user knows it by), or (None, None) when none was
    sent (or the request is not a POST)."""
    upload = request.files.get(field) if request.method == "POST" else None
    if upload is None or not upload.filename:
        yield None, None
        return
    name = Path(upload.filename).name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{field}{Path(name).suffix.lower()}"
        upload.save(path)
        yield path, name


def uploaded_projection():
    """The projection table uploaded as ``projection`` (multipart), its format checked
    (``ProjectionRejected``: Chinese, file, row and field); None when none was sent."""
    from geoservice.web.uploads import import_limits

    with uploaded_file("projection") as (path, name):
        return None if path is None else read_projection(path, name, limits=import_limits())


def uploaded_matrix():
    """``with uploaded_matrix() as (path, name)``: the OD matrix uploaded as
    ``cost_matrix`` (multipart), read and checked by the parameters built inside the block
    (``cost_params``); (None, None) when none was sent."""
    return uploaded_file("cost_matrix")


def cost_args(a) -> dict:
    """The cost keywords of ``coverage_params`` / ``siting_params`` from a request's args."""
    return {k: a.get(k) for k in COST_KEYS}


def params_from_args(a, projection=None, matrix_path=None, matrix_name=None):
    """``coverage_params`` from a dict-like of text (query string, form): the same names on
    the page, the API, the downloads and the printed map; an uploaded matrix is read
    within the configured import limits."""
    limits = None
    if matrix_path is not None:
        from geoservice.web.uploads import import_limits

        limits = import_limits()
    return coverage_params(a.get("layer"), a.get("radius"), a.get("level"),
                           a.get("weighting"), a.get("target"), a.get("year"),
                           a.get("growth"), projection, a.get("plan"), **cost_args(a),
                           matrix_path=matrix_path, matrix_name=matrix_name,
                           method=a.get("method"), cutoffs=a.get("cutoffs"), limits=limits)


def _args():
    return request.form if request.method == "POST" else request.args


def _params():
    a = _args()
    projection = uploaded_projection() if request.method == "POST" else None
    with uploaded_matrix() as (path, name):
        return params_from_args(a, projection, path, name)


def _run():
    params = _params()
    return params, run_coverage(workspace_store(), params)


@bp.route("/api/coverage", methods=["GET", "POST"])
def api_coverage():
    """The result as JSON; ``fields=`` keeps only those fields of the village rows and
    ``limit``/``offset`` return one page of them (with ``numberMatched``/``numberReturned``).
    ``year`` (and ``growth``) for the target year's demand; POST (multipart) also takes a
    ``projection`` table."""
    fields = field_list()
    offset, limit = page_params(current_app.config["API_PAGE_MAX"])
    _, result = _run()
    body = result.to_dict(fields=fields, offset=offset, limit=limit)
    if limit is not None or "offset" in request.args:
        body["numberMatched"] = len(result.villages)
        body["numberReturned"] = len(body["villages"])
        body["limit"], body["offset"] = limit, offset
    return json_response(body)


def _download(data: bytes, params, ext: str, mimetype: str) -> Response:
    radius = (f"{int(params.radius_m)}m" if params.cost.unit == "m"
              else f"{params.radius_m:g}min")
    name = f"coverage_{params.layer}_{radius}.{ext}"
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# POST (multipart): a run on an uploaded OD matrix, which cannot travel in a link, is
# downloaded by sending the matrix again (the page's download form does).
@bp.route("/coverage/report.xlsx", methods=["GET", "POST"])
def report_xlsx():
    params, result = _run()
    return _download(coverage_xlsx(result), params, "xlsx",
                     XLSX_MIME)


@bp.route("/coverage/report.csv", methods=["GET", "POST"])
def report_csv():
    params, result = _run()
    return _download(coverage_csv(result), params, "csv", "text/csv; charset=utf-8")


def level_choices() -> dict[str, list[tuple[str, str]]]:
    """Each facility layer's levels as (value, label) pairs, for the forms' level select."""
    return {layer: list(layer_levels(layer).items()) for layer in FACILITY_LAYERS}


# What a page shows beside its form instead of an error page: a bad parameter, an OD matrix
# that cannot be used, a road network that is not in the workspace.
PAGE_ERRORS = (BadParameter, InvalidInput, NotFound)


def _fallback_params():
    """The defaults of the layer asked for (of the default layer if that is bad too)."""
    try:
        return coverage_params(_args().get("layer"))
    except BadParameter:
        return coverage_params()


def _page_params():
    """The page's parameters; a bad one is shown beside the form (HTTP 400) and the page is
    drawn with the defaults instead of an error page that loses the form."""
    try:
        return _params(), None
    except PAGE_ERRORS as exc:
        return _fallback_params(), str(exc)


def cost_choices() -> list[tuple[str, str]]:
    """The 出行成本 select: (value, label)."""
    return [(k, f"沿{v}" if k == "network" else v) for k, v in COSTS.items()]


def cost_form(params, store) -> dict:
    """What the 出行成本 fields show (templates/_cost_form.html): the cost run, the choices,
    which road layers are in the workspace, and each layer's (and level's) default radius
    in metres and in minutes for the radius field that follows the unit."""
    spec = params.cost.spec
    present = set(store.current_versions())
    networks = [(k, label, k in present) for k, label in network_kinds().items()]
    defaults = {}
    for layer in FACILITY_LAYERS:
        for level in ("", *layer_levels(layer)):
            d = coverage_defaults(layer, level or None)
            defaults[f"{layer}|{level}"] = {"m": d["radius_m"], "min": d["radius_min"]}
    return {
        "cost": spec.kind, "field": spec.field, "network": spec.network, "unit": spec.unit,
        "unit_label": COST_UNITS[spec.unit], "matrix_name": spec.matrix_name,
        "label": spec.label(),
        "costs": cost_choices(),
        "fields": [(k, f"{v}（{'米' if k == 'length' else '分钟'}）")
                   for k, v in COST_FIELDS.items()],
        "units": list(COST_UNITS.items()),
        "networks": networks,
        "network_ready": any(ok for *_, ok in networks),
        "radius_defaults": defaults,
    }


@bp.route("/coverage", methods=["GET", "POST"])
def page():
    """The page; POST (multipart) also takes a ``projection`` table for the target year's
    demand and an OD matrix ``cost_matrix`` (the form switches to POST when 出行成本 is
    OD 矩阵)."""
    params, param_error = _page_params()
    shading = _args().get("shading", "covered")
    if shading not in ("covered", "access"):
        shading = "covered"
    store = workspace_store()
    try:
        result = run_coverage(store, params)
    except PAGE_ERRORS as exc:  # e.g. an OD matrix naming villages the workspace lacks
        if params.cost.straight:
            raise
        param_error = str(exc)
        params = _fallback_params()
        result = run_coverage(store, params)
    info = workspace_info(store)
    summary = dict(result.summary)
    # A facility layer too large for the page is drawn by view (geoservice.web.pages).
    by_view = large_layer(store, params.layer)
    where = {level_field(params.layer): [params.level]} if by_view and params.level else None
    villages_source = bulk_layer(store, "villages", result.villages)
    # township outlines (a table row's 定位), when the villages are in the page
    townships = (store.read("townships") if villages_source is None
                 and "townships" in store.current_versions() else None)
    # on the road network: the area reachable within the radius along roads (a county's
    # facilities; beyond SERVICE_AREA_MAX_FACILITIES the legend says why none is drawn)
    many = len(result.facilities) > SERVICE_AREA_MAX_FACILITIES
    areas = None if many else coverage_service_areas(store, params, result)
    if many and params.cost.spec.kind == "network":
        summary["cost_notes"] = [*summary.get("cost_notes", []),
                                 f"设施超过 {SERVICE_AREA_MAX_FACILITIES} 处，未画沿道路服务范围"]
    m = coverage_map(result.villages, result.facilities, summary,
                     service_areas=None if areas is None else (
                         areas.areas, areas.merged,
                         f"沿道路 {summary['radius_m']:g} {summary['cost']['unit_label']}服务范围"),
                     shading=shading,
                     title=f"{info['title']} · {KINDS[params.layer].label}覆盖"
                           + cost_title(params.cost.spec),
                     notes=info["notes"], settings=map_settings(),
                     facilities_by_view=by_view, facility_where=where,
                     villages_source=villages_source, townships=townships)
    defaults = {layer: coverage_defaults(layer) for layer in FACILITY_LAYERS}
    return render_template(
        "coverage.html", info=info, map=map_parts(m), params=params, shading=shading,
        result=result, summary=result.summary, rows=summary_rows(result),
        townships=result.townships.to_dict(orient="records"),
        town_outlines=townships is not None,
        uncovered=[{**v, "nearest_text": cost_text(v["nearest_m"], params.cost.unit)}
                   for v in result.uncovered.head(15).to_dict(orient="records")],
        layers=[(k, KINDS[k].label) for k in FACILITY_LAYERS], levels=level_choices(),
        weightings=[(k, v[1]) for k, v in WEIGHTINGS.items()], default_radii=defaults,
        methods=list(FCA_METHODS.items()), method_short=FCA_SHORT[params.method],
        cost_form=cost_form(params, store),
        cutoffs_text=",".join(f"{c:g}" for c in params.cutoffs),
        care_label=care_label(result.summary), query=params.query(),
        demand=demand_text(result.summary.get("demand")),
        demand_form=demand_form(params, result.summary.get("demand")),
        param_error=param_error), (400 if param_error else 200)


def cost_text(value, unit: str) -> str:
    """A village's least cost for a table: ``1,234 米`` / ``12.5 分钟``; 无 (no facility),
    不可达 (none reachable)."""
    if value is None or value != value:
        return "无"
    if value == float("inf"):
        return "不可达"
    return f"{value:,.0f} 米" if unit == "m" else f"{value:,.1f} 分钟"


def cost_title(spec) -> str:
    """What a map title adds for a cost other than the straight line, e.g. （沿道路网·通行时间）."""
    if spec.straight:
        return ""
    if spec.kind == "network":
        return f"（沿{COSTS['network']}·{COST_FIELDS[spec.field]}）"
    return f"（{COSTS['matrix']}·{COST_UNITS[spec.unit]}）"


def demand_form(params, demand: dict | None = None) -> dict:
    """What the 目标年份 fields show: the year and growth asked for, the defaults beside."""
    from geoservice.analysis.settings import demand_defaults

    d = demand_defaults()
    q = params.demand.query() if params.demand is not None else {}
    return {"year": q.get("year", ""), "growth": q.get("growth", ""),
            "base_year": d["base_year"], "default_growth": f"{d['annual_growth'] * 100:g}%",
            "from_table": bool(demand and demand["source"].startswith("预测表"))}
