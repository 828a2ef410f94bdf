"""Comparing two plans by road (issue 15): ``compare_plans`` with ``cost=network`` runs both
sides on the road network, each side equal to its own coverage run "with the plan" on the
same cost (an independent call), every distance figure in the cost's unit (分钟 for travel
time, in the JSON, the workbook and the CLI), while a straight-line comparison still says
米; the CLI and the API (on both stores) give the service's JSON; an OD matrix naming the
sites of both plans compares them (each side equal to a run on the matrix without the other
plan's sites)."""

from __future__ import annotations

import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pytest
from fixtures import run_cli

from geoservice.analysis.jsonsafe import jsonable
from geoservice.reports.plans import compare_xlsx
from geoservice.services import plans
from geoservice.services.accounts import cli_actor
from geoservice.services.coverage import coverage_params, run_coverage
from layers import open_store

ADMIN = cli_actor()
LAYER = "elderly_service_points"
ROAD_TIME = {"cost": "network", "cost_field": "time"}


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def store_kind(request) -> str:
    """Every test of this module on both stores (the API on both, as tests/web does)."""
    return request.param


def _ops(villages, picks: list[int], prefix: str, beds: int) -> list[dict]:
    pts = villages.geometry.iloc[picks].representative_point()
    return [{"op": "add", "lon": float(p.x), "lat": float(p.y), "name": f"{prefix}{i}",
             "level": "village_station", "beds": str(beds)} for i, p in enumerate(pts)]


@pytest.fixture
def two_plans(demo_workspace):
    """The demo county (it has roads) with plans 甲 (3 sites) and 乙 (4 sites)."""
    store = open_store(demo_workspace)
    assert "roads" in store.current_versions()
    villages = store.read("villages")
    plans.create_plan(store, ADMIN, "甲", LAYER)
    plans.create_plan(store, ADMIN, "乙", LAYER)
    plans.edit_sites(store, ADMIN, "甲", _ops(villages, [3, 17, 29], "甲站", 10))
    plans.edit_sites(store, ADMIN, "乙", _ops(villages, [8, 22, 40, 51], "乙站", 20))
    return store


def _strip(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "inputs"}


def _jsonish(data):
    return json.loads(json.dumps(jsonable(data), ensure_ascii=False))


def test_road_time_comparison_is_two_road_coverage_runs(two_plans):
    store = two_plans
    cmp = plans.compare_plans(store, "甲", "乙", radius="12", **ROAD_TIME)
    assert cmp["cost"]["kind"] == "network" and cmp["cost"]["field"] == "time"
    assert cmp["unit"] == "min" and cmp["parameters"]["cost_field"] == "time"
    assert cmp["cost"] == cmp["a"]["summary"]["cost"] == cmp["b"]["summary"]["cost"]
    straight_means = []
    for key, name in (("a", "甲"), ("b", "乙")):
        alone = run_coverage(store, coverage_params(LAYER, "12", plan=name, **ROAD_TIME))
        assert _strip(cmp[key]["summary"]) == _strip(alone.summary)
        assert alone.summary["radius_unit"] == "min" and alone.summary["radius_m"] == 12
        v = alone.villages
        eld = pd.to_numeric(v["elderly_population"]).to_numpy(float)
        near = v["nearest_m"].to_numpy(float)
        ok = np.isfinite(near) & (eld > 0)
        county = cmp[key]["county"]
        assert county["mean_nearest_m"] == pytest.approx(
            (near[ok] * eld[ok]).sum() / eld[ok].sum(), rel=1e-12)
        assert county["covered_villages"] == int(v["covered"].sum())
        assert county["uncovered_elderly"] == eld[~v["covered"].to_numpy(bool)].sum()
        assert county["plan_sites"] == len(plans.plan_sites(store, name))
        straight = run_coverage(store, coverage_params(LAYER, "2000", plan=name))
        sv = straight.villages
        straight_means.append((sv["nearest_m"].to_numpy(float) * eld).sum() / eld.sum())
        # minutes, not the metres of the straight line
        assert county["mean_nearest_m"] != pytest.approx(straight_means[-1], rel=0.05)
    m = cmp["measures"]["mean_nearest_m"]
    assert m["kind"] == "min" and "分钟" in m["label"] and "米" not in m["label"]
    assert cmp["cost"]["label"] in m["label"]
    assert cmp["diff"]["mean_nearest_m"] == pytest.approx(
        cmp["b"]["county"]["mean_nearest_m"] - cmp["a"]["county"]["mean_nearest_m"])


