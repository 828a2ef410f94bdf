"""What every view shares: the app's one store (opened once in ``create_app``) and the
settings every map is drawn with (basemap, attribution, GCJ-02 shift)."""

from __future__ import annotations

from flask import current_app, request

from layers import LayerStore
from maps.assets import DEFAULT_PREFIX
from maps.base import MapSettings

EXTENSION = "geoservice"


def workspace_store() -> LayerStore:
    """The workspace store of this app, opened once when the app was built."""
    return current_app.extensions[EXTENSION]["store"]


def map_settings() -> MapSettings:
    """The map settings of this app (BASEMAP_URL, BASEMAP_ATTRIBUTION, BASEMAP_CRS), for
    every map a view draws; assets are served under the app's own root."""
    cfg = current_app.config
    return MapSettings(basemap_url=cfg["BASEMAP_URL"], attribution=cfg["BASEMAP_ATTRIBUTION"],
                       basemap_crs=cfg["BASEMAP_CRS"],
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
