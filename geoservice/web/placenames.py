"""Place-name check: JSON API (stored labels or an uploaded label file), the map page with
its filterable table and upload form, the XLSX for map providers."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from flask import Blueprint, Response, jsonify, render_template, request

from geoservice.analysis.placenames import FINDING_TYPES
from geoservice.errors import BadParameter
from geoservice.reports.placenames import placenames_xlsx, summary_rows
from geoservice.reports.xlsx import XLSX_MIME
from geoservice.services.placenames import placenames_params, run_placenames
from geoservice.services.workspace import workspace_info
from geoservice.web.common import (
    json_response,
    list_request,
    map_settings,
    paged,
    workspace_store,
)
from geoservice.web.pages import bulk_layer, inline_max, large_layer
from geoservice.web.uploads import (
    CRS_CHOICES,
    import_limits,
    problems_json,
    problems_summary,
    saved_upload,
)
from layers import LayerError, ValidationError
from maps.placenames import STATUS_COLORS, placenames_map
from maps.render import map_parts

bp = Blueprint("placenames", __name__)
# The most problem labels (markers with their own tooltip) and findings rows a page carries
# when there are very many; the XLSX has them all.
PROBLEMS_ON_PAGE = 1000
XLSX = XLSX_MIME


def _params(src):
    return placenames_params(src.get("tolerance"), src.get("radius"), src.get("threshold"))


@contextlib.contextmanager
def _saved_aliases():
    upload = request.files.get("aliases")
    if upload is None or not upload.filename:
        yield None, None
        return
    name = Path(upload.filename).name
    suffix = Path(name).suffix.lower()  # the format is checked by layers.labels.read_aliases
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"aliases{suffix}"
        upload.save(path)
        yield path, name


REVIEWS = 4  # checks of the stored layers kept per app (parameters and layer versions)


def _cached_check(store, params, page: bool):
    """``run_placenames`` of the stored layers, kept per (parameters, layer versions): a
    province's check takes a second or more and the page, its map and the API ask again."""
    import threading
    from collections import OrderedDict

    from flask import current_app

    ext = current_app.extensions.setdefault(
        "geoservice_placenames_checks", {"entries": OrderedDict(), "lock": threading.Lock()})
    versions = tuple(sorted((k, v.version) for k, v in store.current_versions().items()))
    key = (repr(params), page, versions)
    with ext["lock"]:
        hit = ext["entries"].get(key)
        if hit is not None:
            ext["entries"].move_to_end(key)
            return hit
    result = run_placenames(store, params, labels_optional=page)
    with ext["lock"]:
        ext["entries"][key] = result
        while len(ext["entries"]) > REVIEWS:
            ext["entries"].popitem(last=False)
    return result


def _run(upload: bool, page: bool = False):
    store = workspace_store()
    if not upload:
        params = _params(request.args)
        return params, _cached_check(store, params, page), None
    params = _params(request.form)
    crs = (request.form.get("crs") or "").strip() or None
    with saved_upload() as (path, filename), _saved_aliases() as (apath, aname):
        result = run_placenames(store, params, labels_path=path, labels_crs=crs,
                                labels_filename=filename, aliases_path=apath,
                                aliases_filename=aname, limits=import_limits())
    return params, result, filename


def _answer(result, asked: dict, src=None) -> Response:
    body = result.to_dict(**asked)
    return json_response(paged(body, "findings", len(result.findings), asked, src))


@bp.get("/api/placenames")
def api_get():
    """The check as JSON; ``fields=`` keeps only those fields of the findings and
    ``limit``/``offset`` return one page of them (with ``numberMatched``/``numberReturned``)."""
    asked = list_request()
    _, result, _ = _run(upload=False)
    return _answer(result, asked)


@bp.post("/api/placenames")
def api_post():
    """An uploaded label file checked; ``fields``, ``limit`` and ``offset`` in the form or
    the query string, as for GET."""
    asked = list_request(request.form)
    try:
        _, result, _ = _run(upload=True)
    except ValidationError as exc:  # a rejected label file: capped, with the CSV link
        body, status = problems_json(exc)
        return jsonify(body), status
    return _answer(result, asked, request.form)


def _xlsx(result) -> Response:
    return Response(placenames_xlsx(result), mimetype=XLSX, headers={
        "Content-Disposition": 'attachment; filename="placenames_corrections.xlsx"'})


