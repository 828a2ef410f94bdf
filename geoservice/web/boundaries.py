"""Boundary review: JSON API, boundary-line downloads, the map page and the merge form.

The page and ``POST /api/boundaries`` also take a county outline file (form field
``outline``) and the feature of it to use (``outline_feature``: code or name): a file of
several features is refused with the features listed (``services.boundaries.read_outline``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
from pathlib import Path

from flask import Blueprint, Response, jsonify, render_template, request, url_for

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
    applied_text,
    apply_merge_to_store,
    boundary_params,
    merge_params,
    read_outline,
    run_boundaries,
    run_merge,
)
from geoservice.services.params import choice
from geoservice.services.workspace import workspace_info
from geoservice.web.auth import require_actor
from geoservice.web.boundary_lines import (
    PENDING_WAIT,
    cached_review,
    forget_failure,
    lines_response,
    review_job,
    review_status,
)
from geoservice.web.common import (
    json_object,
    json_response,
    list_request,
    map_settings,
    paged,
    workspace_store,
)
from geoservice.web.pages import (
    bulk_layer,
    geometry_min_vertices,
    inline_max,
    is_polygon_kind,
)
from layers.readers import GEO_SUFFIXES
from maps import map_parts
from maps.boundaries import boundaries_map, merge_map
from maps.lines import LinesSource

bp = Blueprint("boundaries", __name__)

LINE_FORMATS = {
    "geojson": (lines_geojson, "geojson", "application/geo+json"),
    "gpkg": (lines_gpkg, "gpkg", "application/geopackage+sqlite3"),
    "shp": (lines_shapefile_zip, "zip", "application/zip"),
    "xlsx": (lines_xlsx, "xlsx", XLSX_MIME),
}
LINE_FORMAT_LABELS = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shp": "压缩的 Shapefile",
                      "xlsx": "XLSX 表格"}



# The most boundary lines the page's table lists (the downloads have them all).
LINES_ON_PAGE = 500

OUTLINE_FIELD = "outline_feature"
OUTLINE_SUFFIXES = GEO_SUFFIXES - {".shp"}  # a Shapefile comes zipped with its .dbf/.shx/.prj


def _params(src=None):
    a = request.args if src is None else src
    return boundary_params(a.get("layer"), **{p: a.get(p) for p in TOLERANCE_PARAMS})


@contextlib.contextmanager
def _uploaded_outline():
    """The outline uploaded as form field ``outline``, read (the feature chosen by
    ``outline_feature``); None when no file was sent. BadParameter (Chinese, naming the
    file) when it cannot be used."""
    upload = request.files.get("outline")
    feature = (request.form.get(OUTLINE_FIELD) or "").strip() or None
    if upload is None or not upload.filename:
        if feature:
            raise BadParameter(f"参数 {OUTLINE_FIELD}（县界要素）需与县界文件一起提交")
        yield None
        return
    filename = Path(upload.filename).name
    suffix = Path(filename).suffix.lower()
    if suffix not in OUTLINE_SUFFIXES:
        raise BadParameter(f"县界文件“{filename}”格式不支持：请上传 GeoJSON（.geojson/.json）、"
                           "GeoPackage（.gpkg）或压缩的 Shapefile（.zip）")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"outline{suffix}"
        upload.save(path)
        yield read_outline(str(path), feature, filename=filename, option=OUTLINE_FIELD)


def _run():
    params = _params()
    return params, cached_review(workspace_store(), params)[0]


def lines_source(result, params) -> LinesSource | None:
    """The review's lines from ``/api/boundaries/lines.geo`` when too many for the page:
    more than ``MAP_INLINE_MAX_FEATURES`` lines or ``MAP_GEOMETRY_MIN_VERTICES`` vertices
    (0: never)."""
    import shapely

    threshold = geometry_min_vertices()
    lines = result.boundary_lines
    if threshold <= 0 or not len(lines):
        return None
    if len(lines) <= inline_max() and \
            int(shapely.get_num_coordinates(lines.geometry.values).sum()) < threshold:
        return None
    return LinesSource(url=url_for("boundaries.api_lines_geo", **params.query()),
                       features=len(lines))


def findings_as_points(findings):
    """``findings`` with each polygonal one as a point inside it and a ``bbox`` column
    (``"w,s,e,n"``, CGCS2000) where the page's table row zooms to: on a province page
    their outlines come from ``/api/boundaries/findings.geo``."""
    import numpy as np
    import shapely

    from geoservice.web.boundary_lines import heavy_findings

    pos = heavy_findings(findings)
    if not len(pos):
        return findings, 0
    f = findings.copy()
    geoms = np.asarray(f.geometry.values, dtype=object)
    wgs = f.to_crs(4490) if f.crs is not None and not f.crs.is_geographic else f
    box = shapely.bounds(np.asarray(wgs.geometry.values, dtype=object)[pos])
    bbox = np.full(len(f), None, dtype=object)
    bbox[pos] = [",".join(f"{v:.6f}" for v in b) for b in box]
    geoms[pos] = shapely.point_on_surface(geoms[pos])
    f["bbox"] = bbox
    return f.set_geometry(geoms, crs=findings.crs), len(pos)


@bp.get("/api/boundaries/lines.geo")
def api_lines_geo():
    """The review's boundary lines simplified for a zoom level, compact
    (``geoservice.web.boundary_lines``); the review's parameters as for ``/api/boundaries``."""
    return lines_response(workspace_store(), _params())