def _sheet(data: bytes, name: str) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [tuple(r) for r in wb[name].iter_rows(values_only=True)]


def test_workbook_says_minutes_by_road_and_metres_straight(two_plans):
    store = two_plans
    road = plans.compare_plans(store, "现状", "甲", **ROAD_TIME)
    rows = _sheet(compare_xlsx(road), "对比汇总")
    nearest = [r for r in rows if r[0] and str(r[0]).startswith("老人到最近设施的平均")]
    assert len(nearest) == 1
    label = nearest[0][0]
    assert "分钟" in label and "米" not in label and road["cost"]["label"] in label
    assert nearest[0][2] == pytest.approx(road["b"]["county"]["mean_nearest_m"])
    assert any(r[0] and "出行成本：" + road["cost"]["label"] in str(r[0]) for r in rows)
    params = {r[0]: r[1] for r in _sheet(compare_xlsx(road), "参数")}
    assert params["出行成本"] == road["cost"]["label"]
    assert params["服务半径（分钟）"] == road["parameters"]["radius"]
    assert "服务半径（米）" not in params

    straight = plans.compare_plans(store, "现状", "甲")
    assert straight["cost"]["kind"] == "straight" and straight["unit"] == "m"
    rows = _sheet(compare_xlsx(straight), "对比汇总")
    labels = [r[0] for r in rows if r[0]]
    assert "老人到最近设施的平均距离（米）" in labels
    assert not any("分钟" in str(x) for r in rows for x in r if x is not None)
    params = {r[0]: r[1] for r in _sheet(compare_xlsx(straight), "参数")}
    assert params["出行成本"] == "直线距离（米）" and "服务半径（米）" in params


def test_cli_compare_by_road_equals_the_service(two_plans, demo_workspace, tmp_path):
    out = tmp_path / "对比.xlsx"
    r = run_cli("--workspace", str(demo_workspace), "plans", "compare", "甲", "乙",
                "--cost", "network", "--cost-field", "time", "--radius", "12", "--json",
                "--xlsx", out)
    assert r.returncode == 0, r.stderr
    cmp = plans.compare_plans(two_plans, "甲", "乙", radius="12", **ROAD_TIME)
    assert json.loads(r.stdout) == _jsonish(cmp)
    assert _sheet(out.read_bytes(), "对比汇总") == _sheet(compare_xlsx(cmp), "对比汇总")
    r = run_cli("--workspace", str(demo_workspace), "plans", "compare", "甲", "乙",
                "--cost", "network", "--cost-field", "time")
    assert r.returncode == 0, r.stderr
    assert f"出行成本：{cmp['cost']['label']}" in r.stdout and "分钟" in r.stdout


def test_api_compare_by_road_equals_the_service(two_plans, demo_app):
    client = demo_app.test_client()
    r = client.get("/api/plans/compare?a=甲&b=乙&cost=network&cost_field=time")
    assert r.status_code == 200, r.get_data(as_text=True)
    cmp = plans.compare_plans(two_plans, "甲", "乙", **ROAD_TIME)
    assert r.get_json() == _jsonish(cmp)
    assert r.get_json()["unit"] == "min"
    # the page: the cost selector, the cost named, minutes in the county table
    page = client.get("/plans/compare?a=甲&b=乙&cost=network&cost_field=time")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="cost-fields"' in html and 'value="network" selected' in html
    assert cmp["cost"]["label"] in html and "分钟" in html
    # by road the sites get no circle (a radius in minutes is not a circle); the legend says so
    assert "不画方案站点的服务半径圆" in html and "方案站点服务半径" not in html
    # the workbook download by road
    x = client.get("/plans/compare.xlsx?a=甲&b=乙&cost=network&cost_field=time")
    assert x.status_code == 200
    assert _sheet(x.data, "参数") == _sheet(compare_xlsx(cmp), "参数")
    # a bad cost is a Chinese error naming the parameter
    bad = client.get("/api/plans/compare?a=甲&b=乙&cost=network&cost_field=speed")
    assert bad.status_code == 400 and "cost_field" in bad.get_json()["error"]


