"""Merge simulation on hand-made villages: exact sums, name check (homophones), codes."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geoservice.analysis.boundaries import simulate_merge, sound, standard_name
from geoservice.analysis.boundaries.merge import MergeError
from geoservice.analysis.errors import InvalidInput

GK = "EPSG:4544"
X0, Y0 = 380_000.0, 3_300_000.0


def sq(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def villages():
    rows = [  # code, name, township, geometry, population, elderly
        ("511425102200", "柳溪村", "511425102", sq(0, 0, 1000, 1000), 1000, 200),
        ("511425102201", "兰沟村", "511425102", sq(1000, 0, 2000, 1000), 1500, 300),
        ("511425102202", "红星村", "511425102", sq(5000, 0, 6000, 1000), 800, 100),
        ("511425102001", "凤阳社区", "511425102", sq(0, 1000, 1000, 2000), 3000, 500),
        ("511425108200", "新民村", "511425108", sq(2000, 0, 3000, 1000), 900, 150),
    ]
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows],
         "township_code": [r[2] for r in rows], "population": [r[4] for r in rows],
         "elderly_population": [r[5] for r in rows]},
        geometry=[r[3] for r in rows], crs=GK).to_crs("EPSG:4490")


def points(xy):
    return gpd.GeoDataFrame({"name": [f"p{k}" for k in range(len(xy))]},
                            geometry=[Point(X0 + x, Y0 + y) for x, y in xy],
                            crs=GK).to_crs("EPSG:4490")


def test_standard_name_and_sound():
    assert standard_name("柳溪村村民委员会") == "柳溪村"
    assert standard_name("友爱村村民委员会") == "友爱村"
    assert standard_name("凤阳社区居民委员会") == "凤阳社区"
    assert standard_name("杨店村委会") == "杨店村"
    assert sound("洪化村") == sound("鸿化村村民委员会")


def test_merge_two_villages_sums_and_suggested_code():
    fac = {"elderly_service_points": points([(500, 500), (1500, 500), (1600, 200),
                                             (2500, 500)]),
           "welfare_homes": points([(5500, 500)])}
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "溪沟村",
                       facilities=fac)
    f = r.figures
    assert f["area_m2_sum"] == pytest.approx(2_000_000.0, abs=0.01)
    assert f["area_m2_after"] == pytest.approx(2_000_000.0, abs=0.01)
    assert f["population"] == 2500 and f["elderly_population"] == 500
    assert f["facilities"] == {"elderly_service_points": 3, "welfare_homes": 0}
    assert f["parts_after"] == 1 and r.warnings == []
    assert r.new_code == "511425102200"  # keeps the lowest merged code in 200-399
    assert r.name_check["ok"]
    after = r.layer_after
    assert len(after) == 4 and "511425102201" not in set(after["code"])
    row = after[after["code"] == "511425102200"].iloc[0]
    assert row["name"] == "溪沟村" and row["population"] == 2500
    assert row["township_code"] == "511425102"


def test_homophone_and_duplicate_names_are_conflicts():
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "鸿星村")
    assert not r.name_check["ok"]
    assert r.name_check["conflicts"] == [{"code": "511425102202", "name": "红星村",
                                          "reason": "同音"}]
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "凤阳社区居民委员会")
    assert r.name_check["conflicts"][0]["reason"] == "重名"
    # A community name asks for a 001-199 code: the lowest one free in the township.
    assert r.new_code == "511425102002"
    # The same name in another township is no conflict.
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "新民村")
    assert r.name_check["ok"]


def test_not_contiguous_is_a_warning():
    r = simulate_merge(villages(), ["511425102200", "511425102202"], "合村")
    assert r.figures["parts_after"] == 2
    assert any("不相邻" in w for w in r.warnings)


def test_invalid_merges_raise_chinese_errors():
    assert issubclass(MergeError, InvalidInput)  # HTTP 400 with its message
    with pytest.raises(MergeError, match="同一乡镇"):
        simulate_merge(villages(), ["511425102201", "511425108200"], "合村")
    with pytest.raises(MergeError, match="没有代码"):
        simulate_merge(villages(), ["511425102201", "511425102999"], "合村")
    with pytest.raises(MergeError, match="至少需要两个"):
        simulate_merge(villages(), ["511425102201"], "合村")
    with pytest.raises(MergeError, match="已被其他单位使用"):
        simulate_merge(villages(), ["511425102200", "511425102201"], "合村",
                       new_code="511425102202")
    with pytest.raises(MergeError, match="应以 511425102 开头"):
        simulate_merge(villages(), ["511425102200", "511425102201"], "合村",
                       new_code="511425108299")


def test_given_code_is_used_and_checked_against_the_name():
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "合村",
                       new_code="511425102250")
    assert r.new_code == "511425102250" and r.code_check["ok"]
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "合村",
                       new_code="511425102050")
    assert r.new_code == "511425102050" and "与名称不符" in r.code_check["message"]


def test_township_merge_uses_villages_for_elderly():
    towns = gpd.GeoDataFrame({"code": ["511425102", "511425108", "511425110"],
                              "name": ["甲镇", "乙镇", "丙乡"]},
                             geometry=[sq(0, 0, 2000, 2000), sq(2000, 0, 3000, 2000),
                                       sq(3000, 0, 4000, 2000)], crs=GK).to_crs(4490)
    r = simulate_merge(towns, ["511425102", "511425108"], "甲乙镇", layer="townships",
                       villages=villages())
    assert r.figures["population"] == 1000 + 1500 + 800 + 3000 + 900
    assert r.figures["elderly_population"] == 200 + 300 + 100 + 500 + 150
    assert r.new_code == "511425102"
    r = simulate_merge(towns, ["511425102", "511425108"], "丙乡", layer="townships")
    assert r.name_check["conflicts"][0]["code"] == "511425110"
    r = simulate_merge(towns, ["511425102", "511425108"], "甲乙乡", layer="townships")
    assert r.new_code == "511425200"  # 乡: 200-399, the lowest free


def test_township_merge_recodes_the_villages():
    towns = gpd.GeoDataFrame({"code": ["511425102", "511425108", "511425110"],
                              "name": ["甲镇", "乙镇", "丙乡"]},
                             geometry=[sq(0, 0, 2000, 2000), sq(2000, 0, 3000, 2000),
                                       sq(3000, 0, 4000, 2000)], crs=GK).to_crs(4490)
    v = villages()
    extra = v.iloc[[4]].copy()  # a 社区 in 乙镇 whose 001 is taken in 甲镇
    extra["code"], extra["name"] = "511425108001", "乙社区"
    v = gpd.GeoDataFrame(pd.concat([v, extra], ignore_index=True), crs=v.crs)
    r = simulate_merge(towns, ["511425102", "511425108"], "甲乙镇", layer="townships",
                       villages=v)
    assert r.new_code == "511425102"
    moved = {x["old_code"]: x["new_code"] for x in r.villages_recoded}
    assert moved == {
        "511425102200": "511425102200", "511425102201": "511425102201",
        "511425102202": "511425102202", "511425102001": "511425102001",
        # 新民村's 200 is taken: the lowest free 村 code; 乙社区's 001: the lowest free 社区 code
        "511425108200": "511425102203", "511425108001": "511425102002",
    }
    after = r.villages_after
    assert len(after) == len(v) and after["code"].is_unique
    assert set(after["township_code"]) == {"511425102"}
    assert (after["code"].str[:9] == after["township_code"]).all()
    assert r.summary["village_codes_changed"] == 2
    assert r.to_dict()["villages_recoded"][0]["new_code"] == "511425102001"
    assert any("村(社区)图层同时写入新版本" in w for w in r.warnings)
    # Applying writes the townships first, then the recoded villages (one step).
    assert [k for k, _ in r.layers_to_write()] == ["townships", "villages"]
    assert r.layers_to_write()[1][1] is r.villages_after
    # The original village frame is not changed.
    assert "511425108200" in set(v["code"])


def with_committee(v):
    """The villages with the roster's committee names beside their place names."""
    v = v.copy()
    v["committee_name"] = [n + ("居民委员会" if n.endswith("社区") else "村民委员会")
                           for n in v["name"]]
    return v


