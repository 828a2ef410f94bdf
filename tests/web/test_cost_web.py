"""The travel cost on the API and the pages (issue 15): cost, network, cost_field, cost_unit,
method, cutoffs on /api/coverage and /coverage, an OD matrix uploaded as ``cost_matrix``,
siting's ignore_existing, the selector and the cost named on the page and the map.

The demo county carries a road network; the tiny workspace has none."""

from __future__ import annotations

import html
import io
import re
import tomllib
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from fixtures import make_app
from pyproj import Transformer

from geoservice.services.coverage import coverage_params, run_coverage
from layers import open_store

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = tomllib.loads((ROOT / "geoservice/analysis/defaults.toml").read_text("utf-8"))
LAYER = "elderly_service_points"
HOSTILE = "<img src=x onerror=alert(1)>矩阵.csv"  # no quote, no slash: kept whole by multipart


@pytest.fixture(scope="module")
def app(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace)})


@pytest.fixture
def client(app):
    return app.test_client()


def _selected(text: str, select_id: str) -> str:
    """The value of the selected option of ``<select id=select_id>`` in a page."""
    body = re.search(rf'<select name="\w+" id="{select_id}"[^>]*>(.*?)</select>', text, re.S)
    assert body, select_id
    chosen = re.findall(r'<option value="([^"]*)"\s+selected', body.group(1))
    assert len(chosen) == 1, (select_id, chosen)
    return chosen[0]


# --- the API: the same parameters, the same result as the service --------------------------

def test_api_on_road_time_equals_the_service(client, module_demo_workspace):
    body = client.get(f"/api/coverage?layer={LAYER}&cost=network&cost_field=time"
                      "&cutoffs=5,10").get_json()
    direct = run_coverage(open_store(module_demo_workspace),
                          coverage_params(LAYER, cost="network", cost_field="time",
                                          cutoffs="5,10")).to_dict()
    s = body["summary"]
    assert s["cost"]["kind"] == "network" and s["cost"]["field"] == "time"
    assert s["radius_unit"] == "min"
    # the default radius in minutes (defaults.toml [coverage.radius_min])
    assert s["radius_m"] == DEFAULTS["coverage"]["radius_min"][LAYER]
    for key in ("radius_m", "covered_villages", "village_coverage", "elderly_coverage",
                "cutoffs", "method"):
        assert s[key] == direct["summary"][key], key
    assert s["cost"]["label"] == direct["summary"]["cost"]["label"]
    assert body["villages"] == direct["villages"]
    # covered means the least travel time is within the radius, row by row
    for v in body["villages"]:
        assert v["covered"] == (v["nearest_m"] is not None and v["nearest_m"] <= s["radius_m"])
    # each cutoff's share counts the villages whose least time is within it
    for c in s["cutoffs"]:
        within = sum(1 for v in body["villages"]
                     if v["nearest_m"] is not None and v["nearest_m"] <= c["cutoff"])
        assert c["villages"] == within
    assert [c["cutoff"] for c in s["cutoffs"]] == [5, 10]


