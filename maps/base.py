"""What every map shares: the settings of the office's basemap and the empty base map.

Every map builder takes one ``settings: MapSettings`` (keyword-only; the default is no
basemap, layers in CGCS2000) and draws all of its geometry through it:

- ``settings.frame(gdf)`` gives a layer as drawn (lon/lat, shifted into GCJ-02 when the
  basemap is a GCJ-02 one), ``settings.point(lon, lat)`` does the same for a bare point;
- ``base_map(bounds, settings)`` is the empty map: the app's own assets, the scale bar, the
  configured basemaps (``settings.basemaps``, each a :class:`Basemap`: any XYZ service,
  天地图 in the CGCS2000 'c' matrix with its 注记, local MBTiles or a tile folder) with
  their attribution, and 无底图, all in the layer switcher's "底图" group;
- ``finish_map`` adds what closes every map: the layer switcher, the legend with its notes
  (the 示例数据 note among them) and ``window.geoservice`` for page scripts.

Text from data (names, codes, messages, reasons, file names, titles) reaches a map one
way: builders pass plain text, and ``safe_text`` turns it into HTML entities for every
character that means something in HTML, in a JavaScript string, in a template literal
(Folium's ``Tooltip`` puts its text into `` `…` ``) or in a Jinja template (Folium renders
what each element wrote a second time as a template, so ``{{ … }}`` in a name would run on
the server). Where it is applied, once:

- marker tooltips (``TextTooltip``), ``DivIcon`` HTML, layer names (``finish_map``) and
  the legend (``legend``);
- every string property of a GeoJSON layer (``geojson_data``, ``geojson_layer``); its
  tooltip and popup (``TextGeoJsonTooltip``, ``TextGeoJsonPopup``) decode the entities and
  show the value as a text node, never as HTML, so a value loaded later as it is stored
  (not made safe) is shown as text too.

This package never imports ``geoservice``: the web tier builds the settings from its
configuration and hands them in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.features import GeoJsonPopup, GeoJsonTooltip
from folium.template import Template

from layers.crs import GCJ02, from_stored, wgs_to_gcj

from .assets import DEFAULT_PREFIX, use_local_assets

CGCS2000 = "cgcs2000"
BASEMAP_CRS = (CGCS2000, GCJ02)
CHINA_BOUNDS = (73.0, 18.0, 135.0, 54.0)  # min lon, min lat, max lon, max lat
NO_BASEMAP = "none"  # the key of 无底图
BASEMAP_KINDS = ("xyz", "tianditu_c", "mbtiles", "folder")
# Leaflet CRS of a page: Web Mercator, or the 'c' tile matrix of 天地图 (EPSG:4490 lon/lat,
# defined as L.CRS.EPSG4490 in maps/static/basemaps.js)
WEB_MERCATOR, MATRIX_C = "EPSG3857", "EPSG4490"


@dataclass(frozen=True)
class Basemap:
    """One basemap of the switcher.

    key : its name in ``?basemap=…``, the browser's remembered choice and ``active``.
    name : its Chinese name in the switcher (plain text).
    kind : ``xyz`` (any XYZ service), ``tianditu_c`` (天地图, CGCS2000 'c' matrix),
        ``mbtiles`` or ``folder`` (local tiles served by the app).
    url : tile template: ``{z}``, ``{x}``, ``{y}`` (and ``{s}`` for ``subdomains``); for
        ``tianditu_c`` ``{z}`` is the WMTS TILEMATRIX, ``{y}`` TILEROW, ``{x}`` TILECOL.
    attribution : plain text (``底图`` when empty).
    crs : ``cgcs2000`` or ``gcj02``: the datum the tiles are drawn in.
    overlay_url : tiles drawn over it as part of it (天地图 注记), same matrix.
    subdomains : the values of ``{s}``.
    max_native_zoom : the deepest level the tiles exist at (deeper levels are scaled up).
    """

    key: str
    name: str
    kind: str
    url: str
    attribution: str = ""
    crs: str = CGCS2000
    overlay_url: str = ""
    subdomains: str = ""
    max_native_zoom: int = 18

    def __post_init__(self):
        if self.kind not in BASEMAP_KINDS:
            raise ValueError(f"底图类型只能是 {'、'.join(BASEMAP_KINDS)}，而不是“{self.kind}”")
        if self.crs not in BASEMAP_CRS:
            raise ValueError(f"底图坐标系只能是 cgcs2000 或 gcj02，而不是“{self.crs}”")
        if not self.key or self.key == NO_BASEMAP:
            raise ValueError(f"底图的键不能为空或“{NO_BASEMAP}”")

    @property
    def leaflet_crs(self) -> str:
        """The Leaflet CRS a map needs to show these tiles."""
        return MATRIX_C if self.kind == "tianditu_c" else WEB_MERCATOR

    @property
    def frame(self) -> tuple[str, str]:
        """(Leaflet CRS, datum): basemaps of one frame can be switched on a live map;
        another frame needs the map (and its shifted overlays) built again."""
        return (self.leaflet_crs, self.crs)


@dataclass(frozen=True)
class MapSettings:
    """How maps are drawn for this office.

    basemap_url : XYZ tile template; empty for no basemap (plain background, no tiles
        requested at all). Shorthand for one ``xyz`` basemap when ``basemaps`` is empty.
    attribution : the basemap's attribution (``底图`` when empty).
    basemap_crs : ``cgcs2000`` (天地图 and most intranet tiles) or ``gcj02`` (高德 and
        the like); on a GCJ-02 basemap every drawn geometry is shifted into GCJ-02 so that
        it sits right on the tiles. Stored data and figures are never shifted.
    asset_prefix : URL prefix under which the app serves Leaflet and our map styles.
    basemaps : every basemap of the switcher (:class:`Basemap`), the default first.
    active : the key of the basemap the map is built for (its Leaflet CRS and its
        datum: the GCJ-02 shift follows the active basemap); ``none`` for 无底图, empty
        for the first basemap.
    """

    basemap_url: str = ""
    attribution: str = ""
    basemap_crs: str = CGCS2000
    asset_prefix: str = DEFAULT_PREFIX
    basemaps: tuple[Basemap, ...] = ()
    active: str = ""

    def __post_init__(self):
        if self.basemap_crs not in BASEMAP_CRS:
            raise ValueError(f"底图坐标系只能是 cgcs2000 或 gcj02，而不是“{self.basemap_crs}”")
        if self.basemap_url and not self.basemaps:
            object.__setattr__(self, "basemaps", (Basemap(
                key="custom", name="底图", kind="xyz", url=self.basemap_url,
                attribution=self.attribution, crs=self.basemap_crs),))
        object.__setattr__(self, "basemaps", tuple(self.basemaps))
        keys = [b.key for b in self.basemaps]
        if len(set(keys)) != len(keys):
            raise ValueError(f"底图的键重复：{keys}")
        if self.active not in ("", NO_BASEMAP, *keys):
            raise ValueError(f"没有键为“{self.active}”的底图")

    @property
    def active_basemap(self) -> Basemap | None:
        """The basemap the map is built for; None for 无底图 (or none configured)."""
        if self.active == NO_BASEMAP or not self.basemaps:
            return None
        return next((b for b in self.basemaps if b.key == self.active), self.basemaps[0])

    @property
    def shifted(self) -> bool:
        """Whether drawn geometry is shifted into GCJ-02: the active basemap is a GCJ-02
        one (with no basemap configured at all, ``basemap_crs`` says)."""
        b = self.active_basemap
        if b is not None:
            return b.crs == GCJ02
        return not self.basemaps and self.basemap_crs == GCJ02

    @property
    def page_frame(self) -> tuple[str, str]:
        """(Leaflet CRS, datum) of the map (see :attr:`Basemap.frame`)."""
        b = self.active_basemap
        return b.frame if b is not None else (WEB_MERCATOR, GCJ02 if self.shifted else CGCS2000)

    def frame(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``gdf`` (any CRS) as drawn on the map: lon/lat, labelled EPSG:4326.

        On a GCJ-02 basemap the coordinates are GCJ-02 (which has no EPSG code); they
        still carry EPSG:4326 so that Folium takes them as they are.
        """
        if len(gdf) == 0 and gdf.crs is None:
            return gdf
        if not self.shifted:
            return gdf.to_crs(4326)
        return from_stored(gdf, GCJ02).set_crs(4326, allow_override=True)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """A CGCS2000 lon/lat point as drawn on the map."""
        if not self.shifted:
            return float(lon), float(lat)
        x, y = wgs_to_gcj(np.array([lon], dtype=float), np.array([lat], dtype=float))
        return float(x[0]), float(y[0])