def test_merged_village_gets_its_standard_and_committee_names():
    v = with_committee(villages())
    r = simulate_merge(v, ["511425102200", "511425102201"], "溪沟村")
    row = r.layer_after.set_index("code").loc[r.new_code]
    assert row["name"] == "溪沟村"
    assert row["committee_name"] == "溪沟村" + "村民委员会"
    assert r.new_committee_name == "溪沟村村民委员会"
    assert r.layer_after["committee_name"].notna().all()
    # Given in full, the committee name is kept and the place name derived from it.
    r = simulate_merge(v, ["511425102200", "511425102201"], "溪沟社区居民委员会")
    row = r.layer_after.set_index("code").loc[r.new_code]
    assert (row["name"], row["committee_name"]) == ("溪沟社区", "溪沟社区居民委员会")
    # A layer without the column does not get one (its other rows would be empty).
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "溪沟村")
    assert "committee_name" not in r.layer_after.columns


def test_ambiguous_codes_are_said_not_picked():
    v = villages()
    v.loc[v["code"] == "511425102202", "code"] = "511425102201"  # 红星村 takes 兰沟村's code
    with pytest.raises(MergeError, match="代码 511425102201 被 2 个单位使用（兰沟村、红星村）"):
        simulate_merge(v, ["511425102200", "511425102201"], "合村")
    # A township merge whose villages share a code: the facility naming that code is left
    # as it is, and the merge says why.
    towns = gpd.GeoDataFrame({"code": ["511425102", "511425108"], "name": ["甲镇", "乙镇"]},
                             geometry=[sq(0, 0, 2000, 2000), sq(2000, 0, 6000, 2000)],
                             crs=GK).to_crs(4490)
    v = villages()
    v.loc[v["code"] == "511425108200", "code"] = "511425102201"  # 新民村 takes 兰沟村's code
    v.loc[v["name"] == "新民村", "township_code"] = "511425108"
    fac = {"welfare_homes": points([(1500, 500)]).assign(village_code="511425102201")}
    r = simulate_merge(towns, ["511425102", "511425108"], "甲乙镇", layer="townships",
                       villages=v, facilities=fac)
    assert any("511425102201 被多个村(社区)使用" in w for w in r.warnings)
    assert r.facilities_recoded == {}


