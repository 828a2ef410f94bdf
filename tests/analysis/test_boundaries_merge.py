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