DEFAULT_SETTINGS = MapSettings()


def drawn_bounds(*frames: gpd.GeoDataFrame | None, default=CHINA_BOUNDS) -> tuple:
    """Bounds (min lon, min lat, max lon, max lat) of frames already passed through
    ``MapSettings.frame``; ``default`` when none has a finite extent."""
    boxes = [np.asarray(f.total_bounds, dtype=float) for f in frames
             if f is not None and len(f)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return tuple(default)
    b = np.array(boxes)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
            float(b[:, 3].max()))


def base_map(bounds, settings: MapSettings = DEFAULT_SETTINGS) -> folium.Map:
    """An empty map fitted to ``bounds`` (min lon, min lat, max lon, max lat, as drawn).

    The map is built in the Leaflet CRS of the active basemap (Web Mercator, or the 'c'
    matrix of 天地图). Every basemap of the same frame (CRS and datum) is a base layer the
    switcher shows live; one of another frame is a placeholder that reloads the page with
    ``?basemap=<key>`` (``maps/static/basemaps.js``), since Leaflet cannot change the CRS
    of a live map and the overlays are drawn for one datum. 无底图 is always offered; with
    no basemap configured it is the only one and no tiles are requested at all: the
    layers draw on a plain background, which is what an office without a tile server sees.
    """
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=False, zoom_control=True,
                   crs=settings.page_frame[0])
    use_local_assets(m, settings.asset_prefix)
    m.default_js = [*m.default_js,
                    ("geoservice_basemaps_js", f"{settings.asset_prefix}/geoservice/basemaps.js")]
    MetricScale().add_to(m)
    _add_basemaps(m, settings)
    minx, miny, maxx, maxy = bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _tile_layer(basemap: Basemap, url: str, *, show: bool, name: str | None = None,
                control: bool = True) -> folium.TileLayer:
    # the attribution is plain text (docs/settings.md), shown as HTML by Leaflet
    options = {"min_zoom": 1} if basemap.kind == "tianditu_c" else {}
    return folium.TileLayer(
        tiles=url, attr=safe_text(basemap.attribution or "底图"), name=name or basemap.name,
        overlay=False, control=control, show=show, max_zoom=18,
        max_native_zoom=basemap.max_native_zoom, subdomains=basemap.subdomains or "abc",
        **options)


