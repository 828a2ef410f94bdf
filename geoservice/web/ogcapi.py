"""OGC API - Features under /ogcapi: adapts Flask requests to geoservice.services.ogcapi.

Read-only. JSON (GeoJSON for features) or HTML, chosen by ``?f=json|html`` or else by the
Accept header (a browser gets HTML, GDAL/QGIS/ArcGIS and curl get JSON). Errors answer in
the OGC exception shape ``{"code", "description"}`` with a Chinese description.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request, url_for

from geoservice.services import ogcapi as svc
from geoservice.services.workspace import workspace_info
from geoservice.web.common import map_settings, workspace_store
from maps import map_parts
from maps.ogcapi import features_map

bp = Blueprint("ogcapi", __name__, url_prefix="/ogcapi")

EXTENSION = "ogcapi_catalog"


def catalog() -> svc.Catalog:
    """This app's catalog (collections cached by layer versions), made on first use."""
    ext = current_app.extensions
    if EXTENSION not in ext:
        ext[EXTENSION] = svc.Catalog(workspace_store(), log=current_app.logger.info)
    return ext[EXTENSION]


def base() -> str:
    return url_for("ogcapi.landing", _external=True).rstrip("/")


def args() -> dict[str, str]:
    return request.args.to_dict()


def wants_html() -> bool:
    f = request.args.get("f")
    if f is not None:
        if f.lower() in ("json", "geojson", "application/json", "application/geo+json"):
            return False
        if f.lower() in ("html", "text/html"):
            return True
        raise svc.bad(f"参数 f“{f}”只能是 json 或 html")
    accept = request.accept_mimetypes
    html_q = accept["text/html"] if "text/html" in accept.values() else 0
    json_q = max(accept.quality("application/json"), accept.quality("application/geo+json"))
    return html_q > json_q


def json_response(body: dict, mimetype: str = svc.JSON, headers: dict | None = None,
                  status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=mimetype,
                    headers=headers)


@bp.errorhandler(svc.OgcError)
def ogc_error(exc: svc.OgcError):
    return json_response(exc.to_dict(), status=exc.status)


@bp.errorhandler(Exception)
def other_error(exc: Exception):
    from werkzeug.exceptions import HTTPException

    from geoservice.errors import http_status, message_for

    if isinstance(exc, HTTPException):
        status = exc.code or 500
        body = {"code": exc.name.replace(" ", ""),
                "description": {404: "不存在", 405: "不支持的请求方法"}.get(status, "请求出错")}
        return json_response(body, status=status)
    status = http_status(exc)
    if status >= 500:
        current_app.logger.exception("ogcapi error")
    code = {400: "InvalidParameterValue", 404: "NotFound"}.get(status, "ServerError")
    return json_response({"code": code, "description": message_for(exc)}, status=status)


def page(template: str, **context) -> str:
    info = workspace_info(workspace_store())
    return render_template(template, info=info, base=base(), **context)


@bp.route("/<path:unknown>")
def unknown_path(unknown: str):
    """Anything else under the service: the OGC exception shape, not the app's HTML 404."""
    raise svc.OgcError(404, "NotFound", f"没有这个地址：/ogcapi/{unknown}")


@bp.get("", strict_slashes=False)
def landing():
    svc.check_params(args(), svc.COMMON_PARAMS)
    title = svc.workspace_title(workspace_store())
    doc = svc.landing(base(), title)
    if wants_html():
        return page("ogcapi_index.html", doc=doc)
    return json_response(doc)


@bp.get("/conformance")
def conformance():
    svc.check_params(args(), svc.COMMON_PARAMS)
    doc = svc.conformance(base())
    if wants_html():
        return page("ogcapi_index.html", doc={"title": "符合的标准", "links": doc["links"]},
                    conformance=doc["conformsTo"])
    return json_response(doc)


@bp.get("/openapi")
def openapi():
    svc.check_params(args(), svc.COMMON_PARAMS)
    cfg = current_app.config
    doc = svc.openapi(catalog(), base(), svc.workspace_title(workspace_store()),
                      page_default=cfg["API_PAGE_DEFAULT"], page_max=cfg["API_PAGE_MAX"])
    if wants_html():
        return page("ogcapi_openapi.html", doc=doc)
    return json_response(doc, svc.OPENAPI)


@bp.get("/collections")
def collections():
    svc.check_params(args(), svc.COMMON_PARAMS)
    doc = svc.collections_doc(catalog(), base())
    if wants_html():
        return page("ogcapi_collections.html", doc=doc)
    return json_response(doc)


@bp.get("/collections/<cid>")
def collection(cid: str):
    doc = svc.collection(catalog(), cid, args(), base())
    if wants_html():
        return page("ogcapi_collections.html", doc={"collections": [doc], "links": []},
                    single=True)
    return json_response(doc)


@bp.get("/collections/<cid>/queryables")
def queryables(cid: str):
    a = args()
    c = catalog().get(cid, svc._version(a))
    svc.check_params(a, svc.COLLECTION_PARAMS)
    doc = svc.queryables(c, base())
    if wants_html():
        return page("ogcapi_queryables.html", doc=doc, collection=c)
    return json_response(doc, "application/schema+json")


def _features_page(result: svc.Page, *, single: bool):
    c = result.collection
    fields = [(name, c.labels.get(name, name)) for name in c.fields]
    m = features_map(result.frame, title=c.title, fields=fields,
                     notes=[c.description], settings=map_settings())
    rows = [] if result.frame.empty else \
        result.frame.drop(columns=[result.frame.geometry.name]).to_dict("records")
    return page("ogcapi_items.html", map=map_parts(m), collection=c, body=result.body,
                fields=fields, rows=rows, fid=svc.FID, single=single)


@bp.get("/collections/<cid>/items")
def items(cid: str):
    cfg = current_app.config
    result = svc.items(catalog(), cid, args(), base(), page_default=cfg["API_PAGE_DEFAULT"],
                       page_max=cfg["API_PAGE_MAX"])
    if wants_html():
        return _features_page(result, single=False)
    return json_response(result.body, svc.GEOJSON, {"Content-Crs": f"<{result.crs}>"})


@bp.get("/collections/<cid>/items/<fid>")
def item(cid: str, fid: str):
    result = svc.item(catalog(), cid, fid, args(), base())
    if wants_html():
        return _features_page(result, single=True)
    return json_response(result.body, svc.GEOJSON, {"Content-Crs": f"<{result.crs}>"})
