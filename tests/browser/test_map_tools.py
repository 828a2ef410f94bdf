"""The map tools in headless Chromium (maps/tools.py, maps/static/tools.js): the search box
jumps to a village and opens its popup, measuring shows the haversine length, names appear
only zoomed in and never overlap, the coordinates readout follows the pointer (GCJ-02 and
CGCS2000 on a GCJ-02 basemap), the tables' "定位" buttons open the feature's popup, the
legend starts folded on a narrow window. The demo county and the second county."""

from __future__ import annotations

import math
import re

import pytest
from chromium import console_errors, log_in, start_chromium
from fixtures import LiveServer, make_app
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from layers.crs import gcj_to_wgs

pytestmark = pytest.mark.browser

R = 6371008.8  # mean Earth radius, as tools.js


def haversine(a, b) -> float:
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * R * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def server(module_demo_workspace):
    with LiveServer(make_app({"WORKSPACE": str(module_demo_workspace)})) as s:
        yield s


@pytest.fixture(scope="module")
def driver():
    with start_chromium() as d:
        yield d


def _open(driver, url):
    driver.get_log("browser")  # what an earlier test's page logged is not this page's
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return !!(window.geoservice && window.geoservice.map && window.geoservice.map.gsTools)"))


def _popup_text(driver):
    return driver.execute_script("""
        const m = window.geoservice.map;
        return m._popup && m.hasLayer(m._popup) ? m._popup.getElement().textContent : null;""")


def _overlaps(rects) -> list:
    bad = []
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            if (a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"]
                    and b["top"] < a["bottom"]):
                bad.append((a, b))
    return bad


def test_search_by_initials_jumps_to_the_village_and_opens_its_popup(driver, server):
    _open(driver, server.url + "/coverage?layer=elderly_service_points&radius=2000")
    # a village whose initials find it first
    entry = driver.execute_script("""
        const t = window.geoservice.map.gsTools;
        const v = t.index.filter(e => e.layer === 'villages' && e.initials.length >= 2);
        const e = v.find(e => t.search(e.initials)[0] === e);
        return {name: e.name, initials: e.initials, lat: e.lat, lng: e.lng};""")
    assert re.fullmatch(r"[a-z0-9]+", entry["initials"])
    box = driver.find_element(By.CSS_SELECTOR, ".gs-search-input")
    box.send_keys(entry["initials"])
    first = WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".gs-search-results li .gs-search-name"))
    assert first[0].text == entry["name"]
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: _popup_text(d) is not None)
    assert entry["name"] in _popup_text(driver)
    zoom, inside, near = driver.execute_script("""
        const m = window.geoservice.map, p = L.latLng(arguments[0], arguments[1]);
        const s = m.getSize(), c = m.latLngToContainerPoint(p);
        return [m.getZoom(), m.getBounds().contains(p),
                Math.abs(c.x - s.x / 2) < s.x * 0.3 && Math.abs(c.y - s.y / 2) < s.y * 0.35];""",
        entry["lat"], entry["lng"])
    assert zoom >= 13 and inside and near
    # full pinyin finds it too, and a name that is nowhere says so
    hits = driver.execute_script(
        "return window.geoservice.map.gsTools.search(arguments[0]).map(e => e.name)",
        driver.execute_script("return window.geoservice.map.gsTools.index.find("
                              "e => e.name === arguments[0]).full", entry["name"]))
    assert entry["name"] in hits
    box.clear()
    box.send_keys("不存在的村子")
    WebDriverWait(driver, 10).until(lambda d: "没有找到" in d.find_element(
        By.CSS_SELECTOR, ".gs-search-results").text)
    assert console_errors(driver) == []


def test_measuring_two_clicks_shows_the_haversine_length(driver, server):
    _open(driver, server.url + "/coverage?layer=elderly_service_points&radius=2000")
    driver.find_element(By.CSS_SELECTOR, ".gs-tool-line").click()
    container = driver.find_element(By.CSS_SELECTOR, ".folium-map")
    offsets = [(-120, -20), (150, 60)]
    for dx, dy in offsets:
        ActionChains(driver).move_to_element_with_offset(container, dx, dy).click().perform()
    text = WebDriverWait(driver, 10).until(
        lambda d: (t := d.find_element(By.CSS_SELECTOR, ".gs-measure-result").text)
        and "距离：" in t and t)
    points = driver.execute_script("""
        const m = window.geoservice.map, s = m.getSize();
        return arguments[0].map(o => {
            const ll = m.containerPointToLatLng([s.x / 2 + o[0], s.y / 2 + o[1]]);
            return [ll.lat, ll.lng]; });""", offsets)
    expected = haversine(*points)
    number, unit = re.search(r"距离：([\d,.]+) (千米|米)", text).groups()
    shown = float(number.replace(",", "")) * (1000 if unit == "千米" else 1)
    assert abs(shown - expected) / expected < 0.01, (text, expected)
    assert _popup_text(driver) is None  # clicks measured, no village popup opened
    # Escape ends the measure and clears it
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    WebDriverWait(driver, 10).until(lambda d: not d.find_element(
        By.CSS_SELECTOR, ".gs-measure-result").is_displayed())
    # area: the same formula as the page, on a square of about 1 km
    area = driver.execute_script("""
        const g = window.geoservice.geo, d = 0.009;
        return g.sphericalArea([L.latLng(29.8, 103.8), L.latLng(29.8, 103.8 + d),
                                L.latLng(29.8 + d, 103.8 + d), L.latLng(29.8 + d, 103.8)]);""")
    side_ns = haversine((29.8, 103.8), (29.809, 103.8))
    side_ew = haversine((29.8045, 103.8), (29.8045, 103.809))
    assert abs(area - side_ns * side_ew) / area < 0.01


