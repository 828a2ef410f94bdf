"""Pages people look at: the home map of the workspace.

Also what every map page shares about large layers: a layer with more features than
``MAP_INLINE_MAX_FEATURES`` is never read whole nor put into a page; the map loads it by
view from ``/api/layers/<kind>`` (``maps.viewport``).
"""

from __future__ import annotations

import shapely
from flask import Blueprint, current_app, render_template, url_for

from geoservice.services.workspace import workspace_info
from geoservice.web.common import map_settings, workspace_store
from layers import KINDS, LayerStore
from maps import map_parts, overview_map
from maps.bulk import GeometrySource
from maps.viewport import ViewSource

bp = Blueprint("pages", __name__)


def inline_max() -> int:
    """The most features a map page carries for one layer (``MAP_INLINE_MAX_FEATURES``)."""
    return int(current_app.config["MAP_INLINE_MAX_FEATURES"])


def view_source(kind: str, version: int, features: int) -> ViewSource:
    """Where a map fetches the features of a view of ``kind`` (that version) from; a view
    carries at most as many features as a page may inline (and the API's page maximum)."""
    cfg = current_app.config
    return ViewSource(kind=kind, url=url_for("api.layer_features", kind=kind, version=version),
                      features=int(features),
                      limit=min(int(cfg["API_PAGE_MAX"]), int(cfg["MAP_INLINE_MAX_FEATURES"])),
                      min_zoom=int(cfg["MAP_VIEWPORT_MIN_ZOOM"]))


def large_layer(store: LayerStore, kind: str) -> ViewSource | None:
    """A ``ViewSource`` for the current version of ``kind`` when it is too large to put
    into a page; None when it is small enough (or not loaded)."""
    v = store.current_versions().get(kind)
    if v is None or v.features <= inline_max():
        return None
    return view_source(kind, v.version, v.features)


def geometry_min_vertices() -> int:
    """``MAP_GEOMETRY_MIN_VERTICES``: 0 when bulk polygon layers are off."""
    return int(current_app.config.get("MAP_GEOMETRY_MIN_VERTICES", 0) or 0)


def is_polygon_kind(kind: str) -> bool:
    return bool(set(KINDS[kind].geometry) & {"Polygon", "MultiPolygon"}) and \
        not set(KINDS[kind].geometry) & {"Point", "MultiPoint"}


def bulk_layer(store: LayerStore, kind: str, frame=None) -> GeometrySource | None:
    """A ``GeometrySource`` (``maps.bulk``: every feature, simplified by zoom, from
    ``/api/layers/<kind>/geometry``) for the current version of polygon layer ``kind``
    when it is too heavy for a page: at least ``MAP_GEOMETRY_MIN_VERTICES`` vertices
    (``frame``: the layer already read, to count them; a layer of so many features that
    it must have that many, 4 per polygon at least, is not read); None when it is light
    enough, not loaded, or the setting is 0."""
    threshold = geometry_min_vertices()
    v = store.current_versions().get(kind)
    if threshold <= 0 or v is None or not v.features or not is_polygon_kind(kind):
        return None
    if v.features * 4 < threshold:
        gdf = frame if frame is not None else store.read(kind, version=v.version)
        if int(shapely.get_num_coordinates(gdf.geometry.values).sum()) < threshold:
            return None
    from geoservice.web.geometry import is_cached, warm

    if not is_cached(kind, v.version):  # simplified while the page is sent and loaded
        warm(current_app._get_current_object(), store, kind, v.version)
    return GeometrySource(kind=kind, version=v.version, features=int(v.features),
                          url=url_for("pages.layer_geometry", kind=kind, version=v.version))


def map_layers(store: LayerStore, kinds: list[str] | None = None):
    """The current layers a map draws (all, or ``kinds``): small ones read whole, large
    ones as ``ViewSource`` (never read here), heavy polygon layers as ``GeometrySource``
    (``bulk_layer``). Returns (frames by kind, sources by kind); a source is either."""
    frames, sources = {}, {}
    limit = inline_max()
    for kind, v in store.current_versions().items():
        if kinds is not None and kind not in kinds:
            continue
        bulk = bulk_layer(store, kind)
        if bulk is not None:
            sources[kind] = bulk
        elif v.features > limit:
            sources[kind] = view_source(kind, v.version, v.features)
        else:
            frames[kind] = store.read(kind, version=v.version)
    return frames, sources


@bp.get("/api/layers/<kind>/geometry")
def layer_geometry(kind: str):
    """Every feature of a polygon layer simplified for a zoom level
    (``geoservice.web.geometry``)."""
    from geoservice.web.common import layer_kind
    from geoservice.web.geometry import geometry_response

    return geometry_response(workspace_store(), layer_kind(kind))


@bp.get("/")
def home():
    store = workspace_store()
    info = workspace_info(store)
    settings = map_settings()
    frames, sources = map_layers(store)
    m = overview_map(frames, title=info["title"], notes=info["notes"], settings=settings,
                     by_view=sources)
    return render_template("index.html", info=info, map=map_parts(m),
                           basemap="、".join(b.name for b in settings.basemaps))
