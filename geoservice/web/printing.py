"""打印地图: ``GET /print/<analysis>.pdf`` (or ``.png``) with the page's own parameters
and ``paper``, ``orientation``, ``bbox`` (the map extent on screen), ``title``, ``dpi``.

The analysis runs as its page runs it (same services, same parameters); the layout is
``geoservice.reports.printmap``. The ``bbox`` the page sends is the Leaflet map's bounds:
on a GCJ-02 basemap those are GCJ-02 coordinates, turned back into CGCS2000 here.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request

from geoservice.errors import BadParameter, NotFound
from geoservice.web.common import map_settings, workspace_store

bp = Blueprint("printing", __name__)

# Query parameters of the print itself; everything else belongs to the analysis.
PRINT_KEYS = ("paper", "orientation", "bbox", "title", "dpi", "format", "download")
# Page parameters that only change how the web page draws (not the analysis).
PAGE_ONLY = ("shading", "accepted", "added", "skipped", "basemap", "csrf_token")


@bp.before_app_request
def _report_unit() -> None:
    """Every report written for this request names this app's producing unit (PRINT_UNIT,
    else the county's bureau): asked for only when a workbook is written."""
    from geoservice.reports.printmap import producing_unit
    from geoservice.reports.xlsx import REPORT_UNIT

    configured = current_app.config.get("PRINT_UNIT")
    store = current_app.extensions.get("geoservice", {}).get("store")
    g.report_unit_token = REPORT_UNIT.set(
        lambda: producing_unit(configured, store.info() if store is not None else {}))


@bp.teardown_app_request
def _report_unit_done(exc=None) -> None:
    from geoservice.reports.xlsx import REPORT_UNIT

    token = g.pop("report_unit_token", None)
    if token is not None:
        try:
            REPORT_UNIT.reset(token)
        except ValueError:  # set in another context (a streamed response): just clear it
            REPORT_UNIT.set(None)


def _args() -> dict:
    return {k: v for k, v in request.args.items() if k not in PRINT_KEYS + PAGE_ONLY}


def _coverage(store, a: dict):
    from geoservice.services.coverage import run_coverage
    from geoservice.web.coverage import params_from_args

    # the page's own parameters (cost, method, cutoffs included); an uploaded file
    # (OD matrix, projection) cannot travel in a link: such pages offer no print link
    return run_coverage(store, params_from_args(a))


def _siting(store, a: dict):
    from geoservice.services.jobs import FINISHED
    from geoservice.services.siting import params_from_mapping, run_siting
    from geoservice.web.siting import runner

    job_id = a.get("job")
    if job_id:
        job = runner().get(str(job_id))
        if job is None:
            raise NotFound(f"选址任务“{job_id}”不存在或已过期")
        if job.state not in FINISHED or job.result is None:
            raise BadParameter(f"选址任务“{job_id}”尚未完成或没有结果，完成后再打印")
        return job.result
    return run_siting(store, params_from_mapping(a))


def _boundaries(store, a: dict):
    from geoservice.services.boundaries import TOLERANCE_PARAMS, boundary_params, run_boundaries

    params = boundary_params(a.get("layer"), **{p: a.get(p) for p in TOLERANCE_PARAMS})
    return run_boundaries(store, params)


def _placenames(store, a: dict):
    from geoservice.services.placenames import placenames_params, run_placenames

    params = placenames_params(a.get("tolerance"), a.get("radius"), a.get("threshold"))
    return run_placenames(store, params, labels_optional=True)


RUNNERS = {"coverage": _coverage, "siting": _siting, "boundaries": _boundaries,
           "placenames": _placenames}


def _bbox(text):
    """The ``bbox`` as CGCS2000 lon/lat: the page's bounds are in the drawn datum."""
    from geoservice.reports.printmap import parse_bbox

    box = parse_bbox(text)
    if box is None or not map_settings().shifted:
        return box
    import numpy as np

    from layers.crs import gcj_to_wgs

    lon, lat = gcj_to_wgs(np.array([box[0], box[2]], dtype=float),
                          np.array([box[1], box[3]], dtype=float))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


@bp.get("/print/<analysis>.<fmt>")
def print_map_view(analysis: str, fmt: str):
    """The printed map of ``analysis`` (coverage, siting, boundaries, placenames) as
    ``fmt`` (pdf, png)."""
    from geoservice.reports.printmap import ANALYSES, MIME, file_name, print_map, print_options

    if analysis not in RUNNERS:
        raise NotFound(f"没有“{analysis}”的打印地图：可打印 "
                       + "、".join(f"{k}（{v}）" for k, v in ANALYSES.items()))
    a = request.args
    options = print_options(a.get("paper"), a.get("orientation"), fmt, None, a.get("title"),
                            a.get("dpi"))
    bbox = _bbox(a.get("bbox"))
    if bbox is not None:
        from dataclasses import replace

        options = replace(options, bbox=bbox)
    store = workspace_store()
    result = RUNNERS[analysis](store, _args())
    data = print_map(store, analysis, result, options,
                     unit=current_app.config.get("PRINT_UNIT"))
    disposition = "attachment" if a.get("download") else "inline"
    return Response(data, mimetype=MIME[options.fmt], headers={
        "Content-Disposition": f'{disposition}; filename="{file_name(analysis, options)}"',
        "Cache-Control": "no-store"})