def _add_basemaps(m: folium.Map, settings: MapSettings) -> None:
    """The base layers of the switcher (see ``base_map``) and its script."""
    active = settings.active_basemap
    frame = settings.page_frame
    layers: list[tuple[str, folium.map.Layer]] = []
    live: dict[str, bool] = {}
    for b in settings.basemaps:
        shown = b is active
        if b.frame != frame:
            # another CRS or datum: an empty stand-in; choosing it reloads the page
            layer = folium.FeatureGroup(name=b.name, overlay=False, show=False)
        elif b.overlay_url:
            layer = folium.FeatureGroup(name=b.name, overlay=False, show=shown)
            _tile_layer(b, b.url, show=True, control=False).add_to(layer)
            _tile_layer(b, b.overlay_url, show=True, control=False,
                        name=f"{b.name}注记").add_to(layer)
        else:
            layer = _tile_layer(b, b.url, show=shown)
        layer.add_to(m)
        layers.append((b.key, layer))
        live[b.key] = b.frame == frame
    none = folium.FeatureGroup(name="无底图", overlay=False, show=active is None)
    none.add_to(m)
    layers.append((NO_BASEMAP, none))
    live[NO_BASEMAP] = True
    BasemapSwitcher(layers, active.key if active else NO_BASEMAP, live).add_to(m)


