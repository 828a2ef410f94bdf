"""Plans in headless Chromium: sites accepted from a siting run into 方案甲 and 方案乙, a
site of 方案甲 moved by dragging its marker with the mouse (a new planned_sites version,
the page's base version follows), the comparison of the two plans with its two linked
maps, and its workbook downloaded. Console clean; no request leaves 127.0.0.1."""

from __future__ import annotations

from urllib.parse import quote, urlparse

import pytest
from chromium import console_errors, log_in, requested_urls
from openpyxl import load_workbook
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser


def _local_only(driver, base: str) -> None:
    urls = requested_urls(driver)
    assert any(u.startswith(base + "/assets/leaflet/") for u in urls)
    outside = [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname != "127.0.0.1"]
    assert outside == []


def _ready(driver, script: str, timeout: int = 60):
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return " + script))


def _accept(driver, ranks: set[int], plan: str) -> None:
    """Tick exactly ``ranks`` in the suggested sites and accept them into ``plan``."""
    for box in driver.find_elements(By.CSS_SELECTOR, "#sites-table input[name=rank]"):
        if box.is_selected() != (int(box.get_attribute("value")) in ranks):
            box.click()
    field = driver.find_element(By.ID, "scenario")
    field.clear()
    field.send_keys(plan)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "accept").click()
    WebDriverWait(driver, 30).until(lambda d: not _alive(page))  # the next page, not this one
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "accepted-note"))


def _alive(element) -> bool:
    try:
        element.tag_name  # noqa: B018 - any call on a stale element raises
    except StaleElementReferenceException:
        return False
    return True


def _api(server, path: str) -> dict:
    r = server.app.test_client().get(path)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_plans_from_siting_drag_a_site_and_compare(browser, demo_server, tmp_path):
    base = demo_server.url
    log_in(browser, demo_server, "规划员", "planner")

    # A siting run; its sites go into two plans.
    browser.get(base + "/siting?layer=elderly_service_points&problem=mclp&radius=2000&add=3")
    _ready(browser, "!!(window.geoservice && window.geoservice.layers)")
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.ID, "sites-table"))
    _accept(browser, {1, 2}, "方案甲")
    assert "新增 2 处" in browser.find_element(By.ID, "accepted-note").text
    _accept(browser, {3}, "方案乙")
    assert "新增 1 处" in browser.find_element(By.ID, "accepted-note").text
    plans = {p["name"]: p for p in _api(demo_server, "/api/plans")["plans"]}
    assert plans["方案甲"]["site_count"] == 2 and plans["方案乙"]["site_count"] == 1
    assert console_errors(browser) == []

    # The plan's page: drag one marker with the mouse.
    before = _api(demo_server, "/api/plans/方案甲")
    browser.get(base + "/plans/" + quote("方案甲"))
    _ready(browser, "!!(window.geoservice && window.geoservice.plan)"
                    " && window.geoservice.layers.sites.getLayers().length === 2")
    table = browser.find_element(By.ID, "sites-table").text
    assert all(s["name"] in table for s in before["sites"]) and "编辑" in table
    marker = browser.execute_script(
        "return window.geoservice.layers.sites.getLayers()[0]._icon")
    site_id = browser.execute_script(
        "return window.geoservice.layers.sites.getLayers()[0].siteId")
    (ActionChains(browser).move_to_element(marker).click_and_hold()
     .move_by_offset(30, 20).move_by_offset(30, 20).release().perform())
    WebDriverWait(browser, 30).until(
        lambda d: "已移动站点" in d.find_element(By.ID, "plan-message").text)
    assert browser.find_element(By.ID, "plan-message").get_attribute("class") == "gs-ok"
    after = _api(demo_server, "/api/plans/方案甲")
    old = {s["site_id"]: s for s in before["sites"]}[site_id]
    new = {s["site_id"]: s for s in after["sites"]}[site_id]
    assert (new["lon"], new["lat"]) != (old["lon"], old["lat"])
    assert new["lon"] > old["lon"] and new["lat"] < old["lat"]  # right and down on the screen
    assert after["version"] == before["version"] + 1
    assert browser.execute_script("return window.geoservice.plan.get().version") == \
        after["version"]  # the base of the next change
    history = _api(demo_server, "/api/plans/方案甲/history")["rows"]
    assert history[0]["action"] == "plan_edit" and history[0]["user"] == "规划员"
    WebDriverWait(browser, 10).until(
        lambda d: "编辑方案站点" in d.find_element(By.ID, "history-table").text)
    assert console_errors(browser) == []

    # The comparison: two maps, linked.
    browser.get(base + "/plans/compare?a=" + quote("方案甲") + "&b=" + quote("方案乙"))
    _ready(browser, "!!(window.geoservice && window.geoservice.compareMaps"
                    " && window.geoservice.compareMaps.length === 2"
                    " && window.geoservice.compareMaps[0] && window.geoservice.compareMaps[1])")
    assert browser.execute_script(
        "return window.geoservice.compareMaps[0] !== window.geoservice.compareMaps[1]"
        " && window.geoservice.compareLayers[0].villages.getLayers().length === 58"
        " && window.geoservice.compareLayers[1].sites.getLayers().length === 1")
    centres = """
        return window.geoservice.compareMaps.map(function (m) {
            var c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; });"""
    start = browser.execute_script(centres)
    assert start[0] == pytest.approx(start[1])
    browser.execute_script("window.geoservice.compareMaps[0].panBy([150, 90], {animate: false})")
    moved = browser.execute_script(centres)
    assert moved[0] != pytest.approx(start[0]) and moved[1] == pytest.approx(moved[0])
    # and with the mouse on the other map
    pane = browser.find_element(By.ID, "compare-map-b")
    ActionChains(browser).move_to_element(pane).click_and_hold().move_by_offset(-60, -40) \
        .move_by_offset(-60, -40).release().perform()
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script(centres)[1] != pytest.approx(moved[1]))
    dragged = browser.execute_script(centres)
    assert dragged[0] == pytest.approx(dragged[1])
    county = browser.find_element(By.ID, "county-table").text
    assert "村覆盖率" in county and "B−A" in county
    assert console_errors(browser) == []
    _local_only(browser, base)

    # The workbook, downloaded by the browser.
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.find_element(By.ID, "download-xlsx").click()

    def downloaded(_):
        files = [p for p in tmp_path.iterdir() if p.suffix == ".xlsx"]
        return files[0] if files and not list(tmp_path.glob("*.crdownload")) else None

    # Chromium writes <name>.crdownload and renames it once the download is complete
    path = WebDriverWait(browser, 30, poll_frequency=0.2).until(downloaded)
    wb = load_workbook(path)
    assert "对比汇总" in wb.sheetnames
    assert path.name == "方案对比_方案甲_方案乙.xlsx"
