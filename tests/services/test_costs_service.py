"""The cost parameters of the services: checked from text with Chinese messages, the
radius in the cost's unit with its own defaults, the roads version in the provenance, an
OD matrix that names facilities of other levels, and green-field siting."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from geoservice.analysis.settings import coverage_defaults
from geoservice.errors import BadParameter
from geoservice.services.costs import cost_params, cutoffs_param
from geoservice.services.coverage import coverage_params, run_coverage
from geoservice.services.siting import run_siting, siting_params
from layers import open_store


@pytest.fixture(scope="module")
def store(module_demo_workspace):
    return open_store(module_demo_workspace)


def test_cost_parameters_are_checked_in_chinese(tmp_path):
    assert cost_params().straight
    with pytest.raises(BadParameter, match="参数 cost（出行成本）“road”无效"):
        cost_params("road")
    with pytest.raises(BadParameter, match="cost_field"):
        cost_params("straight", cost_field="time")
    with pytest.raises(BadParameter, match="参数 cost_field（道路成本）“speed”无效"):
        cost_params("network", cost_field="speed")
    with pytest.raises(BadParameter, match="参数 network（道路网图层）“villages”无效"):
        cost_params("network", network="villages")
    with pytest.raises(BadParameter, match="cost_matrix（OD 矩阵文件）必填"):
        cost_params("matrix", cost_unit="min")
    path = tmp_path / "od.csv"
    path.write_text("村代码,设施,时间\n511425100201,甲,5\n", encoding="utf-8")
    with pytest.raises(BadParameter, match="cost_unit（OD 矩阵的成本单位）必填"):
        cost_params("matrix", matrix_path=path)
    with pytest.raises(BadParameter, match="参数 cost_unit（OD 矩阵的成本单位）“km”无效"):
        cost_params("matrix", cost_unit="km", matrix_path=path)
    p = cost_params(cost_unit="min", matrix_path=path, matrix_name="我的矩阵.csv")
    assert (p.spec.kind, p.unit, p.spec.matrix_name) == ("matrix", "min", "我的矩阵.csv")
    assert cost_params("network", cost_field="time").unit == "min"
    assert cutoffs_param("15，30、45", "min") == (15.0, 30.0, 45.0)
    with pytest.raises(BadParameter, match="cutoffs"):
        cutoffs_param("15,abc", "min")
    with pytest.raises(BadParameter, match="cutoffs"):
        cutoffs_param("15,900", "min")


def test_the_radius_default_follows_the_unit():
    d = coverage_defaults("elderly_service_points", "village_station")
    by_time = coverage_params(level="village_station", cost="network", cost_field="time")
    by_length = coverage_params(level="village_station", cost="network")
    assert (by_time.radius_m, by_time.radius_given) == (d["radius_min"], False)
    assert (by_length.radius_m, by_length.radius_given) == (d["radius_m"], False)
    with pytest.raises(BadParameter, match="服务半径"):
        coverage_params(radius="700", cost="network", cost_field="time")  # > 600 minutes
    assert by_time.query()["cost_field"] == "time"
    again = coverage_params(**{k: v for k, v in by_time.query().items()
                               if k in ("layer", "radius", "weighting", "level")},
                            cost="network", cost_field="time")
    assert again.radius_m == by_time.radius_m


def test_a_network_run_names_the_roads_version_and_the_cost(store):
    roads_version = store.current_versions()["roads"].version
    res = run_coverage(store, coverage_params(radius="10", cost="network", cost_field="time",
                                              cutoffs="5,20", method="2sfca"))
    s = res.summary
    assert s["inputs"]["layer_versions"]["roads"] == roads_version
    assert (s["cost"]["kind"], s["cost"]["unit"], s["radius_unit"]) == ("network", "min", "min")
    assert "分钟" in s["cost"]["label"] and s["method"] == "2sfca"
    assert [c["cutoff"] for c in s["cutoffs"]] == [5.0, 20.0]
    near = res.villages["nearest_m"].to_numpy()
    eld = res.villages["elderly_population"].to_numpy()
    assert s["cutoffs"][0]["elderly"] == int(eld[near <= 5].sum())
    assert s["cutoffs"][1]["villages"] == int((near <= 20).sum())
    assert "snap_m" in res.villages.columns and (res.villages["snap_m"] >= 0).all()
    # the straight-line result has no roads in its provenance
    plain = run_coverage(store, coverage_params(radius="2000")).summary
    assert "roads" not in plain["inputs"]["layer_versions"]
    assert plain["cost"]["kind"] == "straight"


def test_a_matrix_naming_facilities_of_other_levels_is_accepted(store, tmp_path):
    fac = store.read("elderly_service_points")
    villages = store.read("villages")
    codes = villages["code"].astype(str).tolist()
    rng = np.random.default_rng(15)
    path = tmp_path / "od.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["origin", "destination", "minutes"])
        for code in codes:
            for name in fac["name"].astype(str):
                out.writerow([code, name, round(float(rng.uniform(1, 40)), 2)])
    level = "township_center"
    res = run_coverage(store, coverage_params(level=level, radius="15", cost_unit="min",
                                              matrix_path=path, matrix_name="od.csv"))
    s = res.summary
    assert s["cost"]["kind"] == "matrix" and s["cost"]["matrix"] == "od.csv"
    # by hand: each village's least cost over the township centres only
    rows = list(csv.reader(open(path, encoding="utf-8")))[1:]
    centres = set(fac.loc[fac["level"] == level, "name"].astype(str))
    best = {c: min(float(r[2]) for r in rows if r[0] == c and r[1] in centres) for c in codes}
    assert res.villages["nearest_m"].tolist() == pytest.approx([best[c] for c in codes])
    # a name the workspace does not know is refused, with the row
    with open(path, "a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow([codes[0], "不存在的设施", 3])
    from geoservice.analysis.errors import InvalidInput

    with pytest.raises(InvalidInput, match="不存在的设施|找不到"):
        run_coverage(store, coverage_params(radius="15", cost_unit="min", matrix_path=path))


def test_green_field_siting_ignores_every_existing_facility(store, tmp_path):
    green = run_siting(store, siting_params(layer="welfare_homes", problem="pmedian", add="3",
                                            ignore_existing="1"))
    s = green.summary
    assert s["ignore_existing"] and s["facilities"] == 0
    # every new site shortens someone's trip: none is listed as adding nothing
    assert s["useful_sites"] == 3 and s["no_gain_from_rank"] is None
    assert "不再缩短" not in s["message"]
    assert "不考虑现有设施" in s["inputs"]["ignore_existing"]
    # the same problem on a workspace whose welfare-home layer is empty
    empty_path = tmp_path / "empty.gpkg"
    import shutil

    shutil.copyfile(store.path, empty_path)
    other = open_store(empty_path)
    homes = other.read("welfare_homes")
    other.write("welfare_homes", homes.iloc[0:0], source="empty.geojson",
                source_crs="EPSG:4490")
    ref = run_siting(other, siting_params(layer="welfare_homes", problem="pmedian", add="3"))
    assert sorted(green.result.sites["candidate"]) == sorted(ref.result.sites["candidate"])
    assert s["objective"] == pytest.approx(ref.summary["objective"], rel=1e-9)
    today = run_siting(store, siting_params(layer="welfare_homes", problem="pmedian", add="3"))
    assert today.summary["facilities"] > 0
    with pytest.raises(BadParameter, match="ignore_existing"):
        siting_params(layer="welfare_homes", add="1", ignore_existing="1", plan="方案甲")
    with pytest.raises(BadParameter, match="ignore_existing"):
        siting_params(layer="welfare_homes", add="1", ignore_existing="maybe")


def test_siting_on_the_road_network_by_time(store):
    run = run_siting(store, siting_params(layer="elderly_service_points", radius="8",
                                          add="2", cost="network", cost_field="time"))
    s = run.summary
    assert (s["cost"]["unit"], s["radius_m"]) == ("min", 8.0)
    assert s["covered_elderly_after"] > s["covered_elderly_before"]
    assert "snap_m" in run.result.villages.columns
    # every village counted as covered after is within 8 minutes of a facility or new site
    v = run.result.villages
    assert (v.loc[v["covered_after"], "nearest_m_after"] <= 8).all()
    assert (v.loc[~v["covered_after"], "nearest_m_after"] > 8).all()
