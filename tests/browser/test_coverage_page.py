"""The coverage page in headless Chromium: change the radius, the map and summary follow."""

from __future__ import annotations

import pytest
from chromium import console_errors
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser


def _state(driver):
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.layers"
                                   " && window.geoservice.layers.villages)"))
    fills = driver.execute_script("""
        return window.geoservice.layers.villages.getLayers()
            .map(l => l._path ? l._path.getAttribute('fill') : null);
    """)
    return fills, driver.find_element(By.ID, "coverage-summary").text


def _care_beds(driver):
    return [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#township-table td.care-beds")]


def test_changing_the_radius_redraws_shading_and_summary(browser, demo_server):
    browser.get(demo_server.url + "/coverage?layer=elderly_service_points&radius=500")
    fills_small, summary_small = _state(browser)
    assert len(fills_small) == 58 and all(fills_small)
    assert "500" in summary_small
    beds_small = _care_beds(browser)
    assert len(beds_small) == 7 and all(float(x) > 0 for x in beds_small)

    radius = browser.find_element(By.ID, "radius")
    radius.clear()
    radius.send_keys("6000")
    browser.find_element(By.ID, "redraw").click()
    WebDriverWait(browser, 30).until(lambda d: "radius=6000" in d.current_url)
    fills_big, summary_big = _state(browser)

    assert len(fills_big) == 58
    green, red = "#31a354", "#de2d26"
    assert fills_big.count(green) > fills_small.count(green)
    assert fills_big.count(red) < fills_small.count(red)
    assert summary_big != summary_small and "6000" in summary_big
    assert _care_beds(browser) == beds_small  # beds per 1,000 elderly do not hang on the radius
    circles = browser.execute_script(
        "return window.geoservice.layers.circles.getLayers().map(c => c.getRadius())")
    assert circles and set(circles) == {6000}
    assert console_errors(browser) == []


def test_access_shading_uses_classes(browser, demo_server):
    browser.get(demo_server.url + "/coverage?layer=welfare_homes&radius=15000&shading=access")
    fills, _ = _state(browser)
    assert len(set(fills)) >= 3  # several access classes drawn
    legend = browser.find_element(By.ID, "gs-legend").text
    assert "可达性" in legend and "15,000" in legend
