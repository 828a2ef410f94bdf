"""Plans (services/plans.py): coverage "with a plan" equals coverage on a facility layer that
holds today's facilities plus the plan's sites (the second county, independent of the demo);
a comparison equals the two separate runs; siting on top of a plan never proposes the plan's
sites; the plan's target year is the default demand; an approved plan refuses every change
and nothing is written; edits are versions with an audit row, and undo restores."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from geoservice.errors import BadParameter, Conflict, NotFound
from geoservice.services import plans
from geoservice.services.accounts import Actor, Forbidden, cli_actor
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.siting import accept_sites, run_siting, siting_params
from layers import open_store
from layers.crs import metric_crs

ADMIN = cli_actor()
PLANNER = Actor("规划员", "planner")
VIEWER = Actor("访客", "viewer")
LAYER = "elderly_service_points"


@pytest.fixture
def demo(demo_workspace):
    return open_store(demo_workspace)


def _sites_ops(villages: gpd.GeoDataFrame, rng: np.random.Generator, n: int) -> list[dict]:
    """``n`` sites at random points inside random villages, with levels and beds."""
    pick = rng.choice(len(villages), size=n, replace=False)
    pts = villages.geometry.iloc[pick].representative_point()
    levels = ["village_station", "township_center", "group_point"]
    return [{"op": "add", "lon": float(p.x), "lat": float(p.y), "name": f"规划点{i}",
             "level": levels[i % 3], "beds": str(int(rng.integers(0, 60)))}
            for i, p in enumerate(pts)]


def _strip(summary: dict) -> dict:
    s = {k: v for k, v in summary.items() if k not in ("inputs", "demand")}
    return s


def test_coverage_with_a_plan_equals_coverage_on_the_combined_layer(county_workspace, tmp_path):
    store = open_store(county_workspace)
    villages = store.read("villages")
    plans.create_plan(store, ADMIN, "十四五", LAYER, note="乡镇中心与村站")
    ops = _sites_ops(villages, np.random.default_rng(4203), 9)
    plans.edit_sites(store, ADMIN, "十四五", ops)

    # the oracle: a second copy of the workspace whose facility layer is today's rows plus
    # the plan's sites written as ordinary facilities (built from the ops, not the service)
    other = tmp_path / "combined.gpkg"
    other.write_bytes(county_workspace.read_bytes())
    ostore = open_store(other)
    today = ostore.read(LAYER)
    added = gpd.GeoDataFrame({
        "name": [o["name"] for o in ops], "level": [o["level"] for o in ops],
        "beds": pd.array([int(o["beds"]) for o in ops], dtype="Int64")},
        geometry=gpd.points_from_xy([o["lon"] for o in ops], [o["lat"] for o in ops]),
        crs="EPSG:4490")
    combined = pd.concat([today, added.to_crs(today.crs)], ignore_index=True)
    ostore.write(LAYER, gpd.GeoDataFrame(combined, geometry="geometry", crs=today.crs),
                 source="oracle", source_crs="EPSG:4490")

    for level, radius in ((None, "2000"), ("village_station", "1500"), (None, "5000")):
        with_plan = run_coverage(store, coverage_params(LAYER, radius, level, plan="十四五"))
        oracle = run_coverage(ostore, coverage_params(LAYER, radius, level))
        assert _strip(with_plan.summary) == _strip(oracle.summary)
        pd.testing.assert_frame_equal(with_plan.townships, oracle.townships)
        cols = ["code", "covered", "nearest_m", "access", "access_per_1000", "facilities_inside"]
        pd.testing.assert_frame_equal(with_plan.villages[cols], oracle.villages[cols])
        p = with_plan.summary["inputs"]["plan"]
        assert p["name"] == "十四五" and p["sites"] == 9
        assert p["sites_counted"] == (9 if level is None else 3)
    # and the plan changes the answer (the test could fail)
    plain = run_coverage(store, coverage_params(LAYER, "5000"))
    assert plain.summary["care_beds"] < with_plan.summary["care_beds"]


def test_comparison_equals_the_two_separate_runs(demo):
    villages = demo.read("villages")
    rng = np.random.default_rng(7)
    plans.create_plan(demo, ADMIN, "甲", LAYER)
    plans.create_plan(demo, ADMIN, "乙", LAYER, target_year="2028")
    plans.edit_sites(demo, ADMIN, "甲", _sites_ops(villages, rng, 4))
    plans.edit_sites(demo, ADMIN, "乙", _sites_ops(villages, rng, 6))
    cmp = plans.compare_plans(demo, "甲", "乙", radius="2500")
    # the later target year (乙's) is the demand of both sides
    assert cmp["parameters"]["year"] == 2028 and cmp["parameters"]["year_from"] == "plans"
    runs = {}
    for key, name in (("a", "甲"), ("b", "乙")):
        r = run_coverage(demo, coverage_params(LAYER, "2500", year="2028", plan=name))
        runs[key] = r
        assert _strip(cmp[key]["summary"]) == _strip(r.summary)
        county = cmp[key]["county"]
        v = r.villages
        eld = v["elderly_population"].to_numpy(dtype=float)
        assert county["uncovered_elderly"] == eld[~v["covered"].to_numpy(bool)].sum()
        assert county["mean_nearest_m"] == pytest.approx(
            (v["nearest_m"].to_numpy(float) * eld).sum() / eld.sum(), rel=1e-12)
        assert county["plan_sites"] == len(plans.plan_sites(demo, name))
        for t in cmp["townships"]:
            row = r.townships.set_index("code").loc[t["code"]]
            assert t[key]["village_coverage"] == pytest.approx(row["village_coverage"])
            assert t[key]["care_beds_per_1000_elderly"] == pytest.approx(
                row["care_beds_per_1000_elderly"])
            assert t[key]["uncovered_elderly"] == row["elderly_population"] - row["covered_elderly"]
    for t in cmp["townships"]:
        assert t["diff"]["village_coverage"] == pytest.approx(
            t["b"]["village_coverage"] - t["a"]["village_coverage"])
    # plan sites and their beds per township add up to the plan's
    assert sum(t["b"]["plan_sites"] for t in cmp["townships"]) == 6
    assert sum(t["b"]["plan_beds"] for t in cmp["townships"]) == \
        plans.plan_dict(demo, plans.get_plan(demo, "乙"))["beds"]
    # villages newly covered by B = covered with 乙, not with 甲
    a_cov = set(runs["a"].villages.loc[runs["a"].villages["covered"], "code"])
    b_cov = set(runs["b"].villages.loc[runs["b"].villages["covered"], "code"])
    assert {v["code"] for v in cmp["newly_covered"]} == b_cov - a_cov
    assert {v["code"] for v in cmp["no_longer_covered"]} == a_cov - b_cov


def test_compare_with_today(demo):
    plans.create_plan(demo, ADMIN, "甲", LAYER)
    plans.edit_sites(demo, ADMIN, "甲", _sites_ops(demo.read("villages"),
                                                  np.random.default_rng(1), 3))
    cmp = plans.compare_plans(demo, "现状", "甲")
    today = run_coverage(demo, coverage_params(LAYER))
    assert _strip(cmp["a"]["summary"]) == _strip(today.summary)
    assert cmp["a"]["name"] == "现状" and cmp["a"]["sites"] == []
    assert cmp["diff"]["facilities"] == 3 and cmp["parameters"]["year_from"] == "current"
    assert "demand" not in cmp["a"]["summary"]


def test_compare_refuses_plans_of_different_layers(demo):
    plans.create_plan(demo, ADMIN, "养老", LAYER)
    plans.create_plan(demo, ADMIN, "公墓", "cemeteries")
    with pytest.raises(BadParameter, match="设施图层不同"):
        plans.compare_plans(demo, "养老", "公墓")
    with pytest.raises(NotFound, match="没有名为“无此方案”"):
        plans.compare_plans(demo, "养老", "无此方案")


def _gk(gdf, like):
    return np.c_[gdf.to_crs(metric_crs(like)).geometry.x, gdf.to_crs(metric_crs(like)).geometry.y]


def test_siting_on_top_of_a_plan_never_proposes_its_sites(demo):
    first = run_siting(demo, siting_params(LAYER, "2000", add="6"))
    accept_sites(demo, first, [int(r) for r in first.result.sites["rank"]], scenario="甲",
                 actor=ADMIN)
    a_sites = plans.plan_sites(demo, "甲")
    assert len(a_sites) == 6
    n_villages = len(demo.read("villages"))
    # every candidate not in plan 甲 must be chosen: none of 甲's may be among them
    params = siting_params(LAYER, "2000", add=str(n_villages - 6), plan="甲")
    second = run_siting(demo, params)
    villages = demo.read("villages")
    chosen = gpd.GeoDataFrame(geometry=gpd.points_from_xy(second.result.sites["lon"],
                                                         second.result.sites["lat"]),
                              crs="EPSG:4490")
    d, _ = cKDTree(_gk(a_sites, villages)).query(_gk(chosen, villages))
    assert len(chosen) == n_villages - 6 and d.min() > 1.0
    excluded = second.result.excluded
    assert sorted(excluded["rule"]) == ["planned"] * 6
    assert all("已在规划方案中" in r for r in excluded["reason"])
    # the plan's sites are counted as existing: coverage before = coverage with plan 甲
    with_a = run_coverage(demo, coverage_params(LAYER, "2000", plan="甲"))
    assert second.summary["covered_elderly_before"] == with_a.summary["covered_elderly"]
    assert second.summary["facilities"] == with_a.summary["facilities"]
    assert second.summary["excluded"] == 6
    # one more than the candidates left is refused, naming add
    with pytest.raises(Exception, match="add"):
        run_siting(demo, siting_params(LAYER, "2000", add=str(n_villages - 5), plan="甲"))


def test_the_plans_target_year_is_the_default_demand(demo):
    plans.create_plan(demo, ADMIN, "二〇三〇", LAYER, target_year="2030")
    plans.edit_sites(demo, ADMIN, "二〇三〇", _sites_ops(demo.read("villages"),
                                                    np.random.default_rng(3), 2))
    by_plan = run_coverage(demo, coverage_params(LAYER, plan="二〇三〇"))
    explicit = run_coverage(demo, coverage_params(LAYER, year="2030", plan="二〇三〇"))
    assert by_plan.summary["demand"]["year"] == 2030
    assert by_plan.summary["demand"]["from_plan"] == "二〇三〇"
    assert "from_plan" not in explicit.summary["demand"]
    assert _strip(by_plan.summary) == _strip(explicit.summary)
    # an explicit year wins over the plan's
    other = run_coverage(demo, coverage_params(LAYER, year="2026", plan="二〇三〇"))
    assert other.summary["demand"]["year"] == 2026


def test_an_approved_plan_refuses_every_change_and_writes_nothing(demo):
    plans.create_plan(demo, PLANNER, "已批", LAYER)
    plans.edit_sites(demo, PLANNER, "已批", _sites_ops(demo.read("villages"),
                                                   np.random.default_rng(5), 2))
    with pytest.raises(Forbidden):  # approving is an administrator's
        plans.update_plan(demo, PLANNER, "已批", status="已批准")
    plans.update_plan(demo, ADMIN, "已批", status="approved")
    versions = [v.version for v in demo.versions("planned_sites")]
    audit_n = len(demo.audit_rows())
    site = int(plans.plan_sites(demo, "已批")["site_id"].iloc[0])
    run = run_siting(demo, siting_params(LAYER, "2000", add="1"))
    attempts = [
        lambda: plans.edit_sites(demo, ADMIN, "已批", [{"op": "remove", "site_id": site}]),
        lambda: plans.edit_sites(demo, PLANNER, "已批",
                                 [{"op": "add", "lon": 103.85, "lat": 29.85}]),
        lambda: plans.restore_plan(demo, ADMIN, "已批", versions[0]),
        lambda: plans.undo_last(demo, ADMIN, "已批"),
        lambda: plans.update_plan(demo, ADMIN, "已批", note="改备注"),
        lambda: plans.update_plan(demo, PLANNER, "已批", status="草稿"),
        lambda: accept_sites(demo, run, [1], scenario="已批", actor=ADMIN),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match="已批准"):
            attempt()
    assert [v.version for v in demo.versions("planned_sites")] == versions
    assert len(demo.audit_rows()) == audit_n
    # an administrator reopens it; then it changes again
    plans.update_plan(demo, ADMIN, "已批", status="submitted")
    plans.edit_sites(demo, PLANNER, "已批", [{"op": "remove", "site_id": site}])
    assert len(plans.plan_sites(demo, "已批")) == 1


def test_edits_are_versions_audited_and_undone(demo):
    plans.create_plan(demo, PLANNER, "编辑", LAYER)
    v1, _ = plans.edit_sites(demo, PLANNER, "编辑", [
        {"op": "add", "lon": 103.85, "lat": 29.85, "name": "甲站", "level": "村级互助养老服务站",
         "beds": "10"},
        {"op": "add", "lon": 103.86, "lat": 29.86, "name": "乙站"}])
    ids = list(plans.plan_sites(demo, "编辑")["site_id"])
    v2, counts = plans.edit_sites(demo, PLANNER, "编辑", [
        {"op": "move", "site_id": ids[0], "lon": 103.87, "lat": 29.84},
        {"op": "edit", "site_id": ids[1], "beds": "30", "level": "group_point", "name": "乙点"},
    ], base=v1.version)
    assert counts == {"add": 0, "move": 1, "edit": 1, "remove": 0}
    sites = plans.plan_sites(demo, "编辑").set_index("site_id")
    assert (sites.loc[ids[0]].geometry.x, sites.loc[ids[0]].geometry.y) == (103.87, 29.84)
    assert sites.loc[ids[1], "beds"] == 30 and sites.loc[ids[1], "level"] == "group_point"
    assert sites.loc[ids[1], "name"] == "乙点"
    # a client that saw v1 is refused now (the plan changed), nothing written
    with pytest.raises(Conflict, match="已被修改"):
        plans.edit_sites(demo, PLANNER, "编辑", [{"op": "remove", "site_id": ids[0]}],
                         base=v1.version)
    assert demo.current_versions()["planned_sites"].version == v2.version
    # one bad item refuses the whole list
    with pytest.raises(BadParameter, match="第 2 项"):
        plans.edit_sites(demo, PLANNER, "编辑", [
            {"op": "remove", "site_id": ids[0]}, {"op": "move", "site_id": 999, "lon": 1}])
    with pytest.raises(BadParameter, match="层级"):
        plans.edit_sites(demo, PLANNER, "编辑", [{"op": "edit", "site_id": ids[0],
                                                  "level": "省级中心"}])
    assert len(plans.plan_sites(demo, "编辑")) == 2
    history = plans.plan_history(demo, "编辑")
    assert [h["action"] for h in history] == ["plan_edit", "plan_edit", "plan_create"]
    assert history[0]["version_before"] == v1.version and history[0]["user"] == "规划员"
    # undo: the sites as they were at v1; another plan's sites are untouched
    plans.create_plan(demo, PLANNER, "别的", LAYER)
    plans.edit_sites(demo, PLANNER, "别的", [{"op": "add", "lon": 103.9, "lat": 29.9}])
    plans.undo_last(demo, PLANNER, "编辑")
    back = plans.plan_sites(demo, "编辑").set_index("site_id")
    assert (back.loc[ids[0]].geometry.x, back.loc[ids[0]].geometry.y) == (103.85, 29.85)
    assert pd.isna(back.loc[ids[1], "beds"])
    assert len(plans.plan_sites(demo, "别的")) == 1


def test_roles_and_names(demo):
    with pytest.raises(Forbidden):
        plans.create_plan(demo, VIEWER, "只读者的", LAYER)
    for bad, words in (("", "不能为空"), ("现状", "现状"), ("a/b", "斜杠"), ("x" * 61, "60")):
        with pytest.raises(BadParameter, match=words):
            plans.create_plan(demo, ADMIN, bad, LAYER)
    plans.create_plan(demo, ADMIN, "重名", LAYER)
    with pytest.raises(Conflict, match="已存在"):
        plans.create_plan(demo, ADMIN, "重名", LAYER)
    with pytest.raises(BadParameter, match="目标年份"):
        plans.create_plan(demo, ADMIN, "年份", LAYER, target_year="1999")
    with pytest.raises(BadParameter, match="不能用于"):
        run_coverage(demo, coverage_params("welfare_homes", plan="重名"))


def test_sites_accepted_before_plans_existed_are_a_draft_plan(demo):
    """planned_sites rows with a scenario but no plan record (older workspaces, imported
    files) are listed as draft plans of their layer, usable and editable."""
    run = run_siting(demo, siting_params(LAYER, "2000", add="2"))
    rows = __import__("geoservice.services.siting", fromlist=["planned_rows"]).planned_rows(
        run, [1, 2], scenario="旧方案")
    demo.write("planned_sites", rows, source="旧版本", source_crs="EPSG:4490")
    (old,) = [p for p in plans.list_plans(demo) if p.name == "旧方案"]
    assert old.layer == LAYER and old.status == "draft" and not old.registered
    assert list(plans.plan_sites(demo, "旧方案")["site_id"]) == [1, 2]
    r = run_coverage(demo, coverage_params(LAYER, plan="旧方案"))
    assert r.summary["inputs"]["plan"]["sites"] == 2
    plans.update_plan(demo, ADMIN, "旧方案", status="submitted")
    assert plans.get_plan(demo, "旧方案").registered


def test_an_import_or_restore_of_planned_sites_cannot_change_an_approved_plan(demo, tmp_path):
    from geoservice.services.layers import import_layer, restore_version

    plans.create_plan(demo, ADMIN, "定稿", LAYER)
    plans.edit_sites(demo, ADMIN, "定稿", [{"op": "add", "lon": 103.85, "lat": 29.85,
                                            "name": "甲站", "beds": "10"}])
    plans.create_plan(demo, ADMIN, "草稿", LAYER)
    plans.edit_sites(demo, ADMIN, "草稿", [{"op": "add", "lon": 103.9, "lat": 29.9}])
    first = int(plans.plan_sites(demo, "定稿")["site_id"].iloc[0])
    plans.edit_sites(demo, ADMIN, "定稿", [{"op": "move", "site_id": first, "lon": 103.87,
                                            "lat": 29.87}])
    plans.update_plan(demo, ADMIN, "定稿", status="approved")
    now = demo.current_versions()["planned_sites"].version
    # a file that moves the approved plan's site: refused, nothing written
    moved = plans.all_sites(demo)
    moved.loc[moved["scenario"] == "定稿", "geometry"] = gpd.points_from_xy([103.86], [29.86])
    path = tmp_path / "planned.geojson"
    moved.to_file(path, driver="GeoJSON")
    with pytest.raises(Conflict, match="定稿"):
        import_layer(demo, ADMIN, "planned_sites", path)
    with pytest.raises(Conflict, match="定稿"):
        restore_version(demo, ADMIN, "planned_sites", 1)  # 定稿's site before it moved
    assert demo.current_versions()["planned_sites"].version == now
    # a file that changes only the draft plan goes in
    same = plans.all_sites(demo)
    same.loc[same["scenario"] == "草稿", "name"] = "改名"
    same.to_file(path, driver="GeoJSON")
    import_layer(demo, ADMIN, "planned_sites", path)
    assert list(plans.plan_sites(demo, "草稿")["name"]) == ["改名"]
