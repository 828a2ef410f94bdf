"""Boundary lines too many for a page, every one still drawn: a lines layer.

A province's boundary review has tens of thousands of shared lines. The map gets a
:class:`LinesLayer`: a script (``maps/static/lines.js``) that asks the web tier's lines
endpoint (``LinesSource.url``, e.g. ``/api/boundaries/lines.geo?layer=…``) for every line
simplified to about one screen pixel at the map's zoom, draws them on one canvas, swaps in
finer geometry for the view as the map is zoomed in, and, from ``label_zoom`` on, puts the
length labels of the view's lines long enough on screen into ``labels`` (a feature group
of the map, decluttered by ``maps.tools`` like the county page's inline labels). Text
(the two units' names) is only ever put into the page as text nodes.

The web tier builds the :class:`LinesSource`; this module never imports ``geoservice``.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
from folium.elements import JSCSSMixin
from folium.template import Template

from .assets import DEFAULT_PREFIX
from .bulk import BUCKETS


@dataclass(frozen=True)
class LinesSource:
    """url: the lines endpoint (the script adds ``zoom`` and ``bbox``); features: how many."""

    url: str
    features: int


class LinesLayer(JSCSSMixin, folium.map.Layer):
    """Every boundary line of a review from ``source.url``; ``styles``: kind -> Leaflet
    path options; ``labels``: the feature group the length labels go into (None: no
    labels); ``key``: its name in ``window.geoservice.bulk``; ``tooltip``: (column,
    Chinese label) pairs of the endpoint's columns (``label``, ``km``); ``renderer_of``:
    the kind of a bulk layer (``maps.bulk``) whose canvas the lines share."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.geoserviceLines({{ this.js_options|tojson }},
                {{ this.labels.get_name() if this.labels is not none else "null" }});
        {% endmacro %}
    """)

    def __init__(self, source: LinesSource, labels: folium.FeatureGroup | None, *,
                 name: str, styles: dict[str, dict], shifted: bool = False,
                 key: str = "boundary_lines", renderer_of: str | None = None,
                 tooltip: list[tuple[str, str]] | None = None, label_zoom: int = 12,
                 label_min_px: int = 60, show: bool = True,
                 asset_prefix: str = DEFAULT_PREFIX):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LinesLayer"
        self.labels = labels
        self.js_options = {
            "url": source.url, "total": int(source.features), "shifted": bool(shifted),
            "styles": styles, "labelZoom": int(label_zoom), "labelMinPx": int(label_min_px),
            "buckets": list(BUCKETS), "key": key, "rendererOf": renderer_of,
            "tooltip": [list(p) for p in tooltip or [("label", "界线"), ("km", "长度")]],
        }
        self.default_js = [
            ("geoservice_province_js", f"{asset_prefix}/geoservice/province.js"),
            ("geoservice_lines_js", f"{asset_prefix}/geoservice/lines.js"),
        ]