@bp.get("/placenames/report.xlsx")
def report_get():
    _, result, _ = _run(upload=False)
    return _xlsx(result)


@bp.post("/placenames/report.xlsx")
def report_post():
    _, result, _ = _run(upload=True)
    return _xlsx(result)


@bp.route("/placenames", methods=["GET", "POST"])
def page():
    upload = request.method == "POST"
    upload_error, problems, rejected = None, [], None
    try:
        params, result, filename = _run(upload=upload, page=True)
    except (BadParameter, LayerError) as exc:
        if not upload:
            raise
        # A rejected upload keeps the page and its form: the error (with file, row and
        # field) above the form, the workspace layer's result below.
        upload_error = str(exc).split("\n")[0]
        if isinstance(exc, ValidationError):
            # the first problems, the count of each kind, the whole list as CSV
            rejected = problems_summary(exc)
            problems = exc.problems[:rejected["problems_shown"]]
            if rejected["problems_truncated"]:
                kinds = "；".join(f"{c['kind']} {c['count']} 处"
                                 for c in rejected["problem_counts"][:5])
                upload_error += (f"（{kinds}；仅列出前 {rejected['problems_shown']} 处，"
                                 f"完整清单：{rejected['problems_csv']}）")
        params, result, filename = _run(upload=False, page=True)
    store = workspace_store()
    info = workspace_info(store)
    settings = map_settings()
    f = result.findings
    missing = f[f["type"] == "missing"]
    # A stored label layer too large for the page: every label is drawn by view, and the
    # page carries only the first labels and findings with a problem (all in the XLSX).
    cap = min(inline_max(), PROBLEMS_ON_PAGE)
    labels, notes = result.labels, list(info["notes"])
    labels_view = None
    if not filename and len(labels) > cap:
        labels_view = large_layer(store, "place_labels")
        labels = labels[labels["status"] != "ok"]
    if len(labels) > cap or len(f) > cap:
        notes.insert(0, f"问题较多（标注 {len(labels):,} 个、问题 {len(f):,} 条）：地图和问题清单"
                        f"只列出前 {cap:,} 个，完整清单请下载 XLSX")
        labels, f = labels.iloc[:cap], f.iloc[:cap]
    # A heavy village layer (province): every village drawn from the geometry endpoint,
    # its problems joined by code.
    versions = result.summary.get("inputs", {}).get("layer_versions", {})
    current = store.current_versions().get("villages")
    villages_src = bulk_layer(store, "villages") if current is not None and \
        versions.get("villages", current.version) == current.version else None
    m = placenames_map(result.villages, labels, missing, result.summary,
                       title=f"{info['title']} · 地名核查", notes=notes,
                       settings=settings, labels_by_view=labels_view,
                       villages_source=villages_src)
    rows = []
    for r in f.drop(columns="geometry").itertuples():
        # where a click on the row centres the map: drawn like the map's geometry
        lon, lat = settings.point(r.lon, r.lat)
        rows.append({
            "type": r.type, "type_label": r.type_label,
            "code": r.code if isinstance(r.code, str) else "",
            "official_name": r.official_name if isinstance(r.official_name, str) else "",
            "label_name": r.label_name if isinstance(r.label_name, str) else "",
            "suggestion": r.suggestion if isinstance(r.suggestion, str) else "",
            "distance": "" if r.distance_m != r.distance_m or r.distance_m is None
            else f"{r.distance_m:,.0f}",
            "note": r.note if isinstance(r.note, str) else "",
            "lat": lat, "lon": lon,
            "label_id": "" if r.label_id is None or r.label_id != r.label_id
            else int(r.label_id),
        })
    page_html = render_template(
        "placenames.html", info=info, map=map_parts(m), result=result,
        summary=result.summary, rows=rows, summary_rows=summary_rows(result),
        types=list(FINDING_TYPES.items()), colors=STATUS_COLORS, query=params.query(),
        crs_choices=CRS_CHOICES, uploaded=filename, upload_error=upload_error,
        problems=problems, rejected=rejected,
        romanization=result.romanization.iloc[:PROBLEMS_ON_PAGE].to_dict(orient="records"),
        n_romanization=len(result.romanization))
    return page_html, (400 if upload_error else 200)
