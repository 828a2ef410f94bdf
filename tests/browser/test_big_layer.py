"""A 100,000-point layer in real headless Chromium: the home page loads at once, zoomed out
it says how many features there are, zoomed in it fetches and draws the view's features."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pytest
import shapely
from chromium import console_errors, requested_urls, start_chromium
from fixtures import LiveServer
from selenium.webdriver.support.ui import WebDriverWait

from geoservice import create_app
from geoservice.config import DEMO_WORKSPACE
from layers import open_store
from layers.crs import wgs_to_gcj

pytestmark = pytest.mark.browser

N = 100_000
CENTRE = (103.83, 29.81)  # lon, lat inside the demo county
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">${1}`'


@pytest.fixture(scope="module")
def big_workspace(tmp_path_factory):
    path = tmp_path_factory.mktemp("big_browser") / "big.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    rng = np.random.default_rng(11)
    x, y = rng.uniform(103.71, 103.95, N), rng.uniform(29.73, 29.89, N)
    x[0], y[0] = CENTRE  # a hostile name in the middle of the view we zoom to
    names = [f"大点{i}" for i in range(N)]
    names[0] = HOSTILE
    gdf = gpd.GeoDataFrame({"name": names, "level": "group_point", "beds": 5},
                           geometry=shapely.points(x, y), crs=4490)
    open_store(path).write("elderly_service_points", gdf, source="test", source_crs="EPSG:4490")
    return path


@pytest.fixture(scope="module")
def big_server(big_workspace):
    with LiveServer(create_app({"WORKSPACE": str(big_workspace)})) as live:
        yield live


@pytest.fixture(scope="module")
def driver():
    with start_chromium() as d:
        yield d


LAYER = "window.geoservice.layers.elderly_service_points"


def _state(d):
    return d.execute_script(f"return {LAYER}.state")


def _note(d) -> str:
    return d.execute_script(
        "var n = document.querySelector('.gs-viewport-note[data-kind=elderly_service_points]');"
        "return n && n.style.display !== 'none' ? n.textContent : '';")


def test_big_layer_home_page(driver, big_server, big_workspace):
    driver.get(big_server.url + "/")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return !!(window.geoservice && window.geoservice.layers"
        " && window.geoservice.layers.elderly_service_points)"))

    # County scale: nothing of the big layer is drawn, the map says why and how many.
    assert driver.execute_script("return window.geoservice.map.getZoom()") < 14
    WebDriverWait(driver, 10).until(lambda d: _state(d) == "zoomed_out")
    assert driver.execute_script(f"return {LAYER}.getLayers().length") == 0
    assert "养老服务设施：放大后显示（共 100,000 个要素）" in _note(driver)
    assert "共 100,000 个要素" in driver.find_element("id", "gs-legend").text
    # the small layers are drawn from the page itself
    assert driver.execute_script("return window.geoservice.layers.villages.getLayers().length") == 58

    # Zoomed in: the view's features are fetched (bbox) and drawn, as many as the store has.
    driver.execute_script(f"window.geoservice.map.setView([{CENTRE[1]}, {CENTRE[0]}], 16)")
    WebDriverWait(driver, 30).until(lambda d: _state(d) == "ready")
    west, south, east, north = driver.execute_script(
        "var b = window.geoservice.map.getBounds();"
        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];")
    expected = open_store(big_workspace).read("elderly_service_points",
                                              bbox=(west, south, east, north))
    matched, drawn = driver.execute_script(
        f"return [{LAYER}.matched, {LAYER}.getLayers().length]")
    assert 0 < len(expected) <= matched <= len(expected) + 5  # the request rounds the box
    assert drawn == matched
    inside = driver.execute_script(f"""
        var b = window.geoservice.map.getBounds().pad(0.01), n = 0;
        {LAYER}.eachLayer(function (l) {{ if (b.contains(l.getLatLng())) n += 1; }});
        return n;""")
    assert inside == drawn
    assert _note(driver) == ""  # all of the view is drawn: nothing to say
    assert any("/api/layers/elderly_service_points?" in u and "bbox=" in u
               for u in requested_urls(driver))

    # Popups show the kind's fields with Chinese labels; a hostile name is text, not HTML.
    title = driver.title
    text = driver.execute_script(f"""
        var hit = null;
        {LAYER}.eachLayer(function (l) {{
            var p = l.getLatLng();
            if (Math.abs(p.lng - {CENTRE[0]}) < 1e-9 && Math.abs(p.lat - {CENTRE[1]}) < 1e-9) hit = l;
        }});
        hit.openPopup();
        return document.querySelector('.leaflet-popup-content').textContent;""")
    assert "名称" in text and "层级" in text and "村民小组养老服务点" in text and "床位数" in text
    assert HOSTILE in text
    assert driver.execute_script("return document.querySelectorAll('.leaflet-popup img').length") == 0
    assert driver.title == title

    # Moving the map fetches the new view.
    before = driver.execute_script(f"return {LAYER}.requests")
    driver.execute_script("window.geoservice.map.panBy([400, 0], {animate: false})")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        f"return {LAYER}.requests > {before} && {LAYER}.state === 'ready'"))
    assert driver.execute_script(f"return {LAYER}.getLayers().length") > 0

    # Zoomed out again: cleared, and the count note is back.
    driver.execute_script("window.geoservice.map.setZoom(11)")
    WebDriverWait(driver, 10).until(lambda d: _state(d) == "zoomed_out")
    assert driver.execute_script(f"return {LAYER}.getLayers().length") == 0
    assert "放大后显示（共 100,000 个要素）" in _note(driver)
    assert console_errors(driver) == []

    # On a GCJ-02 basemap the script shifts what it draws exactly as the server does.
    points = [CENTRE, (116.39, 39.91)]
    gx, gy = wgs_to_gcj(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    for (lon, lat), x, y in zip(points, gx, gy, strict=True):
        js = driver.execute_script(f"return L.geoserviceViewport.wgsToGcj({lon}, {lat})")
        assert abs(js[0] - x) < 1e-9 and abs(js[1] - y) < 1e-9
