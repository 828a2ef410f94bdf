"""The siting page in headless Chromium: start a job from the form, watch it, read the
numbered sites and the before/after summary, hover an excluded cemetery candidate, cancel
a long solve. Console clean; no request leaves 127.0.0.1."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlparse

import geopandas as gpd
import numpy as np
import pytest
from chromium import console_errors, log_in, requested_urls
from fixtures import LiveServer
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from shapely.geometry import Point, box

from geoservice import create_app
from layers import open_store

pytestmark = pytest.mark.browser
NEWLY_COVERED = "#fd8d3c"


def _local_only(driver, base: str) -> None:
    urls = requested_urls(driver)
    assert any(u.startswith(base + "/assets/leaflet/") for u in urls)
    outside = [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname != "127.0.0.1"]
    assert outside == []


def _map_ready(driver, key: str = "villages", timeout: int = 60):
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.layers"
                                   f" && window.geoservice.layers[{key!r}])"))


def _set(driver, element_id: str, value: str) -> None:
    el = driver.find_element(By.ID, element_id)
    if el.tag_name == "select":
        Select(el).select_by_value(value)
    else:
        el.clear()
        el.send_keys(value)


def test_form_starts_a_job_and_the_result_shows_numbered_sites(browser, demo_server):
    log_in(browser, demo_server, "规划员", "planner")  # starting and accepting need the role
    browser.get(demo_server.url + "/siting")
    _map_ready(browser)
    _set(browser, "layer", "elderly_service_points")
    _set(browser, "problem", "mclp")
    _set(browser, "radius", "2000")
    _set(browser, "add", "3")
    assert not browser.find_element(By.ID, "target").is_enabled()  # K, not a target
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 30).until(lambda d: "job=" in d.current_url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "sites-table"))
    _map_ready(browser, "sites")

    ranks = browser.execute_script(
        "return Array.from(document.querySelectorAll('.gs-rank')).map(e => e.textContent)")
    assert ranks == ["1", "2", "3"]
    assert browser.execute_script("return window.geoservice.layers.sites.getLayers().length") == 3
    radii = browser.execute_script(
        "return window.geoservice.layers.circles.getLayers().map(c => c.getRadius())")
    assert radii == [2000, 2000, 2000]
    fills = browser.execute_script("""
        return window.geoservice.layers.villages.getLayers()
            .map(l => l._path ? l._path.getAttribute('fill') : null);""")
    assert len(fills) == 58 and NEWLY_COVERED in fills

    change = browser.find_element(By.ID, "change-table").text
    assert "老年人口覆盖率" in change and "%" in change
    headline = browser.find_element(By.ID, "headline").text
    assert "新增 3 处" in headline and "→" in headline
    solve = browser.find_element(By.ID, "solve-table").text
    assert "HiGHS" in solve and "是否证明最优" in solve and "求解用时" in solve
    rows = browser.find_elements(By.CSS_SELECTOR, "#sites-table tbody tr")
    assert len(rows) == 3 and rows[0].find_elements(By.NAME, "rank")
    legend = browser.find_element(By.ID, "gs-legend").text
    assert "2,000 米" in legend and "最大覆盖" in legend and "示例数据" in legend
    assert browser.find_element(By.ID, "download-xlsx").get_attribute("href").endswith(
        browser.current_url.split("job=")[1])

    # Accept two of them into the planning scenario layer.
    browser.find_elements(By.CSS_SELECTOR, "#sites-table input[name=rank]")[2].click()
    browser.find_element(By.ID, "accept").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "accepted-note"))
    assert "新增 2 处" in browser.find_element(By.ID, "accepted-note").text
    assert console_errors(browser) == []

    # The home map draws the planning scenario layer next to the real ones.
    browser.get(demo_server.url + "/")
    _map_ready(browser, "planned_sites")
    assert browser.execute_script(
        "return window.geoservice.layers.planned_sites.getLayers().length") == 2
    assert browser.execute_script(
        "return window.geoservice.layers.elderly_service_points.getLayers().length") == 40
    assert console_errors(browser) == []
    _local_only(browser, demo_server.url)


def test_excluded_cemetery_candidate_shows_its_reason_on_hover(browser, demo_server,
                                                               demo_workspace):
    # the demo county carries the candidates and exclusion zones this page needs
    assert {"candidates", "exclusion_zones"} <= set(open_store(demo_workspace).current_versions())
    log_in(browser, demo_server, "规划员", "planner")
    browser.get(demo_server.url + "/siting?layer=cemeteries&problem=cemetery&add=2"
                "&candidates=candidates")
    _map_ready(browser)
    assert Select(browser.find_element(By.ID, "candidates")).first_selected_option \
        .get_attribute("value") == "candidates"
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "excluded-table"))
    _map_ready(browser, "excluded")
    reasons = [r.find_elements(By.TAG_NAME, "td")[2].text
               for r in browser.find_elements(By.CSS_SELECTOR, "#excluded-table tbody tr")]
    assert reasons and all(reasons)
    # An excluded marker not hidden under another symbol: hover it with the mouse.
    index = browser.execute_script("""
        const ls = window.geoservice.layers.excluded.getLayers();
        for (let i = 0; i < ls.length; i++) {
            const p = ls[i]._path, r = p.getBoundingClientRect();
            const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            if (top === p) return i;
        }
        return -1;""")
    assert index >= 0
    path = browser.execute_script(
        f"return window.geoservice.layers.excluded.getLayers()[{index}]._path")
    ActionChains(browser).move_to_element(path).perform()
    WebDriverWait(browser, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".gs-excluded-tip"))
    tip = browser.find_element(By.CSS_SELECTOR, ".gs-excluded-tip").text
    assert "原因" in tip and any(r and r in tip for r in reasons), tip
    grey = browser.execute_script("""
        return window.geoservice.layers.excluded.getLayers()
            .map(l => l._path.getAttribute('fill'));""")
    assert set(grey) == {"#9e9e9e"}
    assert console_errors(browser) == []
    _local_only(browser, demo_server.url)


def _grid_workspace(path, n: int = 40, side: float = 1000.0) -> None:
    """A 40 x 40 grid of villages: a p-median whose solve takes far longer than a click."""
    rng = np.random.default_rng(7)
    x0, y0 = 380_000.0, 3_300_000.0
    codes = [f"5114251{k // 1000:02d}{k % 1000:03d}" for k in range(n * n)]
    eld = rng.integers(50, 800, n * n)
    villages = gpd.GeoDataFrame(
        {"code": codes, "name": [f"网格村{k}" for k in range(n * n)],
         "township_code": [c[:9] for c in codes], "population": eld * 4,
         "elderly_population": eld},
        geometry=[box(x0 + i * side, y0 + j * side, x0 + (i + 1) * side, y0 + (j + 1) * side)
                  for i in range(n) for j in range(n)], crs=4544).to_crs(4490)
    points = gpd.GeoDataFrame(
        {"name": ["站一", "站二"], "level": ["township_center"] * 2, "beds": [30, 30]},
        geometry=[Point(x0 + 3 * side, y0 + 3 * side), Point(x0 + (n - 3) * side,
                                                              y0 + (n - 3) * side)],
        crs=4544).to_crs(4490)
    store = open_store(path)
    store.write("villages", villages, source="test", source_crs="EPSG:4544")
    store.write("elderly_service_points", points, source="test", source_crs="EPSG:4544")
    store.set_info(title="网格测试县")


@pytest.fixture
def grid_server(tmp_path):
    path = tmp_path / "grid.gpkg"
    _grid_workspace(path)
    app = create_app({"WORKSPACE": str(path)})
    with LiveServer(app) as live:
        yield live.url, app


def test_a_long_solve_shows_progress_and_can_be_cancelled(browser, grid_server):
    url, app = grid_server
    log_in(browser, SimpleNamespace(url=url, app=app), "规划员", "planner")
    browser.get(url + "/siting?layer=elderly_service_points&problem=pmedian&add=30"
                "&time_limit=300")
    _map_ready(browser)
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "job-box"))
    # Past the last check before the model (coverage at 0.1; the model is built at 0.15):
    # from here on a cancel stops HiGHS, which keeps its best plan (at least the greedy one).
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "job-state").text == "计算中"
        and float(d.find_element(By.ID, "job-progress").get_attribute("value")) >= 0.15)
    message = browser.find_element(By.ID, "job-message").text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message)
    assert not browser.find_element(By.ID, "cancel-wait").is_displayed()
    browser.find_element(By.ID, "cancel").click()
    # At once (the solver may take seconds to notice): the button and the hint say it is
    # stopping; the message says so from the next status poll on (a poll already on its way
    # may still show a solver message once).
    button, wait_shown = browser.execute_script(
        "return [document.getElementById('cancel').textContent,"
        " !document.getElementById('cancel-wait').hidden]")
    assert button == "正在停止…" and wait_shown
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "job-message").text.startswith("正在停止…"))
    # Stopped with the best plan so far, marked as such.
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "cancelled-note"))
    job_id = browser.current_url.split("job=")[1]
    job = app.extensions["siting_jobs"].get(job_id)
    assert job.state == "cancelled" and job.cancel_requested
    assert job.result.summary["cancelled"] is True and job.result.summary["optimal"] is False
    assert len(job.result.result.sites) == 30
    assert console_errors(browser) == []
    _local_only(browser, url)
