"""The tools on every map: search, names by zoom, measure, coordinates, full screen, north
arrow and the locate links of the pages' tables.

``finish_map`` (``maps/base.py``) calls :func:`add_map_tools` for every map. What the tools
know about the map's features is a *name index* built here from the map's registered
layers (``finish_map``'s ``registry``): one entry per named feature of a GeoJSON layer
whose registry key names a kind (``villages``, ``townships``, the facility layers …), plus
the plain points a builder adds (``points``, e.g. the numbered sites of a siting map, which
are markers, not GeoJSON). An entry holds

- the name (plain text in the builder, made safe here with ``safe_text``; the browser
  decodes it and shows it as a text node), its kind label (村(社区), 乡镇(街道), 设施 …) and
  code,
- where it is drawn (lon/lat as drawn, i.e. after ``MapSettings.frame``: a representative
  point of the feature),
- the registry key of its layer and its position among that layer's features (to open its
  popup, or its tooltip when it has none),
- its pinyin, in full and as initials (``pypinyin``), for the search box: "hy" finds 汉阳,
- the zoom from which its name is drawn on the map (villages from 13, townships from 11;
  0: searchable only).

The browser side is ``maps/static/tools.js`` and ``tools.css`` (served with the other map
assets, ``maps/assets.py``): ``L.geoserviceTools(map, options)``. The search box also asks
the app's ``/api/search`` (next to the ``/assets`` tools.js is served from) for what the page
does not carry: layers loaded by view or drawn in bulk; ``layerKinds`` (registry key → kind)
tells it which of the map's layers holds a kind the server names. Pages call
``window.geoservice.locate(key[, layer])`` (key: an entry id ``layer:n``, a code or a name);
any element with ``data-locate`` (and optionally ``data-locate-layer``) does it on click.
"""

from __future__ import annotations

import html
import json
import re

import folium
from branca.element import MacroElement
from folium.template import Template
from pypinyin import lazy_pinyin
from shapely.geometry import shape

from layers.schema import KINDS

from .base import as_text, safe_text

# registry key -> the kind its features are (for the kind label and the label zoom);
# the home map's keys are the kind names themselves.
DEFAULT_NAMES: dict[str, str] = {
    "villages": "villages", "townships": "townships", "facilities": "facilities",
    "plan_sites": "planned_sites", "welfare_homes": "welfare_homes",
    "elderly_service_points": "elderly_service_points", "cemeteries": "cemeteries",
    "planned_sites": "planned_sites", "candidates": "candidates", "excluded": "excluded",
}
# kinds whose names are drawn on the map, from which zoom
LABEL_ZOOM: dict[str, int] = {"villages": 13, "townships": 11}
# kind labels of the pseudo-kinds (not in the layer schema)
EXTRA_LABELS = {"facilities": "设施", "sites": "建议站点", "excluded": "排除的候选点"}

_NOT_PINYIN = re.compile(r"[^a-z0-9]")


def kind_label(kind: str) -> str:
    """The Chinese label of a kind (a layer kind of the schema or a pseudo-kind)."""
    if kind in EXTRA_LABELS:
        return EXTRA_LABELS[kind]
    return KINDS[kind].label if kind in KINDS else kind


def pinyin_keys(name: str) -> tuple[str, str]:
    """Full pinyin and initials of ``name`` (plain text), lower case, letters and digits
    only: ``汉阳`` gives ``("hanyang", "hy")``; other characters count as they are."""
    syllables = [_NOT_PINYIN.sub("", s.lower()) for s in lazy_pinyin(as_text(name))]
    syllables = [s for s in syllables if s]
    return "".join(syllables), "".join(s[0] for s in syllables)


def name_entry(name, *, kind: str, layer: str, index: int, lon: float, lat: float,
               code=None) -> dict:
    """One entry of the name index (``name``/``code``: plain text; made safe here)."""
    full, initials = pinyin_keys(as_text(name))
    return {
        "id": safe_text(f"{layer}:{index}"), "n": safe_text(name), "c": safe_text(code),
        "k": safe_text(kind_label(kind)), "l": safe_text(layer), "i": int(index),
        "x": round(float(lon), 6), "y": round(float(lat), 6), "p": full, "a": initials,
        "z": int(LABEL_ZOOM.get(kind, 0)),
    }


