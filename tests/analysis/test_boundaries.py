"""Boundary review on hand-made layers: squares in metres (EPSG:4544), stored as EPSG:4490.

Every expected area is exact geometry (e.g. a 10 m x 1000 m overlap is 10,000 m²); the
review measures in the same GK zone, so areas agree to 0.01 m².
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geoservice.analysis.boundaries import review
from geoservice.analysis.errors import InvalidInput

GK = "EPSG:4544"
X0, Y0 = 380_000.0, 3_300_000.0
DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"


def sq(x0, y0, x1, y1):
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def layer(rows, geoms, columns=("code", "name")):
    data = {c: [r[k] for r in rows] for k, c in enumerate(columns)}
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=GK).to_crs("EPSG:4490")


def towns(*pairs):
    """Township rows (code, name) with geometries."""
    return layer([p[:2] for p in pairs], [p[2] for p in pairs])


def of(result, type_):
    return result.findings[result.findings["type"] == type_]


def test_clean_pair_has_one_shared_line_and_no_findings():
    r = review(towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
                     ("511425108", "乙镇", sq(1000, 0, 2000, 1000))), layer="townships")
    assert len(r.findings) == 0
    shared = r.boundary_lines[r.boundary_lines["kind"] == "shared"]
    assert len(shared) == 1
    assert shared["length_m"].iloc[0] == pytest.approx(1000.0, abs=0.01)
    assert list(shared[["code_a", "code_b"]].iloc[0]) == ["511425102", "511425108"]
    outer = r.boundary_lines[r.boundary_lines["kind"] == "outer"]
    assert sorted(outer["length_m"]) == pytest.approx([3000.0, 3000.0], abs=0.01)
    assert r.summary["shared_length_km"] == pytest.approx(1.0, abs=1e-3)


def test_digitising_gap_below_snap_still_gives_a_shared_line():
    r = review(towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
                     ("511425108", "乙镇", sq(1000.4, 0, 2000, 1000))), layer="townships")
    shared = r.boundary_lines[r.boundary_lines["kind"] == "shared"]
    assert len(shared) == 1 and shared["length_m"].iloc[0] == pytest.approx(1000.0, abs=0.01)
    # The 0.4 m x 1000 m strip is open to the outside: no hole, so no gap finding.
    assert r.summary["counts"]["gap"] == 0


def test_overlap_sliver_and_noise_are_told_apart():
    overlap = review(towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
                           ("511425108", "乙镇", sq(990, 0, 2000, 1000))), layer="townships")
    o = of(overlap, "overlap")
    assert len(o) == 1
    assert o["area_m2"].iloc[0] == pytest.approx(10_000.0, abs=0.01)
    assert o["codes"].iloc[0] == ["511425102", "511425108"]
    assert o["severity"].iloc[0] == "error"
    assert overlap.summary["overlap_area_m2"] == pytest.approx(10_000.0, abs=0.01)

    sliver = review(towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
                          ("511425108", "乙镇", sq(998, 0, 2000, 1000))), layer="townships")
    s = of(sliver, "sliver")
    assert len(s) == 1 and len(of(sliver, "overlap")) == 0
    assert s["subtype"].iloc[0] == "overlap" and s["severity"].iloc[0] == "warning"
    assert s["area_m2"].iloc[0] == pytest.approx(2_000.0, abs=0.01)

    noise = review(towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
                         ("511425108", "乙镇", sq(999.9995, 0, 2000, 1000))), layer="townships")
    assert len(noise.findings) == 0
    assert noise.summary["ignored"]["overlap_pieces"] == 1
    assert noise.summary["ignored"]["overlap_area_m2"] == pytest.approx(0.5, abs=0.01)


def ring_of_four(hole_x0, hole_x1):
    """Four townships around a hole [hole_x0, hole_x1] x [1000, 2000]."""
    return towns(("511425102", "甲镇", sq(0, 0, 3000, 1000)),
                 ("511425108", "乙镇", sq(0, 2000, 3000, 3000)),
                 ("511425110", "丙镇", sq(0, 1000, hole_x0, 2000)),
                 ("511425112", "丁镇", sq(hole_x1, 1000, 3000, 2000)))


def test_interior_hole_is_a_gap_with_its_neighbours():
    r = review(ring_of_four(1000, 2000), layer="townships")
    g = of(r, "gap")
    assert len(g) == 1
    assert g["area_m2"].iloc[0] == pytest.approx(1_000_000.0, abs=0.01)
    assert sorted(g["codes"].iloc[0]) == ["511425102", "511425108", "511425110", "511425112"]
    assert 103 < g["lon"].iloc[0] < 104 and 29 < g["lat"].iloc[0] < 31
    thin = review(ring_of_four(1000, 1002), layer="townships")
    s = of(thin, "sliver")
    assert len(s) == 1 and s["subtype"].iloc[0] == "gap" and len(of(thin, "gap")) == 0
    assert s["area_m2"].iloc[0] == pytest.approx(2_000.0, abs=0.01)


def test_outline_not_covered_is_a_gap():
    units = towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)))
    outline = gpd.GeoDataFrame({"name": ["县"]}, geometry=[sq(0, 0, 1000, 1100)],
                               crs=GK).to_crs("EPSG:4490")
    r = review(units, layer="townships", outline=outline)
    g = of(r, "gap")
    assert len(g) == 1 and g["area_m2"].iloc[0] == pytest.approx(100_000.0, abs=0.01)
    assert r.summary["gap_area_m2"] == pytest.approx(100_000.0, abs=0.01)
    assert "县界" in r.summary["gap_reference"]


def test_invalid_empty_and_wrong_type_geometry():
    bowtie = Polygon([(X0, Y0), (X0 + 1000, Y0 + 1000), (X0 + 1000, Y0), (X0, Y0 + 1000)])
    r = review(towns(("511425102", "甲镇", bowtie),
                     ("511425108", "乙镇", Polygon()),
                     ("511425110", "丙镇", Point(X0 + 5000, Y0)),
                     ("511425112", "丁镇", sq(3000, 0, 4000, 1000))), layer="townships")
    bad = of(r, "invalid_geometry").set_index("subtype")
    assert set(bad.index) == {"invalid", "empty", "wrong_type"}
    assert "自相交" in bad.loc["invalid", "message"]
    assert "部分数 1 → 2" in bad.loc["invalid", "message"]
    # make_valid turns the bow tie (signed area 0) into two triangles of 250,000 m² each.
    assert bad.loc["invalid", "area_m2"] == pytest.approx(500_000.0, abs=0.01)
    assert bad.loc["invalid", "codes"] == ["511425102"]
    # The repaired bow tie is two parts: a multipart (飞地) note, never an error.
    mp = of(r, "multipart")
    assert len(mp) == 1 and mp["severity"].iloc[0] == "info"
    assert mp["area_m2"].iloc[0] == pytest.approx(250_000.0, abs=0.01)
    assert r.summary["units_checked"] == 2


def test_multipart_exclave_is_information():
    exclave = MultiPolygon([sq(0, 0, 1000, 1000), sq(5000, 0, 5200, 100)])
    r = review(towns(("511425102", "甲镇", exclave)), layer="townships")
    mp = of(r, "multipart")
    assert len(mp) == 1 and mp["severity"].iloc[0] == "info"
    assert mp["area_m2"].iloc[0] == pytest.approx(20_000.0, abs=0.01)
    assert r.summary["by_severity"]["error"] == 0


def villages(rows):
    """Village rows (code, name, township_code, geometry)."""
    return layer([r[:3] for r in rows], [r[3] for r in rows],
                 columns=("code", "name", "township_code"))


def test_village_outside_its_township_and_area_sum():
    t = towns(("511425102", "甲镇", sq(0, 0, 2000, 1000)),
              ("511425108", "乙镇", sq(2100, 0, 4000, 1000)))
    v = villages([("511425102200", "甲一村", "511425102", sq(0, 0, 1000, 1000)),
                  ("511425102201", "甲二村", "511425102", sq(1000, 0, 2100, 1000)),
                  ("511425108200", "乙一村", "511425108", sq(2100, 0, 4000, 1000))])
    r = review(v, layer="villages", townships=t)
    nn = of(r, "not_nested")
    assert len(nn) == 1 and nn["codes"].iloc[0] == ["511425102201", "511425102"]
    assert nn["area_m2"].iloc[0] == pytest.approx(100_000.0, abs=0.01)
    am = of(r, "area_mismatch")
    assert len(am) == 1 and am["codes"].iloc[0] == ["511425102"]
    assert am["area_m2"].iloc[0] == pytest.approx(100_000.0, abs=0.01)  # 2.1 vs 2.0 km²
    assert am["layer"].iloc[0] == "townships"
    # The strip outside 甲镇 is not in any township either: the townships' gap, not the
    # villages'. Within 乙镇 everything is covered.
    assert len(of(r, "gap")) == 0


def test_village_gap_within_a_township_names_the_township():
    t = towns(("511425102", "甲镇", sq(0, 0, 2000, 1000)),
              ("511425108", "乙镇", sq(2000, 0, 4000, 1000)))
    v = villages([("511425102200", "甲一村", "511425102", sq(0, 0, 500, 1000)),
                  ("511425102201", "甲二村", "511425102", sq(1000, 0, 2000, 1000)),
                  ("511425108200", "乙一村", "511425108", sq(2000, 0, 4000, 1000))])
    r = review(v, layer="villages", townships=t)
    g = of(r, "gap")
    assert len(g) == 1
    assert g["area_m2"].iloc[0] == pytest.approx(500_000.0, abs=0.01)
    assert g["codes"].iloc[0][0] == "511425102" and "甲镇内" in g["message"].iloc[0]
    assert set(g["codes"].iloc[0][1:]) == {"511425102200", "511425102201"}
    am = of(r, "area_mismatch")
    assert len(am) == 1 and am["area_m2"].iloc[0] == pytest.approx(500_000.0, abs=0.01)


def test_village_overlap_between_townships():
    t = towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
              ("511425108", "乙镇", sq(1000, 0, 2000, 1000)))
    v = villages([("511425102200", "甲一村", "511425102", sq(0, 0, 1020, 1000)),
                  ("511425108200", "乙一村", "511425108", sq(1000, 0, 2000, 1000))])
    r = review(v, layer="villages", townships=t)
    o = of(r, "overlap")
    assert len(o) == 1 and o["area_m2"].iloc[0] == pytest.approx(20_000.0, abs=0.01)
    nn = of(r, "not_nested")
    assert len(nn) == 1 and nn["area_m2"].iloc[0] == pytest.approx(20_000.0, abs=0.01)


def test_code_checks():
    t = towns(("511425102", "甲镇", sq(0, 0, 6000, 1000)))
    v = villages([
        ("511425102200", "好村", "511425102", sq(0, 0, 1000, 1000)),
        ("511425108201", "错乡村", "511425102", sq(1000, 0, 2000, 1000)),  # code_mismatch
        ("511425999200", "孤村", "511425999", sq(2000, 0, 3000, 1000)),  # orphan
        ("511425102200", "重村", "511425102", sq(3000, 0, 4000, 1000)),  # duplicate
        ("5114251027", "短村", "511425102", sq(4000, 0, 5000, 1000)),  # format
        ("511425102700", "远村", "511425102", sq(5000, 0, 5500, 1000)),  # range
        ("511425102230", "新华社区", "511425102", sq(5500, 0, 6000, 1000)),  # name range
    ])
    r = review(v, layer="villages", townships=t)
    cm = of(r, "code_mismatch")
    assert list(cm["codes"]) == [["511425108201", "511425102"]]
    orphan = of(r, "orphan")
    assert list(orphan["codes"]) == [["511425999200", "511425999"]]
    dup = of(r, "duplicate_code")
    # One finding per feature (the XLSX keeps a row per feature), one group for the code.
    assert list(dup["codes"]) == [["511425102200"]] * 2
    assert sorted(n for ns in dup["names"] for n in ns) == sorted(["好村", "重村"])
    assert set(dup["group"]) == {"使用同一代码“511425102200”"}
    bad = of(r, "bad_code").set_index("codes" if False else "subtype")
    assert set(bad.index) == {"format", "range", "range_name"}
    assert bad.loc["range_name", "severity"] == "warning"
    assert "居委会/社区 001-199" in bad.loc["range_name", "message"]
    assert bad.loc["format", "codes"] == ["5114251027"]


def test_township_code_ranges_and_county():
    r = review(towns(("511425102", "甲乡", sq(0, 0, 1000, 1000)),
                     ("511425001", "乙街道", sq(1000, 0, 2000, 1000)),
                     ("510000205", "丙乡", sq(2000, 0, 3000, 1000))),
               layer="townships", county_code="511425")
    bad = of(r, "bad_code")
    assert list(bad["subtype"].sort_values()) == ["county", "range_name"]
    assert bad[bad["subtype"] == "range_name"]["codes"].iloc[0] == ["511425102"]


def test_boundary_markers_distance_and_duplicates():
    t = towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
              ("511425108", "乙镇", sq(1000, 0, 2000, 1000)))
    markers = gpd.GeoDataFrame(
        {"number": ["甲乙01", "甲乙02", "甲乙02", "甲03"],
         "codes": ["511425102,511425108"] * 4},
        geometry=[Point(X0 + 1000, Y0 + 500), Point(X0 + 1010, Y0 + 300),
                  Point(X0 + 1000.5, Y0 + 700), Point(X0, Y0 + 500)], crs=GK).to_crs(4490)
    r = review(t, layer="townships", markers=markers)
    off = of(r, "marker_off_line").set_index("ref")
    assert set(off.index) == {"甲乙02", "甲03"}  # the border marker is far from any shared line
    assert off.loc["甲乙02", "length_m"] == pytest.approx(10.0, abs=0.01)
    assert off.loc["甲03", "length_m"] == pytest.approx(1000.0, abs=0.01)
    dup = of(r, "duplicate_marker")
    assert list(dup["ref"]) == ["甲乙02"] and dup["codes"].iloc[0] == ["511425102", "511425108"]
    assert dup["names"].iloc[0] == ["甲镇", "乙镇"]


def test_tolerances_change_the_classification():
    units = towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
                  ("511425108", "乙镇", sq(998, 0, 2000, 1000)))
    r = review(units, layer="townships", tolerances={"sliver_width_m": 1.0})
    assert len(of(r, "overlap")) == 1 and len(of(r, "sliver")) == 0
    r = review(units, layer="townships", tolerances={"area_m2": 5000})
    assert len(r.findings) == 0 and r.summary["ignored"]["overlap_pieces"] == 1
    assert r.summary["tolerances"]["area_m2"] == 5000
    with pytest.raises(InvalidInput, match="容差"):
        review(units, layer="townships", tolerances={"area_m2": -1})


def test_to_dict_shape():
    r = review(ring_of_four(1000, 2000), layer="townships")
    d = r.to_dict()
    assert set(d) == {"summary", "findings", "boundary_lines", "groups"}
    assert [g["count"] for g in d["groups"]] == [1]
    f = d["findings"][0]
    for key in ("type", "layer", "codes", "area_m2", "length_m", "lon", "lat", "message"):
        assert key in f
    line = d["boundary_lines"][0]
    assert set(line) >= {"codes", "names", "length_m"}
    assert d["summary"]["counts"]["gap"] == 1


def test_real_meishan_counties_three_holes_no_overlap():
    counties = gpd.read_file(DATA / "meishan_counties.geojson").set_crs(
        "EPSG:4490", allow_override=True)
    r = review(counties, layer="townships")
    gaps = r.findings[(r.findings["type"] == "gap")
                      | ((r.findings["type"] == "sliver") & (r.findings["subtype"] == "gap"))]
    assert len(gaps) == 3
    total_km2 = gaps["area_m2"].sum() / 1e6
    print(f"Meishan: 3 holes, {total_km2:.4f} km² ({sorted(gaps['area_m2'].round(1))})")
    assert total_km2 == pytest.approx(1.753, abs=0.01)  # "about 1.76 km²" (README)
    assert r.summary["counts"]["overlap"] == 0
    overlap_slivers = r.findings[(r.findings["type"] == "sliver")
                                 & (r.findings["subtype"] == "overlap")]
    assert len(overlap_slivers) == 0
    assert r.summary["overlap_area_m2"] == 0
    # Adjacent counties share lines: 青神县 borders 东坡区, 仁寿县? at least 2 neighbours.
    shared = r.boundary_lines[r.boundary_lines["kind"] == "shared"]
    qs = shared[(shared["code_a"] == "511425") | (shared["code_b"] == "511425")]
    assert len(qs) >= 2 and (qs["length_m"] > 1000).all()
    assert len(of(r, "invalid_geometry")) == 0


def test_bad_layer_name():
    with pytest.raises(InvalidInput, match="townships"):
        review(towns(("511425102", "甲镇", sq(0, 0, 1, 1))), layer="roads")


def test_transform_roundtrip_keeps_areas_exact():
    # Guard for the method: the GK square survives EPSG:4490 storage to < 0.01 m².
    g = gpd.GeoSeries([sq(0, 0, 1000, 1000)], crs=GK).to_crs(4490).to_crs(GK)
    assert shapely.area(g.iloc[0]) == pytest.approx(1e6, abs=0.01)


def three_towns():
    return towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
                 ("511425108", "乙镇", sq(1000, 0, 2000, 1000)),
                 ("511425110", "丙镇", sq(2000, 0, 3000, 1000)))


def markers_at(rows):
    """Markers (number, codes, x, y) in metres."""
    return gpd.GeoDataFrame({"number": [r[0] for r in rows], "codes": [r[1] for r in rows]},
                            geometry=[Point(X0 + r[2], Y0 + r[3]) for r in rows],
                            crs=GK).to_crs(4490)


def test_marker_must_sit_on_the_line_of_its_own_two_units():
    m = markers_at([
        ("甲乙01", "511425102,511425108", 1000, 500),  # on its line: fine
        ("甲乙02", "511425102，511425108", 2000, 500),  # on 乙—丙's line, 1000 m from its own
        ("甲丙01", "511425102,511425110", 1500, 500),  # 甲 and 丙 are not adjacent
        ("甲乙03", "511425102,511425108", 1008, 200),  # 8 m off its line, on no other line
        ("无代码", "", 2002, 300),  # no codes: nearest shared line (乙—丙), 2 m: fine
    ])
    r = review(three_towns(), layer="townships", markers=m)
    wrong = of(r, "marker_wrong_line").set_index("ref")
    assert set(wrong.index) == {"甲乙02", "甲丙01"}
    assert wrong.loc["甲乙02", "subtype"] == "other_line"
    assert wrong.loc["甲乙02", "length_m"] == pytest.approx(1000.0, abs=0.01)
    assert wrong.loc["甲乙02", "codes"] == ["511425102", "511425108"]
    assert "乙镇—丙镇" in wrong.loc["甲乙02", "message"]
    assert wrong.loc["甲丙01", "subtype"] == "not_adjacent"
    assert wrong.loc["甲丙01", "length_m"] == pytest.approx(500.0, abs=0.01)
    off = of(r, "marker_off_line").set_index("ref")
    assert list(off.index) == ["甲乙03"]
    assert off.loc["甲乙03", "length_m"] == pytest.approx(8.0, abs=0.01)
    assert r.summary["markers_checked"] == 5
    assert r.to_dict()["summary"]["marker_wrong_line"] == 2


def test_village_review_checks_township_and_village_markers():
    t = towns(("511425102", "甲镇", sq(0, 0, 1000, 1000)),
              ("511425108", "乙镇", sq(1000, 0, 2000, 1000)))
    v = layer([("511425102200", "东村", "511425102"), ("511425102201", "西村", "511425102"),
               ("511425108200", "南村", "511425108")],
              [sq(0, 0, 500, 1000), sq(500, 0, 1000, 1000), sq(1000, 0, 2000, 1000)],
              columns=("code", "name", "township_code"))
    m = markers_at([
        ("甲乙01", "511425102,511425108", 1000, 500),  # township marker on 甲—乙: fine
        ("甲乙02", "511425102,511425108", 500, 500),  # on 东村—西村 inside 甲镇
        ("东西01", "511425102200,511425102201", 500, 300),  # village marker: fine
        ("东西02", "511425102200,511425102201", 1000, 300),  # on 西村—南村
    ])
    r = review(v, layer="villages", townships=t, markers=m)
    wrong = of(r, "marker_wrong_line").set_index("ref")
    assert set(wrong.index) == {"甲乙02", "东西02"}
    assert wrong.loc["甲乙02", "length_m"] == pytest.approx(500.0, abs=0.01)
    assert wrong.loc["甲乙02", "names"] == ["甲镇", "乙镇"]  # named as townships
    assert wrong.loc["东西02", "length_m"] == pytest.approx(500.0, abs=0.01)
    assert "西村—南村" in wrong.loc["东西02", "message"]
    assert len(of(r, "marker_off_line")) == 0
    # In the townships review a marker between two villages of one township is skipped;
    # 甲乙02 lies on no township line at all.
    r = review(t, layer="townships", markers=m)
    assert len(of(r, "marker_wrong_line")) == 0
    off = of(r, "marker_off_line").set_index("ref")
    assert list(off.index) == ["甲乙02"]
    assert off.loc["甲乙02", "length_m"] == pytest.approx(500.0, abs=0.01)
    assert r.summary["markers_checked"] == 2


def test_marker_between_overlapping_units_is_measured_to_their_boundaries():
    # 10 m overlap (more than the snap tolerance): no shared line, but the units meet.
    t = towns(("511425102", "甲镇", sq(0, 0, 1010, 1000)),
              ("511425108", "乙镇", sq(1000, 0, 2000, 1000)))
    m = markers_at([("甲乙01", "511425102,511425108", 1000, 500),  # on 乙镇's edge
                    ("甲乙02", "511425102,511425108", 1030, 500)])  # 20 m from 甲镇's edge
    r = review(t, layer="townships", markers=m)
    assert len(of(r, "marker_wrong_line")) == 0
    off = of(r, "marker_off_line").set_index("ref")
    assert list(off.index) == ["甲乙02"]
    assert off.loc["甲乙02", "length_m"] == pytest.approx(20.0, abs=0.01)
    assert len(of(r, "overlap")) == 1
