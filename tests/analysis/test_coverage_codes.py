"""A villages layer whose codes repeat (boundary import accepts it, with a warning): where
coverage or siting depend on such a code, the result says so in Chinese instead of
silently picking one of the villages."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from fixtures import GK, SIDE, VILLAGES, X0, Y0, village_polygon
from shapely.geometry import Point

from geoservice.analysis.coverage import coverage
from geoservice.analysis.siting import siting

DUP = "511425102201"  # 甲二村's code, given to 乙一村 as well


def villages(duplicate: bool = True) -> gpd.GeoDataFrame:
    rows = [list(v) for v in VILLAGES]
    if duplicate:
        rows[2][0] = DUP  # 乙一村 (township 乙镇) now carries 甲二村's code
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows],
         "township_code": [r[2] for r in rows], "population": [r[5] for r in rows],
         "elderly_population": [r[6] for r in rows]},
        geometry=[village_polygon(r[3], r[4]) for r in rows], crs=GK).to_crs("EPSG:4490")


def points() -> gpd.GeoDataFrame:
    """A: inside 乙一村; B: outside every village, stating the repeated code; C: outside,
    stating 乙二村's (unique) code; D: inside 甲一村, no code."""
    at = [(X0 + 1.5 * SIDE, Y0 + 0.5 * SIDE), (X0 + 3 * SIDE, Y0 + 0.5 * SIDE),
          (X0 + 3 * SIDE, Y0 + 1.5 * SIDE), (X0 + 0.5 * SIDE, Y0 + 0.5 * SIDE)]
    return gpd.GeoDataFrame(
        {"name": ["甲站", "乙站", "丙站", "丁站"], "level": "village_station",
         "beds": [10, 20, 5, 7], "village_code": [None, DUP, "511425108201", None]},
        geometry=[Point(x, y) for x, y in at], crs=GK).to_crs("EPSG:4490")


def test_coverage_says_which_codes_are_ambiguous_and_what_depends_on_them():
    r = coverage(villages(), points(), layer="elderly_service_points", radius_m=1500)
    s = r.summary
    assert s["ambiguous_village_codes"] == [{
        "code": DUP, "villages": 2, "names": ["甲二村", "乙一村"],
        "township_codes": ["511425102", "511425108"]}]
    w = s["code_warnings"]
    assert len(w) == 3
    assert "1 个代码对应多个村" in w[0] and f"{DUP}（甲二村、乙一村）" in w[0]
    assert "位于代码重复的村(社区)内" in w[1] and f"“甲站”：{DUP}" in w[1]
    assert "不在任何村(社区)范围内" in w[2] and f"“乙站”：{DUP}" in w[2]
    assert "未计入任何乡镇的床位" in w[2]

    f = r.facilities.set_index("name")
    assert f.loc["甲站", "village_code"] == DUP and f.loc["甲站", "village_code_ambiguous"]
    assert f.loc["甲站", "township_code"] == "511425108"  # by location: 乙一村 is in 乙镇
    assert pd.isna(f.loc["乙站", "village_code"]) and f.loc["乙站", "village_code_ambiguous"]
    assert pd.isna(f.loc["乙站", "township_code"])  # not picked: which of the two?
    # a unique stated code places a facility that lies outside every polygon
    assert f.loc["丙站", "village_code"] == "511425108201"
    assert not f.loc["丙站", "village_code_ambiguous"]

    t = r.townships.set_index("code")
    assert t.loc["511425102", "care_beds"] == 7  # 丁站
    assert t.loc["511425108", "care_beds"] == 10 + 5  # 甲站 and 丙站
    assert s["care_beds"] == 42 and s["care_beds_unassigned"] == 20  # 乙站: county only


def test_no_repeated_code_no_warning():
    r = coverage(villages(duplicate=False), points(), layer="elderly_service_points",
                 radius_m=1500)
    assert r.summary["code_warnings"] == [] and r.summary["ambiguous_village_codes"] == []
    # 乙站's stated code is now 甲二村's alone: it counts there
    assert r.townships.set_index("code").loc["511425102", "care_beds"] == 7 + 20


def test_siting_says_so_too():
    """No village covered (乙站 is 3 km east of 乙一村); at 2100 m a site at a village centre
    covers its neighbours in the same row and column; by elderly the one best is 甲二村
    (coded DUP): 甲一村 500 + 甲二村 300 + 乙二村 600."""
    r = siting(villages(), points().iloc[[1]], problem="mclp", radius_m=2100, add=1,
               weight="elderly")
    s = r.summary
    assert s["ambiguous_village_codes"][0]["code"] == DUP
    w = s["code_warnings"]
    assert len(w) == 3 and w[0].startswith("村(社区)图层中有 1 个代码对应多个村")
    assert "注意：" in s["message"] and DUP in s["message"]
    site = r.sites.iloc[0]
    assert site["name"] == "甲二村" and site["village_code"] == DUP
    assert f"第 1 处“甲二村”：{DUP}" in w[1] and "候选点编号和所在村代码对应多个村" in w[1]
    assert site["newly_covered"] == ["511425102200", DUP, "511425108201"]
    # named by position, not looked up by code (a lookup by code could say 乙一村)
    assert site["newly_covered_names"] == "甲一村、甲二村、乙二村"
    assert "新增覆盖的村中有代码重复的村" in w[2]
    clean = siting(villages(duplicate=False), points().iloc[[1]], problem="mclp",
                   radius_m=2100, add=1, weight="elderly")
    assert clean.summary["code_warnings"] == [] and "注意" not in clean.summary["message"]


def test_siting_names_the_sites_in_a_repeated_code_village():
    """Village centres as candidates, 1500 m, by elderly: 乙二村 (600) then 甲二村 (300),
    whose code 乙一村 carries too."""
    r = siting(villages(), points().iloc[[3]], problem="mclp", radius_m=1500, add=2,
               weight="elderly")
    assert r.sites["name"].tolist() == ["乙二村", "甲二村"]
    assert r.sites["village_code"].tolist() == ["511425108201", DUP]
    w = r.summary["code_warnings"]
    assert "1 处建议站点的候选点编号和所在村代码对应多个村" in w[1]
    assert f"第 2 处“甲二村”：{DUP}" in w[1]


def test_siting_sites_name_their_village_by_position_not_by_code():
    """The site in 甲二村 is named 甲二村 although 乙一村 carries the same code, in the
    result and in the report's sites sheet."""
    from types import SimpleNamespace

    from geoservice.reports.siting import site_frame

    r = siting(villages(), points().iloc[[3]], problem="mclp", radius_m=1500, add=2,
               weight="elderly")
    assert r.sites["village_name"].tolist() == ["乙二村", "甲二村"]
    sheet = site_frame(SimpleNamespace(result=r))
    assert sheet["village_name"].tolist() == ["乙二村", "甲二村"]
    assert sheet["newly_covered_names"].tolist() == r.sites["newly_covered_names"].tolist()
