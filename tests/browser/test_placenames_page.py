"""The place-name page in headless Chromium: labels drawn, table filter, row click zooms."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from chromium import console_errors, requested_urls
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = pytest.mark.browser


def _ready(driver):
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.layers"
                                   " && window.geoservice.layers.labels)"))


def _visible_rows(driver):
    return [r for r in driver.find_elements(By.CSS_SELECTOR, "#findings-table tr.gs-finding")
            if r.is_displayed()]


def test_labels_filter_and_zoom(browser, demo_server):
    browser.get(demo_server.url + "/placenames")
    _ready(browser)
    fills = browser.execute_script("""
        return window.geoservice.layers.labels.getLayers()
            .map(l => l._path ? l._path.getAttribute('fill') : null);""")
    assert len(fills) == 57 and all(fills)
    assert "#de2d26" in fills and "#31a354" in fills  # wrong names red, fine labels green
    official = browser.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip.gs-official")
    assert any("鸿化村" in t.text for t in official)
    assert len(_visible_rows(browser)) == 10

    Select(browser.find_element(By.ID, "type-filter")).select_by_value("missing")
    rows = _visible_rows(browser)
    assert len(rows) == 3 and all("缺失标注" in r.text for r in rows)
    Select(browser.find_element(By.ID, "type-filter")).select_by_value("")
    text = browser.find_element(By.ID, "text-filter")
    text.send_keys("桂花")
    rows = _visible_rows(browser)
    assert len(rows) == 1 and "重复标注" in rows[0].text

    before = browser.execute_script(
        "var m = window.geoservice.map; return [m.getZoom(), m.getCenter().lat, m.getCenter().lng];")
    rows[0].click()
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return window.geoservice.map.getZoom()") == 15)
    after = browser.execute_script(
        "var m = window.geoservice.map; return [m.getZoom(), m.getCenter().lat, m.getCenter().lng];")
    assert after != before
    lat, lon = float(rows[0].get_attribute("data-lat")), float(rows[0].get_attribute("data-lon"))
    assert abs(after[1] - lat) < 1e-3 and abs(after[2] - lon) < 1e-3

    assert console_errors(browser) == []
    hosts = {urlparse(u).hostname for u in requested_urls(browser) if u.startswith("http")}
    assert hosts <= {"127.0.0.1"}
