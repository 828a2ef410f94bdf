"""Shared styling: colours, layer display frames, the shaded village layer."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd

from layers.schema import KINDS

from .base import as_text, geojson_data, geojson_layer

# One colour per layer kind (and per level/kind value where it matters).
COLORS = {
    "townships": "#4a3b8f",
    "villages": "#2b8cbe",
    "welfare_homes": "#d7301f",
    "elderly_service_points": "#f16913",
    "cemeteries": "#238b45",
    "place_labels": "#7a0177",
    "candidates": "#525252",
    "boundary_markers": "#000000",
    "exclusion_zones": "#969696",
    "planned_sites": "#6a3d9a",  # as the suggested sites on the siting map
    "roads": "#8c6d31",
}

# Roads by class (layers.schema.ROAD_CLASSES): colour and line weight, higher classes bolder
ROAD_STYLES = {
    "expressway": ("#1a9641", 5),
    "national": ("#d7191c", 4),
    "provincial": ("#fdae61", 3.5),
    "county": ("#e6a700", 3),
    "township": ("#8c6d31", 2),
    "village": ("#a6a6a6", 1.5),
    "other": ("#bdbdbd", 1),
}

LEVEL_COLORS = {
    "township_center": "#a63603",
    "village_station": "#f16913",
    "group_point": "#fdae6b",
}


def display_frame(gdf: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """A copy ready for a map: the kind's fields as display text (choices by their label,
    yes/no in Chinese) as plain text; ``to_geojson`` makes it safe for the page.
    """
    lk = KINDS[kind]
    out = gpd.GeoDataFrame(geometry=gdf.geometry.values, crs=gdf.crs, index=gdf.index)
    for f in lk.fields:
        if f.name not in gdf.columns:
            continue
        col = gdf[f.name]
        if f.choices:
            col = col.map(lambda v, c=f.choices: c.get(v, v))
        elif f.dtype == "bool":
            col = col.map(lambda v: "是" if v is True else ("否" if v is False else v))
        out[f.name] = col.map(as_text)
    # Raw values a style function needs (never shown as HTML).
    for key in ("level", "kind", "beds", "road_class"):
        if key in gdf.columns:
            out[f"_{key}"] = gdf[key].map(lambda v: None if pd.isna(v) else
                                          (int(v) if isinstance(v, (int, float)) else str(v)))
    return out


def field_labels(gdf: gpd.GeoDataFrame, kind: str) -> tuple[list[str], list[str]]:
    lk = KINDS[kind]
    fields = [f.name for f in lk.fields if f.name in gdf.columns]
    return fields, [lk.field(n).label for n in fields]


def to_geojson(gdf: gpd.GeoDataFrame) -> dict:
    """``gdf`` as GeoJSON in lon/lat, every string property made safe (``maps.base``)."""
    return geojson_data(gdf.to_crs(4326))


def shaded_villages(frame: gpd.GeoDataFrame, *, name: str, tooltip: list[tuple[str, str]],
                    popup: list[tuple[str, str]]) -> folium.GeoJson:
    """Villages filled by their ``_fill`` colour (covered, newly covered, access class …),
    outlined grey, thicker on hover; ``tooltip``/``popup`` are (property, label) pairs."""
    return geojson_layer(
        frame, name=name, tooltip=tooltip, popup=popup, tooltip_options={"sticky": True},
        style_function=lambda f: {"color": "#555", "weight": 1, "fillOpacity": 0.55,
                                  "fillColor": f["properties"]["_fill"]},
        highlight_function=lambda f: {"weight": 3})
