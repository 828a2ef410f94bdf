"""What every view shares: the app's one store (opened once in ``create_app``) and the
settings every map is drawn with (basemaps, attribution, GCJ-02 shift)."""

from __future__ import annotations

from flask import Response, current_app, request

from geoservice.services.params import whole_number
from geoservice.web.tiles import COOKIE, configured_basemaps
from layers import LayerStore
from maps.assets import DEFAULT_PREFIX
from maps.base import NO_BASEMAP, MapSettings

EXTENSION = "geoservice"


def workspace_store() -> LayerStore:
    """The workspace store of this app, opened once when the app was built."""
    return current_app.extensions[EXTENSION]["store"]


def map_settings() -> MapSettings:
    """The map settings of this app, for every map a view draws: the configured basemaps
    (``tiles.configured_basemaps``: BASEMAP_URL, 天地图, local tiles) and the one the map
    is built for: ``?basemap=<key>`` (the switcher reloads a page so for a basemap of
    another CRS or datum), else the browser's remembered choice (cookie), else the first;
    assets are served under the app's own root."""
    cfg = current_app.config
    basemaps = configured_basemaps()
    keys = {b.key for b in basemaps} | {NO_BASEMAP}
    asked = [request.args.get("basemap"), request.cookies.get(COOKIE)]
    active = next((k for k in asked if k in keys), "")
    return MapSettings(basemap_url=cfg["BASEMAP_URL"], attribution=cfg["BASEMAP_ATTRIBUTION"],
                       basemap_crs=cfg["BASEMAP_CRS"], basemaps=basemaps, active=active,
                       asset_prefix=request.script_root + DEFAULT_PREFIX)


def json_object(example: str = '{"layer": "elderly_service_points"}') -> dict:
    """The request's JSON body as an object; a Chinese 400 when it is not valid JSON or is
    an array, a number or a string where an object is expected."""
    from geoservice.errors import BadParameter

    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadParameter(f"请求体应为 JSON 对象，如 {example}")
    return data


def layer_kind(kind: str) -> str:
    """``kind`` when it names a layer kind; a Chinese 400 listing the kinds otherwise."""
    from geoservice.errors import BadParameter
    from layers import get_kind

    try:
        get_kind(kind)
    except KeyError as exc:
        raise BadParameter(exc.args[0]) from None
    return kind


def _json_default(obj):
    """What orjson cannot write itself: numpy scalars, NA; anything else is an error."""
    from geoservice.analysis.jsonsafe import jsonable

    value = jsonable(obj)
    if value is obj:
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
    return value


def json_response(body, status: int = 200, mimetype: str = "application/json") -> Response:
    """``body`` (already JSON-safe, as every result's ``to_dict()``) written by orjson:
    UTF-8 text (not escaped), keys in their order, several times faster than ``jsonify``
    on large results."""
    import orjson

    data = orjson.dumps(body, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(data, status=status, mimetype=mimetype)


def _given(name: str, src) -> str | None:
    """Parameter ``name`` from ``src`` (a JSON body or a form) when there, else from the
    query string; as text (a number or a list of a JSON body too)."""
    for where in (src, request.args):
        if where is not None and name in where and where.get(name) is not None:
            value = where.get(name)
            if isinstance(value, (list, tuple)):
                return ",".join(str(v) for v in value)
            return value if isinstance(value, str) else str(value)
    return None


PAGE_KEYS = ("fields", "limit", "offset")


def page_params(max_limit: int, src=None) -> tuple[int, int | None]:
    """``offset`` and ``limit`` of a paged JSON answer (``limit`` None: all rows); a
    Chinese 400 when either is not a whole number in range. ``src``: a JSON body or form
    looked at before the query string."""
    offset = whole_number(_given("offset", src), "offset", default=0, lowest=0,
                          highest=2**31 - 1)
    limit = whole_number(_given("limit", src), "limit", default=None, lowest=1,
                         highest=max_limit)
    return offset, limit


def field_list(src=None) -> list[str] | None:
    """``fields=a,b`` as a list (None when not given); a Chinese 400 when it is empty.
    ``src``: a JSON body or form looked at before the query string."""
    from geoservice.errors import BadParameter

    text = _given("fields", src)
    if text is None:
        return None
    fields = [f.strip() for f in text.split(",") if f.strip()]
    if not fields:
        raise BadParameter("参数 fields 为空：应为逗号分隔的字段名，如 fields=code,covered")
    return fields


def list_request(src=None) -> dict:
    """What a result's ``to_dict`` takes for the main list of rows: ``fields``, ``offset``
    and ``limit`` (at most ``API_PAGE_MAX``), checked (a Chinese 400 when bad)."""
    fields = field_list(src)
    offset, limit = page_params(current_app.config["API_PAGE_MAX"], src)
    return {"fields": fields, "offset": offset, "limit": limit}


def paged(body: dict, key: str, matched: int, asked: dict, src=None) -> dict:
    """``body`` with ``numberMatched`` (all rows of ``key``), ``numberReturned``, ``limit``
    and ``offset`` when a page was asked for (``limit`` or ``offset`` given); as is
    otherwise."""
    if asked["limit"] is not None or _given("offset", src) is not None:
        body["numberMatched"] = int(matched)
        body["numberReturned"] = len(body[key])
        body["limit"], body["offset"] = asked["limit"], asked["offset"]
    return body
