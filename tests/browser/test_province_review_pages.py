"""The boundary review and place-name pages on a generated 3,000-village workspace (the one
of test_province_map.py) in real headless Chromium: every village drawn from the geometry
endpoint and clickable (its name shown as text), every boundary line drawn from
/api/boundaries/lines.geo, length labels only once zoomed in, and each page under the
size limit."""

from __future__ import annotations

from urllib.request import urlopen

import pytest
from chromium import console_errors, start_chromium
from fixtures import LiveServer
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_province_map import HOSTILE, PAGE_LIMIT, N, workspace  # noqa: F401 (fixture)

from geoservice import create_app

pytestmark = pytest.mark.browser

LAYER = "window.geoservice.bulk.villages"


@pytest.fixture(scope="module")
def server(workspace):  # noqa: F811
    app = create_app({"WORKSPACE": str(workspace), "ANONYMOUS_READ": 1,
                      "MAP_GEOMETRY_MIN_VERTICES": 10_000})
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def driver():
    with start_chromium() as d:
        yield d


def _size(url: str) -> int:
    with urlopen(url, timeout=120) as page:
        assert page.status == 200
        return len(page.read())


def _all_drawn(d):
    return d.execute_script(
        "var gs = window.geoservice; return !!(gs && gs.bulk && gs.bulk.villages"
        " && gs.bulk.villages.state === 'ready' && gs.bulkPending === 0)")


def _click_village(driver, name: str) -> str:
    """Centre the map on the village called ``name``, click it, return its popup's text."""
    x, y = driver.execute_script(f"""
        var map = window.geoservice.map, l = {LAYER}.feature(arguments[0]);
        map.setView(l.getCenter(), 14, {{animate: false}});
        var p = map.latLngToContainerPoint(l.getCenter());
        return [p.x, p.y];""", name)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return !window.geoservice.map._animatingZoom"))
    container = driver.find_element(By.CSS_SELECTOR, ".folium-map")
    size = container.size
    ActionChains(driver).move_to_element_with_offset(
        container, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()
    popup = WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content"))
    return popup[0].get_attribute("textContent")


def _counts(driver):
    return driver.execute_script(f"""
        var g = {LAYER}, layers = g.getLayers(), drawn = 0;
        layers.forEach(function (l) {{ if (l._parts && l._parts.length) {{ drawn += 1; }} }});
        return [g.drawn, layers.length, drawn, g.options.total];""")


def test_boundaries_page_draws_every_village_and_line(driver, server):
    url = server.url + "/boundaries?layer=villages"
    assert _size(url) < PAGE_LIMIT
    driver.get(url)
    # (a review not done yet: the page shows progress and reloads itself when it is)
    WebDriverWait(driver, 120).until(lambda d: d.execute_script(
        "return !!(window.geoservice && window.geoservice.bulk"
        " && window.geoservice.bulk.boundary_lines)"))
    WebDriverWait(driver, 120).until(_all_drawn)
    assert _counts(driver) == [N, N, N, N]
    lines = driver.execute_script(
        "var l = window.geoservice.bulk.boundary_lines; "
        "return [l.drawn, l.getLayers().length, l.options.total, l.state];")
    assert lines[0] == lines[1] == lines[2] > N and lines[3] == "ready", lines
    # zoomed out: no length labels
    assert driver.execute_script("return window.geoservice.layers.labels.getLayers().length") == 0
    text = _click_village(driver, HOSTILE)
    assert HOSTILE in text and "名称" in text, text
    assert driver.title != "pwned"
    assert not driver.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content img")
    # at zoom 14 the view's long lines are labelled (and decluttered by the map's tools)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        "return window.geoservice.layers.labels.getLayers().length > 0"))
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, ".gs-line-label-icon .gs-line-label"))
    assert not [e for e in console_errors(driver) if "favicon" not in e["message"]]


def test_placenames_page_draws_every_village(driver, server):
    url = server.url + "/placenames"
    assert _size(url) < PAGE_LIMIT
    driver.get(url)
    WebDriverWait(driver, 120).until(_all_drawn)
    assert _counts(driver) == [N, N, N, N]
    text = _click_village(driver, "测试村1234")
    assert "测试村1234" in text and "代码" in text, text
    text = _click_village(driver, HOSTILE)
    assert HOSTILE in text
    assert driver.title != "pwned"
    assert not [e for e in console_errors(driver) if "favicon" not in e["message"]]
