"""Layers too large to put into a page: drawn by view.

A stored layer with more features than the page may carry (the web tier's setting
``MAP_INLINE_MAX_FEATURES``) is not inlined. The map gets a :class:`ViewportLayer`
instead: a small script (``maps/static/viewport.js``, served with the other map assets)
that, once the map is zoomed in to ``min_zoom`` or further, asks the layer API for the
features of the current view (``?bbox=…&limit=…``) on every move, and draws them with the
same fields, Chinese labels and colours as the inline layer. Zoomed out it draws nothing
and says so on the map: ``放大后显示（共 N 个要素）``.

Text from data reaches the page only through the script's own text nodes (never as HTML).
The web tier builds a :class:`ViewSource` (the API URL, the count, the zoom) and hands it
in; this module never imports ``geoservice``.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
from folium.elements import JSCSSMixin
from folium.template import Template

from layers.schema import KINDS

from .assets import DEFAULT_PREFIX
from .style import COLORS, LEVEL_COLORS

POINT_TYPES = {"Point", "MultiPoint"}


@dataclass(frozen=True)
class ViewSource:
    """Where the features of a view of a large stored layer come from.

    kind : the layer kind.
    url : the layer's feature API (``/api/layers/<kind>?version=…``); the script adds
        ``bbox`` and ``limit``.
    features : how many features the layer has (shown while zoomed out).
    limit : features asked for per view (the API's page maximum).
    min_zoom : the zoom level from which the view's features are drawn.
    """

    kind: str
    url: str
    features: int
    limit: int = 10000
    min_zoom: int = 14


def zoom_note(label: str, features: int) -> str:
    """What the map says about a large layer while zoomed out (plain text)."""
    return f"{label}：放大后显示（共 {features:,} 个要素）"


def legend_note(source: ViewSource) -> str:
    """The legend line for a large layer (plain text); a bulk layer's
    (``maps.bulk.GeometrySource``) says that all its features are drawn."""
    from .bulk import bulk_note, is_bulk

    if is_bulk(source):
        return bulk_note(source)
    label = KINDS[source.kind].label
    return (f"{label}共 {source.features:,} 个要素，不随页面载入：放大到第 {source.min_zoom} 级后"
            "按视野加载")


class ViewportLayer(JSCSSMixin, folium.map.Layer):
    """A layer whose features of the current view are fetched from ``source.url``.

    Parameters
    ----------
    source : the API, the count and the zoom level (:class:`ViewSource`).
    name : the layer's plain-text name in the layer switcher.
    shifted : whether the map is drawn in GCJ-02 (features are shifted like every drawn
        geometry, and the view's box is widened to cover the shift).
    style : Leaflet path options for every feature (points are circle markers).
    tooltip, popup : (property, Chinese label) pairs, shown as text.
    choices : property -> {stored value: Chinese label}; ``bools``: properties shown 是/否.
    color_by : (property, {value: colour}) colouring stroke and fill by a value.
    radius_by : a number property scaling the circle radius (as beds on the home map).
    circle_m : also draw a service circle of this radius (metres) around each point.
    where : property -> accepted values (e.g. the levels an analysis used).
    asset_prefix : where the app serves ``viewport.js``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.geoserviceViewport({{ this.js_options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, source: ViewSource, *, name: str, shifted: bool = False,
                 style: dict | None = None, tooltip: list[tuple[str, str]] | None = None,
                 popup: list[tuple[str, str]] | None = None,
                 choices: dict[str, dict] | None = None, bools: list[str] | None = None,
                 color_by: tuple[str, dict[str, str]] | None = None,
                 radius_by: str | None = None, circle_m: float | None = None,
                 where: dict[str, list] | None = None, show: bool = True,
                 asset_prefix: str = DEFAULT_PREFIX):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "ViewportLayer"
        self.source = source
        label = KINDS[source.kind].label
        self.js_options = {
            "kind": source.kind, "url": source.url, "total": int(source.features),
            "limit": int(source.limit), "minZoom": int(source.min_zoom), "label": label,
            "shifted": bool(shifted), "style": style or {},
            "tooltip": [list(p) for p in tooltip or []], "popup": [list(p) for p in popup or []],
            "choices": choices or {}, "bools": list(bools or []),
            "colorBy": list(color_by) if color_by else None, "radiusBy": radius_by,
            "circleM": float(circle_m) if circle_m else None, "where": where or None,
        }
        self.default_js = [("geoservice_viewport_js", f"{asset_prefix}/geoservice/viewport.js")]


def kind_viewport_layer(source: ViewSource, *, shifted: bool = False, show: bool = True,
                        name: str | None = None, asset_prefix: str = DEFAULT_PREFIX,
                        **options) -> tuple[ViewportLayer, list[tuple[str, str, str]]]:
    """A :class:`ViewportLayer` of a stored kind looking like its inline layer on the home
    map (same tooltip and popup fields with their Chinese labels, same colours), and its
    legend entries. ``options`` override the layer's keyword arguments.

    A ``maps.bulk.GeometrySource`` (a heavy polygon layer: every feature drawn, simplified
    by zoom) gives a ``maps.bulk.BulkLayer`` instead, with the options it knows."""
    from .bulk import is_bulk, kind_bulk_layer

    if is_bulk(source):
        known = {"style", "props", "join", "fill", "tooltip", "popup", "choices", "bools",
                 "search"}
        return kind_bulk_layer(source, shifted=shifted, show=show, name=name,
                               asset_prefix=asset_prefix,
                               **{k: v for k, v in options.items() if k in known})
    kind = source.kind
    lk = KINDS[kind]
    fields = [f.name for f in lk.fields]
    tooltip_fields = [f for f in ("name", "code", "number") if f in fields][:2] or fields[:1]
    color = COLORS.get(kind, "#525252")
    is_point = all(g in POINT_TYPES for g in lk.geometry)
    entries: list[tuple[str, str, str]] = []
    color_by = None
    if kind == "elderly_service_points":
        levels = lk.field("level").choices or {}
        color_by = ("level", {k: LEVEL_COLORS[k] for k in levels if k in LEVEL_COLORS})
        entries += [(LEVEL_COLORS[k], "dot", v) for k, v in levels.items() if k in LEVEL_COLORS]
    elif is_point:
        entries.append((color, "dot", lk.label))
    else:
        entries.append((color, "fill", lk.label))
    if is_point:
        style = {"color": color, "fillColor": color, "weight": 1, "fillOpacity": 0.8,
                 "radius": 4}
    elif kind == "townships":
        style = {"color": color, "weight": 3, "fill": False, "fillOpacity": 0}
    else:
        style = {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.3}
    kwargs = {
        "name": name or f"{lk.label}（{source.features:,}，按视野加载）",
        "shifted": shifted, "show": show, "style": style,
        "tooltip": [(f, lk.field(f).label) for f in tooltip_fields],
        "popup": [(f.name, f.label) for f in lk.fields],
        "choices": {f.name: dict(f.choices) for f in lk.fields if f.choices},
        "bools": [f.name for f in lk.fields if f.dtype == "bool"],
        "color_by": color_by,
        "radius_by": "beds" if is_point and "beds" in fields else None,
        "asset_prefix": asset_prefix,
    }
    kwargs.update(options)
    return ViewportLayer(source, **kwargs), entries
