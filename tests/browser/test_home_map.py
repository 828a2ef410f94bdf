"""The home page in real headless Chromium: the demo county draws, offline, without errors."""

from __future__ import annotations

from urllib.parse import urlparse

import geopandas as gpd
import pytest
from chromium import console_errors, requested_urls
from selenium.webdriver.support.ui import WebDriverWait

from layers import open_store

pytestmark = pytest.mark.browser

LOCAL_HOSTS = {"127.0.0.1"}


def _wait_for_map(driver):
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return !!(window.geoservice && window.geoservice.layers"
            " && window.geoservice.layers.villages)"))


def test_home_map_draws_every_village_offline(browser, demo_server, demo_workspace):
    expected = len(open_store(demo_workspace).read("villages"))
    assert expected == 58
    browser.get(demo_server.url + "/")
    _wait_for_map(browser)

    drawn = browser.execute_script("""
        const layer = window.geoservice.layers.villages;
        const paths = layer.getLayers().filter(l => l._path && document.body.contains(l._path)
            && l._path.getAttribute('d') && l._path.getAttribute('d').length > 10);
        return paths.length;
    """)
    assert drawn == expected

    # Every layer kind of the demo is on the map and listed in the layer control.
    kinds = browser.execute_script("return Object.keys(window.geoservice.layers).sort()")
    for kind in ("townships", "villages", "welfare_homes", "elderly_service_points",
                 "cemeteries", "place_labels"):
        assert kind in kinds
    control_text = browser.find_element("css selector", ".leaflet-control-layers").text
    assert "村(社区)" in control_text and "福利院" in control_text and "地名标注" in control_text

    # Zoomed to the county: the map view contains the county and is not the whole country.
    bounds = browser.execute_script(
        "const b = window.geoservice.map.getBounds();"
        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];")
    county = gpd.GeoSeries(open_store(demo_workspace).read("townships").union_all()).total_bounds
    assert bounds[0] <= county[0] and bounds[2] >= county[2]
    assert bounds[1] <= county[1] and bounds[3] >= county[3]
    assert bounds[2] - bounds[0] < 1.0  # degrees: county scale

    # The legend and the 示例数据 note are on the page.
    assert "示例数据" in browser.find_element("id", "gs-legend").text
    assert "示例数据" in browser.find_element("id", "demo-note").text
    # A click on its title folds the legend away (it can hide part of the county) and back.
    title = browser.find_element("css selector", "#gs-legend summary")
    full = browser.find_element("id", "gs-legend").size["height"]
    assert "simulated geometry" in browser.find_element("id", "gs-legend").text
    title.click()
    folded = browser.find_element("id", "gs-legend").size["height"]
    assert folded < full / 3 and "simulated geometry" not in browser.find_element("id", "gs-legend").text
    title.click()
    assert browser.find_element("id", "gs-legend").size["height"] == full

    # No iframe: the map is part of the page.
    assert browser.find_elements("tag name", "iframe") == []

    # Nothing was requested outside this machine.
    urls = requested_urls(browser)
    assert any("/assets/leaflet/leaflet.js" in u for u in urls)
    outside = [u for u in urls if urlparse(u).scheme in ("http", "https")
               and urlparse(u).hostname not in LOCAL_HOSTS]
    assert outside == []

    # And the console stayed clean.
    assert console_errors(browser) == []


def test_village_popup_shows_chinese_fields(browser, demo_server):
    browser.get(demo_server.url + "/")
    _wait_for_map(browser)
    text = browser.execute_script("""
        const layer = window.geoservice.layers.villages.getLayers()[0];
        layer.fire('click', {latlng: layer.getBounds().getCenter()}, true);
        const popup = document.querySelector('.leaflet-popup-content');
        return popup ? popup.innerText : '';
    """)
    assert "村(社区)代码" in text and "60岁以上人口" in text
