"""Pages people look at: the home map of the workspace.

Also what every map page shares about large layers: a layer with more features than
``MAP_INLINE_MAX_FEATURES`` is never read whole nor put into a page; the map loads it by
view from ``/api/layers/<kind>`` (``maps.viewport``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

from geoservice.services.workspace import workspace_info
from geoservice.web.common import map_settings, workspace_store
from layers import LayerStore
from maps import map_parts, overview_map
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


def map_layers(store: LayerStore, kinds: list[str] | None = None):
    """The current layers a map draws (all, or ``kinds``): small ones read whole, large
    ones as ``ViewSource`` (never read here). Returns (frames by kind, sources by kind)."""
    frames, sources = {}, {}
    limit = inline_max()
    for kind, v in store.current_versions().items():
        if kinds is not None and kind not in kinds:
            continue
        if v.features > limit:
            sources[kind] = view_source(kind, v.version, v.features)
        else:
            frames[kind] = store.read(kind, version=v.version)
    return frames, sources


@bp.get("/")
def home():
    store = workspace_store()
    info = workspace_info(store)
    settings = map_settings()
    frames, sources = map_layers(store)
    m = overview_map(frames, title=info["title"], notes=info["notes"], settings=settings,
                     by_view=sources)
    return render_template("index.html", info=info, map=map_parts(m),
                           basemap=settings.basemap_url)