def name_index(registry: list[tuple[str, folium.map.Layer]],
               names: dict[str, str] | None = None,
               points: list[dict] | None = None) -> list[dict]:
    """The name index of a map: every named feature of the ``registry``'s GeoJSON layers
    whose key maps to a kind (``DEFAULT_NAMES`` updated by ``names``; a key mapped to ""
    is left out), then ``points``: dicts with ``name``, ``kind``, ``layer``, ``index``,
    ``lon``, ``lat`` (as drawn) and optionally ``code`` (plain text).

    GeoJSON properties are already safe text (``geojson_data``): they are read back to
    plain text first, so the index never holds doubly escaped names.
    """
    kinds = {**DEFAULT_NAMES, **(names or {})}
    out: list[dict] = []
    for key, layer in registry:
        kind = kinds.get(key)
        if not kind or not isinstance(layer, folium.GeoJson):
            continue
        drawn = 0  # Leaflet skips features without geometry: count only the drawn ones
        for feature in (layer.data or {}).get("features", []):
            geometry = feature.get("geometry")
            if not geometry:
                continue
            index, drawn = drawn, drawn + 1
            props = feature.get("properties") or {}
            name = props.get("name")
            if not isinstance(name, str) or not name.strip():
                continue
            try:
                point = shape(geometry).representative_point()
            except (ValueError, TypeError, AttributeError):
                continue
            if point.is_empty:
                continue
            code = props.get("code")
            out.append(name_entry(html.unescape(name), kind=kind, layer=key, index=index,
                                  lon=point.x, lat=point.y,
                                  code=html.unescape(code) if isinstance(code, str) else code))
    for p in points or []:
        out.append(name_entry(p["name"], kind=p["kind"], layer=p["layer"],
                              index=p["index"], lon=p["lon"], lat=p["lat"],
                              code=p.get("code")))
    return out


class MapTools(MacroElement):
    """Adds the tools to the map (``L.geoserviceTools`` of ``tools.js``).

    The options are passed as JSON of safe text: names carry no character that means
    something in HTML, JavaScript or Jinja (Folium reads the script a second time as a
    template; JSON itself never contains ``{{``, ``{%`` or ``{#``).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.geoserviceTools({{ this._parent.get_name() }}, {
            layers: {
            {%- for key, layer in this.layers %}
                {{ key|tojson }}: {{ layer.get_name() }},
            {%- endfor %}
            },
            options: {{ this.options_json }}
        });
        {% endmacro %}
    """)

    def __init__(self, layers: list[tuple[str, folium.map.Layer]], options: dict):
        super().__init__()
        self._name = "MapTools"
        self.layers = [(safe_text(k), layer) for k, layer in layers]
        self.options_json = json.dumps(options, ensure_ascii=False, separators=(",", ":"))


def add_map_tools(m: folium.Map, registry: list[tuple[str, folium.map.Layer]], *,
                  shifted: bool = False, names: dict[str, str] | None = None,
                  points: list[dict] | None = None, declutter: list[str] | None = None,
                  legend_collapse_below: int = 1200) -> folium.Map:
    """Add search, names by zoom, measure, coordinates, full screen and north arrow to ``m``.

    ``registry``: the map's (key, layer) pairs; ``names``/``points``: see :func:`name_index`;
    ``shifted``: the map is drawn in GCJ-02 (the coordinates readout shows both systems);
    ``declutter``: registry keys of marker groups whose labels hide each other (the
    overlapping ones are hidden after every move); ``legend_collapse_below``: window width
    (px) under which the legend starts folded.
    """
    kinds = {**DEFAULT_NAMES, **(names or {})}
    options = {
        "index": name_index(registry, names, points),
        "shifted": bool(shifted),
        "declutter": [safe_text(k) for k in declutter or []],
        "legendCollapseBelow": int(legend_collapse_below),
    }
    if registry:
        # registry key -> the layer kind it draws: the server search (/api/search) answers
        # by kind, the browser finds the map's layer of that kind
        options["layerKinds"] = {safe_text(k): safe_text(kinds.get(k) or k)
                                 for k, _ in registry}
    MapTools(registry, options).add_to(m)
    return m
