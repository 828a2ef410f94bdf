"""The basemap switcher in real headless Chromium cut off from every network but the live
server (``--host-resolver-rules``: no name resolves, 127.0.0.1 excepted).

The app offers 天地图 (a key is set, so it is the default: the map is built in the 'c'
matrix CRS, its tiles cannot load here) and an MBTiles file made by the test. Choosing
本地瓦片（MBTiles） in the "底图" group reloads the page in Web Mercator and every tile
image loads from the app; choosing 无底图 removes the tiles and, remembered, the next page
requests none. An app with no basemap configured offers only 无底图 and requests no tiles.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import pytest
from chromium import requested_urls, start_chromium
from fixtures import LiveServer
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from tilesets import make_mbtiles, png, xyz_tile

from geoservice import create_app
from layers import open_store

pytestmark = pytest.mark.browser

OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)
KEY = "0123456789abcdef0123456789abcdef"
PAD = 1.0  # degrees of tiles around the county: the whole view is covered


@pytest.fixture(scope="module")
def county_bounds(module_demo_workspace):
    return gpd.GeoSeries(open_store(module_demo_workspace).read("townships")
                         .union_all()).total_bounds


@pytest.fixture(scope="module")
def mbtiles(county_bounds, tmp_path_factory):
    w, s, e, n = county_bounds
    tiles = {}
    for z in range(0, 14):
        data = png((40 + 15 * z, 120, 200 - 10 * z))
        x0, y0 = xyz_tile(w - PAD, n + PAD, z)
        x1, y1 = xyz_tile(e + PAD, s - PAD, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                tiles[(z, x, y)] = data
    return make_mbtiles(tmp_path_factory.mktemp("tiles") / "qingshen.mbtiles", tiles)


@pytest.fixture(scope="module")
def server(module_demo_workspace, mbtiles):
    app = create_app({"WORKSPACE": str(module_demo_workspace), "TIANDITU_KEY": KEY,
                      "BASEMAP_MBTILES": str(mbtiles)})
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def offline_browser():
    with start_chromium(flags=OFFLINE) as driver:
        yield driver


def _wait_for_map(driver):
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return !!(window.geoservice && window.geoservice.map && window.geoservice.layers"
        " && window.geoservice.layers.villages"
        " && document.querySelector('.gs-basemap-title'))"))


def _base_choices(driver) -> list[str]:
    return [label.text.strip() for label in driver.find_elements(
        By.CSS_SELECTOR, ".leaflet-control-layers-base label")]


def _choose(driver, name: str) -> None:
    for label in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-base label"):
        if label.text.strip() == name:
            label.find_element(By.TAG_NAME, "input").click()
            return
    raise AssertionError(f"底图切换中没有“{name}”：{_base_choices(driver)}")


def _tiles(driver) -> list[dict]:
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('.leaflet-tile-pane img')).map(img => ({
            src: img.src, complete: img.complete, width: img.naturalWidth,
            loaded: img.classList.contains('leaflet-tile-loaded')}));
    """)


def wmts_tile(lon: float, lat: float, level: int) -> tuple[int, int]:
    """(TILECOL, TILEROW) of Tianditu's 'c' matrix: tiles of 360/2^level degrees from
    (-180, 90)."""
    span = 360 / 2 ** level
    return math.floor((lon + 180) / span), math.floor((90 - lat) / span)


