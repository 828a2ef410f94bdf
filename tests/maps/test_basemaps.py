"""Basemaps: the settings build the switcher's list (BASEMAP_URL, 天地图 'c' matrix with its
注记, local MBTiles and folder tiles, 无底图 always); the 'c' matrix CRS puts a lon/lat in
the tile the WMTS capabilities say; the GCJ-02 shift follows the active basemap on every
map, the plan maps included."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box
from tilesets import make_folder, make_mbtiles, png

from layers.crs import wgs_to_gcj
from maps import map_parts
from maps.base import NO_BASEMAP, Basemap, MapSettings, base_map
from maps.boundaries import boundaries_map, merge_map
from maps.coverage import coverage_map
from maps.overview import overview_map
from maps.placenames import placenames_map
from maps.plans import compare_map, plan_map
from maps.siting import siting_map

ROOT = Path(__file__).resolve().parents[2]
CRS = "EPSG:4490"
X, Y, D = 103.80, 29.80, 0.02
P = (X + 0.0123, Y + 0.0077)  # the one facility / site / label: a known stored point
KEY = "0123456789abcdef0123456789abcdef"

GAODE = Basemap(key="gaode", name="高德", kind="xyz", crs="gcj02",
                url="http://tiles.intranet/gcj/{z}/{x}/{y}.png", attribution="高德")
TDT = Basemap(key="tianditu_vec", name="天地图矢量", kind="tianditu_c",
              url="https://t{s}.tianditu.gov.cn/vec_c/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
              overlay_url="https://t{s}.tianditu.gov.cn/cva_c/wmts?TILEMATRIX={z}&TILEROW={y}"
                          "&TILECOL={x}", subdomains="01234567", attribution="天地图")
LOCAL = Basemap(key="mbtiles", name="本地瓦片（MBTiles）", kind="mbtiles",
                url="/tiles/mbtiles/{z}/{x}/{y}.png", attribution="本地瓦片")


# --- settings -> the list of basemaps ------------------------------------------------------

@pytest.fixture(scope="module")
def workspace(tiny_workspace_master, tmp_path_factory):
    path = tmp_path_factory.mktemp("ws") / "tiny.gpkg"
    shutil.copyfile(tiny_workspace_master, path)
    return path


def _settings(app, query: str = "", cookie: str | None = None) -> MapSettings:
    from geoservice.web.common import map_settings

    headers = {"Cookie": f"gs_basemap={cookie}"} if cookie else {}
    with app.test_request_context("/" + query, headers=headers):
        return map_settings()


def test_settings_build_every_basemap_in_order(workspace, tmp_path):
    from geoservice import create_app

    mb = make_mbtiles(tmp_path / "c.mbtiles", {(0, 0, 0): png((1, 2, 3))}, fmt="jpg")
    folder = make_folder(tmp_path / "xyz", {(0, 0, 0): png((1, 2, 3))}, ext="webp")
    app = create_app({"WORKSPACE": str(workspace), "BASEMAP_URL": GAODE.url,
                      "BASEMAP_CRS": "gcj02", "BASEMAP_NAME": "高德（内网）",
                      "TIANDITU_KEY": KEY, "BASEMAP_MBTILES": str(mb),
                      "BASEMAP_XYZ_DIR": str(folder)})
    s = _settings(app)
    assert [b.key for b in s.basemaps] == ["custom", "tianditu_vec", "tianditu_img", "mbtiles",
                                           "folder"]
    custom, vec, img, local, xyz = s.basemaps
    assert (custom.name, custom.kind, custom.crs, custom.url) == ("高德（内网）", "xyz", "gcj02",
                                                                  GAODE.url)
    assert (vec.name, vec.kind, vec.crs, vec.subdomains) == ("天地图矢量", "tianditu_c",
                                                             "cgcs2000", "01234567")
    assert vec.url == ("https://t{s}.tianditu.gov.cn/vec_c/wmts?SERVICE=WMTS&REQUEST=GetTile"
                       "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=c&FORMAT=tiles"
                       "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + KEY)
    assert vec.overlay_url == vec.url.replace("vec", "cva")
    assert img.name == "天地图影像" and img.url == vec.url.replace("vec", "img")
    assert img.overlay_url == vec.url.replace("vec", "cia")
    assert local.url == "/tiles/mbtiles/{z}/{x}/{y}.jpg" and local.crs == "cgcs2000"
    assert xyz.url == "/tiles/xyz/{z}/{x}/{y}.webp"
    # the first is the default; ?basemap= and then the remembered choice (cookie) choose
    assert s.active_basemap is custom and s.shifted
    assert _settings(app, "?basemap=tianditu_img").active_basemap == img
    assert not _settings(app, "?basemap=tianditu_img").shifted
    assert _settings(app, cookie="mbtiles").active_basemap == local
    assert _settings(app, "?basemap=folder", cookie="mbtiles").active_basemap == xyz
    assert _settings(app, "?basemap=none").active_basemap is None
    assert _settings(app, "?basemap=<script>").active_basemap == custom  # unknown: default


def test_a_provincial_tianditu_node(workspace):
    from geoservice import create_app

    node = create_app({"WORKSPACE": str(workspace), "TIANDITU_URL": "http://tdt.sc.intranet/"})
    vec = _settings(node).basemaps[0]
    assert vec.url.startswith("http://tdt.sc.intranet/vec_c/wmts?SERVICE=WMTS&")
    assert "tk=" not in vec.url and vec.subdomains == ""
    template = create_app({"WORKSPACE": str(workspace), "TIANDITU_KEY": KEY,
                           "TIANDITU_URL": "http://tdt.intranet/{layer}/{z}/{y}/{x}.png"})
    vec, img = _settings(template).basemaps
    assert vec.url == f"http://tdt.intranet/vec/{{z}}/{{y}}/{{x}}.png?tk={KEY}"
    assert img.overlay_url == f"http://tdt.intranet/cia/{{z}}/{{y}}/{{x}}.png?tk={KEY}"


def test_nothing_configured_offers_only_no_basemap(workspace):
    from geoservice import create_app

    s = _settings(create_app({"WORKSPACE": str(workspace)}))
    assert s.basemaps == () and s.active_basemap is None and not s.shifted
    m = base_map((X, Y, X + D, Y + D), s)
    assert _base_layer_names(m) == ["无底图"]
    html = _html(m)
    assert "L.tileLayer" not in html and "L.geoserviceBasemaps" in html


# --- the 'c' matrix ------------------------------------------------------------------------

# Tianditu's WMTS capabilities, TileMatrixSet "c" (EPSG:4490): TopLeftCorner 90 -180, 256 px
# tiles, level 1 ScaleDenominator 2.958293554545656E8 halving each level, at 96 dpi.
SCALE_1 = 2.958293554545656e8
PIXEL_M = 0.0254 / 96
METRES_PER_DEGREE = 2 * math.pi * 6378137 / 360


def wmts_tile(lon: float, lat: float, level: int) -> tuple[int, int]:
    """(TILECOL, TILEROW) of lon/lat at ``level``, by the WMTS 1.0 formula."""
    span = 256 * SCALE_1 / 2 ** (level - 1) * PIXEL_M / METRES_PER_DEGREE
    return math.floor((lon + 180) / span), math.floor((90 - lat) / span)


def leaflet_tile(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The tile Leaflet asks for at ``zoom`` on L.CRS.EPSG4490 (maps/static/basemaps.js):
    L.CRS.EPSG4326's transformation (1/180, 1, -1/180, 0.5) with our scale."""
    js = (ROOT / "maps" / "static" / "basemaps.js").read_text(encoding="utf-8")
    m = re.search(r"scale: function \(zoom\) \{ return 256 \* Math\.pow\(2, zoom - (\d+)\); \}", js)
    assert m, "L.CRS.EPSG4490.scale changed"
    scale = 256 * 2 ** (zoom - int(m.group(1)))
    x, y = scale * (lon / 180 + 1), scale * (-lat / 180 + 0.5)
    return math.floor(x / 256), math.floor(y / 256)


