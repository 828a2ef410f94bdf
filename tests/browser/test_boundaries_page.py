"""The boundary review page in headless Chromium: findings listed and drawn, a row click
zooms the map, filters hide rows and features, boundary lines carry length labels."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from chromium import console_errors, log_in, requested_urls
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from layers import import_file, open_store

pytestmark = pytest.mark.browser


@pytest.fixture
def broken_townships(demo_workspace, tmp_path):
    """A townships version with a known overlap (汉阳镇 pushed 300 m west) in the copy."""
    store = open_store(demo_workspace)
    towns = store.read("townships").to_crs("EPSG:4544")
    k = towns.index[towns["code"] == "511425102"][0]
    towns.loc[k, "geometry"] = towns.loc[k, "geometry"].buffer(300)
    path = tmp_path / "towns.geojson"
    towns.to_crs("EPSG:4490").to_file(path, driver="GeoJSON")
    import_file(store, "townships", path)
    return demo_workspace


def _ready(driver):
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.layers"
                                   " && window.geoservice.layers.findings)"))


def _view(driver):
    return driver.execute_script(
        "var m = window.geoservice.map, c = m.getCenter();"
        "return [c.lat, c.lng, m.getZoom()];")


def test_findings_zoom_filter_and_labels(browser, broken_townships, demo_server):
    browser.get(demo_server.url + "/boundaries?layer=townships")
    _ready(browser)
    rows = browser.find_elements(By.CSS_SELECTOR, "#findings-table tbody tr[data-fid]")
    types = {r.get_attribute("data-type") for r in rows}
    assert {"overlap", "marker_off_line", "duplicate_marker"} <= types
    drawn_fids = browser.execute_script(
        "return window.geoservice.layers.findings.getLayers()"
        ".map(l => String(l.feature.properties.fid))")
    assert set(drawn_fids) == {r.get_attribute("data-fid") for r in rows
                               if r.get_attribute("data-geom") == "1"}

    # Boundary-line labels (DivIcons at line midpoints) are on the map with their length.
    labels = browser.find_elements(By.CSS_SELECTOR, ".gs-line-label")
    assert len(labels) >= 10 and all("千米" in lab.text for lab in labels)

    before = _view(browser)
    overlap_row = next(r for r in rows if r.get_attribute("data-type") == "overlap")
    overlap_row.click()
    WebDriverWait(browser, 10).until(lambda d: _view(d) != before)
    after = _view(browser)
    assert after[2] > before[2]  # zoomed in on the overlap
    assert "gs-active" in overlap_row.get_attribute("class")

    # Untick "重叠": its rows hide and its features leave the map.
    box = browser.find_element(By.CSS_SELECTOR, ".type-filter[value=overlap]")
    box.click()
    hidden = [r for r in rows if r.get_attribute("data-type") == "overlap"]
    assert all(not r.is_displayed() for r in hidden)
    assert all(r.is_displayed() for r in rows if r.get_attribute("data-type") != "overlap")
    left = browser.execute_script(
        "return window.geoservice.layers.findings.getLayers()"
        ".map(l => l.feature.properties.type)")
    assert "overlap" not in left and len(left) == len(drawn_fids) - len(
        [r for r in hidden if r.get_attribute("data-geom") == "1"])
    box.click()
    assert all(r.is_displayed() for r in rows)

    assert console_errors(browser) == []
    urls = requested_urls(browser)
    assert any("/assets/leaflet/leaflet.js" in u for u in urls)
    outside = [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname != "127.0.0.1"]
    assert outside == []


def test_merge_page_before_after_then_apply(browser, demo_server, demo_workspace):
    log_in(browser, demo_server, "界线审查员", "boundary")  # applying needs the role
    browser.get(demo_server.url + "/boundaries/merge?layer=villages"
                "&codes=511425102201,511425102208&name=汉阳村")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.layers"
                                   " && window.geoservice.layers.after)"))
    n = browser.execute_script(
        "return [window.geoservice.layers.before.getLayers().length,"
        " window.geoservice.layers.after.getLayers().length]")
    assert n == [2, 1]
    assert "户籍人口" in browser.find_element(By.ID, "merge-figures").text
    assert open_store(demo_workspace).current_versions()["villages"].version == 1
    browser.find_element(By.ID, "apply").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "merge-applied"))
    assert open_store(demo_workspace).current_versions()["villages"].version == 2
    assert console_errors(browser) == []


def test_village_review_labels_follow_the_zoom(browser, demo_server):
    browser.get(demo_server.url + "/boundaries?layer=villages")
    _ready(browser)
    n_lines = len(browser.find_elements(By.CSS_SELECTOR, "#lines-table tbody tr"))
    assert n_lines > 150
    # At the county view only the long lines carry a label: the map stays readable.
    shown = len(browser.find_elements(By.CSS_SELECTOR, ".gs-line-label"))
    assert 5 <= shown < 40
    rows = browser.find_elements(By.CSS_SELECTOR, "#findings-table tbody tr[data-fid]")
    marker_row = next(r for r in rows if r.get_attribute("data-type") == "marker_off_line")
    assert "青竹街道—汉阳镇" in marker_row.text  # a township marker, named by its townships
    before = _view(browser)
    marker_row.click()
    WebDriverWait(browser, 10).until(lambda d: _view(d) != before)
    assert _view(browser)[2] >= 16
    # Zoomed in, the short village lines nearby are labelled too.
    browser.execute_script("window.geoservice.map.setZoom(13, {animate: false})")
    WebDriverWait(browser, 10).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".gs-line-label")) > shown)
    assert console_errors(browser) == []


MEISHAN = (__import__("pathlib").Path(__file__).resolve().parent.parent / "data"
           / "boundaries" / "meishan_counties.geojson")


def test_outline_upload_asks_for_the_county_then_uses_it(browser, demo_server):
    log_in(browser, demo_server)  # a signed-in form post carries its CSRF token
    browser.get(demo_server.url + "/boundaries?layer=townships")
    _ready(browser)
    browser.find_element(By.ID, "outline-file").send_keys(str(MEISHAN))
    browser.find_element(By.ID, "outline-submit").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "outline-error"))
    error = browser.find_element(By.ID, "outline-error").text
    assert "包含 6 个面要素" in error and "青神县（511425）" in error
    _ready(browser)
    browser.find_element(By.ID, "outline-file").send_keys(str(MEISHAN))
    browser.find_element(By.ID, "outline-feature").send_keys("511425")
    browser.find_element(By.ID, "outline-submit").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "outline-used"))
    assert "青神县（511425）" in browser.find_element(By.ID, "outline-used").text
    assert not browser.find_elements(By.ID, "outline-error")
    # The refused upload's page came with HTTP 400 (the browser logs that); no script error.
    errors = console_errors(browser)
    assert [e for e in errors if e["source"] != "network"] == []
    assert len(errors) == 1 and "/boundaries" in errors[0]["message"] and "400" in \
        errors[0]["message"]
