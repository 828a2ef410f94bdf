"""Hostile names from data never run and never break a map, on every page, in Chromium.

The demo county's every named layer (townships, villages, the three facility layers, place
labels, candidates, exclusion zones, boundary markers and a planning scenario) gets names
made to break out of HTML, JavaScript strings, template literals and Folium's Jinja
rendering. Every page is opened in one headless Chromium with ``alert``/``confirm``/
``prompt`` trapped before any page script runs; on each the test checks that no script
from data ran (no alert, ``document.title`` as the server wrote it, no ``window.__pwned``),
the console has no error, the map drew its shapes (as many villages as the layer has) and
the tooltips and popups show the names as written.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import urllib.request
from urllib.parse import urlencode

import geopandas as gpd
import pytest
from chromium import console_errors, start_chromium
from fixtures import LiveServer, add_account
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from geoservice import create_app
from geoservice.config import DEMO_WORKSPACE
from layers import open_store
from layers.schema import KINDS

pytestmark = pytest.mark.browser

HOSTILE = [
    "<script>window.__pwned=1;alert(1)</script>",
    '"><img src=x onerror="window.__pwned=1;alert(1)">',
    "${window.__pwned=1}${alert(1)}",
    "${document.title=/PWNED/.source}",
    "`;window.__pwned=1;alert(1);`",
    "C:\\xyz\\",
    "</script><script>window.__pwned=1</script>",
    "'\"${\"a\"}'",
    "<img src=x onerror=document.title=/PWNED/.source;window.__pwned=1>",
    "{{ 7*7 }}{% if 1 %}",
]
# fields that join layers (codes) keep their values; every other text field is hostile
KEEP = {"code", "township_code", "village_code", "codes", "zone_type", "source", "crs",
        "facility_layer", "level", "kind"}
MERGE_NAME = '<img src=x onerror="window.__pwned=1">社区'  # a new name must end in 社区/村

TRAP = """
    window.__alerts = [];
    window.__errors = [];
    window.alert = window.confirm = window.prompt = function (m) {
        window.__alerts.push(String(m)); return null; };
    window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
