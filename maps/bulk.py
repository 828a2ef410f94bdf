"""Polygon layers too heavy for a page, every feature still drawn: bulk layers.

A village or township layer of a province (27,000 villages) is not put into the page.
The map gets a :class:`BulkLayer`: a script (``maps/static/province.js``) that asks the
app's geometry endpoint (``/api/layers/<kind>/geometry``, the web tier's
``GeometrySource.url``) for *every* feature simplified to about one screen pixel at the
map's zoom, draws them all on one canvas (Leaflet's canvas renderer), and, as the map is
zoomed in, asks for the finer geometry of the features in view and swaps it in. Every
feature is drawn and clickable at every zoom.

What an analysis says about each feature (covered, distance, access …) is not in the
geometry: a builder passes it as a small table joined on the client by ``code``
(``join_table``); the style (``fill``) and the tooltip and popup fields read the joined
values. Text from data reaches the page as JSON values: the joined table's strings are
made safe here (``safe_text``) and decoded by the script, the endpoint's strings are
shown as they are; both only ever as text nodes. Once drawn, the features' names are added
to the map's search index and names-by-zoom (``maps.tools``), as inline layers' are.

The web tier builds the :class:`GeometrySource`; this module never imports ``geoservice``.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.elements import JSCSSMixin
from folium.template import Template

from layers.schema import KINDS

from .assets import DEFAULT_PREFIX
from .base import CHINA_BOUNDS, MapSettings, base_map, drawn_bounds, safe_text
from .style import COLORS

# The zoom buckets of the geometry endpoint (geoservice/web/geometry.py): the map asks
# for the smallest bucket at least its zoom.
BUCKETS = (6, 8, 10, 12, 14, 16)


@dataclass(frozen=True)
class GeometrySource:
    """Where a bulk layer's simplified geometry comes from.

    kind : the layer kind (a polygon kind).
    url : the geometry endpoint of that version (``/api/layers/<kind>/geometry?version=…``);
        the script adds ``zoom`` (and ``bbox``, ``props``, ``pinyin``).
    features : how many features the version has (all are drawn).
    version : the layer version.
    """

    kind: str
    url: str
    features: int
    version: int = 0


def is_bulk(source) -> bool:
    return isinstance(source, GeometrySource)


def bulk_note(source: GeometrySource) -> str:
    """The legend line for a bulk layer (plain text)."""
    label = KINDS[source.kind].label
    return f"{label}共 {source.features:,} 个要素，全部显示，按缩放级别简化（放大后细化）"


def frame_bounds(gdf: gpd.GeoDataFrame, settings: MapSettings) -> tuple:
    """The drawn bounds of ``gdf`` (any CRS) without converting every geometry: its
    envelope as drawn (``settings``: the GCJ-02 shift)."""
    if gdf is None or not len(gdf):
        return tuple(CHINA_BOUNDS)
    b = np.asarray(gdf.total_bounds, dtype=float)
    if not np.all(np.isfinite(b)):
        return tuple(CHINA_BOUNDS)
    import shapely

    box = gpd.GeoDataFrame(geometry=[shapely.box(*b)], crs=gdf.crs)
    return tuple(float(v) for v in settings.frame(box).total_bounds)


def village_map(villages: gpd.GeoDataFrame, source: GeometrySource | None,
                settings: MapSettings) -> tuple[pd.DataFrame, folium.Map]:
    """The villages of a result as a map draws them and the map around them: with a bulk
    ``source`` (a province) the values only, framed by the layer's envelope; else the
    frame as drawn (``settings``: the GCJ-02 shift), framed by its bounds."""
    if source is not None:  # geometry from the endpoint: the values only
        v = pd.DataFrame(villages.drop(columns=villages.geometry.name)).copy()
        return v, base_map(frame_bounds(villages, settings), settings)
    v = settings.frame(villages).copy()
    return v, base_map(drawn_bounds(v), settings)


def join_table(frame: pd.DataFrame, fields: list[str], *, key: str = "code") -> dict:
    """The analysis values per feature for the client to join by ``key``:
    ``{"key": key, "fields": fields, "rows": [[key value, *values] …]}``. Strings are made
    safe (``safe_text``); numbers stay numbers; NaN becomes null."""
    cols = [key, *fields]
    rows = []
    data = frame[cols]
    for values in data.itertuples(index=False, name=None):
        row = []
        for v in values:
            if isinstance(v, str):
                row.append(safe_text(v))
            elif v is None or (isinstance(v, float) and v != v):
                row.append(None)
            elif isinstance(v, (bool, np.bool_)):
                row.append(bool(v))
            elif isinstance(v, (int, np.integer)):
                row.append(int(v))
            elif isinstance(v, (float, np.floating)):
                row.append(round(float(v), 6))
            else:
                row.append(safe_text(v))
        rows.append(row)
    return {"key": key, "fields": list(fields), "rows": rows}


class BulkLayer(JSCSSMixin, folium.map.Layer):
    """Every feature of a heavy polygon layer, simplified by zoom, from ``source.url``.

    Parameters
    ----------
    source : the endpoint, the count (:class:`GeometrySource`).
    name : the layer's plain-text name in the layer switcher.
    shifted : the map is drawn in GCJ-02 (the features are shifted by the script).
    style : Leaflet path options for every feature.
    props : the layer's stored fields to fetch (shown in the tooltip/popup).
    join : a :func:`join_table` of analysis values, joined by code.
    fill : (field, {value: colour}): the fill colour by a (joined) value.
    tooltip, popup : (field, Chinese label) pairs shown as text.
    choices : field -> {stored value: Chinese label}; ``bools``: fields shown 是/否.
    search : (registry key, kind) to add the features to the map's search index, their
        names drawn from the kind's zoom (``maps.tools.LABEL_ZOOM``); None: not added.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.geoserviceBulk({{ this.js_options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, source: GeometrySource, *, name: str, shifted: bool = False,
                 style: dict | None = None, props: list[str] | None = None,
                 join: dict | None = None, fill: tuple[str, dict[str, str]] | None = None,
                 tooltip: list[tuple[str, str]] | None = None,
                 popup: list[tuple[str, str]] | None = None,
                 choices: dict[str, dict] | None = None, bools: list[str] | None = None,
                 search: tuple[str, str] | None = None, show: bool = True,
                 asset_prefix: str = DEFAULT_PREFIX):
        from .tools import LABEL_ZOOM, kind_label

        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "BulkLayer"
        self.source = source
        search_opts = None
        if search is not None:
            key, kind = search
            search_opts = {"layer": safe_text(key), "kind": safe_text(kind_label(kind)),
                           "zoom": int(LABEL_ZOOM.get(kind, 0))}
        self.js_options = {
            "kind": source.kind, "url": source.url, "total": int(source.features),
            "label": KINDS[source.kind].label, "shifted": bool(shifted),
            "style": style or {}, "props": list(props or ["name", "code"]),
            "join": join, "fill": list(fill) if fill else None,
            "tooltip": [list(p) for p in tooltip or []], "popup": [list(p) for p in popup or []],
            "choices": choices or {}, "bools": list(bools or []), "search": search_opts,
            "buckets": list(BUCKETS),
        }
        self.default_js = [("geoservice_province_js", f"{asset_prefix}/geoservice/province.js")]