def test_names_appear_zoomed_in_only_and_never_overlap(driver, server):
    _open(driver, server.url + "/coverage?layer=elderly_service_points&radius=2000")
    zoom, shown, villages = driver.execute_script("""
        const t = window.geoservice.map.gsTools;
        const v = t.index.filter(e => e.layer === 'villages');
        const names = new Set(v.map(e => e.name));
        return [t.map.getZoom(), t.visibleNames().filter(n => names.has(n.name)).length,
                v.length];""")
    assert zoom < 13 and villages == 58
    # county zoom: no village names (township names, from zoom 11, may show)
    assert shown == 0
    entry = driver.execute_script("""
        const t = window.geoservice.map.gsTools;
        const e = t.index.filter(e => e.layer === 'villages')[5];
        t.map.setView([e.lat, e.lng], 15, {animate: false});
        return {name: e.name};""")
    names = WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return window.geoservice.map.gsTools.visibleNames()"))
    assert entry["name"] in [n["name"] for n in names]
    assert _overlaps([n["rect"] for n in names]) == []
    # zoom 13 over the county: more names, culled so that none overlaps
    driver.execute_script("window.geoservice.map.setZoom(13, {animate: false})")
    names13 = WebDriverWait(driver, 10).until(lambda d: (n := d.execute_script(
        "return window.geoservice.map.gsTools.visibleNames()")) and n)
    assert _overlaps([n["rect"] for n in names13]) == []
    assert console_errors(driver) == []


def test_coordinates_follow_the_pointer_and_locate_links_open_popups(driver, server):
    _open(driver, server.url + "/coverage?layer=elderly_service_points&radius=2000")
    container = driver.find_element(By.CSS_SELECTOR, ".folium-map")
    readout = driver.find_element(By.CSS_SELECTOR, ".gs-coords")
    ActionChains(driver).move_to_element_with_offset(container, -50, 10).perform()
    first = WebDriverWait(driver, 10).until(
        lambda d: "经度" in readout.text and readout.text)
    ActionChains(driver).move_to_element_with_offset(container, 80, -40).perform()
    WebDriverWait(driver, 10).until(lambda d: readout.text != first)
    lon, lat = map(float, re.search(r"CGCS2000 经度 (\d+\.\d{6})，纬度 (\d+\.\d{6})",
                                    readout.text).groups())
    assert 100 < lon < 110 and 25 < lat < 35
    # a "定位" button of the uncovered villages' table
    button = driver.find_element(By.CSS_SELECTOR, "#uncovered-table .gs-locate")
    name = driver.execute_script(
        "return arguments[0].parentNode.firstChild.textContent.trim()", button)
    driver.execute_script("arguments[0].scrollIntoView()", button)
    button.click()
    WebDriverWait(driver, 10).until(lambda d: _popup_text(d) is not None)
    assert name in _popup_text(driver)
    assert driver.execute_script("return window.geoservice.locate('没有这个村')") is False
    # the north arrow, the full-screen button
    assert driver.find_element(By.CSS_SELECTOR, ".gs-north").text.replace("\n", "") == "▲北"
    assert driver.find_element(By.CSS_SELECTOR, ".gs-tool-full").text == "全屏"
    assert console_errors(driver) == []


def test_the_legend_starts_folded_on_a_narrow_window(server):
    with start_chromium() as d:
        d.set_window_size(1000, 800)
        _open(d, server.url + "/coverage?layer=elderly_service_points&radius=2000")
        assert d.execute_script(
            "return document.querySelector('#gs-legend details').open") is False
        d.set_window_size(1400, 900)
        _open(d, server.url + "/coverage?layer=elderly_service_points&radius=2000")
        assert d.execute_script(
            "return document.querySelector('#gs-legend details').open") is True


