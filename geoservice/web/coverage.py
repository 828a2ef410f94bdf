"""Coverage: the JSON API, the map page with its form and township table, downloads."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request

from geoservice.analysis.settings import coverage_defaults
from geoservice.analysis.vocabulary import FACILITY_LAYERS, WEIGHTINGS, level_field
from geoservice.analysis.vocabulary import level_choices as layer_levels
from geoservice.errors import BadParameter
from geoservice.reports.coverage import care_label, coverage_csv, coverage_xlsx, summary_rows
from geoservice.reports.xlsx import XLSX_MIME
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.demand import demand_text, read_projection
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


def uploaded_projection():
    """The projection table uploaded as ``projection`` (multipart), its format checked
    (``ProjectionRejected``: Chinese, file, row and field); None when none was sent."""
    upload = request.files.get("projection")
    if upload is None or not upload.filename:
        return None
    from geoservice.web.uploads import import_limits

    name = Path(upload.filename).name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"projection{Path(name).suffix.lower()}"
        upload.save(path)
        return read_projection(path, name, limits=import_limits())


def _params():
    a = request.form if request.method == "POST" else request.args
    projection = uploaded_projection() if request.method == "POST" else None
    return coverage_params(a.get("layer"), a.get("radius"), a.get("level"),
                           a.get("weighting"), a.get("target"), a.get("year"),
                           a.get("growth"), projection, a.get("plan"))


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
    name = f"coverage_{params.layer}_{int(params.radius_m)}m.{ext}"
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/coverage/report.xlsx")
def report_xlsx():
    params, result = _run()
    return _download(coverage_xlsx(result), params, "xlsx",
                     XLSX_MIME)


@bp.get("/coverage/report.csv")
def report_csv():
    params, result = _run()
    return _download(coverage_csv(result), params, "csv", "text/csv; charset=utf-8")


def level_choices() -> dict[str, list[tuple[str, str]]]:
    """Each facility layer's levels as (value, label) pairs, for the forms' level select."""
    return {layer: list(layer_levels(layer).items()) for layer in FACILITY_LAYERS}


def _page_params():
    """The page's parameters; a bad one is shown beside the form (HTTP 400) and the page is
    drawn with the defaults instead of an error page that loses the form."""
    try:
        return _params(), None
    except BadParameter as exc:
        a = request.form if request.method == "POST" else request.args
        try:
            return coverage_params(a.get("layer")), str(exc)
        except BadParameter:
            return coverage_params(), str(exc)


@bp.route("/coverage", methods=["GET", "POST"])
def page():
    """The page; POST (multipart, from the projection form) also takes a ``projection``
    table for the target year's demand."""
    params, param_error = _page_params()
    shading = (request.form if request.method == "POST" else request.args).get("shading", "covered")
    if shading not in ("covered", "access"):
        shading = "covered"
    store = workspace_store()
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
    m = coverage_map(result.villages, result.facilities, summary, shading=shading,
                     title=f"{info['title']} · {KINDS[params.layer].label}覆盖",
                     notes=info["notes"], settings=map_settings(),
                     facilities_by_view=by_view, facility_where=where,
                     villages_source=villages_source, townships=townships)
    defaults = {layer: coverage_defaults(layer)["radius_m"] for layer in FACILITY_LAYERS}
    return render_template(
        "coverage.html", info=info, map=map_parts(m), params=params, shading=shading,
        result=result, summary=result.summary, rows=summary_rows(result),
        townships=result.townships.to_dict(orient="records"),
        town_outlines=townships is not None,
        uncovered=result.uncovered.head(15).to_dict(orient="records"),
        layers=[(k, KINDS[k].label) for k in FACILITY_LAYERS], levels=level_choices(),
        weightings=[(k, v[1]) for k, v in WEIGHTINGS.items()], default_radii=defaults,
        care_label=care_label(result.summary), query=params.query(),
        demand=demand_text(result.summary.get("demand")),
        demand_form=demand_form(params, result.summary.get("demand")),
        param_error=param_error), (400 if param_error else 200)


def demand_form(params, demand: dict | None = None) -> dict:
    """What the 目标年份 fields show: the year and growth asked for, the defaults beside."""
    from geoservice.analysis.settings import demand_defaults

    d = demand_defaults()
    q = params.demand.query() if params.demand is not None else {}
    return {"year": q.get("year", ""), "growth": q.get("growth", ""),
            "base_year": d["base_year"], "default_growth": f"{d['annual_growth'] * 100:g}%",
            "from_table": bool(demand and demand["source"].startswith("预测表"))}
