"""The place-name page in headless Chromium: labels drawn, table filter, row click zooms."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from chromium import console_errors, requested_urls
from selenium.common.exceptions import WebDriverException
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
    # the clicked row is marked, a ring marks the place and the label's tooltip opens
    assert "gs-selected" in rows[0].get_attribute("class")
    ring = browser.execute_script(
        "var s = window.geoservice.selection; return s ? [s.getLatLng().lat, s.getLatLng().lng]"
        " : null;")
    assert ring and abs(ring[0] - lat) < 1e-9 and abs(ring[1] - lon) < 1e-9
    tips = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip")]
    assert any("桂花村" in t and "重复标注" in t for t in tips)

    # the search box finds a finding by its village code (the placeholder says 名称或代码)
    text.clear()
    text.send_keys("511425001205")
    rows = _visible_rows(browser)
    assert len(rows) == 1 and "鸿化村" in rows[0].text

    assert console_errors(browser) == []
    hosts = {urlparse(u).hostname for u in requested_urls(browser) if u.startswith("http")}
    assert hosts <= {"127.0.0.1"}


def test_upload_baidu_file_and_script_name_through_the_page(browser, demo_server, demo_workspace,
                                                           tmp_path):
    """The form: a BD-09 export gives the stored layer's findings; a label named
    <script>…</script>村 is shown as text (table and tooltip), never run; a bad file gives
    a Chinese error naming the file, row and field."""
    import numpy as np

    from layers import open_store
    from layers.crs import wgs_to_bd

    labels = open_store(demo_workspace).read("place_labels")
    lon, lat = wgs_to_bd(labels.geometry.x.to_numpy(), labels.geometry.y.to_numpy())
    names = list(labels["name"])
    evil = "<script>window.__pwned=1</script>村"
    names.append(evil)
    lon, lat = np.r_[lon, 103.80], np.r_[lat, 29.80]
    path = tmp_path / "baidu.csv"
    path.write_text("名称,经度,纬度\n" + "".join(
        f"{n},{x:.8f},{y:.8f}\n" for n, x, y in zip(names, lon, lat, strict=True)),
        encoding="utf-8")

    browser.get(demo_server.url + "/placenames")
    _ready(browser)
    browser.find_element(By.ID, "label-file").send_keys(str(path))
    Select(browser.find_element(By.ID, "label-crs")).select_by_value("bd09")
    browser.find_element(By.ID, "upload-run").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "uploaded"))
    _ready(browser)
    assert "BD-09" in browser.find_element(By.CSS_SELECTOR, ".gs-side").text
    rows = _visible_rows(browser)
    types = sorted(r.get_attribute("data-type") for r in rows)
    # the stored layer's ten findings, and the script label as one more unknown label
    assert types.count("unknown_label") == 2 and len(rows) == 11
    assert types.count("wrong_name") == 2 and types.count("misplaced") == 2
    assert any(evil in r.text for r in rows)
    assert browser.execute_script("return window.__pwned === undefined")
    shown = browser.execute_script("""
        var out = [];
        window.geoservice.layers.labels.eachLayer(function (l) {
            l.openTooltip(); var el = l.getTooltip().getElement();
            if (el) { out.push(el.textContent); } });
        return out;""")
    assert any(t.strip().startswith(evil) for t in shown), shown[-3:]
    # distances only where they mean something: outside the village, or to the kept label
    assert not any("标注无问题" in t and "米" in t for t in shown)
    assert any("位置偏差" in t and "在村界外" in t for t in shown)
    assert browser.execute_script("return window.__pwned === undefined")
    assert console_errors(browser) == []

    bad = tmp_path / "bad.csv"
    bad.write_text("名称,经度,纬度\n柳溪村,abc,30\n", encoding="utf-8")
    browser.get(demo_server.url + "/placenames")
    browser.find_element(By.ID, "label-file").send_keys(str(bad))
    browser.find_element(By.ID, "upload-run").click()
    # The page stays (form and map), with the problems named by file, row and field above it.
    box = WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.find_elements(By.ID, "upload-errors"))[0]
    cells = [c.text for c in box.find_elements(By.CSS_SELECTOR, "tbody td")]
    assert cells[:3] == ["bad.csv", "2", "经度"] and "不是数字" in cells[3]
    assert browser.find_elements(By.ID, "upload-form")
    assert browser.execute_script("return !!(window.geoservice && window.geoservice.map)")


def test_a_file_read_in_the_wrong_system_is_warned_above_the_findings(browser, demo_server,
                                                                      demo_workspace, tmp_path):
    """A Tianditu/GPS export (CGCS2000 numbers) uploaded with the form's default 标注坐标系
    (GCJ-02): every label is read ~400 m off; the page says, above the findings, that the
    file is most likely CGCS2000."""
    from layers import open_store

    labels = open_store(demo_workspace).read("place_labels")  # stored: CGCS2000
    path = tmp_path / "tianditu.csv"
    path.write_text("名称,经度,纬度\n" + "".join(
        f"{n},{p.x:.8f},{p.y:.8f}\n" for n, p in zip(labels["name"], labels.geometry,
                                                     strict=True)), encoding="utf-8")
    browser.get(demo_server.url + "/placenames")
    _ready(browser)
    assert not browser.find_elements(By.ID, "crs-warning")  # the stored layer is right
    assert Select(browser.find_element(By.ID, "label-crs")).first_selected_option \
        .get_attribute("value") == "gcj02"
    browser.find_element(By.ID, "label-file").send_keys(str(path))
    browser.find_element(By.ID, "upload-run").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "uploaded"))
    _ready(browser)
    warn = browser.find_element(By.ID, "crs-warning")
    assert warn.is_displayed()
    assert "整体偏移" in warn.text and "CGCS2000" in warn.text and "GCJ-02" in warn.text
    assert warn.get_attribute("data-suspect") == "cgcs2000"
    table = browser.find_element(By.ID, "findings-table")
    assert warn.location["y"] < table.location["y"]
    assert console_errors(browser) == []
