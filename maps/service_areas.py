"""Service areas along roads on a map (a coverage result on the road network): the area
of each facility (outlined) and their union (filled), as two layers of the switcher."""

from __future__ import annotations

import folium
import geopandas as gpd

from .base import DEFAULT_SETTINGS, MapSettings, geojson_layer

AREA_COLOR = "#1b9e77"


def add_service_areas(m: folium.Map, areas: gpd.GeoDataFrame, merged: gpd.GeoDataFrame,
                      label: str, *, settings: MapSettings = DEFAULT_SETTINGS,
                      color: str = AREA_COLOR):
    """Add the merged service area (filled) and each facility's (outline, hidden until
    switched on) to ``m``; ``label`` names them (e.g. "沿道路 3000 米服务范围").

    Returns (registry, legend entries): the (key, layer) pairs for ``finish_map``'s
    ``registry`` and the (colour, shape, label) rows for its ``entries``."""
    registry, entries = [], []
    if merged is not None and len(merged) and not merged.geometry.is_empty.all():
        mg = settings.frame(merged).copy()
        mg["_area"] = mg["area_km2"].map(lambda v: f"{v:,.2f} 平方公里")
        merged_layer = geojson_layer(
            mg[["label", "_area", "geometry"]], name=f"{label}（合并）",
            style_function=lambda feat: {"color": color, "weight": 1, "fillColor": color,
                                         "fillOpacity": 0.18},
            tooltip=[("label", "服务范围"), ("_area", "面积")])
        merged_layer.add_to(m)
        registry.append(("service_area", merged_layer))
        entries.append((color, "fill", f"{label}（沿道路可达，非圆形半径）"))
    if areas is not None and len(areas):
        a = settings.frame(areas[~areas.geometry.is_empty]).copy()
        a["_area"] = a["area_km2"].map(lambda v: f"{v:,.2f} 平方公里")
        a["_reach"] = a["reach_km"].map(lambda v: f"{v:,.1f} 公里")
        per_layer = geojson_layer(
            a[["name", "_area", "_reach", "geometry"]], name=f"{label}（各设施）", show=False,
            style_function=lambda feat: {"color": color, "weight": 2, "dashArray": "4",
                                         "fill": False},
            tooltip=[("name", "设施"), ("_area", "服务范围面积"), ("_reach", "可达道路")])
        per_layer.add_to(m)
        registry.append(("service_areas", per_layer))
        entries.append((color, "line", f"{label}（各设施，默认隐藏）"))
    return registry, entries