def test_second_county_on_a_gcj02_basemap(driver, county_workspace):
    """竹山县 (tests/second_county.py) on a GCJ-02 basemap: township names from zoom 11,
    the search finds a township by its initials and a village by full pinyin, and the
    coordinates readout gives both systems (GCJ-02 → CGCS2000 as layers/crs.py)."""
    app = make_app({"WORKSPACE": str(county_workspace), "BASEMAP_CRS": "gcj02",
                    "BASEMAP_URL": "/nowhere/{z}/{x}/{y}.png"})
    with LiveServer(app) as server:
        log_in(driver, server)
        _open(driver, server.url + "/")
        info = driver.execute_script("""
            const t = window.geoservice.map.gsTools;
            const town = t.index.find(e => e.layer === 'townships');
            const village = t.index.find(e => e.layer === 'villages' && e.full.length > 6);
            return {town: town.name, initials: town.initials, townZoom: town.zoom,
                    village: village.name, full: village.full,
                    townships: t.index.filter(e => e.layer === 'townships').length,
                    villages: t.index.filter(e => e.layer === 'villages').length};""")
        assert info["townships"] == 17 and info["villages"] == 244 and info["townZoom"] == 11
        box = driver.find_element(By.CSS_SELECTOR, ".gs-search-input")
        box.send_keys(info["full"])
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, ".gs-search-results li"))
        box.send_keys(Keys.ENTER)
        WebDriverWait(driver, 10).until(lambda d: _popup_text(d) is not None)
        assert info["village"] in _popup_text(driver)
        hits = driver.execute_script(
            "return window.geoservice.map.gsTools.search(arguments[0]).map(e => e.name)",
            info["initials"])
        assert info["town"] in hits
        # township names at zoom 11, none overlapping
        driver.execute_script("window.geoservice.map.closePopup();"
                              "window.geoservice.map.setZoom(11, {animate: false})")
        names = WebDriverWait(driver, 10).until(lambda d: (n := d.execute_script(
            "return window.geoservice.map.gsTools.visibleNames()")) and n)
        assert {n["kind"] for n in names} == {"乡镇(街道)"}
        assert _overlaps([n["rect"] for n in names]) == []
        # the pointer's position in GCJ-02 and CGCS2000
        container = driver.find_element(By.CSS_SELECTOR, ".folium-map")
        ActionChains(driver).move_to_element_with_offset(container, 30, 30).perform()
        readout = driver.find_element(By.CSS_SELECTOR, ".gs-coords")
        WebDriverWait(driver, 10).until(lambda d: "GCJ-02" in readout.text)
        pairs = dict((k, (float(x), float(y))) for k, x, y in re.findall(
            r"(CGCS2000|GCJ-02) 经度 (\d+\.\d+)，纬度 (\d+\.\d+)", readout.text))
        x, y = gcj_to_wgs([pairs["GCJ-02"][0]], [pairs["GCJ-02"][1]])
        assert abs(x[0] - pairs["CGCS2000"][0]) < 2e-6 and abs(y[0] - pairs["CGCS2000"][1]) < 2e-6
        assert 0.001 < abs(pairs["GCJ-02"][0] - pairs["CGCS2000"][0]) < 0.01


def test_boundary_length_labels_do_not_pile_up(driver, server):
    _open(driver, server.url + "/boundaries?layer=villages")
    driver.execute_script("window.geoservice.map.setZoom(13, {animate: false})")

    def text_rects(d):
        return d.execute_script("""
            const r = document.createRange();
            return Array.from(document.querySelectorAll('.gs-line-label')).map(e => {
                r.selectNodeContents(e.firstChild);
                const b = r.getBoundingClientRect();
                return {left: b.left, top: b.top, right: b.right, bottom: b.bottom};
            });""")

    WebDriverWait(driver, 10).until(lambda d: len(text_rects(d)) > 10)
    WebDriverWait(driver, 10).until(lambda d: _overlaps(text_rects(d)) == [])
    assert console_errors(driver) == []


def test_boundary_line_rows_locate_their_units(driver, server):
    _open(driver, server.url + "/boundaries?layer=townships")
    button = driver.find_element(By.CSS_SELECTOR, "#lines-table .gs-locate")
    name = driver.execute_script(
        "return arguments[0].parentNode.firstChild.textContent.trim()", button)
    driver.execute_script("arguments[0].scrollIntoView()", button)
    button.click()
    # the units layer has tooltips, no popups: locating opens the unit's tooltip

    def shown(d):
        texts = d.execute_script(
            "return Array.from(document.querySelectorAll('.leaflet-tooltip'))"
            ".map(e => e.textContent)")
        return [t for t in texts if name in t]
    WebDriverWait(driver, 10).until(shown)
    assert console_errors(driver) == []


def test_township_rows_locate_their_outline_and_full_screen_works(driver, server):
    _open(driver, server.url + "/coverage?layer=elderly_service_points&radius=2000")
    button = driver.find_element(By.CSS_SELECTOR, "#township-table .gs-locate")
    code = button.get_attribute("data-locate")
    name = driver.execute_script(
        "return arguments[0].parentNode.firstChild.textContent.trim()", button)
    driver.execute_script("arguments[0].scrollIntoView()", button)
    button.click()
    WebDriverWait(driver, 10).until(lambda d: _popup_text(d) is not None)
    assert name in _popup_text(driver) and code in _popup_text(driver)
    # full screen: the map's container becomes the full-screen element, and leaves it again
    full = driver.find_element(By.CSS_SELECTOR, ".gs-tool-full")
    full.click()
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return !!document.fullscreenElement && "
        "document.fullscreenElement.contains(window.geoservice.map.getContainer())"))
    driver.execute_script("document.exitFullscreen()")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return !document.fullscreenElement"))
    assert console_errors(driver) == []
