"""打印地图 on the coverage page in headless Chromium: the form sends the page's parameters
and the map's bounds on screen (bbox), and that URL answers with a PDF."""

from __future__ import annotations

import urllib.parse
import urllib.request

import pytest
from chromium import console_errors
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser


def test_print_button_sends_the_map_extent(browser, demo_server):
    browser.get(demo_server.url + "/coverage?layer=welfare_homes&radius=8000")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.map)"))
    browser.execute_script("window.geoservice.map.setView([29.83, 103.85], 13, {animate: false})")
    bounds = browser.execute_script(
        "var b = window.geoservice.map.getBounds();"
        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];")
    browser.find_element(By.CSS_SELECTOR, "#print-map summary").click()
    browser.find_element(By.CSS_SELECTOR, "#print-form select[name=paper] option[value=A3]").click()
    browser.find_element(By.ID, "print-submit").click()
    url = WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "print-form").get_attribute("data-last-url"))
    parts = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(parts.query))
    assert parts.path == "/print/coverage.pdf"
    assert q["layer"] == "welfare_homes" and q["radius"] == "8000" and q["paper"] == "A3"
    bbox = [float(x) for x in q["bbox"].split(",")]
    assert bbox == pytest.approx(bounds, abs=1e-5)
    with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310 - the test's own server
        assert r.status == 200 and r.headers["Content-Type"] == "application/pdf"
        assert r.read(5) == b"%PDF-"
    assert console_errors(browser) == []
