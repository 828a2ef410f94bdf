"""The map of an OGC API - Features page: one collection's page of features."""

from __future__ import annotations

import folium
import geopandas as gpd

from .base import DEFAULT_SETTINGS, MapSettings, base_map, drawn_bounds, finish_map, geojson_layer

COLOR = "#2b8cbe"


def features_map(frame: gpd.GeoDataFrame, *, title: str, fields: list[tuple[str, str]],
                 notes: list[str] | None = None,
                 settings: MapSettings = DEFAULT_SETTINGS) -> folium.Map:
    """Draw ``frame`` (EPSG:4490; features without geometry are left out).

    ``fields`` are (column, Chinese label) pairs shown in each feature's popup; the first
    two in its tooltip. ``title`` and ``notes`` are plain text for the legend.
    """
    present = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    keep = [c for c, _ in fields if c in present.columns]
    drawn = settings.frame(present[[*keep, present.geometry.name]])
    m = base_map(drawn_bounds(drawn), settings)
    pairs = [(c, label) for c, label in fields if c in keep]
    points = set(drawn.geom_type.unique()) <= {"Point", "MultiPoint"} and len(drawn)
    style = {"color": COLOR, "weight": 2, "fillColor": COLOR, "fillOpacity": 0.3}
    kwargs = {"marker": folium.CircleMarker(radius=5, color=COLOR, fill=True,
                                            fill_opacity=0.8)} if points else {}
    layer = geojson_layer(drawn, name=f"{title}（{len(drawn)}）", tooltip=pairs[:2] or None,
                          popup=pairs or None, style_function=lambda _f: style, **kwargs)
    layer.add_to(m)
    return finish_map(m, title=title, entries=[(COLOR, "dot" if points else "fill", title)],
                      notes=list(notes or []), registry=[("features", layer)])
