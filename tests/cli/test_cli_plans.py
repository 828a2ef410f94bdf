"""`plans ...`, `siting --save-to/--plan` and `coverage --plan` from the shell: the same
figures as the service, the JSON shape the issue asks for, exports readable by GDAL and
openpyxl, Chinese errors that change nothing."""

from __future__ import annotations

import json

import geopandas as gpd
import openpyxl
import pytest
from fixtures import run_cli

from geoservice.services import plans
from geoservice.services.coverage import coverage_params, run_coverage
from layers import open_store

LAYER = "elderly_service_points"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The demo county with two plans made through the CLI: 方案甲 (4 sites from siting, target
    year 2030) and 方案乙 (3 sites sited on top of 方案甲)."""
    from geoservice.config import DEMO_WORKSPACE

    path = tmp_path_factory.mktemp("plans") / "w.gpkg"
    path.write_bytes(DEMO_WORKSPACE.read_bytes())
    r = _cli(path, "siting", "--layer", LAYER, "--add", "4", "--year", "2030",
             "--save-to", "方案甲")
    assert r.returncode == 0, r.stderr
    assert "已将 4 处建议站点加入规划方案“方案甲”" in r.stderr
    r = _cli(path, "siting", "--layer", LAYER, "--add", "3", "--plan", "方案甲",
             "--save-to", "方案乙", "--json")
    assert r.returncode == 0, r.stderr
    return path


def _cli(workspace, *args):
    return run_cli("--workspace", str(workspace), *args)


def _no_date(summary: dict) -> dict:
    s = json.loads(json.dumps(summary, ensure_ascii=False))
    s.get("inputs", {}).pop("date", None)
    return s


def test_save_to_makes_a_plan_of_the_suggested_sites(workspace):
    store = open_store(workspace)
    a = plans.get_plan(store, "方案甲")
    assert (a.layer, a.target_year, a.status) == (LAYER, 2030, "draft")
    assert len(plans.plan_sites(store, "方案甲")) == 4
    # 方案乙 was sited on top of 方案甲: none of its sites is one of 方案甲's
    pa = {(round(g.x, 6), round(g.y, 6)) for g in plans.plan_sites(store, "方案甲").geometry}
    pb = {(round(g.x, 6), round(g.y, 6)) for g in plans.plan_sites(store, "方案乙").geometry}
    assert len(pb) == 3 and not pa & pb
    rows = [r for r in store.audit_rows(action="accept_plan")]
    assert {r["params"]["plan"] for r in rows} == {"方案甲", "方案乙"}
    assert [r["params"].get("based_on_plan") for r in rows if r["params"]["plan"] == "方案乙"] \
        == ["方案甲"]


def test_compare_json_is_the_two_coverage_runs(workspace):
    r = _cli(workspace, "plans", "compare", "方案甲", "方案乙", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["a"]["name"] == "方案甲" and body["b"]["name"] == "方案乙"
    for key, name in (("a", "方案甲"), ("b", "方案乙")):
        c = _cli(workspace, "coverage", "--layer", LAYER, "--plan", name, "--year", "2030",
                 "--json")
        assert c.returncode == 0, c.stderr
        alone = json.loads(c.stdout)["summary"]
        mine = _no_date(body[key]["summary"])
        alone = _no_date(alone)
        mine.pop("demand"), alone.pop("demand")
        assert mine == alone
    store = open_store(workspace)
    townships = run_coverage(store, coverage_params(LAYER, year="2030", plan="方案乙")).townships
    assert [t["code"] for t in body["townships"]] == list(townships["code"])
    for t, (_, row) in zip(body["townships"], townships.iterrows(), strict=True):
        assert set(t) >= {"code", "name", "a", "b", "diff"}
        assert t["b"]["village_coverage"] == pytest.approx(row["village_coverage"])


def test_compare_text_and_xlsx(workspace, tmp_path):
    out = tmp_path / "对比.xlsx"
    r = _cli(workspace, "plans", "compare", "现状", "方案甲", "--xlsx", out)
    assert r.returncode == 0, r.stderr
    assert "A：现状    B：方案甲" in r.stdout and "村覆盖率" in r.stdout
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:2] == ["对比汇总", "乡镇对比"]
    rows = {row[0]: row for row in wb["对比汇总"].iter_rows(min_row=2, values_only=True)}
    cmp = plans.compare_plans(open_store(workspace), "现状", "方案甲")
    assert rows["方案站点数"][1:4] == (0, 4, 4)
    assert rows["村覆盖率"][2] == pytest.approx(cmp["b"]["county"]["village_coverage"])


def test_coverage_with_plan_says_so(workspace):
    r = _cli(workspace, "coverage", "--layer", LAYER, "--plan", "方案乙")
    assert r.returncode == 0, r.stderr
    assert "规划方案：规划方案“方案乙”（草稿）：3 处站点，计入 3 处" in r.stdout
    assert "规划方案“方案乙”的目标年份" in r.stdout  # 方案乙 took the run's year 2030


def test_list_show_export(workspace, tmp_path):
    r = _cli(workspace, "plans", "list", "--json")
    assert r.returncode == 0, r.stderr
    names = [p["name"] for p in json.loads(r.stdout)]
    assert names == sorted(["方案甲", "方案乙"])  # by name
    r = _cli(workspace, "plans", "show", "方案甲")
    assert "站点 4 处" in r.stdout and "修改记录" in r.stdout
    gj = tmp_path / "甲.geojson"
    assert _cli(workspace, "plans", "export", "方案甲", gj).returncode == 0
    read = gpd.read_file(gj)  # GDAL reads it back
    sites = plans.plan_sites(open_store(workspace), "方案甲")
    assert sorted(read["site_id"]) == sorted(sites["site_id"])
    assert read.geometry.x.round(6).tolist() == sites.geometry.x.round(6).tolist()
    xl = tmp_path / "甲.xlsx"
    assert _cli(workspace, "plans", "export", "方案甲", xl).returncode == 0
    assert openpyxl.load_workbook(xl)["站点"].max_row == 5
    r = _cli(workspace, "plans", "export", "方案甲", tmp_path / "甲.shp")
    assert r.returncode == 1 and "不支持的导出格式" in r.stderr


def test_errors_are_chinese_and_change_nothing(workspace, tmp_path):
    store = open_store(workspace)
    before = store.current_versions()["planned_sites"].version
    r = _cli(workspace, "plans", "show", "无此方案")
    assert r.returncode == 1 and "没有名为“无此方案”的规划方案" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[{", encoding="utf-8")
    r = _cli(workspace, "plans", "edit", "方案甲", bad)
    assert r.returncode == 1 and "不是有效的 JSON" in r.stderr
    ops = tmp_path / "ops.json"
    ops.write_text(json.dumps([{"op": "move", "site_id": 99999, "lon": 103.8, "lat": 29.8}]),
                   encoding="utf-8")
    r = _cli(workspace, "plans", "edit", "方案甲", ops)
    assert r.returncode == 1 and "没有编号为 99999 的站点" in r.stderr
    r = _cli(workspace, "siting", "--layer", LAYER, "--add", "1", "--save-to", "现状")
    assert r.returncode == 1 and "表示现状" in r.stderr
    assert open_store(workspace).current_versions()["planned_sites"].version == before


def test_approved_plan_is_read_only_from_the_shell(tmp_path):
    from geoservice.config import DEMO_WORKSPACE

    path = tmp_path / "w.gpkg"
    path.write_bytes(DEMO_WORKSPACE.read_bytes())
    assert _cli(path, "plans", "create", "定稿", "--year", "2029").returncode == 0
    ops = tmp_path / "ops.json"
    ops.write_text(json.dumps([{"op": "add", "lon": 103.85, "lat": 29.85, "name": "新站",
                                "level": "村级互助养老服务站", "beds": 12}]), encoding="utf-8")
    r = _cli(path, "plans", "edit", "定稿", ops)
    assert r.returncode == 0, r.stderr
    r = _cli(path, "plans", "set", "定稿", "--status", "已批准")
    assert r.returncode == 0 and "已批准" in r.stdout
    version = open_store(path).current_versions()["planned_sites"].version
    for args in (("plans", "edit", "定稿", ops), ("plans", "undo", "定稿"),
                 ("siting", "--layer", LAYER, "--add", "1", "--save-to", "定稿")):
        r = _cli(path, *args)
        assert r.returncode == 1 and "已批准，只读" in r.stderr, args
    assert open_store(path).current_versions()["planned_sites"].version == version
    r = _cli(path, "plans", "set", "定稿", "--status", "draft")
    assert r.returncode == 0
    r = _cli(path, "plans", "undo", "定稿")
    assert r.returncode == 0 and "已撤销" in r.stdout
    assert len(plans.plan_sites(open_store(path), "定稿")) == 0
