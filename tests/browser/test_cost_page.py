"""The coverage page's 出行成本 selector in headless Chromium: choosing 沿道路网 and 通行时间
switches the radius to minutes (the layer's default in minutes), and the map drawn after
submitting names the cost and the radius in minutes in its legend."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from chromium import console_errors
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = tomllib.loads((ROOT / "geoservice/analysis/defaults.toml").read_text("utf-8"))


def test_road_time_is_chosen_and_the_legend_says_minutes(browser, demo_server):
    layer = "elderly_service_points"
    browser.get(demo_server.url + f"/coverage?layer={layer}&radius=3000")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.map)"))
    unit = browser.find_element(By.CSS_SELECTOR, "#coverage-form .gs-radius-unit")
    assert unit.text == "米"
    field = browser.find_element(By.ID, "cost_field")
    assert not field.is_displayed()  # only for the road network

    Select(browser.find_element(By.ID, "cost")).select_by_value("network")
    assert field.is_displayed() and field.is_enabled()
    Select(field).select_by_value("time")
    minutes = DEFAULTS["coverage"]["radius_min"][layer]
    assert unit.text == "分钟"
    radius = browser.find_element(By.ID, "radius")
    assert float(radius.get_attribute("value")) == minutes  # the default follows the unit
    assert not browser.find_element(By.ID, "cost_matrix").is_enabled()  # not sent

    browser.find_element(By.ID, "redraw").click()
    WebDriverWait(browser, 30).until(lambda d: "cost=network" in d.current_url)
    url = browser.current_url
    assert "cost_field=time" in url and "cost_matrix" not in url and "csrf_token" not in url
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return !!(window.geoservice && window.geoservice.map)"))
    legend = browser.find_element(By.ID, "gs-legend").text
    assert f"服务半径：{minutes:g} 分钟" in legend
    assert "出行成本：沿道路网" in legend and "通行时间（分钟）" in legend
    assert "道路默认时速" in legend
    assert "分钟" in browser.find_element(By.ID, "cost-line").text
    assert browser.find_element(By.CSS_SELECTOR, "#coverage-form .gs-radius-unit").text == "分钟"
    assert console_errors(browser) == []


def test_an_od_matrix_is_sent_by_post(browser, demo_server, tmp_path):
    """OD 矩阵: the GET form becomes POST multipart (with its CSRF token) to carry the file."""
    from layers import open_store

    store = open_store(demo_server.app.config["WORKSPACE"])
    codes = list(store.read("villages")["code"])
    names = list(store.read("welfare_homes")["name"])
    # every village 12 minutes from the first welfare home, the others unreachable
    path = tmp_path / "od.csv"
    path.write_text("村代码,设施,时间\n" + "".join(f"{c},{names[0]},12\n" for c in codes),
                    encoding="utf-8")
    browser.get(demo_server.url + "/coverage?layer=welfare_homes")
    Select(browser.find_element(By.ID, "cost")).select_by_value("matrix")
    Select(browser.find_element(By.ID, "cost_unit")).select_by_value("min")
    form = browser.find_element(By.ID, "coverage-form")
    assert form.get_attribute("method") == "post"
    assert form.get_attribute("enctype") == "multipart/form-data"
    browser.find_element(By.ID, "cost_matrix").send_keys(str(path))
    radius = browser.find_element(By.ID, "radius")
    radius.clear()
    radius.send_keys("15")
    browser.find_element(By.ID, "redraw").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "matrix-name"))
    assert "od.csv" in browser.find_element(By.ID, "matrix-name").text
    assert not browser.find_elements(By.ID, "param-error")
    headline = browser.find_element(By.ID, "headline").text
    assert "100.0%" in headline  # 12 minutes <= 15: every village covered
    assert "OD 矩阵" in browser.find_element(By.ID, "cost-line").text
    assert console_errors(browser) == []