def test_od_matrix_naming_both_plans_sites(two_plans, tmp_path):
    """One matrix names the sites of both plans (a plan's sites are facilities); each side
    equals a coverage run on a matrix without the other plan's sites."""
    store = two_plans
    codes = store.read("villages")["code"].astype(str).tolist()
    today = store.read(LAYER)["name"].astype(str).tolist()
    sites = {p: plans.plan_sites(store, p)["name"].astype(str).tolist() for p in ("甲", "乙")}
    rng = np.random.default_rng(15)
    rows = [(c, d, float(rng.uniform(1, 40)))
            for d in today + sites["甲"] + sites["乙"] for c in codes if rng.random() < 0.4]
    frame = pd.DataFrame(rows, columns=["村代码", "设施", "时间"])
    both = tmp_path / "od.csv"
    frame.to_csv(both, index=False)
    cmp = plans.compare_plans(store, "甲", "乙", radius="20", cost="matrix", cost_unit="min",
                              matrix_path=both)
    assert cmp["cost"]["kind"] == "matrix" and cmp["unit"] == "min"
    for key, name, other in (("a", "甲", "乙"), ("b", "乙", "甲")):
        mine = tmp_path / f"od_{key}.csv"
        frame[~frame["设施"].isin(sites[other])].to_csv(mine, index=False)
        alone = run_coverage(store, coverage_params(
            LAYER, "20", plan=name, cost="matrix", cost_unit="min", matrix_path=mine,
            matrix_name="od.csv"))
        side, ref = _strip(cmp[key]["summary"]), _strip(alone.summary)
        side["cost"], ref["cost"] = dict(side["cost"]), dict(ref["cost"])
        # the file itself differs (the other plan's rows): its row count only
        assert side["cost"].pop("matrix_rows") == len(frame)
        assert ref["cost"].pop("matrix_rows") < len(frame)
        assert side == ref
    # a plain run with plan 甲 on the same matrix: plan 乙's sites are known to the
    # workspace, so their rows are left out, not refused; the same answer as side A
    plain = run_coverage(store, coverage_params(LAYER, "20", plan="甲", cost="matrix",
                                                cost_unit="min", matrix_path=both,
                                                matrix_name="od.csv"))
    assert _strip(plain.summary) == _strip(cmp["a"]["summary"])


def test_api_and_page_take_an_od_matrix_by_post(two_plans, demo_app, tmp_path):
    store = two_plans
    codes = store.read("villages")["code"].astype(str).tolist()
    names = store.read(LAYER)["name"].astype(str).tolist() + \
        plans.plan_sites(store, "甲")["name"].astype(str).tolist()
    rng = np.random.default_rng(3)
    path = tmp_path / "od.csv"
    pd.DataFrame([(c, d, float(rng.uniform(100, 9000))) for d in names for c in codes],
                 columns=["村代码", "设施", "距离"]).to_csv(path, index=False)
    cmp = plans.compare_plans(store, "现状", "甲", cost="matrix", cost_unit="m",
                              matrix_path=path, matrix_name="od.csv")
    client = demo_app.test_client()
    form = {"a": "现状", "b": "甲", "cost": "matrix", "cost_unit": "m"}
    r = client.post("/api/plans/compare", data={**form, "cost_matrix": (path.open("rb"), "od.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json() == _jsonish(cmp)
    page = client.post("/plans/compare", data={**form, "cost_matrix": (path.open("rb"), "od.csv")},
                       content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert 'id="download-form"' in html and cmp["cost"]["label"] in html
    # GET cannot carry the file: a Chinese error naming the parameter
    r = client.get("/api/plans/compare?a=现状&b=甲&cost=matrix&cost_unit=m")
    assert r.status_code == 400 and "cost_matrix" in r.get_json()["error"]
