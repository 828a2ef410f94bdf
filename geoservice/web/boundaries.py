"""Boundary review: JSON API, boundary-line downloads, the map page and the merge form."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from geoservice.analysis.boundaries import SEVERITIES, TOLERANCE_LABELS, TYPES
from geoservice.errors import BadParameter
from geoservice.reports.boundaries import (
    boundaries_xlsx,
    lines_geojson,
    lines_gpkg,
    lines_shapefile_zip,
    lines_xlsx,
    merge_rows,
    merge_xlsx,
    summary_rows,
)
from geoservice.reports.xlsx import XLSX_MIME
from geoservice.services.boundaries import (
    TOLERANCE_PARAMS,
    applied_dict,
    apply_merge_to_store,
    boundary_params,
    merge_params,
    run_boundaries,
    run_merge,
)
from geoservice.services.params import choice
from geoservice.services.workspace import workspace_info
from geoservice.web.auth import require_actor
from geoservice.web.common import json_object, map_settings, workspace_store
from maps import map_parts
from maps.boundaries import boundaries_map, merge_map

bp = Blueprint("boundaries", __name__)

LINE_FORMATS = {
    "geojson": (lines_geojson, "geojson", "application/geo+json"),
    "gpkg": (lines_gpkg, "gpkg", "application/geopackage+sqlite3"),
    "shp": (lines_shapefile_zip, "zip", "application/zip"),
    "xlsx": (lines_xlsx, "xlsx", XLSX_MIME),
}
LINE_FORMAT_LABELS = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shp": "压缩的 Shapefile",
                      "xlsx": "XLSX 表格"}



def _params():
    a = request.args
    return boundary_params(a.get("layer"), **{p: a.get(p) for p in TOLERANCE_PARAMS})


def _run():
    params = _params()
    return params, run_boundaries(workspace_store(), params)


@bp.get("/api/boundaries")
def api_boundaries():
    _, result = _run()
    return jsonify(result.to_dict())


def _download(data: bytes, name: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/api/boundaries/lines")
def api_lines():
    fmt = choice((request.args.get("format") or "").lower(), "format", "界线文件格式",
                 LINE_FORMAT_LABELS, default="geojson")
    params, result = _run()
    writer, ext, mime = LINE_FORMATS[fmt]
    data = writer(result)
    if fmt == "geojson" and request.args.get("download") is None:
        return Response(data, mimetype=mime)
    return _download(data, f"boundary_lines_{params.layer}.{ext}", mime)


@bp.get("/boundaries/report.xlsx")
def report_xlsx():
    params, result = _run()
    return _download(boundaries_xlsx(result), f"boundaries_{params.layer}.xlsx", XLSX_MIME)


@bp.get("/boundaries")
def page():
    # A bad parameter is shown beside the form (HTTP 400); the page is drawn with defaults.
    param_error = None
    try:
        params = _params()
    except BadParameter as exc:
        param_error = str(exc)
        try:
            params = boundary_params(request.args.get("layer"))
        except BadParameter:
            params = boundary_params()
    result = run_boundaries(workspace_store(), params)
    store = workspace_store()
    info = workspace_info(store)
    units = store.read(params.layer)
    type_labels = {t: v[0] for t, v in TYPES.items()}
    m = boundaries_map(units, result.findings, result.boundary_lines, result.summary,
                       title=f"{info['title']} · {result.summary['layer_label']}界线审查",
                       type_labels=type_labels, notes=info["notes"], settings=map_settings())
    findings = []
    for k, row in enumerate(result.findings.itertuples()):
        findings.append({
            "fid": k, "type": row.type, "type_label": type_labels[row.type],
            "severity": row.severity, "severity_label": SEVERITIES[row.severity],
            "codes": "、".join(row.codes), "names": "、".join(row.names),
            "area_m2": row.area_m2, "length_m": row.length_m, "message": row.message,
            "has_geometry": row.geometry is not None and not row.geometry.is_empty,
        })
    present = [t for t in TYPES if result.summary["counts"][t]]
    tolerances = [(p, TOLERANCE_PARAMS[p], TOLERANCE_LABELS[TOLERANCE_PARAMS[p]],
                   result.summary["tolerances"][TOLERANCE_PARAMS[p]]) for p in TOLERANCE_PARAMS]
    return render_template(
        "boundaries.html", info=info, map=map_parts(m), params=params, result=result,
        summary=result.summary, rows=summary_rows(result), findings=findings,
        types=[(t, type_labels[t], result.summary["counts"][t]) for t in present],
        tolerances=tolerances, query=params.query(),
        lines=result.boundary_lines.drop(columns="geometry").to_dict(orient="records"),
        param_error=param_error), (400 if param_error else 200)


# --- merge -------------------------------------------------------------------------------

def _merge_source():
    if request.method == "POST":
        if request.is_json:
            return json_object('{"codes": "511425102200,511425102201", "name": "新村"}')
        return request.form
    return request.args


def _truthy(v) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "on", "是")


@bp.post("/api/boundaries/merge")
def api_merge():
    src = _merge_source()
    actor = require_actor("merge_apply") if _truthy(src.get("apply", "")) else None
    params = merge_params(src.get("codes"), src.get("name"), src.get("code"), src.get("layer"))
    if actor is not None:
        result, versions = apply_merge_to_store(workspace_store(), params, actor=actor)
        body = result.to_dict()
        body["applied"] = applied_dict(versions)
        return jsonify(body), 201
    body = run_merge(workspace_store(), params).to_dict()
    body["applied"] = None
    return jsonify(body)


@bp.get("/boundaries/merge/report.xlsx")
def merge_report_xlsx():
    """The merge simulation as XLSX (合并汇总, 合并前, 合并后, 村代码调整); writes nothing."""
    a = request.args
    params = merge_params(a.get("codes"), a.get("name"), a.get("code"), a.get("layer"))
    result = run_merge(workspace_store(), params)
    return _download(merge_xlsx(result), f"merge_{params.layer}_{result.new_code}.xlsx",
                     XLSX_MIME)


@bp.route("/boundaries/merge", methods=["GET", "POST"])
def merge_page():
    src = _merge_source()
    store = workspace_store()
    info = workspace_info(store)
    layer = (src.get("layer") or "villages").strip()
    form = {"layer": layer, "codes": src.get("codes") or "", "name": src.get("name") or "",
            "code": src.get("code") or ""}
    context = {"info": info, "form": form, "result": None, "map": None, "rows": [],
               "applied": None, "applied_villages": None, "error": None}
    if not form["codes"] and not form["name"]:
        return render_template("boundaries_merge.html", **context)
    actor = require_actor("merge_apply") \
        if request.method == "POST" and _truthy(src.get("apply", "")) else None
    params = merge_params(form["codes"], form["name"], form["code"], form["layer"])
    if actor is not None:
        result, versions = apply_merge_to_store(store, params, actor=actor)
        context["applied"] = versions[0]
        context["applied_villages"] = versions[1] if len(versions) > 1 else None
    else:
        result = run_merge(store, params)
    units = store.read(params.layer, version=None) if context["applied"] is None else \
        result.layer_after
    m = merge_map(units, result.before, result.after,
                  title=f"合并模拟：{result.new_name}", notes=info["notes"],
                  settings=map_settings())
    context.update(result=result, map=map_parts(m), rows=merge_rows(result),
                   form=params.form())
    return render_template("boundaries_merge.html", **context)
