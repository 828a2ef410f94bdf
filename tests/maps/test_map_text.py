"""Text from data on every map is shown as written and never runs.

Every builder is called with hostile names in every text field (names, codes, messages,
reasons, labels, the title and the notes). The rendered map must

- parse as JavaScript (``node --check``; a backslash or a backtick from data used to turn the
  whole map script into a syntax error, so the map stayed blank),
- carry no hostile text raw anywhere, GeoJSON data included: HTML entities everywhere, so
  nothing is read as HTML, as JavaScript or as a Jinja template (Folium renders what every
  element wrote a second time as a template: ``{{ … }}`` in a name used to run on the
  server),
- use only the tooltip and popup classes of ``maps.base`` (safe text, text nodes), never
  Folium's own, which put text into template literals or build HTML from properties,
- keep the text readable: the entities decode to the original.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, MultiPoint, Point, box

from layers import open_store
from layers.schema import KINDS
from maps import map_parts
from maps.base import (
    TextGeoJsonPopup,
    TextGeoJsonTooltip,
    TextTooltip,
    as_text,
    legend,
    safe_text,
)
from maps.boundaries import boundaries_map, merge_map
from maps.coverage import coverage_map
from maps.overview import overview_map
from maps.placenames import placenames_map
from maps.siting import siting_map

CRS = "EPSG:4490"
X, Y, D = 103.80, 29.80, 0.02

HOSTILE = [
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=1">',
    "${window.__pwned=1}",
    "`+(window.__pwned=1)+`",
    "C:\\xyz\\",
    "</script><script>window.__pwned=1</script>",
    "'\"${\"a\"}",
    "{{ 7*7 }}{% if 1 %}",
    "行\u2028分\u2029隔\r\n",
]


def _h(i: int, suffix: str = "") -> str:
    """The i-th hostile name (cycling), with a readable suffix."""
    return HOSTILE[i % len(HOSTILE)] + suffix


def _names(n: int, start: int = 0, suffix: str = "") -> list[str]:
    return [_h(start + i, suffix) for i in range(n)]


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "code": _names(3, 0, "511425"), "name": _names(3, 3, "村"),
        "township_code": ["511425102", "511425102", "511425108"],
        "elderly_population": [500, 300, 250],
    }, geometry=[box(X, Y, X + D, Y + D), box(X, Y + D, X + D, Y + 2 * D),
                 box(X + D, Y, X + 2 * D, Y + D)], crs=CRS)


def _points(names, coords, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": names, **cols},
                            geometry=[Point(x, y) for x, y in coords], crs=CRS)


TITLE = _h(7, " 标题") + _h(2)
NOTES = _names(len(HOSTILE), 0, " 注")


def _coverage():
    v = _villages()
    v["covered"] = [True, False, True]
    v["access_per_1000"] = [12.0, 0.0, 4.0]
    v["nearest_m"] = [300.0, 2500.0, 900.0]
    f = _points(_names(2, 4, "院"), [(X + 0.01, Y + 0.01), (X + 0.03, Y + 0.01)],
                supply=[40, 10])
    summary = {"layer": "welfare_homes", "radius_m": 2000.0, "target": 0.8,
               "inputs": {"radius_from": _h(5)}}
    return coverage_map(v, f, summary, shading="access", title=TITLE, notes=NOTES)


def _siting():
    v = _villages()
    v["covered_before"] = [True, False, False]
    v["covered_after"] = [True, True, False]
    v["new_site_rank"] = [np.nan, 1.0, np.nan]
    v["nearest_m_after"] = [300.0, 800.0, np.nan]
    townships = gpd.GeoDataFrame({"name": [_h(1)]}, geometry=[box(X, Y, X + D, Y + 2 * D)],
                                 crs=CRS)
    zones = gpd.GeoDataFrame({"zone_type": [_h(2), "water_source"], "name": _names(2, 3)},
                             geometry=[box(X + D + 0.005, Y + 0.005, X + D + 0.01, Y + 0.01),
                                       box(X + D + 0.011, Y + 0.005, X + D + 0.015, Y + 0.01)],
                             crs=CRS)
    facilities = _points(_names(2, 5), [(X + 0.01, Y + 0.012), (X + 0.012, Y + 0.01)])
    sites = pd.DataFrame({"rank": [1, 2], "name": _names(2, 6, "站"),
                          "lon": [X + 0.011, X + 0.031], "lat": [Y + D + 0.009, Y + 0.009],
                          "marginal_elderly": [300.0, 0.0], "no_gain": [False, True]})
    excluded = _points(_names(2, 8), [(X + D + 0.007, Y + 0.007), (X + 0.005, Y + 0.005)],
                       rule=["zone", "x"], rule_label=_names(2, 0), reason=_names(2, 1, "原因"))
    candidates = _points(_names(3, 2), [(X + D + 0.01, Y + 0.011), (X + 0.011, Y + D + 0.009),
                                        (X + 0.002, Y + 0.002)],
                         eligible=[True, True, True], chosen=[False, True, False])
    return siting_map(v, facilities, sites, excluded, {"radius_m": 1500.0},
                      layer="elderly_service_points", title=TITLE, candidates=candidates,
                      townships=townships, exclusion_zones=zones,
                      legend_notes=_names(3, 4), notes=NOTES)


def _boundaries():
    units = _villages()
    findings = gpd.GeoDataFrame({
        "type": ["gap", _h(3), "name_duplicate"],
        "severity": ["error", "warning", "info"],
        "message": _names(3, 0, "说明"),
    }, geometry=[box(X + D, Y + D, X + D + 0.001, Y + D + 0.001),
                 MultiPoint([(X + D, Y + 0.004), (X + D, Y + 0.006)]), None], crs=CRS)
    lines = gpd.GeoDataFrame({
        "kind": ["shared", "outer"], "name_a": _names(2, 4), "name_b": [_h(6), None],
        "code_a": ["511425102200", "511425102200"], "code_b": ["511425108200", None],
        "length_km": [2.2, 2.2],
    }, geometry=[LineString([(X + D, Y), (X + D, Y + D)]),
                 LineString([(X, Y), (X + D, Y)])], crs=CRS)
    summary = {"layer": "villages", "layer_label": _h(7),
               "tolerances": {"area_m2": 1.0, "sliver_width_m": 5.0}}
    return boundaries_map(units, findings, lines, summary, title=TITLE,
                          type_labels={"gap": _h(8), "name_duplicate": _h(0)}, notes=NOTES)


def _merge():
    units = _villages()
    before = units.iloc[:2]
    after = gpd.GeoDataFrame({"name": [_h(1, "社区")], "code": [_h(2)]},
                             geometry=[before.union_all()], crs=CRS)
    return merge_map(units, before, after, title="合并模拟：" + _h(5), notes=NOTES)


def _placenames():
    v = _villages()
    v["problems"] = _names(3, 6)
    statuses = ["ok", "wrong_name", "former_name", "misplaced", "unknown_label",
                "duplicate_label", _h(1)]
    n = len(statuses)
    labels = gpd.GeoDataFrame({
        "label_id": list(range(1, n + 1)), "name": _names(n, 0, "村"), "status": statuses,
        "official_name": _names(n, 4), "distance_m": [np.nan, np.nan, np.nan, 400.0, np.nan,
                                                      50.0, np.nan],
    }, geometry=[Point(X + 0.002 * (i + 1), Y + 0.01) for i in range(n)], crs=CRS)
    missing = gpd.GeoDataFrame({"code": _names(2, 2), "official_name": _names(2, 3)},
                               geometry=[Point(X + D + 0.01, Y + 0.01),
                                         Point(X + D + 0.012, Y + 0.012)], crs=CRS)
    summary = {"tolerance_m": 200.0, "search_radius_m": 1000.0, "fuzzy_threshold": 0.8}
    return placenames_map(v, labels, missing, summary, title=TITLE, notes=NOTES)


def hostile_layers(store) -> dict[str, gpd.GeoDataFrame]:
    """Every layer of ``store`` with hostile text in every text field of its kind."""
    out = {}
    for kind in store.current_versions():
        gdf = store.read(kind)
        for f in KINDS[kind].fields:
            if f.name in gdf.columns and f.dtype in ("str", "code"):
                gdf[f.name] = [_h(i, str(v)[-3:] if isinstance(v, str) else "")
                               for i, v in enumerate(gdf[f.name])]
        out[kind] = gdf
    return out


@pytest.fixture(scope="module")
def demo_layers():
    from geoservice.config import DEMO_WORKSPACE  # the test reads the demo, never writes

    return hostile_layers(open_store(DEMO_WORKSPACE))


BUILDERS = {"coverage": _coverage, "siting": _siting, "boundaries": _boundaries,
            "merge": _merge, "placenames": _placenames}


@pytest.fixture(scope="module", params=[*BUILDERS, "overview"])
def hostile_map(request, demo_layers) -> folium.Map:
    if request.param == "overview":
        planned = demo_layers["villages"].iloc[:3][["geometry"]].copy()
        planned["geometry"] = planned.geometry.representative_point()
        planned["name"], planned["scenario"], planned["note"] = (_names(3, 0), _names(3, 4),
                                                                 _names(3, 7))
        planned["facility_layer"], planned["level"] = _names(3, 2), _names(3, 5)
        planned["rank"], planned["beds"] = [1, 2, 3], [10, 0, 5]
        return overview_map({**demo_layers, "planned_sites": planned}, title=TITLE,
                            notes=NOTES)
    return BUILDERS[request.param]()


def _walk(el):
    yield el
    for child in el._children.values():
        yield from _walk(child)


def _rendered(m: folium.Map) -> tuple[str, str]:
    parts = map_parts(m)
    return str(parts.header) + str(parts.html), str(parts.script)


def test_every_tooltip_and_popup_is_a_safe_one(hostile_map):
    kinds = {type(el) for el in _walk(hostile_map)
             if isinstance(el, folium.Tooltip | folium.Popup | folium.GeoJsonTooltip
                           | folium.GeoJsonPopup)}
    assert kinds, "the map has no tooltip at all"
    assert kinds <= {TextTooltip, TextGeoJsonTooltip, TextGeoJsonPopup}, kinds


def test_no_hostile_text_anywhere_in_the_page(hostile_map):
    page, script = _rendered(hostile_map)
    for h in HOSTILE:
        for part in (h, h.strip(), json.dumps(h)[1:-1]):
            assert part not in script, (part, script[script.find(part) - 200:][:400])
            assert part not in page, part
    # read as a Jinja template, a title, note or name would have printed 49
    assert "&#123;&#123; 7*7 &#125;&#125;" in page


@pytest.mark.parametrize("name", [*BUILDERS, "overview"])
def test_the_script_parses_in_node(name, demo_layers, tmp_path):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (tests/browser/test_hostile_names.py runs them)")
    m = (overview_map(demo_layers, title=TITLE, notes=NOTES) if name == "overview"
         else BUILDERS[name]())
    _, script = _rendered(m)
    path = tmp_path / f"{name}.js"
    path.write_text(script, encoding="utf-8")
    r = subprocess.run([node, "--check", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]


def test_properties_are_safe_text_that_reads_as_written(hostile_map):
    values = [v for el in _walk(hostile_map) if isinstance(el, folium.GeoJson)
              for f in el.data["features"] for v in f["properties"].values()
              if isinstance(v, str)]
    assert all(safe_text(html.unescape(v)) == v for v in values)
    decoded = {html.unescape(v) for v in values}
    assert len({h for h in HOSTILE if any(h in v for v in decoded)}) >= 3


def test_text_tooltips_read_as_written(hostile_map):
    """Marker tooltips, layer names and the legend are made safe once and decode to the
    original (no double escaping: ``&amp;lt;`` would show as ``&lt;``)."""
    page, _ = _rendered(hostile_map)
    texts = [el.text for el in _walk(hostile_map) if isinstance(el, TextTooltip)]
    names = [el.layer_name for el in _walk(hostile_map)
             if isinstance(el, folium.map.Layer) and el.layer_name]
    for text in [*texts, *names]:
        assert safe_text(html.unescape(text)) == text
    for note in NOTES:
        assert f'<div class="gs-legend-note">{safe_text(note)}</div>' in page


@pytest.mark.parametrize("text", [*HOSTILE, "普通名称", "", "a&b", "&amp;"])
def test_safe_text_is_inert_everywhere_and_reads_back(text):
    safe = safe_text(text)
    assert html.unescape(safe) == text
    # nothing that means something in HTML, a JS string, a template literal or Jinja
    for ch in "<>\"'`$\\{}\r\n\u2028\u2029":
        assert ch not in safe


def test_safe_text_of_missing_values_is_empty():
    assert safe_text(None) == "" == safe_text(float("nan")) == as_text(pd.NA)
    assert safe_text(12) == "12"


def test_legend_text_is_never_template_source():
    m = folium.Map(tiles=None)
    legend("{{ 7*7 }}", [("#000", "dot", "{% raw %}")], ["{{ cycler }}"]).add_to(m)
    rendered = m.get_root().render()
    title = rendered[rendered.index('class="gs-legend-title"'):]
    assert ">49<" not in title[:title.index("</summary>") + 1] and "Cycler" not in rendered
    assert "&#123;&#123; 7*7 &#125;&#125;" in rendered and "&#123;% raw %&#125;" in rendered


def test_tooltip_text_is_inert_in_its_template_literal():
    m = folium.Map(tiles=None)
    marker = folium.CircleMarker([Y, X], radius=3)
    TextTooltip("`${window.__pwned=1}` C:\\xyz {{ 7*7 }}").add_to(marker)
    marker.add_to(m)
    script = m.get_root().render()
    call = script[script.index(".bindTooltip("):]
    literal = call[call.index("`") + 1:]
    literal = literal[:literal.index("`")]
    assert "$" not in literal and "\\" not in literal and "{" not in literal
    assert "`${window.__pwned=1}` C:\\xyz {{ 7*7 }}" in html.unescape(literal)


def test_basemap_attribution_is_plain_text():
    from maps import MapSettings

    settings = MapSettings(basemap_url="http://127.0.0.1:9/{z}/{x}/{y}.png",
                           attribution="内网底图 {{ 7*7 }} <b>${x}</b>")
    m = overview_map({"villages": _villages()}, title="总览", settings=settings)
    page, script = _rendered(m)
    assert "{{ 7*7 }}" not in script and "<b>" not in script and "${x}" not in script
    (tiles,) = [el for el in _walk(m) if isinstance(el, folium.TileLayer)]
    assert html.unescape(tiles.options["attribution"]) == "内网底图 {{ 7*7 }} <b>${x}</b>"
