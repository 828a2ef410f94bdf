"""Map settings reach every map: the basemap tile layer and its attribution when a URL is
set, and the GCJ-02 shift of everything drawn when the basemap is a GCJ-02 one.

Each map builder is called on small hand-made frames (CGCS2000, EPSG:4490, near Qingshen);
what a map draws is read back from the folium objects (GeoJSON data, circle, marker and
fit-bounds coordinates) and checked against ``layers.crs``'s own conversion.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPoint, Point, box

from layers.crs import from_stored, wgs_to_gcj
from maps import MapSettings, map_parts
from maps.boundaries import boundaries_map, merge_map
from maps.coverage import coverage_map
from maps.overview import overview_map
from maps.placenames import placenames_map
from maps.siting import siting_map

CRS = "EPSG:4490"
X, Y, D = 103.80, 29.80, 0.02  # south-west corner and side of a village, degrees
URL = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
ATTRIBUTION = "内网底图（测试）"
TOL = 1e-7  # degrees, about a centimetre


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "code": ["511425102200", "511425102201", "511425108200"],
        "name": ["甲一村", "甲二村", "乙一村"],
        "township_code": ["511425102", "511425102", "511425108"],
        "elderly_population": [500, 300, 250],
    }, geometry=[box(X, Y, X + D, Y + D), box(X, Y + D, X + D, Y + 2 * D),
                 box(X + D, Y, X + 2 * D, Y + D)], crs=CRS)


def _points(names, coords, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": names, **cols},
                            geometry=[Point(x, y) for x, y in coords], crs=CRS)


def _coverage(settings):
    v = _villages()
    v["covered"] = [True, False, True]
    v["access_per_1000"] = [12.0, 0.0, 4.0]
    v["nearest_m"] = [300.0, 2500.0, 900.0]
    f = _points(["甲镇敬老院"], [(X + 0.01, Y + 0.01)], supply=[40])
    summary = {"layer": "welfare_homes", "radius_m": 2000.0, "target": 0.8}
    return coverage_map(v, f, summary, title="覆盖", notes=["示例数据"], settings=settings)


def _siting(settings):
    v = _villages()
    v["covered_before"] = [True, False, False]
    v["covered_after"] = [True, True, False]
    v["new_site_rank"] = [np.nan, 1.0, np.nan]
    v["nearest_m_after"] = [300.0, 800.0, np.nan]
    townships = gpd.GeoDataFrame({"name": ["甲镇"]}, geometry=[box(X, Y, X + D, Y + 2 * D)],
                                 crs=CRS)
    zones = gpd.GeoDataFrame({"zone_type": ["water_source"], "name": ["水源地"]},
                             geometry=[box(X + D + 0.005, Y + 0.005, X + D + 0.01, Y + 0.01)],
                             crs=CRS)
    facilities = _points(["甲镇养老服务中心"], [(X + 0.01, Y + 0.012)])
    sites = pd.DataFrame({"rank": [1], "name": ["甲二村站"], "lon": [X + 0.011],
                          "lat": [Y + D + 0.009], "marginal_elderly": [300.0]})
    excluded = _points(["水源地旁"], [(X + D + 0.007, Y + 0.007)], rule=["zone"],
                       reason=["位于禁建区"])
    candidates = _points(["乙一村中心", "甲二村中心"], [(X + D + 0.01, Y + 0.011),
                                                   (X + 0.011, Y + D + 0.009)],
                         eligible=[True, True], chosen=[False, True])
    return siting_map(v, facilities, sites, excluded, {"radius_m": 1500.0},
                      layer="elderly_service_points", title="选址", candidates=candidates,
                      townships=townships, exclusion_zones=zones, legend_notes=["最大覆盖"],
                      notes=["示例数据"], settings=settings)


def _boundaries(settings):
    units = _villages()
    findings = gpd.GeoDataFrame({
        "type": ["gap", "marker_off_line", "name_duplicate"],
        "severity": ["error", "warning", "info"],
        "message": ["缝隙", "界桩偏离", "重名"],
    }, geometry=[box(X + D, Y + D, X + D + 0.001, Y + D + 0.001),
                 MultiPoint([(X + D, Y + 0.004), (X + D, Y + 0.006)]), None], crs=CRS)
    lines = gpd.GeoDataFrame({
        "kind": ["shared", "outer"], "name_a": ["甲一村", "甲一村"], "name_b": ["乙一村", ""],
        "code_a": ["511425102200", "511425102200"], "code_b": ["511425108200", None],
        "length_km": [2.2, 2.2],
    }, geometry=[LineString([(X + D, Y), (X + D, Y + D)]),
                 LineString([(X, Y), (X + D, Y)])], crs=CRS)
    summary = {"layer": "villages", "layer_label": "村(社区)",
               "tolerances": {"area_m2": 1.0, "sliver_width_m": 5.0}}
    return boundaries_map(units, findings, lines, summary, title="界线",
                          type_labels={"gap": "缝隙"}, notes=["示例数据"], settings=settings)


def _merge(settings):
    units = _villages()
    before = units.iloc[:2]
    after = gpd.GeoDataFrame({"name": ["甲村"], "code": ["511425102200"]},
                             geometry=[before.union_all()], crs=CRS)
    return merge_map(units, before, after, title="合并", notes=["示例数据"], settings=settings)


def _placenames(settings):
    v = _villages()
    v["problems"] = ["", "名称错误", ""]
    labels = gpd.GeoDataFrame({
        "label_id": [1, 2], "name": ["甲一村", "甲二材"], "status": ["ok", "wrong_name"],
        "official_name": ["甲一村", "甲二村"], "distance_m": [np.nan, np.nan],
    }, geometry=[Point(X + 0.01, Y + 0.01), Point(X + 0.01, Y + D + 0.01)], crs=CRS)
    missing = gpd.GeoDataFrame({"code": ["511425108200"], "official_name": ["乙一村"]},
                               geometry=[Point(X + D + 0.01, Y + 0.01)], crs=CRS)
    summary = {"tolerance_m": 200.0, "search_radius_m": 1000.0, "fuzzy_threshold": 0.8}
    return placenames_map(v, labels, missing, summary, title="地名", notes=["示例数据"],
                          settings=settings)


def _overview(settings):
    return overview_map({"villages": _villages(),
                         "welfare_homes": _points(["甲镇敬老院"], [(X + 0.01, Y + 0.01)])},
                        title="总览", notes=["示例数据"], settings=settings)


BUILDERS = {"coverage": _coverage, "siting": _siting, "boundaries": _boundaries,
            "merge": _merge, "placenames": _placenames, "overview": _overview}
# stored geometry each map draws as it is (before any shift)
INPUT_VERTICES = {name: _villages for name in BUILDERS}


def _lonlats(coords) -> list[tuple[float, float]]:
    """Every (lon, lat) pair in a GeoJSON ``coordinates`` value."""
    if isinstance(coords[0], (int, float)):
        return [(float(coords[0]), float(coords[1]))]
    return [p for c in coords for p in _lonlats(c)]


def _geometry_points(geometry) -> list[tuple[float, float]]:
    if geometry is None:
        return []
    if geometry["type"] == "GeometryCollection":
        return [p for g in geometry["geometries"] for p in _geometry_points(g)]
    return _lonlats(geometry["coordinates"])


def drawn(m: folium.Map) -> tuple[list[tuple[float, float]], list[list[float]]]:
    """The (lon, lat) of everything ``m`` draws, in drawing order, and its fit bounds."""
    points: list[tuple[float, float]] = []
    bounds: list[list[float]] = []

    def walk(el):
        if isinstance(el, folium.GeoJson):
            for feature in el.data["features"]:
                points.extend(_geometry_points(feature["geometry"]))
        elif isinstance(el, folium.Marker | folium.Circle | folium.CircleMarker):
            if el.location is not None:
                lat, lon = el.location
                points.append((float(lon), float(lat)))
        elif type(el).__name__ == "FitBounds":
            bounds.extend(el.bounds)
        for child in el._children.values():
            walk(child)

    walk(m)
    return points, bounds


def _html(m: folium.Map) -> str:
    parts = map_parts(m)
    return str(parts.header) + str(parts.html) + str(parts.script)


@pytest.mark.parametrize("name", BUILDERS)
def test_basemap_url_adds_the_tile_layer_and_its_attribution(name):
    m = BUILDERS[name](MapSettings(basemap_url=URL, attribution=ATTRIBUTION))
    tiles = [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    assert [t.tiles for t in tiles] == [URL]
    html = _html(m)
    assert "L.tileLayer" in html and URL in html
    assert json.dumps(ATTRIBUTION) in html or ATTRIBUTION in html
    assert "示例数据" in html  # the notes under the legend, as before

    plain = BUILDERS[name](MapSettings())
    assert not [c for c in plain._children.values() if isinstance(c, folium.TileLayer)]
    assert "L.tileLayer" not in _html(plain)


def test_attribution_defaults_to_basemap_label():
    m = _coverage(MapSettings(basemap_url=URL))
    (tiles,) = [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    assert tiles.options["attribution"] == "底图"


@pytest.mark.parametrize("name", BUILDERS)
def test_cgcs2000_draws_the_stored_coordinates(name):
    points, bounds = drawn(BUILDERS[name](MapSettings(basemap_crs="cgcs2000")))
    assert points
    drawn_set = np.array(points)
    for x, y in _vertices(INPUT_VERTICES[name]()):
        # every village corner is drawn where it is stored
        assert np.min(np.hypot(drawn_set[:, 0] - x, drawn_set[:, 1] - y)) < TOL, (x, y)
    (s, w), (n, e) = bounds
    assert w <= X + TOL and s <= Y + TOL and e >= X + D - TOL and n >= Y + D - TOL


@pytest.mark.parametrize("name", BUILDERS)
def test_gcj02_shifts_every_drawn_geometry(name):
    plain, plain_bounds = drawn(BUILDERS[name](MapSettings(basemap_crs="cgcs2000")))
    shifted, shifted_bounds = drawn(BUILDERS[name](MapSettings(basemap_crs="gcj02")))
    assert len(shifted) == len(plain) > 0
    p = np.array(plain)
    expected = np.column_stack(wgs_to_gcj(p[:, 0], p[:, 1]))
    got = np.array(shifted)
    # every drawn coordinate is the GCJ-02 of the one drawn on a CGCS2000 basemap...
    assert np.abs(got - expected).max() < TOL
    # ... which is a real shift (hundreds of metres here), not a no-op
    assert np.hypot(*(got - p).T).min() > 1e-3

    # the villages exactly as layers.crs converts them
    gcj = from_stored(INPUT_VERTICES[name](), "gcj02")
    for x, y in _vertices(gcj):
        assert np.min(np.hypot(got[:, 0] - x, got[:, 1] - y)) < TOL, (x, y)

    # the map is fitted to the shifted data
    (s0, w0), (n0, e0) = plain_bounds
    (s1, w1), (n1, e1) = shifted_bounds
    ex, ey = wgs_to_gcj(np.array([w0, e0]), np.array([s0, n0]))
    assert np.allclose([w1, e1, s1, n1], [ex[0], ex[1], ey[0], ey[1]], atol=1e-4)
    assert abs(w1 - w0) > 1e-3 and abs(s1 - s0) > 1e-3


def _vertices(gdf: gpd.GeoDataFrame) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in shapely.get_coordinates(gdf.geometry.values)]


def test_settings_refuse_an_unknown_basemap_crs():
    with pytest.raises(ValueError, match="cgcs2000 或 gcj02"):
        MapSettings(basemap_crs="bd09")


def test_settings_point_matches_layers_crs():
    assert MapSettings().point(X, Y) == (X, Y)
    lon, lat = MapSettings(basemap_crs="gcj02").point(X, Y)
    ex, ey = wgs_to_gcj(np.array([X]), np.array([Y]))
    assert (lon, lat) == (ex[0], ey[0])


def test_maps_never_import_geoservice():
    root = Path(__file__).resolve().parents[2] / "maps"
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] != "geoservice", f"{path.name} imports {n}"