class BasemapSwitcher(MacroElement):
    """The "底图" group of the layer switcher: remembers the choice in the browser
    (``localStorage`` and a cookie the server reads), switches live between basemaps of
    the map's frame and reloads the page with ``?basemap=<key>`` for another frame
    (``L.geoserviceBasemaps`` in ``maps/static/basemaps.js``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.geoserviceBasemaps({{ this._parent.get_name() }}, {{ this.options|tojson }}, {
        {%- for key, layer in this.layers %}
            {{ key|tojson }}: {{ layer.get_name() }},
        {%- endfor %}
        });
        {% endmacro %}
    """)

    def __init__(self, layers: list[tuple[str, folium.map.Layer]], active: str,
                 live: dict[str, bool]):
        super().__init__()
        self._name = "BasemapSwitcher"
        self.layers = layers
        self.options = {"active": active, "live": live, "none": NO_BASEMAP}


def finish_map(m: folium.Map, *, title: str, entries: list[tuple[str, str, str]],
               notes: list[str], registry: list[tuple[str, folium.map.Layer]],
               settings: MapSettings | None = None, names: dict[str, str] | None = None,
               points: list[dict] | None = None,
               declutter: list[str] | None = None) -> folium.Map:
    """The layer switcher, the legend (``title``, ``entries``, ``notes`` as plain text),
    ``window.geoservice`` (the map and the ``registry`` layers by key) and the map tools
    (``maps.tools``: search, names by zoom, measure, coordinates, full screen, north
    arrow, locate links); ``settings`` (the GCJ-02 shift, for the coordinates readout),
    ``names``, ``points`` and ``declutter`` are passed to ``add_map_tools``.

    Layer names are plain text too: the switcher shows them as HTML, so they are made
    safe here, once, for every layer of the map.
    """
    from .tools import add_map_tools  # tools build on this module's safe_text

    for layer in _layers(m):
        if layer.layer_name:
            layer.layer_name = safe_text(layer.layer_name)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    legend(title, entries, list(notes)).add_to(m)
    LayerRegistry(registry).add_to(m)
    add_map_tools(m, registry, shifted=bool(settings and settings.shifted), names=names,
                  points=points, declutter=declutter)
    return m


def _layers(element):
    for child in element._children.values():
        if isinstance(child, folium.map.Layer):
            yield child
        yield from _layers(child)


# --- text from data -------------------------------------------------------------------

# Every character that means something in HTML (text and attributes), in a JavaScript
# string ('…', "…") or in a template literal (`…`, ${…}, escapes), or in a Jinja template,
# as an HTML entity: the browser shows the character, no parser acts on it.
_SAFE = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;",
    "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;",
    "\r": "&#13;", "\n": "&#10;", "\u2028": "&#8232;", "\u2029": "&#8233;",
})


def safe_text(value) -> str:
    """Text from data made safe wherever Folium and Leaflet put it: HTML text and
    attributes, JavaScript strings, template literals and Folium's second Jinja pass
    (None/NaN become empty).

    The result is HTML that reads as the original text: ``${a}`` shows as ``${a}``,
    ``<b>`` as ``<b>``.
    """
    return as_text(value).translate(_SAFE)