def test_switch_to_local_mbtiles_offline_then_no_basemap(offline_browser, server,
                                                         county_bounds):
    driver = offline_browser
    driver.get(server.url + "/")
    _wait_for_map(driver)
    assert _base_choices(driver) == ["天地图矢量", "天地图影像", "本地瓦片（MBTiles）", "无底图"]
    title = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-layers-base .gs-basemap-title")
    assert title.text == "底图"

    # 天地图 is the default: the map is in the 'c' matrix CRS, whose tiles are the WMTS ones
    crs = driver.execute_script("return window.geoservice.map.options.crs.code")
    assert crs == "EPSG:4490"
    lon, lat = 103.8123, 29.8077
    for level in (1, 5, 10, 15, 18):
        got = driver.execute_script(
            "const p = window.geoservice.map.options.crs.latLngToPoint("
            "L.latLng(arguments[1], arguments[0]), arguments[2]);"
            "return [Math.floor(p.x / 256), Math.floor(p.y / 256)];", lon, lat, level)
        assert tuple(got) == wmts_tile(lon, lat, level), level
    asked = [u for u in requested_urls(driver) if "tianditu.gov.cn" in u]
    assert asked, "天地图瓦片未请求"
    zoom = driver.execute_script("return window.geoservice.map.getZoom()")
    center = driver.execute_script(
        "const c = window.geoservice.map.getCenter(); return [c.lng, c.lat];")
    q = parse_qs(urlparse(asked[0]).query)
    assert q["TILEMATRIXSET"] == ["c"] and q["tk"] == [KEY] and q["TILEMATRIX"] == [str(zoom)]
    cols = {int(parse_qs(urlparse(u).query)["TILECOL"][0]) for u in asked
            if parse_qs(urlparse(u).query)["TILEMATRIX"] == [str(zoom)]}
    assert wmts_tile(*center, zoom)[0] in cols
    assert any("/cva_c/" in u for u in asked)  # the 注记 over the vector map
    # the network is blocked: nothing from 天地图 loaded
    assert not [t for t in _tiles(driver) if t["width"] > 0]

    # the switcher: the MBTiles basemap is Web Mercator, so the page comes back for it
    _choose(driver, "本地瓦片（MBTiles）")
    WebDriverWait(driver, 30).until(lambda d: "basemap=mbtiles" in d.current_url)
    _wait_for_map(driver)
    assert driver.execute_script("return window.geoservice.map.options.crs.code") == "EPSG:3857"
    WebDriverWait(driver, 30).until(
        lambda d: len(_tiles(d)) >= 4 and all(t["complete"] for t in _tiles(d)))
    tiles = _tiles(driver)
    assert all(t["src"].startswith(server.url + "/tiles/mbtiles/") for t in tiles), tiles
    assert all(t["width"] == 256 and t["loaded"] for t in tiles), tiles
    checked = driver.find_element(
        By.CSS_SELECTOR, ".leaflet-control-layers-base input:checked").find_element(
        By.XPATH, "..").text.strip()
    assert checked == "本地瓦片（MBTiles）"
    assert driver.execute_script(
        "return localStorage.getItem('geoservice.basemap')") == "mbtiles"
    # the county is still where it was
    bounds = driver.execute_script(
        "const b = window.geoservice.map.getBounds();"
        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];")
    w, s, e, n = county_bounds
    assert bounds[0] <= w and bounds[1] <= s and bounds[2] >= e and bounds[3] >= n

    # 无底图: the tiles go, live (same page); the next page is built without any
    driver.get_log("performance")  # forget what was asked so far
    url = driver.current_url
    _choose(driver, "无底图")
    WebDriverWait(driver, 10).until(lambda d: not _tiles(d))
    assert driver.current_url == url
    assert driver.execute_script("return localStorage.getItem('geoservice.basemap')") == "none"
    driver.get(server.url + "/coverage")
    _wait_for_map(driver)
    checked = driver.find_element(
        By.CSS_SELECTOR, ".leaflet-control-layers-base input:checked").find_element(
        By.XPATH, "..").text.strip()
    assert checked == "无底图"
    assert not _tiles(driver)
    asked = requested_urls(driver)
    assert not [u for u in asked if "/tiles/" in u or "tianditu" in u], asked

    # back to the local tiles on this page: same frame as 无底图 here, switched live
    _choose(driver, "本地瓦片（MBTiles）")
    WebDriverWait(driver, 30).until(
        lambda d: len(_tiles(d)) >= 4 and all(t["complete"] for t in _tiles(d)))
    assert all(t["width"] == 256 for t in _tiles(driver))
    assert "/coverage" in driver.current_url and "basemap=" not in driver.current_url


def test_nothing_configured_offers_only_no_basemap(module_demo_workspace):
    app = create_app({"WORKSPACE": str(module_demo_workspace)})
    with LiveServer(app) as live, start_chromium(flags=OFFLINE) as driver:
        driver.get(live.url + "/")
        _wait_for_map(driver)
        assert _base_choices(driver) == ["无底图"]
        assert not _tiles(driver)
        hosts = {urlparse(u).hostname for u in requested_urls(driver) if u.startswith("http")}
        assert hosts == {"127.0.0.1"}
        assert not [u for u in requested_urls(driver) if "/tiles/" in u]