"""


def hostile(value: str, i: int) -> str:
    """A hostile name that still ends with the original (names stay distinct)."""
    return HOSTILE[i % len(HOSTILE)] + str(value)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "hostile.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    store = open_store(path)
    for kind in store.current_versions():
        gdf = store.read(kind)
        for f in KINDS[kind].fields:
            if f.name in gdf.columns and f.dtype == "str" and f.name not in KEEP:
                gdf[f.name] = [hostile(v, i) for i, v in enumerate(gdf[f.name])]
        store.write(kind, gdf, source=hostile("layer.csv", 3), source_crs="EPSG:4490")
    points = store.read("candidates").iloc[:4]
    planned = gpd.GeoDataFrame({
        "name": [hostile("规划站", i) for i in range(4)],
        "facility_layer": "elderly_service_points", "level": [hostile("", i) for i in range(4)],
        "rank": [1, 2, 3, 4], "scenario": hostile("方案", 2), "note": hostile("", 5),
        "beds": [10, 20, 0, 5]}, geometry=points.geometry.values, crs=points.crs)
    store.write("planned_sites", planned, source=hostile("规划.csv", 1), source_crs="EPSG:4490")
    return path


@pytest.fixture(scope="module")
def app(workspace):
    return create_app({"WORKSPACE": str(workspace)})


@pytest.fixture(scope="module")
def server(app):
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def chrome():
    """One headless Chromium for the module, alerts trapped before any page script."""
    with start_chromium(init_script=TRAP) as driver:
        yield driver


def _server_title(url: str) -> str:
    with urllib.request.urlopen(url, timeout=120) as r:
        page = r.read().decode("utf-8")
    return html.unescape(re.search(r"<title>(.*?)</title>", page, re.S).group(1).strip())


def _open(driver, url: str, key: str) -> None:
    driver.get(url)
    _wait_map(driver, key)


def _wait_map(driver, key: str) -> None:
    """Until the map is built, or something ran or broke (then say what)."""
    state = WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "var ready = !!(window.geoservice && window.geoservice.layers"
        f" && window.geoservice.layers[{key!r}]);"
        "var bad = (window.__alerts || []).length || (window.__errors || []).length"
        "          || window.__pwned !== undefined;"
        "return (ready || bad) && {alerts: window.__alerts, errors: window.__errors,"
        "                          pwned: window.__pwned === undefined ? null : 1};"))
    assert state == {"alerts": [], "errors": [], "pwned": None}, state


def _open_all_tooltips_and_popups(driver) -> list[str]:
    """Hover and click every feature and marker drawn (as a user would, by firing the
    events their layers listen to); the texts of the tooltips and popups that open."""
    return driver.execute_script("""
        var out = [], map = window.geoservice.map;
        function texts(selector) {
            document.querySelectorAll(selector).forEach(e => out.push(e.textContent));
        }
        function where(l) {
            if (l.getLatLng) { return l.getLatLng(); }
            return l.getBounds ? l.getBounds().getCenter() : map.getCenter();
        }
        function visit(l) {
            if (l.eachLayer && !(l instanceof L.Path) && !(l instanceof L.Marker)) {
                l.eachLayer(visit);
                return;
            }
            if (!map.hasLayer(l)) { return; }
            var at = where(l);
            l.fire('mouseover', {latlng: at}, true);
            texts('.leaflet-tooltip');
            l.fire('mouseout', {latlng: at}, true);
            l.fire('click', {latlng: at}, true);
            texts('.leaflet-popup-content');
            map.closePopup();
        }
        Object.values(window.geoservice.layers).forEach(visit);
        return out;""")


def _check(driver, url: str, *, units_key: str | None, units: int | None) -> list[str]:
    """Nothing ran, nothing broke, the shapes are drawn (``units`` features of the
    ``units_key`` layer, each with its SVG path); the texts of tooltips and popups."""
    shown = _open_all_tooltips_and_popups(driver)
    state = driver.execute_script("""
        return {alerts: window.__alerts, errors: window.__errors,
                pwned: window.__pwned === undefined ? null : 1, title: document.title,
                paths: document.querySelectorAll('.leaflet-overlay-pane path').length};""")
    assert (state["alerts"], state["errors"], state["pwned"]) == ([], [], None), state
    assert state["title"] == _server_title(url) and "PWNED" not in state["title"]
    assert state["paths"] > 0
    if units_key:
        drawn = driver.execute_script(f"""
            var ls = window.geoservice.layers[{units_key!r}].getLayers();
            return [ls.length, ls.filter(l => l._path && l._path.isConnected
                                               && l._path.getAttribute('d')).length];""")
        assert drawn == [units, units]
    assert console_errors(driver) == []
    return shown


def _page(driver, url: str, ready_key: str, *, units_key: str | None = "villages",
          units: int | None = None) -> list[str]:
    _open(driver, url, ready_key)
    return _check(driver, url, units_key=units_key, units=units)


def _count(driver, key: str) -> int:
    return driver.execute_script(
        f"var l = window.geoservice.layers[{key!r}]; return l ? l.getLayers().length : 0")


def _hostile_shown(shown: list[str]) -> set[str]:
    return {h for h in HOSTILE for t in shown if h in t}


@pytest.fixture(scope="module")
def counts(workspace) -> dict[str, int]:
    store = open_store(workspace)
    return {kind: v.features for kind, v in store.current_versions().items()}


def test_home_map(chrome, server, counts):
    _open(chrome, server.url + "/", "villages")
    assert set(counts) <= set(chrome.execute_script(
        "return Object.keys(window.geoservice.layers)"))
    assert {"planned_sites", "roads"} <= set(counts) and len(counts) == 11
    # hidden layers too: show every layer so its tooltips are built and checked
    chrome.execute_script("""
        Object.values(window.geoservice.layers).forEach(
            l => window.geoservice.map.addLayer(l));""")
    shown = _check(chrome, server.url + "/", units_key="villages", units=counts["villages"])
    # the names read as written: every hostile name shows somewhere as plain text
    assert _hostile_shown(shown) == set(HOSTILE)
    assert "规划新增设施" in chrome.find_element(By.ID, "gs-legend").text


def test_coverage_page(chrome, server, counts):
    shown = _page(chrome, server.url + "/coverage?layer=welfare_homes&radius=3000", "villages",
                  units=counts["villages"])
    assert len(_hostile_shown(shown)) >= 5
    # the page's own tables show the names as text too
    assert HOSTILE[0] in chrome.find_element(By.TAG_NAME, "body").text


@pytest.mark.parametrize("body", [
    {"layer": "elderly_service_points", "problem": "mclp", "radius": 2000, "add": 3},
    {"layer": "cemeteries", "problem": "cemetery", "add": 2, "candidates": "candidates"},
], ids=["mclp", "cemetery"])
def test_siting_result_page(chrome, server, app, counts, body):
    req = urllib.request.Request(server.url + "/api/siting/jobs", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + add_account(
                                              app, "规划员", "planner")},
                                 method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        job_id = json.loads(r.read())["id"]
    job = app.extensions["siting_jobs"].get(job_id)
    job.wait(300)
    assert job.state == "done", (job.state, job.error)
    shown = _page(chrome, f"{server.url}/siting?job={job_id}", "sites",
                  units=counts["villages"])
    assert _count(chrome, "sites") == body["add"]
    assert len(_hostile_shown(shown)) >= 3
    if body["problem"] == "cemetery":
        assert _count(chrome, "excluded") > 0


def test_siting_start_page(chrome, server, counts):
    _page(chrome, server.url + "/siting", "villages", units=counts["villages"])


@pytest.mark.parametrize("layer", ["townships", "villages"])
def test_boundaries_page(chrome, server, counts, layer):
    shown = _page(chrome, f"{server.url}/boundaries?layer={layer}", "findings",
                  units_key="units", units=counts[layer])
    assert len(_hostile_shown(shown)) >= 3
    assert chrome.find_elements(By.CSS_SELECTOR, ".gs-line-label")


def test_merge_simulation_page(chrome, server, workspace, counts):
    codes = ",".join(open_store(workspace).read("villages")["code"].iloc[:2])
    url = server.url + "/boundaries/merge?" + urlencode(
        {"layer": "villages", "codes": codes, "name": MERGE_NAME})
    shown = _page(chrome, url, "before", units_key="context", units=counts["villages"] - 2)
    assert _count(chrome, "before") == 2
    # the merged unit carries the standard form of the new name (no spaces), as text
    standard = MERGE_NAME.replace(" ", "")
    assert any(standard in t for t in shown)
    assert standard in chrome.find_element(By.ID, "gs-legend").text


def test_placenames_page(chrome, server, counts):
    shown = _page(chrome, server.url + "/placenames", "labels", units=counts["villages"])
    assert len(_hostile_shown(shown)) >= 5
    assert _count(chrome, "labels") == counts["place_labels"]


def test_placenames_page_with_an_uploaded_hostile_label_file(chrome, server, workspace,
                                                            counts, tmp_path):
    centres = open_store(workspace).read("villages").geometry.representative_point()
    # one label per hostile name, each inside a village
    rows = "".join(f'"{h.replace(chr(34), chr(34) * 2)}{i}村",{p.x:.6f},{p.y:.6f}\n'
                   for i, (h, p) in enumerate(zip(HOSTILE, centres, strict=False)))
    path = tmp_path / "labels.csv"
    path.write_text("名称,经度,纬度\n" + rows, encoding="utf-8")

    url = server.url + "/placenames"
    _open(chrome, url, "labels")
    chrome.find_element(By.ID, "label-file").send_keys(str(path))
    Select(chrome.find_element(By.ID, "label-crs")).select_by_value("EPSG:4490")
    chrome.find_element(By.ID, "upload-run").click()
    WebDriverWait(chrome, 60).until(lambda d: d.find_elements(By.ID, "uploaded"))
    _wait_map(chrome, "labels")
    assert _count(chrome, "labels") == len(HOSTILE)
    shown = _check(chrome, url, units_key="villages", units=counts["villages"])
    assert _hostile_shown(shown) == set(HOSTILE)
    body = chrome.find_element(By.TAG_NAME, "body").text
    assert all(h in body for h in HOSTILE)
