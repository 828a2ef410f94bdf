"""Road network check: the ``/network`` page (map and tables) and ``/api/network/check``."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from geoservice.errors import BadParameter
from geoservice.services.costs import network_kinds
from geoservice.services.network import network_check_params, run_network_check
from geoservice.services.workspace import workspace_info
from geoservice.web.common import json_response, map_settings, workspace_store
from layers.schema import ROAD_CLASSES
from maps.network import ROAD_COLORS, network_map
from maps.render import map_parts

bp = Blueprint("network", __name__)
ROWS_ON_PAGE = 500  # the most rows of each table a page carries (the API has them all)


def _params(src):
    return network_check_params(src.get("network"), src.get("far"), src.get("dangle"))


@bp.get("/api/network/check")
def api_check():
    """The check as JSON: ``network`` (default roads), ``far`` and ``dangle`` (metres)."""
    result = run_network_check(workspace_store(), _params(request.args))
    return json_response(result.to_dict())


@bp.get("/network/report.xlsx")
def report_xlsx():
    """The check as a workbook (汇总, 连通部分, 悬挂线端, 离路过远)."""
    from geoservice.reports.network import network_xlsx
    from geoservice.reports.xlsx import XLSX_MIME

    params = _params(request.args)
    result = run_network_check(workspace_store(), params)
    return Response(network_xlsx(result), mimetype=XLSX_MIME, headers={
        "Content-Disposition": f'attachment; filename="network_check_{params.network}.xlsx"'})


@bp.get("/network")
def page():
    param_error = None
    try:
        params = _params(request.args)
    except BadParameter as exc:
        param_error = str(exc)
        params = network_check_params(request.args.get("network")
                                      if request.args.get("network") in network_kinds()
                                      else None)
    store = workspace_store()
    result = run_network_check(store, params)
    info = workspace_info(store)
    s = result.summary
    settings = map_settings()
    m = network_map(result.roads, result.dangles, result.far, s,
                    title=f"{info['title']} · 道路网检查", notes=info["notes"],
                    settings=settings)

    def located(frame):
        rows = []
        for r in frame.drop(columns="geometry").head(ROWS_ON_PAGE).to_dict(orient="records"):
            r["map_lon"], r["map_lat"] = settings.point(r["lon"], r["lat"])
            rows.append(r)
        return rows

    return render_template(
        "network.html", info=info, map=map_parts(m), summary=s, params=params,
        parts=result.parts.head(ROWS_ON_PAGE).to_dict(orient="records"),
        n_parts=len(result.parts), dangles=located(result.dangles),
        far=located(result.far), rows_cap=ROWS_ON_PAGE,
        networks=list(network_kinds().items()),
        speeds=[(k, ROAD_CLASSES[k], v, ROAD_COLORS.get(k, "#bdbdbd"))
                for k, v in s["speed_kmh"].items() if k in ROAD_CLASSES],
        query=params.query(), param_error=param_error), (400 if param_error else 200)
