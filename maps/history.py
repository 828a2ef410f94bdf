"""One version of one layer on a map (the 版本历史 page's "在地图上查看")."""

from __future__ import annotations

import folium
import geopandas as gpd

from .base import DEFAULT_SETTINGS, MapSettings
from .overview import overview_map
from .viewport import ViewSource


def version_map(kind: str, frame: gpd.GeoDataFrame | None, *, title: str,
                notes: list[str] | None = None, settings: MapSettings = DEFAULT_SETTINGS,
                by_view: ViewSource | None = None) -> folium.Map:
    """Draw ``frame`` (version of layer ``kind``, stored CRS) as the home map draws that
    layer; a version too large for the page comes from ``by_view`` instead (drawn once
    zoomed in). ``title`` and ``notes`` are plain text (escaped by the legend)."""
    layers = {kind: frame} if frame is not None else {}
    sources = {kind: by_view} if by_view is not None and frame is None else None
    return overview_map(layers, title=title, notes=notes, settings=settings, by_view=sources)