def markers(rows):
    """(number, codes, x, y) in metres."""
    return gpd.GeoDataFrame({"number": [r[0] for r in rows], "codes": [r[1] for r in rows]},
                            geometry=[Point(X0 + r[2], Y0 + r[3]) for r in rows],
                            crs=GK).to_crs(4490)


def test_township_merge_moves_marker_codes():
    towns = gpd.GeoDataFrame({"code": ["511425102", "511425108", "511425110"],
                              "name": ["甲镇", "乙镇", "丙乡"]},
                             geometry=[sq(0, 0, 2000, 2000), sq(2000, 0, 3000, 2000),
                                       sq(3000, 0, 4000, 2000)], crs=GK).to_crs(4490)
    v = gpd.GeoDataFrame({"code": ["511425102200", "511425102201", "511425108200",
                                   "511425108201", "511425110200"],
                          "name": ["东村", "西村", "南村", "北村", "丙村"],
                          "township_code": ["511425102"] * 2 + ["511425108"] * 2
                          + ["511425110"],
                          "population": [1] * 5, "elderly_population": [1] * 5},
                         geometry=[sq(0, 0, 2000, 1000), sq(0, 1000, 2000, 2000),
                                   sq(2000, 0, 3000, 1000), sq(2000, 1000, 3000, 2000),
                                   sq(3000, 0, 4000, 2000)], crs=GK).to_crs(4490)
    m = markers([("甲乙01", "511425102,511425108", 2000, 300),  # on 东村—南村
                 ("甲乙02", "511425102,511425108", 2000, 1700),  # on 西村—北村
                 ("乙丙01", "511425108,511425110", 3000, 500),
                 ("甲丙01", "511425102,511425110", 2500, 2500)])
    r = simulate_merge(towns, ["511425102", "511425108"], "甲乙镇", layer="townships",
                       villages=v, markers=m)
    assert r.new_code == "511425102"
    moved = {x["new_code"]: x["old_code"] for x in r.villages_recoded}
    south = next(k for k, o in moved.items() if o == "511425108200")
    north = next(k for k, o in moved.items() if o == "511425108201")
    after = dict(zip(r.markers_after["number"], r.markers_after["codes"], strict=True))
    assert after == {"甲乙01": f"511425102200,{south}", "甲乙02": f"511425102201,{north}",
                     "乙丙01": "511425102,511425110", "甲丙01": "511425102,511425110"}
    assert [k for k, _ in r.layers_to_write()] == ["townships", "villages", "boundary_markers"]
    assert r.summary["markers_recoded"] == 3  # 甲丙01 already named the kept code
    assert any("界桩图层同时写入新版本" in w for w in r.warnings)
    # Without villages the former boundary's markers name the merged township twice.
    r = simulate_merge(towns, ["511425102", "511425108"], "甲乙镇", layer="townships",
                       markers=m)
    after = dict(zip(r.markers_after["number"], r.markers_after["codes"], strict=True))
    assert after["甲乙01"] == "511425102,511425102"


def test_village_merge_moves_marker_codes():
    m = markers([("柳兰01", "511425102200,511425102201", 1000, 500),
                 ("兰新01", "511425102201,511425108200", 2000, 500)])
    r = simulate_merge(villages(), ["511425102200", "511425102201"], "溪沟村", markers=m)
    after = dict(zip(r.markers_after["number"], r.markers_after["codes"], strict=True))
    assert after == {"柳兰01": "511425102200,511425102200",
                     "兰新01": "511425102200,511425108200"}