def test_bad_cost_parameters_are_400_in_chinese(client):
    r = client.get(f"/api/coverage?layer={LAYER}&cost=network&cost_field=speed")
    assert r.status_code == 400
    assert "cost_field" in r.get_json()["error"] and "道路成本" in r.get_json()["error"]
    r = client.get(f"/api/coverage?layer={LAYER}&cost=bus")
    assert r.status_code == 400 and "出行成本" in r.get_json()["error"]
    r = client.get(f"/api/coverage?layer={LAYER}&method=4sfca")
    assert r.status_code == 400 and "可达性方法" in r.get_json()["error"]
    # an OD matrix with a unit that is neither m nor min
    r = client.post("/api/coverage", data={"layer": LAYER, "cost": "matrix", "cost_unit": "km",
                                           "cost_matrix": (io.BytesIO(b"a,b,c\n"), "od.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400
    message = r.get_json()["error"]
    assert "cost_unit" in message and "单位" in message
    # the page shows it beside the form, which stays
    r = client.get(f"/coverage?layer={LAYER}&cost=network&cost_field=speed")
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert 'id="param-error"' in text and "道路成本" in text and 'id="cost"' in text


# --- an OD matrix uploaded as cost_matrix -------------------------------------------------

def _od_matrix(store, speed_m_per_min: float, drop: set[str]) -> tuple[bytes, dict]:
    """A CSV OD matrix of every village x facility (straight line between the village
    polygon's centroid and the facility, in metres in CGCS2000 / GK zone 35, turned into
    minutes at ``speed_m_per_min``); the villages in ``drop`` have no row (unreachable).
    Also each village's least cost, computed here."""
    villages = store.read("villages")
    facilities = store.read(LAYER)
    gk = "EPSG:4544"
    v = villages.to_crs(gk).geometry.centroid
    f = facilities.to_crs(gk).geometry
    lines = ["村代码,设施,时间"]
    best = {}
    for code, p in zip(villages["code"], v, strict=True):
        costs = [p.distance(q) / speed_m_per_min for q in f]
        best[code] = None if code in drop else min(costs)
        if code in drop:
            continue
        lines += [f"{code},{name},{c:.4f}" for name, c in zip(facilities["name"], costs,
                                                             strict=True)]
    return ("\n".join(lines) + "\n").encode("utf-8"), best


def test_api_takes_an_od_matrix(client, module_demo_workspace):
    store = open_store(module_demo_workspace)
    codes = list(store.read("villages")["code"])
    drop = {codes[0], codes[7]}
    data, best = _od_matrix(store, 500.0, drop)  # 30 km/h
    r = client.post("/api/coverage", data={
        "layer": LAYER, "radius": "4", "cost_unit": "min", "cutoffs": "2,8",
        "cost_matrix": (io.BytesIO(data), "od.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    s = body["summary"]
    assert s["cost"]["kind"] == "matrix" and s["cost"]["matrix"] == "od.csv"
    assert s["radius_unit"] == "min" and s["radius_m"] == 4
    by_code = {v["code"]: v for v in body["villages"]}
    assert set(by_code) == set(best)
    for code, cost in best.items():
        got = by_code[code]
        if cost is None:  # absent from the matrix: unreachable, not covered
            assert not got["covered"]
            assert got["nearest_m"] is None  # infinite: null in JSON
        else:
            assert got["nearest_m"] == pytest.approx(cost, abs=1e-3)
            assert got["covered"] == (cost <= 4)
    reachable = [c for c in best.values() if c is not None]
    assert s["covered_villages"] == sum(c <= 4 for c in reachable)
    assert [c["villages"] for c in s["cutoffs"]] == [sum(c <= 2 for c in reachable),
                                                     sum(c <= 8 for c in reachable)]
    # the CSV report of the same run, sent again by POST (the page's download form)
    r = client.post("/coverage/report.csv", data={
        "layer": LAYER, "radius": "4", "cost": "matrix", "cost_unit": "min",
        "cost_matrix": (io.BytesIO(data), "od.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200 and "coverage_elderly_service_points_4min.csv" in \
        r.headers["Content-Disposition"]
    assert "od.csv" in r.get_data(as_text=True)


def test_matrix_problems_are_shown_beside_the_form(client, module_demo_workspace):
    bad = "村代码,设施,时间\n999999999999,不存在的设施,-3\n".encode()
    r = client.post("/coverage", data={
        "layer": LAYER, "cost": "matrix", "cost_unit": "min",
        "cost_matrix": (io.BytesIO(bad), "坏矩阵.csv")}, content_type="multipart/form-data")
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    error = re.search(r'id="param-error">(.*?)</p>', text, re.S).group(1)
    assert "坏矩阵.csv" in error and "第 2 行" in error  # file and row named
    assert 'id="coverage-form"' in text


def test_page_escapes_a_matrix_file_name(client, module_demo_workspace):
    data, _ = _od_matrix(open_store(module_demo_workspace), 500.0, set())
    r = client.post("/coverage", data={
        "layer": LAYER, "radius": "4", "cost": "matrix", "cost_unit": "min",
        "cost_matrix": (io.BytesIO(data), HOSTILE)}, content_type="multipart/form-data")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "<img src=x" not in text
    assert html.escape(HOSTILE, quote=False) in text  # the name, shown as text
    assert _selected(text, "cost") == "matrix" and _selected(text, "cost_unit") == "min"
    # a matrix cannot travel in a link: the downloads send it again (POST multipart)
    assert 'id="download-form"' in text and 'name="cost_matrix"' in text
    assert 'href="/coverage/report.xlsx' not in text


# --- the page: the selector, the unit, the cost named, links that round-trip ----------------

def test_page_shows_the_selector_and_the_cost(client):
    r = client.get(f"/coverage?layer={LAYER}&cost=network&cost_field=time&method=2sfca"
                   "&cutoffs=5,10")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert _selected(text, "cost") == "network" and _selected(text, "cost_field") == "time"
    assert _selected(text, "method") == "2sfca"
    minutes = DEFAULTS["coverage"]["radius_min"][LAYER]
    assert re.search(rf'id="radius"[^>]*value="{minutes:g}"', text)
    assert '服务半径（<span class="gs-radius-unit">分钟</span>）' in text
    cost_line = re.search(r'id="cost-line">(.*?)</p>', text, re.S).group(1)
    assert "沿道路网" in cost_line and "通行时间" in cost_line and f"{minutes:g} 分钟" in cost_line
    assert re.search(r'id="cutoffs"[^>]*value="5,10"', text)
    # the legend: the cost, the radius in minutes, the default speed of each road class
    speeds = DEFAULTS["network"]["speed_kmh"]
    assert f"服务半径：{minutes:g} 分钟" in text and "出行成本：沿道路网" in text
    assert f"国道 {speeds['national']:g}" in text and f"村道 {speeds['village']:g}" in text
    assert "到道路距离" in text  # villages' popups: the walk to the road
    assert "可达性分级（2SFCA）" in text
    # no straight-line circles on a road network
    assert "服务半径圆" in text


def test_links_round_trip(client):
    text = client.get(f"/coverage?layer={LAYER}&cost=network&cost_field=length&radius=3000"
                      "&cutoffs=1000,2500&method=e2sfca").get_data(as_text=True)
    href = html.unescape(re.search(r'id="download-xlsx" href="([^"]+)"', text).group(1))
    query = dict(parse_qsl(urlsplit(href).query))
    assert query["cost"] == "network" and query["cost_field"] == "length"
    assert query["method"] == "e2sfca" and query["radius"] == "3000"
    again = client.get("/api/coverage", query_string=query).get_json()["summary"]
    assert again["cost"]["kind"] == "network" and again["radius_unit"] == "m"
    assert again["radius_m"] == 3000 and again["method"] == "e2sfca"
    assert [c["cutoff"] for c in again["cutoffs"]] == [1000, 2500]
    page = client.get("/coverage", query_string=query).get_data(as_text=True)
    assert _selected(page, "cost") == "network" and _selected(page, "method") == "e2sfca"
    r = client.get("/coverage/report.xlsx", query_string=query)
    assert r.status_code == 200 and "_3000m.xlsx" in r.headers["Content-Disposition"]


def test_without_roads_the_network_option_is_disabled(tiny_app):
    text = tiny_app.test_client().get("/coverage").get_data(as_text=True)
    option = re.search(r'<option value="network"[^>]*>[^<]*</option>', text).group(0)
    assert "disabled" in option and "导入道路图层后可用" in option
    assert _selected(text, "cost") == "straight"
    r = tiny_app.test_client().get("/api/coverage?cost=network")
    assert r.status_code == 404 and "道路" in r.get_json()["error"]


# --- siting: the same selector, ignore_existing ---------------------------------------------

def test_siting_ignore_existing(client, module_demo_workspace):
    base = {"layer": LAYER, "add": 2, "cost": "network", "cost_field": "time", "radius": 8}
    r = client.post("/api/siting", json={**base, "ignore_existing": True})
    assert r.status_code == 200, r.get_json()
    green = r.get_json()
    today = client.post("/api/siting", json=base).get_json()
    assert green["summary"]["ignore_existing"] is True
    assert today["summary"]["ignore_existing"] is False
    assert green["summary"]["radius_unit"] == "min" and green["summary"]["cost"]["field"] == "time"
    # no facility counts: nothing is covered before; today's facilities cover some villages
    assert green["summary"]["covered_elderly_before"] == 0
    assert not any(v["covered_before"] for v in green["villages"])
    assert today["summary"]["covered_elderly_before"] > 0
    # after: covered means a chosen site within 8 minutes (every chosen site is a new one)
    for v in green["villages"]:
        t = v["nearest_m_after"]
        assert v["covered_after"] == (t is not None and t <= 8)
    assert "不考虑现有设施" in green["summary"]["inputs"]["ignore_existing"]


def test_siting_page_has_the_selector_and_runs_a_job(client):
    text = client.get(f"/siting?layer={LAYER}&cost=network&cost_field=time&ignore_existing=1"
                      ).get_data(as_text=True)
    assert _selected(text, "cost") == "network" and _selected(text, "cost_field") == "time"
    assert re.search(r'id="ignore_existing"[^>]*checked', text)
    assert '服务半径（<span class="gs-radius-unit">分钟</span>）' in text
    r = client.post("/siting", data={"layer": LAYER, "add": "1", "cost": "network",
                                     "cost_field": "time", "radius": "8",
                                     "ignore_existing": "1"})
    assert r.status_code == 303
    job_id = dict(parse_qsl(urlsplit(r.headers["Location"]).query))["job"]
    job = client.application.extensions["siting_jobs"].get(job_id)
    assert job.wait(60) and job.state == "done"
    assert job.params["ignore_existing"] == 1 and job.params["cost_field"] == "time"
    page = client.get(f"/siting?job={job_id}").get_data(as_text=True)
    cost_line = re.search(r'id="cost-line">(.*?)</p>', page, re.S).group(1)
    assert "沿道路网" in cost_line and "8 分钟" in cost_line and "不考虑现有设施" in cost_line
    assert re.search(r'id="ignore_existing"[^>]*checked', page)
    assert "出行成本：沿道路网" in page and "服务半径：8 分钟" in page  # the legend


def test_siting_api_takes_an_od_matrix_file(client, module_demo_workspace):
    store = open_store(module_demo_workspace)
    villages = store.read("villages")
    candidates = store.read("candidates")
    gk = "EPSG:4544"
    to_gk = Transformer.from_crs("EPSG:4490", gk, always_xy=True)
    v = villages.to_crs(gk).geometry.centroid
    cx, cy = to_gk.transform(candidates.geometry.x.to_numpy(), candidates.geometry.y.to_numpy())
    lines = ["村代码,候选点,距离"]
    d = np.hypot(v.x.to_numpy()[:, None] - cx[None, :], v.y.to_numpy()[:, None] - cy[None, :])
    for i, code in enumerate(villages["code"]):
        lines += [f"{code},{name},{d[i, j]:.2f}" for j, name in enumerate(candidates["name"])]
    data = ("\n".join(lines) + "\n").encode()
    r = client.post("/api/siting", data={
        "layer": LAYER, "add": "1", "radius": "3000", "candidates": "candidates",
        "cost_unit": "m",
        "cost_matrix": (io.BytesIO(data), "od.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["summary"]["cost"]["kind"] == "matrix"
    assert body["summary"]["covered_elderly_before"] == 0
    # the facilities are not in the matrix: unreachable, nothing covered before; one site:
    # the candidate with the most elderly within 3,000 m by the matrix
    elderly = villages["elderly_population"].to_numpy(dtype=float)
    gain = ((d <= 3000) * elderly[:, None]).sum(axis=0)
    excluded = {e["name"] for e in body["excluded"]}  # setbacks, exclusion zones
    gain[candidates["name"].isin(excluded).to_numpy()] = -1
    assert body["sites"][0]["name"] in set(candidates["name"][gain == gain.max()])
    assert body["summary"]["covered_elderly_after"] == pytest.approx(gain.max())
