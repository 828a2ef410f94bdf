"""Shared styling: colours, layer styles, escaped popups and tooltips, legends."""

from __future__ import annotations

import html
import json

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement, Template

from layers.schema import KINDS

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
}

LEVEL_COLORS = {
    "township_center": "#a63603",
    "village_station": "#f16913",
    "group_point": "#fdae6b",
}


def display_frame(gdf: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """A copy ready for a map: the kind's fields as display text, HTML-escaped.

    Values from data are escaped here, once, because Folium's tooltips and popups put
    property values into the page as HTML.
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
        out[f.name] = col.map(escape_text)
    # Raw values a style function needs (never shown as HTML).
    for key in ("level", "kind", "beds"):
        if key in gdf.columns:
            out[f"_{key}"] = gdf[key].map(lambda v: None if pd.isna(v) else
                                          (int(v) if isinstance(v, (int, float)) else str(v)))
    return out


def escape_text(value) -> str:
    """Data text made safe for HTML (None/NaN become empty)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(str(value))


def field_labels(gdf: gpd.GeoDataFrame, kind: str) -> tuple[list[str], list[str]]:
    lk = KINDS[kind]
    fields = [f.name for f in lk.fields if f.name in gdf.columns]
    return fields, [lk.field(n).label for n in fields]


def legend(title: str, entries: list[tuple[str, str, str]], notes: list[str]) -> MacroElement:
    """A fixed legend box: ``entries`` are (colour, shape 'fill'|'line'|'dot', label).

    Titles, labels and notes are escaped here; callers pass plain text.
    """
    rows = []
    for color, shape, label in entries:
        if shape == "line":
            sym = f'<span class="gs-sym" style="border:2px solid {color};background:none"></span>'
        elif shape == "dot":
            sym = f'<span class="gs-sym gs-dot" style="background:{color}"></span>'
        else:
            sym = (f'<span class="gs-sym" style="background:{color};opacity:.6;'
                   f'border:1px solid {color}"></span>')
        rows.append(f"<div>{sym}{html.escape(label)}</div>")
    note_html = "".join(f'<div class="gs-legend-note">{html.escape(n)}</div>' for n in notes)
    # <details>: a click on the title folds the legend away when it hides part of the map.
    body = (f'<div class="gs-legend" id="gs-legend"><details open>'
            f'<summary class="gs-legend-title" title="点击收起/展开图例">{html.escape(title)}</summary>'
            f"{''.join(rows)}{note_html}</details></div>")
    el = MacroElement()
    el._template = Template(
        "{% macro html(this, kwargs) %}" + body + "{% endmacro %}"
    )
    return el


class LayerRegistry(MacroElement):
    """Exposes the map and its layers to page scripts as ``window.geoservice``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        window.geoservice = window.geoservice || {};
        window.geoservice.map = {{ this._parent.get_name() }};
        window.geoservice.layers = {
        {%- for key, layer in this.layers %}
            {{ key|tojson }}: {{ layer.get_name() }},
        {%- endfor %}
        };
        {% endmacro %}
    """)

    def __init__(self, layers: list[tuple[str, folium.map.Layer]]):
        super().__init__()
        self._name = "LayerRegistry"
        self.layers = layers


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, position: "bottomright"}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


def to_geojson(gdf: gpd.GeoDataFrame) -> dict:
    return json.loads(gdf.to_crs(4326).to_json(drop_id=True))