def kind_bulk_layer(source: GeometrySource, *, shifted: bool = False, show: bool = True,
                    name: str | None = None, asset_prefix: str = DEFAULT_PREFIX,
                    **options) -> tuple[BulkLayer, list[tuple[str, str, str]]]:
    """A :class:`BulkLayer` of a stored kind looking like its inline layer on the home map
    (its fields in the popup with their Chinese labels, same colours), and its legend
    entries. ``options`` override the layer's keyword arguments."""
    kind = source.kind
    lk = KINDS[kind]
    color = COLORS.get(kind, "#525252")
    fields = [f.name for f in lk.fields]
    tooltip_fields = [f for f in ("name", "code") if f in fields][:2] or fields[:1]
    if kind == "townships":
        style = {"color": color, "weight": 3, "fill": False, "fillOpacity": 0}
        entries = [(color, "line", lk.label)]
    elif kind == "villages":
        style = {"color": color, "weight": 1, "fillColor": "#a6cee3", "fillOpacity": 0.35}
        entries = [(color, "fill", lk.label)]
    else:
        style = {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.3}
        entries = [(color, "fill", lk.label)]
    kwargs = {
        "name": name or f"{lk.label}（{source.features:,}）",
        "shifted": shifted, "show": show, "style": style, "props": fields,
        "tooltip": [(f, lk.field(f).label) for f in tooltip_fields],
        "popup": [(f.name, f.label) for f in lk.fields],
        "choices": {f.name: dict(f.choices) for f in lk.fields if f.choices},
        "bools": [f.name for f in lk.fields if f.dtype == "bool"],
        "search": (kind, kind), "asset_prefix": asset_prefix,
    }
    kwargs.update(options)
    return BulkLayer(source, **kwargs), entries