@pytest.mark.parametrize("lon,lat", [(103.8123, 29.8077), (116.3975, 39.9087),
                                     (87.6168, 43.8256), (-0.1, 51.5), (179.99, -89.9)])
def test_c_matrix_tiles_match_the_wmts_formula(lon, lat):
    for level in range(1, 19):
        assert leaflet_tile(lon, lat, level) == wmts_tile(lon, lat, level), level
    # by hand: level 1 is 2 x 1 tiles of 180 degrees
    assert wmts_tile(lon, lat, 1) == (int(lon >= 0), 0)


def test_qingshen_tile_by_hand():
    # level 10: 1024 x 512 tiles of 360/1024 degrees
    assert wmts_tile(103.8123, 29.8077, 10) == (807, 171)
    assert TDT.url.replace("{z}", "10").replace("{y}", "171").replace("{x}", "807").endswith(
        "TILEMATRIX=10&TILEROW=171&TILECOL=807")


def test_a_c_matrix_basemap_builds_the_map_in_its_crs():
    s = MapSettings(basemaps=(TDT, GAODE, LOCAL), active="tianditu_vec")
    m = base_map((X, Y, X + D, Y + D), s)
    assert m.crs == "EPSG4490"
    html = _html(m)
    assert "crs: L.CRS.EPSG4490" in html and "/assets/geoservice/basemaps.js" in html
    assert _base_layer_names(m) == ["天地图矢量", "高德", "本地瓦片（MBTiles）", "无底图"]
    vec = _base_layer(m, "天地图矢量")
    tiles = [c for c in vec._children.values() if isinstance(c, folium.TileLayer)]
    assert [t.tiles for t in tiles] == [TDT.url, TDT.overlay_url]  # 注记 over the basemap
    assert tiles[0].options["subdomains"] == "01234567" and tiles[0].options["min_zoom"] == 1
    # other frames: empty stand-ins the switcher reloads the page for
    assert not _base_layer(m, "高德")._children
    assert not _base_layer(m, "本地瓦片（MBTiles）")._children
    assert ('"live": {"gaode": false, "mbtiles": false, "none": true, "tianditu_vec": true}'
            in html)

    web = base_map((X, Y, X + D, Y + D), MapSettings(basemaps=(TDT, LOCAL), active="mbtiles"))
    assert web.crs == "EPSG3857"
    assert isinstance(_base_layer(web, "本地瓦片（MBTiles）"), folium.TileLayer)
    assert not _base_layer(web, "天地图矢量")._children


