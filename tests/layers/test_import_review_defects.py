"""Boundary review, import half (issue 12): villages and townships files with the defects a
reviewer must see are imported, as given, with warnings counted and grouped with their
rows; what cannot be read is still refused and stores nothing.

The data is the second county (竹山县, ``tests/second_county.py``: real roster and outline,
its own seed), not the demo; each defect is injected into the county's frames by the
injectors there, whose truth (rows, codes, areas) is what the warnings are checked against.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import second_county as sc
import shapely
from shapely.geometry import Point

from layers import ValidationError, import_file, open_store
from layers.errors import group_problems, problems_csv
from layers.readers import GEOMETRY_LABEL
from layers.schema import KINDS

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def store(tmp_path):
    return open_store(tmp_path / "workspace.gpkg")


def versions(store) -> dict:
    return {k: [v.to_dict() for v in store.versions(k)] for k in KINDS}


def imported(store, frame, kind: str, path) -> tuple:
    """Import ``frame`` written as the GeoJSON staff receive; (version, warnings)."""
    v = import_file(store, kind, sc.write_polygons(frame, path, kind))
    assert v.features == len(frame) and store.current_versions()[kind].version == v.version
    for w in v.warnings:
        assert CJK.search(w.message) and w.file == path.name, str(w)
    return v, list(v.warnings)


def rows_text(rows, unit="个要素") -> str:
    return "第 " + "、".join(str(r) for r in rows) + f" {unit}"


# --- each defect: imported, warned, grouped with its rows --------------------------------------

def test_103_short_township_codes_are_one_warning_line_with_their_rows(county, store, tmp_path):
    villages, truth = sc.inject_short_codes(county.villages, "township_code", 103, seed=7)
    v, warnings = imported(store, villages, "villages", tmp_path / "villages.geojson")
    assert len(warnings) == 103 and [w.row for w in warnings] == truth["features"]
    assert {(w.field, w.message, w.value, w.unit) for w in warnings} == {
        ("所属乡镇代码", "所属乡镇代码为 6 位，应为 9 位", "420323", "要素")}
    [group] = group_problems(warnings)
    assert (group["count"], group["rows"], group["rows_more"]) == (
        103, truth["features"][:10], 93)
    assert group["text"] == ("villages.geojson，103 个要素：所属乡镇代码为 6 位，应为 9 位（"
                             f"{rows_text(truth['features'][:10])}等）")
    # kept as given, for the review to report
    stored = store.read("villages")
    assert (stored["township_code"].to_numpy()[truth["rows"]] == "420323").all()
    assert (stored["code"] == county.villages["code"]).all()
    # the whole list, one row each with its value
    lines = problems_csv(v.warnings).decode("utf-8-sig").splitlines()
    assert len(lines) == 104 and lines[1].split(",")[:5] == [
        "villages.geojson", f"第 {truth['features'][0]} 个要素", "所属乡镇代码",
        "所属乡镇代码为 6 位，应为 9 位", "420323"]


def test_short_township_codes_in_the_townships_layer(county, store, tmp_path):
    townships, truth = sc.inject_short_codes(county.townships, "code", 5, seed=3)
    _, warnings = imported(store, townships, "townships", tmp_path / "townships.geojson")
    groups = {g["message"]: g for g in group_problems(warnings)}
    # five rows with the same (short) code: too short, and duplicates of one another
    assert set(groups) == {"乡镇代码为 6 位，应为 9 位", "乡镇代码重复"}
    assert groups["乡镇代码为 6 位，应为 9 位"]["rows"] == truth["features"]
    assert groups["乡镇代码重复"]["rows"] == truth["features"]
    assert len(warnings) == 10


def test_village_code_not_under_its_township(county, store, tmp_path):
    code = county.villages["code"].iloc[40]
    other = next(t for t in county.townships["code"] if t != code[:9])
    villages, truth = sc.inject_code_not_under_township(county.villages, code, other)
    _, warnings = imported(store, villages, "villages", tmp_path / "v.geojson")
    [w] = warnings
    assert (w.row, w.field) == (truth["feature"], "村(社区)代码")
    assert w.message == "村(社区)代码前 9 位与所属乡镇代码不同"
    assert truth["code"] in w.value and truth["township_code"] in w.value
    stored = store.read("villages")
    assert stored["code"].iloc[truth["row"]] == truth["code"]
    assert stored["township_code"].iloc[truth["row"]] == truth["township_code"]


def test_duplicate_codes_are_warned_on_every_row_bearing_them(county, store, tmp_path):
    same_town = county.villages[county.villages["township_code"] == "420323103"]["code"]
    villages, truth = sc.inject_duplicate_code(county.villages, same_town.iloc[2],
                                               same_town.iloc[5])
    _, warnings = imported(store, villages, "villages", tmp_path / "v.geojson")
    assert [(w.row, w.message, w.value) for w in warnings] == [
        (f, "村(社区)代码重复", truth["code"]) for f in truth["features"]]
    [group] = group_problems(warnings)
    assert group["text"] == f"v.geojson，2 个要素：村(社区)代码重复（{rows_text(truth['features'])}）"
    assert (store.read("villages")["code"] == truth["code"]).sum() == 2


@pytest.mark.parametrize(("segment", "what"), [(650, "村级段"), (0, "村级段")])
def test_village_segment_out_of_range(county, store, tmp_path, segment, what):
    code = county.villages["code"].iloc[12]
    villages, truth = sc.inject_out_of_range(county.villages, code, segment)
    _, warnings = imported(store, villages, "villages", tmp_path / "v.geojson")
    [w] = warnings
    assert (w.row, w.value) == (truth["row"] + 1, truth["code"])
    assert what in w.message and "001-599" in w.message


def test_township_segment_and_province_out_of_range(county, store, tmp_path):
    villages = county.villages.copy()
    codes = villages["code"].to_numpy(dtype=object).copy()
    towns = villages["township_code"].to_numpy(dtype=object).copy()
    # row 5: township segment 700 in both codes (consistent, out of range)
    codes[5], towns[5] = "420323700" + codes[5][9:], "420323700"
    # row 9: a province that does not exist (99)
    codes[9], towns[9] = "99" + codes[9][2:], "99" + towns[9][2:]
    villages["code"], villages["township_code"] = codes, towns
    _, warnings = imported(store, villages, "villages", tmp_path / "v.geojson")
    got = {(w.row, w.field, w.message) for w in warnings}
    assert got == {
        (6, "村(社区)代码", "村(社区)代码的乡级段（第 7-9 位）不在统计用区划代码的 001-599 之内"),
        (6, "所属乡镇代码", "所属乡镇代码的乡级段（第 7-9 位）不在统计用区划代码的 001-599 之内"),
        (10, "村(社区)代码", "村(社区)代码的前 2 位不是省级行政区代码"),
        (10, "所属乡镇代码", "所属乡镇代码的前 2 位不是省级行政区代码")}


def test_a_bow_tie_is_repaired_counted_and_stored_valid(county, store, tmp_path):
    code = county.villages["code"].iloc[3]
    villages, truth = sc.inject_bowtie(county.villages, code, county.epsg)
    assert not truth["valid"]
    _, warnings = imported(store, villages, "villages", tmp_path / "v.geojson")
    [w] = warnings
    assert (w.row, w.field) == (truth["row"] + 1, GEOMETRY_LABEL)
    assert "已自动修复" in w.message and w.value.startswith("自相交")
    stored = store.read("villages").geometry.iloc[truth["row"]]
    assert stored.is_valid and stored.geom_type in ("Polygon", "MultiPolygon")
    area_m2 = sc.to_metric([stored], county.epsg)[0].area
    assert area_m2 == pytest.approx(truth["area_repaired_m2"], abs=0.01)
    # every other village as it was
    others = store.read("villages").geometry.drop(index=truth["row"])
    assert others.geom_equals_exact(county.villages.geometry.drop(index=truth["row"]),
                                    tolerance=1e-9).all()


def test_the_boundary_review_lists_the_polygon_repaired_on_import(county, store, tmp_path):
    """The stored shape is valid, but the file still holds the defect: the review says so,
    for that village only."""
    from geoservice.analysis.boundaries import review

    code = county.villages["code"].iloc[3]
    villages, truth = sc.inject_bowtie(county.villages, code, county.epsg)
    imported(store, villages, "villages", tmp_path / "v.geojson")
    stored = store.read("villages")
    assert stored["geometry_repair"].notna().sum() == 1
    result = review(stored, layer="villages", townships=county.townships)
    f = result.findings
    repaired = f[(f["type"] == "invalid_geometry") & (f["subtype"] == "repaired_on_import")]
    assert [list(c) for c in repaired["codes"]] == [[code]]
    assert "自相交" in repaired["message"].iloc[0]


def test_more_elderly_than_residents_is_a_warning(county, store, tmp_path):
    villages = county.villages.copy()
    villages.loc[7, "elderly_population"] = int(villages.loc[7, "population"]) + 1
    _, warnings = imported(store, villages, "villages", tmp_path / "v.geojson")
    [w] = warnings
    assert (w.row, w.message) == (8, "60岁以上人口超过户籍人口")
    assert w.value == f"{villages.loc[7, 'population'] + 1} > {villages.loc[7, 'population']}"


def test_a_facility_village_code_of_the_wrong_length_is_a_warning(county, store, tmp_path):
    homes = county.welfare_homes.copy()
    homes.loc[2, "village_code"] = homes.loc[2, "village_code"][:9]
    v = import_file(store, "welfare_homes",
                    sc.write_points_csv(homes, "welfare_homes", tmp_path / "homes.csv"))
    [w] = v.warnings
    assert (w.row, w.field, w.value) == (4, "所在村(社区)代码", homes.loc[2, "village_code"])
    assert w.message == "所在村(社区)代码为 9 位，应为 12 位"
    assert len(store.read("welfare_homes")) == len(homes)


def test_every_defect_at_once_is_counted(county, store, tmp_path):
    villages, short = sc.inject_short_codes(county.villages, "township_code", 20, seed=11)
    clean = [c for c, t in zip(villages["code"], villages["township_code"], strict=True)
             if len(t) == 9]
    villages, _ = sc.inject_out_of_range(villages, clean[30], 650)
    villages, bow = sc.inject_bowtie(villages, clean[50], county.epsg)
    v, warnings = imported(store, villages, "villages", tmp_path / "v.geojson")
    assert len(warnings) == 22
    assert [g["count"] for g in group_problems(warnings)] == [20, 1, 1]
    assert [w.row for w in warnings] == sorted(w.row for w in warnings)


# --- what cannot be read: refused, nothing stored ----------------------------------------------

def _with(frame, pos, geom):
    out = frame.copy()
    geoms = np.asarray(out.geometry.values, dtype=object).copy()
    geoms[pos] = geom
    return out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))


def _refusals(county):
    v = county.villages
    zero_area = shapely.Polygon([(110.25, 32.25), (110.5, 32.5), (110.75, 32.75)])
    far = shapely.affinity.translate(v.geometry.iloc[4], xoff=60)
    text_pop = v.copy()
    text_pop["population"] = text_pop["population"].astype(str)
    text_pop.loc[6, "population"] = "很多"
    empty_code = v.copy()
    empty_code.loc[8, "code"] = ""
    return {
        "no geometry": (_with(v, 2, None), 3, GEOMETRY_LABEL, "几何为空"),
        "wrong type": (_with(v, 2, Point(110.2, 32.3)), 3, GEOMETRY_LABEL, "应为面"),
        "unparseable number": (text_pop, 7, "户籍人口", "不是数字"),
        "outside China": (_with(v, 4, far), 5, GEOMETRY_LABEL, "超出中国范围"),
        "missing column": (v.drop(columns=["population"]), None, "population", "缺少必填字段"),
        "unrepairable": (_with(v, 9, zero_area), 10, GEOMETRY_LABEL, "无法修复为面"),
        "empty required code": (empty_code, 9, "村(社区)代码", "必填字段为空"),
    }


@pytest.mark.parametrize("case", ["no geometry", "wrong type", "unparseable number",
                                  "outside China", "missing column", "unrepairable",
                                  "empty required code"])
def test_what_cannot_be_read_is_refused_and_nothing_stored(county, store, tmp_path, case):
    import_file(store, "villages", sc.write_polygons(county.villages, tmp_path / "ok.geojson",
                                                     "villages"))
    before = versions(store)
    frame, row, field, words = _refusals(county)[case]
    path = tmp_path / "bad.geojson"
    sc.write_polygons(frame, path, None if case == "missing column" else "villages")
    with pytest.raises(ValidationError) as exc:
        import_file(store, "villages", path)
    problems = exc.value.problems
    assert any((p.row, p.field) == (row, field) and words in p.message for p in problems), \
        [str(p) for p in problems]
    assert versions(store) == before
    assert (store.read("villages")["code"] == county.villages["code"]).all()


def test_refusals_of_other_kinds_are_kept(county, store, tmp_path):
    homes = county.welfare_homes.copy()
    homes.loc[1, "occupied_beds"] = int(homes.loc[1, "beds"]) + 5
    before = versions(store)
    with pytest.raises(ValidationError) as exc:
        import_file(store, "welfare_homes",
                    sc.write_points_csv(homes, "welfare_homes", tmp_path / "h.csv"))
    [p] = exc.value.problems
    assert (p.row, p.field) == (3, "在住人数") and "超过床位数" in p.message
    assert versions(store) == before