@bp.get("/api/boundaries/status")
def api_status():
    """Where the review of these parameters is (the province page polls it while the
    review runs in the background): ``{"state": "running" | "done" | "failed",
    "message"}``; started when neither done nor running."""
    return jsonify(review_status(workspace_store(), _params()))


@bp.get("/api/boundaries/findings.geo")
def api_findings_geo():
    """The outlines of the review's polygonal findings simplified for a zoom level, as
    ``/api/boundaries/lines.geo`` (``kind``: the severity; ``label``: type and message)."""
    return lines_response(workspace_store(), _params(), "findings",
                          {t: v[0] for t, v in TYPES.items()})


def _answer(result, asked: dict, src=None) -> Response:
    body = result.to_dict(**asked)
    return json_response(paged(body, "findings", len(result.findings), asked, src))


@bp.get("/api/boundaries")
def api_boundaries():
    """The review as JSON; ``fields=`` keeps only those fields of the findings and
    ``limit``/``offset`` return one page of them (with ``numberMatched``/``numberReturned``)."""
    asked = list_request()
    _, result = _run()
    return _answer(result, asked)


@bp.post("/api/boundaries")
def api_boundaries_outline():
    """The review with an uploaded county outline (multipart form: ``outline`` file,
    ``outline_feature``, ``layer`` and the tolerances); ``fields``, ``limit`` and ``offset``
    in the form or the query string, as for GET."""
    asked = list_request(request.form)
    params = _params(request.form)
    with _uploaded_outline() as outline:
        result = run_boundaries(workspace_store(), params, outline)
    return _answer(result, asked, request.form)


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


@bp.route("/boundaries", methods=["GET", "POST"])
def page():
    # A bad parameter is shown beside the form (HTTP 400); the page is drawn with defaults.
    # POST: the same review with an uploaded county outline (an unusable file is shown
    # beside the upload form, HTTP 400, and the page is drawn without it).
    src = request.form if request.method == "POST" else request.args
    param_error = outline_error = None
    try:
        params = _params(src)
    except BadParameter as exc:
        param_error = str(exc)
        try:
            params = boundary_params(src.get("layer"))
        except BadParameter:
            params = boundary_params()
    result = None
    outline_feature = (src.get(OUTLINE_FIELD) or "").strip()
    if request.method == "POST":
        try:
            with _uploaded_outline() as outline:
                if outline is not None:
                    result = run_boundaries(workspace_store(), params, outline)
        except BadParameter as exc:
            outline_error = str(exc)
    drawn_from_api = result is None
    store = workspace_store()
    t0 = time.perf_counter()
    # A layer certainly drawn in bulk (too many features to be light): its review starts
    # at once, in the background, while the units are read.
    job = review_job(store, params) if drawn_from_api and _certainly_bulk(store, params.layer) \
        else None
    info = workspace_info(store)
    units = store.read(params.layer)
    # At province scale the units and (for the stored review) the lines are drawn from
    # the geometry and lines endpoints, every one of them, simplified by zoom.
    units_src = bulk_layer(store, params.layer, frame=units)
    if drawn_from_api and units_src is not None and job is None:
        job = review_job(store, params)
    if job is not None:
        # A review that is not done soon: the page comes at once with the units and a
        # progress line; it polls /api/boundaries/status and reloads when done.
        job.wait(max(0.0, PENDING_WAIT - (time.perf_counter() - t0)))
        if not job.done.is_set() or job.error is not None:
            error = job.error
            if error is not None:
                forget_failure(store, params)  # the next visit reviews again
            return _pending_page(store, info, params, units, units_src, job, error,
                                 param_error)
    if result is None:
        result = cached_review(store, params)[0]
    lines_src = lines_source(result, params) if drawn_from_api else None
    type_labels = {t: v[0] for t, v in TYPES.items()}
    # One table row per group of identical findings; every map feature of a group carries
    # the row's id, so a click on the row zooms to all of them.
    groups = result.groups()
    row_of = [0] * len(result.findings)
    for gi, g in enumerate(groups):
        for k in g["rows"]:
            row_of[k] = gi
    drawn = result.findings.assign(row=row_of)
    findings_src = None
    if lines_src is not None:
        drawn, heavy = findings_as_points(drawn)
        if heavy:
            findings_src = LinesSource(
                url=url_for("boundaries.api_findings_geo", **params.query()), features=heavy)
    m = boundaries_map(units, drawn, result.boundary_lines, result.summary,
                       title=f"{info['title']} · {result.summary['layer_label']}界线审查",
                       type_labels=type_labels, notes=info["notes"], settings=map_settings(),
                       units_source=units_src, lines_source=lines_src,
                       findings_source=findings_src)
    geoms = result.findings.geometry.to_numpy()
    areas = result.findings["area_m2"].to_numpy()
    lengths = result.findings["length_m"].to_numpy()
    findings = []
    for gi, g in enumerate(groups):
        ks = g["rows"]
        area = [float(areas[k]) for k in ks if areas[k] is not None and areas[k] == areas[k]]
        findings.append({
            "fid": gi, "type": g["type"], "type_label": g["type_label"],
            "severity": g["severity"], "severity_label": SEVERITIES[g["severity"]],
            "count": g["count"], "codes": "、".join(g["codes"]),
            "names": "、".join(g["names"]),
            "area_m2": (sum(area) if area else None),
            "length_m": lengths[ks[0]] if g["count"] == 1 else None,
            "message": g["message"],
            "has_geometry": any(geoms[k] is not None and not geoms[k].is_empty for k in ks),
        })
    present = [t for t in TYPES if result.summary["counts"][t]]
    tolerances = [(p, TOLERANCE_PARAMS[p], TOLERANCE_LABELS[TOLERANCE_PARAMS[p]],
                   result.summary["tolerances"][TOLERANCE_PARAMS[p]]) for p in TOLERANCE_PARAMS]
    return render_template(
        "boundaries.html", info=info, map=map_parts(m), params=params, result=result,
        summary=result.summary, rows=summary_rows(result), findings=findings,
        n_findings=len(result.findings),
        types=[(t, type_labels[t], result.summary["counts"][t]) for t in present],
        tolerances=tolerances, query=params.query(),
        lines=result.boundary_lines.drop(columns="geometry").iloc[:LINES_ON_PAGE]
        .to_dict(orient="records"), n_lines=len(result.boundary_lines),
        param_error=param_error, outline_error=outline_error,
        outline_feature=outline_feature,
        outline_used=result.summary["inputs"].get("outline")), \
        (400 if param_error or outline_error else 200)


