"""The map tools (maps/tools.py): the name index every map carries for the search box,
the names drawn by zoom and the locate links; pinyin keys; text kept safe."""

from __future__ import annotations

import html
import json
import re

import folium
import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from maps import MapSettings
from maps.assets import map_css, map_js
from maps.base import geojson_layer, safe_text
from maps.coverage import coverage_map
from maps.siting import siting_map
from maps.tools import MapTools, add_map_tools, name_index, pinyin_keys

CRS = "EPSG:4490"
X, Y, D = 103.80, 29.80, 0.02
HOSTILE = "{{ 7*7 }}<script>`${x}`</script>'\"\\"


def _villages(names=("汉阳村", "永昌村", HOSTILE)) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "code": ["511425102200", "511425102201", "511425108200"], "name": list(names),
        "elderly_population": [500, 300, 250], "covered": [True, False, True],
        "access_per_1000": [12.0, 0.0, 4.0], "nearest_m": [300.0, 2500.0, 900.0],
    }, geometry=[box(X, Y, X + D, Y + D), box(X, Y + D, X + D, Y + 2 * D),
                 box(X + D, Y, X + 2 * D, Y + D)], crs=CRS)


def _facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["城关敬老院", "二郎镇养老服务中心"], "supply": [40, 10]},
                            geometry=[Point(X + 0.01, Y + 0.01), Point(X + 0.03, Y + 0.01)],
                            crs=CRS)


SUMMARY = {"layer": "welfare_homes", "radius_m": 2000.0, "target": 0.8}


def _tools(m: folium.Map) -> MapTools:
    (tools,) = [el for el in m._children.values() if isinstance(el, MapTools)]
    return tools


def _index(m: folium.Map) -> list[dict]:
    return json.loads(_tools(m).options_json)["index"]


@pytest.mark.parametrize(("name", "full", "initials"), [
    ("汉阳", "hanyang", "hy"), ("永昌村", "yongchangcun", "ycc"),
    ("青神县瑞峰镇", "qingshenxianruifengzhen", "qsxrfz"),
    ("3组A区", "3zuaqu", "3zaq"), ("", "", ""), (None, "", ""),
    ("<b>x</b>{{", "bxb", "b"),  # a run of other characters counts as one word
])
def test_pinyin_keys(name, full, initials):
    assert pinyin_keys(name) == (full, initials)


def test_index_of_a_coverage_map():
    m = coverage_map(_villages(), _facilities(), SUMMARY, title="覆盖")
    index = _index(m)
    villages = [e for e in index if e["l"] == "villages"]
    facilities = [e for e in index if e["l"] == "facilities"]
    assert [html.unescape(e["n"]) for e in villages] == ["汉阳村", "永昌村", HOSTILE]
    assert [e["i"] for e in villages] == [0, 1, 2]
    assert {e["k"] for e in villages} == {"村(社区)"} and {e["z"] for e in villages} == {13}
    assert villages[0]["a"] == "hyc" and villages[0]["p"] == "hanyangcun"
    assert villages[1]["c"] == "511425102201" and villages[1]["id"] == "villages:1"
    # the label point lies in the village as drawn
    assert X < villages[0]["x"] < X + D and Y < villages[0]["y"] < Y + D
    # facilities: searchable, no label, labelled with the analysed kind
    assert [html.unescape(e["n"]) for e in facilities] == ["城关敬老院", "二郎镇养老服务中心"]
    assert {e["z"] for e in facilities} == {0}
    assert {e["k"] for e in facilities} == {"福利院/特困供养机构"}
    assert facilities[1]["a"] == "elzylfwzx"


def test_points_are_as_drawn_on_a_gcj02_map():
    plain = _index(coverage_map(_villages(), _facilities(), SUMMARY, title="覆盖"))
    shifted = _index(coverage_map(_villages(), _facilities(), SUMMARY, title="覆盖",
                                  settings=MapSettings(basemap_crs="gcj02")))
    # GCJ-02 is some hundreds of metres off in Sichuan: lon +0.002..0.003, lat -0.002..-0.003
    dx = shifted[0]["x"] - plain[0]["x"]
    dy = shifted[0]["y"] - plain[0]["y"]
    assert 0.001 < abs(dx) < 0.01 and 0.001 < abs(dy) < 0.01
    assert '"shifted":true' in _tools(coverage_map(
        _villages(), _facilities(), SUMMARY, title="覆盖",
        settings=MapSettings(basemap_crs="gcj02"))).options_json