def test_no_basemap_is_always_offered_and_chosen_by_none():
    s = MapSettings(basemaps=(LOCAL,), active=NO_BASEMAP)
    m = base_map((X, Y, X + D, Y + D), s)
    assert _base_layer_names(m) == ["本地瓦片（MBTiles）", "无底图"]
    assert not _base_layer(m, "本地瓦片（MBTiles）").show and _base_layer(m, "无底图").show
    with pytest.raises(ValueError, match="没有键"):
        MapSettings(basemaps=(LOCAL,), active="gaode")


def _base_layers(m):
    return [c for c in m._children.values() if isinstance(c, folium.map.Layer) and not c.overlay]


def _base_layer_names(m):
    return [c.layer_name for c in _base_layers(m)]


def _base_layer(m, name):
    (layer,) = [c for c in _base_layers(m) if c.layer_name == name]
    return layer


def _html(m) -> str:
    parts = map_parts(m)
    return str(parts.header) + str(parts.html) + str(parts.script)


# --- the GCJ-02 shift follows the active basemap on every map ---------------------------------

def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "code": ["511425102200", "511425102201"], "name": ["甲一村", "甲二村"],
        "township_code": ["511425102", "511425102"], "elderly_population": [500, 300],
        "covered": [True, False], "access_per_1000": [3.0, 0.0], "nearest_m": [100.0, 9e3],
        "covered_before": [True, False], "covered_after": [True, True],
        "new_site_rank": [np.nan, 1.0], "nearest_m_after": [100.0, 800.0],
        "problems": ["", ""],
    }, geometry=[box(X, Y, X + D, Y + D), box(X, Y + D, X + D, Y + 2 * D)], crs=CRS)