def _certainly_bulk(store, kind: str) -> bool:
    """``kind`` has so many features that it is drawn in bulk whatever their vertices."""
    threshold = geometry_min_vertices()
    v = store.current_versions().get(kind)
    return threshold > 0 and v is not None and v.features * 4 >= threshold and \
        is_polygon_kind(kind)


def _pending_page(store, info, params, units, units_src, job, error, param_error):
    """The page while the review runs (or after it failed: ``error``): the units drawn
    from the geometry endpoint, searchable and clickable, the form, and the status."""
    import geopandas as gpd

    from geoservice.analysis.boundaries import LAYERS

    label = LAYERS.get(params.layer, params.layer)
    tol = dataclasses.asdict(params.tolerances)
    summary = {"layer": params.layer, "layer_label": label, "tolerances": tol}
    findings = gpd.GeoDataFrame({"type": [], "severity": [], "message": [], "row": []},
                                geometry=[], crs=units.crs)
    lines = gpd.GeoDataFrame({"kind": [], "name_a": [], "name_b": [], "code_a": [],
                              "code_b": [], "length_km": []}, geometry=[], crs=units.crs)
    m = boundaries_map(units, findings, lines, summary,
                       title=f"{info['title']} · {label}界线审查",
                       type_labels={t: v[0] for t, v in TYPES.items()}, notes=info["notes"],
                       settings=map_settings(), units_source=units_src)
    tolerances = [(p, TOLERANCE_PARAMS[p], TOLERANCE_LABELS[TOLERANCE_PARAMS[p]],
                   tol[TOLERANCE_PARAMS[p]]) for p in TOLERANCE_PARAMS]
    return render_template(
        "boundaries.html", info=info, map=map_parts(m), params=params, pending=True,
        review_error=error, estimate=job.estimate,
        status_url=url_for("boundaries.api_status", **params.query()),
        summary=summary, tolerances=tolerances, query=params.query(),
        param_error=param_error, outline_error=None, outline_feature="",
        outline_used=None), (500 if error else 400 if param_error else 200)


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
               "applied": None, "applied_lines": [], "error": None}
    if not form["codes"] and not form["name"]:
        return render_template("boundaries_merge.html", **context)
    actor = require_actor("merge_apply") \
        if request.method == "POST" and _truthy(src.get("apply", "")) else None
    params = merge_params(form["codes"], form["name"], form["code"], form["layer"])
    if actor is not None:
        result, versions = apply_merge_to_store(store, params, actor=actor)
        # Each layer written, by its own label and version.
        context["applied"] = versions[0]
        context["applied_lines"] = applied_text(versions)
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