def as_text(value) -> str:
    """A value from data as plain text: empty for None/NaN."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


class TextTooltip(folium.Tooltip):
    """A tooltip showing ``text`` (plain text from data) as written: Folium's ``Tooltip``
    puts its text into a template literal as HTML, so the text is made safe here."""

    def __init__(self, text, **kwargs):
        super().__init__(safe_text(text), **kwargs)


# The table of a GeoJSON tooltip or popup, built from the feature's properties with text
# nodes (Folium's own builds HTML from them in a template literal). A value's entities
# are decoded in a <textarea> (its content is never parsed as elements), then shown as text.
_TEXT_TABLE = """
    function (layer) {
        var div = L.DomUtil.create('div');
        var decoder = document.createElement('textarea');
        var fields = {{ this.fields|tojson }};
        var aliases = {{ this.aliases|tojson }};
        var props = (layer.feature && layer.feature.properties) || {};
        var table = L.DomUtil.create('table', '', div);
        fields.forEach(function (field, i) {
            var row = L.DomUtil.create('tr', '', table);
            {% if this.labels %}L.DomUtil.create('th', '', row).textContent = aliases[i];{% endif %}
            var value = props[field];
            if (value === null || value === undefined) { value = ''; }
            else if (typeof value === 'object') { value = JSON.stringify(value); }
            {% if this.localize %}else if (typeof value === 'number') { value = value.toLocaleString(); }{% endif %}
            decoder.innerHTML = String(value);
            L.DomUtil.create('td', '', row).textContent = decoder.value;
        });
        return div;
    }"""


class TextGeoJsonTooltip(GeoJsonTooltip):
    """``GeoJsonTooltip`` whose labels and values are shown as text, never as HTML."""

    _template = Template(
        "{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.bindTooltip("
        + _TEXT_TABLE + ", {{ this.tooltip_options|tojavascript }});{% endmacro %}")


class TextGeoJsonPopup(GeoJsonPopup):
    """``GeoJsonPopup`` whose labels and values are shown as text, never as HTML."""

    _template = Template(
        "{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.bindPopup("
        + _TEXT_TABLE + ", {{ this.popup_options|tojavascript }});{% endmacro %}")


def geojson_data(frame: gpd.GeoDataFrame) -> dict:
    """``frame`` (already as drawn) as a GeoJSON dict: every string property made safe
    (``safe_text``), numbers as they are, NaN as null."""
    data = json.loads(frame.to_json(drop_id=True, na="null"))
    for feature in data["features"]:
        props = feature.get("properties") or {}
        feature["properties"] = {k: safe_text(v) if isinstance(v, str) else v
                                 for k, v in props.items()}
    return data


def geojson_layer(frame: gpd.GeoDataFrame, *, name: str,
                  tooltip: list[tuple[str, str]] | None = None,
                  popup: list[tuple[str, str]] | None = None,
                  tooltip_options: dict | None = None, popup_options: dict | None = None,
                  **kwargs) -> folium.GeoJson:
    """A GeoJSON layer of ``frame`` (already as drawn, see ``MapSettings.frame``).

    ``tooltip`` and ``popup`` are (property, label) pairs: the properties' values (plain
    text or numbers, as in ``frame``; made safe by ``geojson_data``) and the labels are
    shown as text. ``name`` is the layer's plain-text name; other keyword arguments go to
    ``folium.GeoJson`` (a style function sees the safe values).
    """
    data = geojson_data(frame)
    drawn = bool(data["features"])
    tip = pop = None
    if tooltip and drawn:
        fields, labels = zip(*tooltip, strict=True)
        tip = TextGeoJsonTooltip(list(fields), aliases=list(labels), **(tooltip_options or {}))
    if popup and drawn:
        fields, labels = zip(*popup, strict=True)
        pop = TextGeoJsonPopup(list(fields), aliases=list(labels), **(popup_options or {}))
    return folium.GeoJson(data, name=name, tooltip=tip, popup=pop, **kwargs)


# --- what every map carries -----------------------------------------------------------

def legend(title: str, entries: list[tuple[str, str, str]], notes: list[str]) -> MacroElement:
    """A fixed legend box: ``entries`` are (colour, shape 'fill'|'line'|'dot', label).

    Titles, labels and notes are plain text, made safe here; the box is passed to the
    template as a value (never as template source, so no text is read as Jinja).
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
        rows.append(f"<div>{sym}{safe_text(label)}</div>")
    note_html = "".join(f'<div class="gs-legend-note">{safe_text(n)}</div>' for n in notes)
    # <details>: a click on the title folds the legend away when it hides part of the map.
    body = (f'<div class="gs-legend" id="gs-legend"><details open>'
            f'<summary class="gs-legend-title" title="点击收起/展开图例">{safe_text(title)}</summary>'
            f"{''.join(rows)}{note_html}</details></div>")
    return Legend(body)


class Legend(MacroElement):
    """The legend box (HTML built by ``legend``)."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}")

    def __init__(self, body: str):
        super().__init__()
        self._name = "Legend"
        self.body = body


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