def _point(**cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({k: [v] for k, v in cols.items()}, geometry=[Point(*P)], crs=CRS)


def _maps(settings):
    v = _villages()
    fac = _point(name="甲镇敬老院", supply=40)
    sites = pd.DataFrame({"rank": [1], "name": ["新站"], "lon": [P[0]], "lat": [P[1]],
                          "marginal_elderly": [300.0]})
    excluded = _point(name="排除点", rule="zone", reason="禁建区")
    findings = _point(type="gap", severity="error", message="缝隙")
    lines = gpd.GeoDataFrame({"kind": ["shared"], "name_a": ["甲一村"], "name_b": ["甲二村"],
                              "code_a": ["511425102200"], "code_b": ["511425102201"],
                              "length_km": [2.0]},
                             geometry=[box(X, Y, X + D, Y + D).exterior], crs=CRS)
    labels = _point(label_id=1, name="甲一村", status="ok", official_name="甲一村",
                    distance_m=np.nan)
    plan_sites = _point(name="方案站点", level_label="村级", beds=10)
    summary = {"layer": "welfare_homes", "radius_m": 1000.0, "target": 0.8,
               "tolerance_m": 100.0, "search_radius_m": 500.0, "fuzzy_threshold": 0.8}
    return {
        "overview": overview_map({"villages": v, "welfare_homes": fac}, title="总览",
                                 settings=settings),
        "coverage": coverage_map(v, fac, summary, title="覆盖", settings=settings),
        "siting": siting_map(v, fac, sites, excluded, summary, layer="welfare_homes",
                             title="选址", settings=settings),
        "boundaries": boundaries_map(v, findings, lines, summary, title="界线",
                                     type_labels={}, settings=settings),
        "merge": merge_map(v, v.iloc[:1], v.iloc[:1], title="合并", settings=settings),
        "placenames": placenames_map(v, labels, labels.iloc[:0], summary, title="地名",
                                     settings=settings),
        "plan": plan_map({"villages": v, "welfare_homes": fac}, plan_layer="welfare_homes",
                         title="方案", settings=settings),
        "compare": compare_map(v, fac, plan_sites, layer="welfare_homes", radius_m=1000.0,
                               title="比较", index=0, settings=settings),
    }


def _drawn(m) -> np.ndarray:
    """Every (lon, lat) the map draws: GeoJSON coordinates, markers, circles."""
    out = []

    def coords(c):
        if isinstance(c[0], (int, float)):
            out.append((c[0], c[1]))
        else:
            for x in c:
                coords(x)

    def walk(el):
        if isinstance(el, folium.GeoJson):
            for f in el.data["features"]:
                if f["geometry"]:
                    coords(f["geometry"]["coordinates"])
        elif isinstance(el, (folium.Marker, folium.Circle, folium.CircleMarker)):
            if el.location is not None:
                out.append((el.location[1], el.location[0]))
        for child in el._children.values():
            walk(child)

    walk(m)
    return np.array(out, dtype=float)


def _near(points: np.ndarray, x: float, y: float) -> bool:
    return bool(np.min(np.hypot(points[:, 0] - x, points[:, 1] - y)) < 1e-7)


@pytest.mark.parametrize("active,shifted", [("gaode", True), ("tianditu_vec", False),
                                            ("mbtiles", False), (NO_BASEMAP, False)])
def test_every_map_is_drawn_for_the_active_basemap(active, shifted):
    settings = MapSettings(basemaps=(GAODE, TDT, LOCAL), active=active)
    assert settings.shifted is shifted
    gx, gy = (float(a[0]) for a in wgs_to_gcj(np.array([P[0]]), np.array([P[1]])))
    cx, cy = (float(a[0]) for a in wgs_to_gcj(np.array([X]), np.array([Y])))
    for name, m in _maps(settings).items():
        points = _drawn(m)
        # the village corner (every map draws the villages, the merge map its units) ...
        assert _near(points, cx, cy) is shifted and _near(points, X, Y) is not shifted, name
        # ... and the known point, where the map draws one
        if name not in ("merge",):
            assert _near(points, gx, gy) is shifted, name
            assert _near(points, *P) is not shifted, name
        assert m.crs == ("EPSG4490" if active == "tianditu_vec" else "EPSG3857"), name