def test_index_text_is_safe_and_reads_as_written():
    m = coverage_map(_villages(), _facilities(), SUMMARY, title="覆盖")
    index = _index(m)
    hostile = [e for e in index if html.unescape(e["n"]) == HOSTILE]
    assert len(hostile) == 1
    (e,) = hostile
    assert e["n"] == safe_text(HOSTILE)  # made safe once: no double escaping
    assert re.fullmatch(r"[a-z0-9]*", e["p"]) and re.fullmatch(r"[a-z0-9]*", e["a"])
    script = m.get_root().render()
    call = script[script.index("L.geoserviceTools("):]
    call = call[:call.index("});") + 3]
    for raw in ("<script>", "{{", "`", "${", "\\"):
        assert raw not in call.split("options:", 1)[1], raw


def test_siting_sites_and_boundaries_units_are_named():
    v = _villages()
    v["covered_before"] = [True, False, False]
    v["covered_after"] = [True, True, False]
    v["new_site_rank"] = [float("nan"), 1.0, float("nan")]
    v["nearest_m_after"] = [300.0, 800.0, float("nan")]
    townships = gpd.GeoDataFrame({"name": ["汉阳镇"]}, geometry=[box(X, Y, X + D, Y + 2 * D)],
                                 crs=CRS)
    sites = pd.DataFrame({"rank": [2, 1], "name": ["乙站", "甲站"], "lon": [X + 0.03, X + 0.01],
                          "lat": [Y + 0.01, Y + 0.03], "marginal_elderly": [0.0, 300.0]})
    empty = gpd.GeoDataFrame({"name": [], "rule": [], "reason": []}, geometry=[], crs=CRS)
    m = siting_map(v, _facilities(), sites, empty, {"radius_m": 1500.0},
                   layer="elderly_service_points", title="选址", townships=townships)
    index = _index(m)
    by_layer = {}
    for e in index:
        by_layer.setdefault(e["l"], []).append(e)
    assert [e["n"] for e in by_layer["sites"]] == ["甲站", "乙站"]  # in rank order
    assert [e["i"] for e in by_layer["sites"]] == [0, 1]
    assert by_layer["townships"][0]["z"] == 11 and by_layer["townships"][0]["a"] == "hyz"
    assert by_layer["facilities"][0]["k"] == "养老服务设施"


def test_unnamed_and_geometryless_features_keep_leaflets_positions():
    frame = gpd.GeoDataFrame({"name": ["甲", None, "丙", "丁"]},
                             geometry=[Point(X, Y), Point(X, Y + 0.01), None, Point(X, Y + 0.03)],
                             crs=4326)
    layer = geojson_layer(frame, name="点")
    index = name_index([("villages", layer)])
    # Leaflet draws 甲, (unnamed), 丁: 丁 is its third layer; 丙 has no place
    assert [(e["n"], e["i"]) for e in index] == [("甲", 0), ("丁", 2)]
    assert name_index([("villages", layer)], names={"villages": ""}) == []
    assert name_index([("other", layer)]) == []


def test_every_map_gets_the_tools_and_their_assets():
    m = coverage_map(_villages(), _facilities(), SUMMARY, title="覆盖")
    assert ("geoservice_tools_js", "/assets/geoservice/tools.js") in map_js()
    assert ("geoservice_tools_css", "/assets/geoservice/tools.css") in map_css()
    page = m.get_root().render()
    assert "/assets/geoservice/tools.js" in page and "/assets/geoservice/tools.css" in page
    assert page.count("L.geoserviceTools(") == 1
    f = folium.Map(tiles=None)
    add_map_tools(f, [], declutter=["labels"], legend_collapse_below=900)
    options = json.loads(_tools(f).options_json)
    assert options == {"index": [], "shifted": False, "declutter": ["labels"],
                       "legendCollapseBelow": 900}


def test_merge_map_units_are_named_and_searchable():
    from maps.boundaries import merge_map

    v = _villages()
    after = v.iloc[:2].dissolve().assign(name="汉永村", code="511425102299")
    m = merge_map(v, v.iloc[:2], after, title="合并")
    index = _index(m)
    by_layer = {}
    for e in index:
        by_layer.setdefault(e["l"], []).append(html.unescape(e["n"]))
    assert by_layer == {"context": [HOSTILE], "before": ["汉阳村", "永昌村"], "after": ["汉永村"]}
    assert {e["k"] for e in index} == {"村(社区)"} and {e["z"] for e in index} == {13}
