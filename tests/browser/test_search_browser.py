"""The map's search box asks the server (/api/search) for what the page does not carry: on
a home map whose facility layer is loaded by view, typing a facility's pinyin initials while
the map shows the whole county lists it; choosing it jumps there, waits for the view's
features and opens that facility's popup (maps/static/tools.js)."""

from __future__ import annotations

from collections import Counter

import pytest
from chromium import console_errors, start_chromium
from fixtures import LiveServer, make_app
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from geoservice.services.search import default_pinyin
from layers import open_store

pytestmark = pytest.mark.browser

LAYER = "window.geoservice.layers.elderly_service_points"


@pytest.fixture(scope="module")
def server(module_demo_workspace):
    # the demo county's 40 service points, 57 place labels and 58 villages are loaded by view
    app = make_app({"WORKSPACE": str(module_demo_workspace), "MAP_INLINE_MAX_FEATURES": 30})
    with LiveServer(app) as s:
        yield s


@pytest.fixture(scope="module")
def driver():
    with start_chromium() as d:
        yield d


def _unique_facility(workspace) -> tuple[str, str]:
    """A service point whose initials no other named feature of the workspace shares."""
    store = open_store(workspace)
    names = [n for kind in ("villages", "townships", "welfare_homes", "elderly_service_points",
                            "cemeteries", "place_labels", "candidates")
             for n in store.read(kind)["name"].dropna()]
    initials = Counter(i for _f, i in default_pinyin(names))
    for name in store.read("elderly_service_points")["name"]:
        ini = default_pinyin([name])[0][1]
        if initials[ini] == 1 and len(ini) >= 4:
            return name, ini
    raise AssertionError("no facility with unique initials")


def test_search_finds_a_facility_loaded_by_view(driver, server, module_demo_workspace):
    name, initials = _unique_facility(module_demo_workspace)
    driver.get(server.url + "/")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        f"return !!(window.geoservice && {LAYER} && window.geoservice.tools)"))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(f"return {LAYER}.state")
                                    == "zoomed_out")
    assert driver.execute_script(f"return {LAYER}.getLayers().length") == 0
    # the page's own index does not know it
    assert driver.execute_script("return window.geoservice.tools.search(arguments[0]).length",
                                 initials) == 0

    box = driver.find_element(By.CSS_SELECTOR, ".gs-search-input")
    box.send_keys(initials.upper())
    item = WebDriverWait(driver, 20).until(lambda d: next(
        (li for li in d.find_elements(By.CSS_SELECTOR, ".gs-search-results li.gs-server")
         if li.find_element(By.CSS_SELECTOR, ".gs-search-name").text == name), None))
    assert item.find_element(By.CSS_SELECTOR, ".gs-search-kind").text == "养老服务设施"
    item.click()

    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "var p = document.querySelector('.leaflet-popup-content');"
        "return p ? p.textContent : ''").find(name) >= 0)
    assert driver.execute_script(f"return {LAYER}.state") == "ready"
    assert driver.execute_script("return window.geoservice.map.getZoom()") >= 14
    # the popup is the facility's own (its fields with Chinese labels), not a marker
    text = driver.execute_script("return document.querySelector('.leaflet-popup-content').textContent")
    assert "名称" in text and "层级" in text
    assert driver.find_elements(By.CSS_SELECTOR, ".gs-search-mark") == []
    assert console_errors(driver) == []


def test_search_marks_a_place_the_map_does_not_draw(driver, server):
    """A result whose layer the map has not got (here: a candidate, hidden layers aside,
    found by the server only) is marked with its name as text."""
    driver.get(server.url + "/")
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return !!(window.geoservice && window.geoservice.tools)"))
    ok = driver.execute_script("""
        var t = window.geoservice.tools;
        return t.goServer(t._serverEntry({kind: 'no_such_kind', kind_label: 'x',
            name: '<b>标记</b>', code: null, lon: 103.83, lat: 29.81, index: 0}));""")
    assert ok
    mark = WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".gs-search-mark"))
    assert mark[0].text == "<b>标记</b>"
    assert driver.find_elements(By.CSS_SELECTOR, ".gs-search-mark b") == []
