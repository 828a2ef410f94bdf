"""The second test county (tests/second_county.py, 竹山县 420323) checked independently.

Everything is recomputed here from the real files in tests/data/second_county/ and with
plain pyproj / shapely / coordTransform calls, never with the builder's own helpers: the
roster is there once with its real codes and names, the villages tile the real outline,
nest in their townships, the workspace imports through the real path, the same seed gives
the same files, and every defect injector's truth is what a direct computation gives.
"""

from __future__ import annotations

import csv
import filecmp
import math
import re

import coordTransform
import geopandas as gpd
import numpy as np
import pytest
import second_county as sc
import shapely
from opencc import OpenCC
from pyproj import Geod
from shapely.geometry import Point

from layers import crs as crsmod
from layers import open_store
from layers.readers import read_layer
from layers.schema import KINDS

DATA_DIR = sc.DATA_DIR
GK = "EPSG:4546"  # CGCS2000 3-degree GK zone 37, central meridian 111E (Zhushan ~110.2E)
ROSTER_COUNTY = "420323"


def roster_rows(name: str) -> list[dict]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def place_name(committee: str) -> str:
    """Hand rule for the suffixes this roster has (checked on examples below)."""
    m = re.fullmatch(r"(.+?)(社区)?居民委员会", committee)
    if m:
        return m.group(1) + "社区"
    m = re.fullmatch(r"(.+村)委会", committee)
    assert m, committee
    return m.group(1)


def metres(geoms) -> np.ndarray:
    if isinstance(geoms, gpd.GeoDataFrame | gpd.GeoSeries):
        return np.asarray(geoms.to_crs(GK).geometry.values, dtype=object)
    return np.asarray(gpd.GeoSeries(list(geoms), crs="EPSG:4490").to_crs(GK).values,
                      dtype=object)


def pair_overlaps(geoms: np.ndarray) -> dict[tuple[int, int], float]:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    areas = shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]]))
    return {(int(a), int(b)): float(x) for a, b, x in zip(left[keep], right[keep], areas,
                                                          strict=True)}


@pytest.fixture(scope="module")
def workspace(county_workspace_master):
    return county_workspace_master


@pytest.fixture(scope="module")
def vm(county):
    return metres(county.villages)


# --- the real data ------------------------------------------------------------------------

def test_data_files_are_the_county_rows():
    towns, villages = roster_rows("townships.csv"), roster_rows("villages.csv")
    assert len(towns) == 17 and len(villages) == 244
    assert {r["areaCode"] for r in towns} == {ROSTER_COUNTY}
    assert {r["areaCode"] for r in villages} == {ROSTER_COUNTY}
    assert {r["streetCode"] for r in villages} == {r["code"] for r in towns}
    outline = gpd.read_file(DATA_DIR / "zhushan_outline.geojson")
    assert list(outline["code"]) == [ROSTER_COUNTY] and list(outline["name"]) == ["竹山县"]
    assert outline.geometry.iloc[0].geom_type == "MultiPolygon"
    assert len(outline.geometry.iloc[0].geoms) == 2
    neighbour = gpd.read_file(DATA_DIR / "zhuxi_outline.geojson")
    assert list(neighbour["code"]) == ["420324"]


def test_place_name_rule_on_hand_examples():
    assert place_name("窑沟村委会") == "窑沟村"
    assert place_name("北大街社区居民委员会") == "北大街社区"
    assert place_name("小漩居民委员会") == "小漩社区"
    assert place_name("城关镇明清社区居民委员会") == "城关镇明清社区"


def test_every_roster_village_once_with_its_real_code_and_name(county):
    rows = roster_rows("villages.csv")
    v = county.villages
    assert len(v) == len(rows) == 244
    assert v["code"].is_unique
    got = {r.code: (r.name, r.committee_name, r.township_code) for r in v.itertuples()}
    want = {r["code"]: (place_name(r["name"]), r["name"], r["streetCode"]) for r in rows}
    assert got == want
    towns = {r["code"]: r["name"] for r in roster_rows("townships.csv")}
    assert dict(zip(county.townships["code"], county.townships["name"], strict=True)) == towns


def test_roster_oddities_named_in_the_readme():
    names = [place_name(r["name"]) for r in roster_rows("villages.csv")]
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert repeated == ["小河村", "界岭村"]
    bare = [r["name"] for r in roster_rows("villages.csv")
            if r["name"].endswith("居民委员会") and "社区" not in r["name"]]
    assert len(bare) == 5 and "小漩居民委员会" in bare


def test_the_exclave_belongs_to_one_township(county, vm):
    outline_m = metres(county.outline)[0]
    small = min(outline_m.geoms, key=lambda p: p.area)
    assert small.area / 1e6 == pytest.approx(5.54, abs=0.01)
    holders = [k for k in range(len(vm)) if vm[k].intersection(small).area > 1.0]
    assert len({county.villages["township_code"].iloc[k] for k in holders}) == 1
    assert sum(vm[k].intersection(small).area for k in holders) == pytest.approx(
        small.area, rel=1e-6)


def test_codes_are_consistent(county):
    v, t = county.villages, county.townships
    assert all(re.fullmatch(r"\d{12}", c) for c in v["code"])
    assert all(re.fullmatch(r"\d{9}", c) for c in t["code"])
    assert (v["code"].str[:9] == v["township_code"]).all()
    assert set(v["township_code"]) == set(t["code"])
    seg = v["code"].str[9:].astype(int)
    assert ((seg >= 1) & (seg <= 399)).all()
    community = v["name"].str.endswith("社区")
    assert (seg[community] < 200).all() and (seg[~community] >= 200).all()
    assert (v["elderly_population"] < v["population"]).all()
    assert (v["elderly_population"] > 0).all()
    pop = v.groupby("township_code")["population"].sum()
    assert dict(zip(t["code"], t["population"], strict=True)) == pop.to_dict()


# --- geometry -----------------------------------------------------------------------------

def test_villages_tile_the_outline(county, vm):
    assert county.villages.crs.to_epsg() == 4490
    assert shapely.is_valid(vm).all()
    outline_m = metres(gpd.read_file(DATA_DIR / "zhushan_outline.geojson")
                       .set_crs("EPSG:4490", allow_override=True))[0]
    union = shapely.union_all(vm)
    assert abs(union.area - outline_m.area) / outline_m.area < 1e-4
    assert shapely.symmetric_difference(union, outline_m).area / outline_m.area < 1e-4
    assert abs(sum(g.area for g in vm) - outline_m.area) / outline_m.area < 1e-4
    overlaps = pair_overlaps(vm)
    assert len(overlaps) > 500  # neighbours touch (edges), so pairs are found at all
    assert max(overlaps.values()) < 1.0
    # the real outline's enclaves of 竹溪县 stay holes: nobody covers them
    holes = [shapely.Polygon(r) for p in outline_m.geoms for r in p.interiors]
    assert len(holes) == 2
    assert sum(shapely.intersection(union, h).area for h in holes) < 1.0


def test_outline_holes_are_enclaves_of_the_neighbour():
    own = gpd.read_file(DATA_DIR / "zhushan_outline.geojson").set_crs(
        "EPSG:4490", allow_override=True)
    other = metres(gpd.read_file(DATA_DIR / "zhuxi_outline.geojson").set_crs(
        "EPSG:4490", allow_override=True))[0]
    holes = metres(sc.enclaves(own))
    assert sorted(round(h.area / 1e6, 3) for h in holes) == [0.852, 1.118]
    for h in holes:
        assert shapely.intersection(h, other).area > 0.999 * h.area


def test_villages_nest_in_their_townships(county, vm):
    tm = metres(county.townships)
    assert shapely.is_valid(tm).all()
    tpos = {c: k for k, c in enumerate(county.townships["code"])}
    for k, tc in enumerate(county.villages["township_code"]):
        assert shapely.difference(vm[k], tm[tpos[tc]]).area < 1.0
    for tc, k in tpos.items():
        mine = vm[(county.villages["township_code"] == tc).to_numpy()]
        assert abs(sum(g.area for g in mine) - tm[k].area) < 1e-6 * tm[k].area
    assert max(pair_overlaps(tm).values()) < 1.0


def test_points_sit_in_their_village(county):
    v = county.villages
    poly = dict(zip(v["code"], v.geometry, strict=True))
    for kind in ("welfare_homes", "elderly_service_points", "cemeteries"):
        f = getattr(county, kind)
        assert len(f) > 0
        assert all(poly[c].contains(p) for c, p in zip(f["village_code"], f.geometry,
                                                         strict=True)), kind
    labels = county.place_labels
    assert list(labels["village_code"]) == list(v["code"])
    assert list(labels["name"]) == list(v["name"])
    assert all(poly[c].contains(p) for c, p in zip(labels["village_code"], labels.geometry,
                                                     strict=True))
    assert labels.geometry.geom_equals_exact(county.committees, 0).all()


def test_gcj02_labels_are_the_amap_shift_of_the_labels(county):
    cg, gj = county.place_labels, county.place_labels_gcj02
    geod = Geod(ellps="GRS80")
    shifts = []
    for p, q in zip(cg.geometry, gj.geometry, strict=True):
        x, y = coordTransform.wgs84_to_gcj02(p.x, p.y)
        assert abs(x - q.x) < 1e-9 and abs(y - q.y) < 1e-9
        shifts.append(geod.inv(p.x, p.y, q.x, q.y)[2])
    assert 100 < min(shifts) and max(shifts) < 700
    assert set(gj["crs"]) == {"gcj02"} and set(gj["source"]) == {"amap"}


def test_boundary_markers_sit_on_the_line_of_their_two_townships(county):
    tm = dict(zip(county.townships["code"], metres(county.townships), strict=True))
    mk = metres(county.boundary_markers)
    assert county.boundary_markers["number"].is_unique and len(mk) >= 20
    for codes, p in zip(county.boundary_markers["codes"], mk, strict=True):
        a, b = codes.split(",")
        assert tm[a].boundary.distance(p) < 0.01 and tm[b].boundary.distance(p) < 0.01


def test_layers_have_the_schema_fields_and_values(county):
    for kind, frame in county.layers.items():
        lk = KINDS[kind]
        for f in lk.fields:
            if f.required:
                assert f.name in frame.columns, (kind, f.name)
                assert frame[f.name].notna().all(), (kind, f.name)
            if f.choices and f.name in frame.columns:
                assert set(frame[f.name].dropna()) <= set(f.choices), (kind, f.name)
        assert set(frame.geom_type) <= set(lk.geometry), kind


# --- files, determinism, import -----------------------------------------------------------

def test_same_seed_gives_identical_files_and_another_seed_does_not(county, tmp_path):
    again = sc.build()
    a = sc.write_sources(county, tmp_path / "a")
    b = sc.write_sources(again, tmp_path / "b")
    assert a.keys() == b.keys()
    for kind in a:
        assert filecmp.cmp(a[kind][0], b[kind][0], shallow=False), kind
    other = sc.build(seed=sc.SEED + 1)
    assert not other.villages.geometry.geom_equals_exact(county.villages.geometry, 0).all()


def test_files_have_chinese_headers(county, tmp_path):
    paths = sc.write_sources(county, tmp_path)
    with paths["place_labels"][0].open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["名称", "来源", "坐标系", "经度", "纬度"]
    assert {r["坐标系"] for r in rows} == {"gcj02"} and {r["来源"] for r in rows} == {"高德地图"}
    with paths["welfare_homes"][0].open(encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh))
    assert header == ["名称", "类型", "床位数", "在住人数", "失能照护", "所在村(社区)代码", "经度", "纬度"]


def test_the_import_path_accepts_the_clean_workspace(county, workspace):
    store = open_store(workspace)
    current = store.current_versions()
    for kind, frame in county.layers.items():
        assert current[kind].features == len(frame), kind
    assert store.info()["county_code"] == ROSTER_COUNTY
    v = store.read("villages")
    assert list(v["code"]) == list(county.villages["code"])
    assert list(v["name"]) == list(county.villages["name"])
    assert list(v["population"]) == list(county.villages["population"])
    assert v.geometry.geom_equals_exact(county.villages.geometry, 0, align=False).all()
    labels = store.read("place_labels")  # imported from GCJ-02: back within a centimetre
    d = shapely.distance(metres(labels), metres(county.place_labels))
    assert d.max() < 0.01
    homes = store.read("welfare_homes")
    assert list(homes["accepts_disabled"]) == list(county.welfare_homes["accepts_disabled"])
    assert list(homes["kind"]) == list(county.welfare_homes["kind"])


# --- defect injectors: truth against a direct computation ---------------------------------

def changed_rows(before, after, column) -> list[int]:
    return [k for k, (x, y) in enumerate(zip(before[column], after[column], strict=True))
            if x != y]


def test_code_not_under_township(county):
    v = county.villages
    code = v["code"].iloc[40]
    out, truth = sc.inject_code_not_under_township(v, code, "420323207")
    assert changed_rows(v, out, "code") == [40]
    new = out["code"].iloc[40]
    assert new == truth["code"] and new[:9] == "420323207" != out["township_code"].iloc[40]
    assert new not in set(v["code"]) and out["code"].is_unique
    assert truth["township_code"] == v["township_code"].iloc[40]
    assert (out["code"].str[:9] != out["township_code"]).sum() == 1


def test_orphan_and_dropped_township(county):
    v, t = county.villages, county.townships
    out, truth = sc.inject_orphan(v, [v["code"].iloc[3]], "420323299")
    bad = out[~out["township_code"].isin(t["code"])]
    assert list(bad["code"]) == truth["codes"] == ["420323299" + v["code"].iloc[3][9:]]
    assert (out["code"].str[:9] == out["township_code"]).all()
    towns, truth = sc.drop_township(t, v, "420323207")
    assert "420323207" not in set(towns["code"]) and len(towns) == 16
    orphans = v[~v["township_code"].isin(towns["code"])]
    assert list(orphans["code"]) == truth["codes"] and len(truth["codes"]) == 6


def test_duplicate_and_out_of_range_codes(county):
    v = county.villages
    keep, copy_to = v["code"].iloc[20], v["code"].iloc[21]
    assert keep[:9] == copy_to[:9]
    out, truth = sc.inject_duplicate_code(v, keep, copy_to)
    counts = out["code"].value_counts()
    assert list(counts[counts > 1].index) == [truth["code"]] == [keep]
    assert copy_to not in set(out["code"])
    assert truth["rows"] == list(np.flatnonzero(out["code"].to_numpy() == keep))
    out, truth = sc.inject_out_of_range(v, keep)
    seg = out["code"].str[9:].astype(int)
    assert list(np.flatnonzero(seg >= 600)) == [truth["row"]] and truth["code"].endswith("650")


def test_six_digit_codes_in_nine_digit_field(county):
    v = county.villages
    out, truth = sc.inject_short_codes(v, "township_code", 103)
    short = np.flatnonzero(out["township_code"].str.len() == 6)
    assert len(short) == truth["count"] == 103
    assert list(short) == truth["rows"] and truth["features"] == [int(r) + 1 for r in short]
    assert set(out["township_code"].iloc[short]) == {ROSTER_COUNTY}
    towns, truth = sc.inject_short_codes(county.townships, "code", 5, seed=7)
    assert (towns["code"].str.len() == 6).sum() == 5 == truth["count"]


def test_bowtie_is_invalid_and_repairs_to_the_stated_area(county, vm):
    v = county.villages
    code = next(c for c in v["code"] if sc.border_edge(v, c, county.epsg) >= 0)
    out, truth = sc.inject_bowtie(v, code, county.epsg, width_m=1.5, height_m=1.0)
    k = int(np.flatnonzero(v["code"].to_numpy() == code)[0])
    bad = out.geometry.iloc[k]
    assert not bad.is_valid and shapely.is_valid_reason(bad).startswith("Self-intersection")
    assert truth["reason"].startswith("Self-intersection") and truth["on_border"]
    others = np.arange(len(v)) != k
    assert out.geometry[others].geom_equals_exact(v.geometry[others], 0).all()
    # every original vertex kept, four new ones
    old = {tuple(p) for p in shapely.get_coordinates(v.geometry.iloc[k])}
    new = [tuple(p) for p in shapely.get_coordinates(bad)]
    assert old <= set(new) and len(new) == len(shapely.get_coordinates(v.geometry.iloc[k])) + 4
    fixed = shapely.make_valid(metres([bad])[0])
    added = shapely.difference(fixed, vm[k]).area
    assert added == pytest.approx(1.5 * 1.0 / 2, rel=1e-3)  # two triangles of w·h/4
    assert truth["added_m2"] == pytest.approx(added, rel=1e-6)
    assert truth["area_repaired_m2"] == pytest.approx(fixed.area, rel=1e-9)
    assert shapely.difference(vm[k], fixed).area < 1e-3
    # on the county border: the repair overlaps no other village
    assert shapely.area(shapely.intersection(fixed, vm[others])).max() < 1e-3


def test_overlap_between_two_villages(county, vm):
    v = county.villages
    a, b = sc.neighbour_pairs(v, county.epsg)[0]
    ka, kb = (int(np.flatnonzero(v["code"].to_numpy() == c)[0]) for c in (a, b))
    assert v["township_code"].iloc[ka] == v["township_code"].iloc[kb]
    out, truth = sc.inject_overlap(v, a, b, county.epsg, radius_m=150)
    others = np.ones(len(v), dtype=bool)
    others[ka] = False
    assert out.geometry[others].geom_equals_exact(v.geometry[others], 0).all()
    om = metres(out)
    assert shapely.is_valid(om).all()
    overlaps = {p: x for p, x in pair_overlaps(om).items() if x >= 1.0}
    assert list(overlaps) == [tuple(sorted((ka, kb)))]
    direct = overlaps[tuple(sorted((ka, kb)))]
    assert truth["overlap_m2"] == pytest.approx(direct, rel=1e-9)
    polygon_half_disk = 0.5 * 150**2 * 64 * math.sin(math.pi / 64)  # 64-segment half disk
    assert direct == pytest.approx(polygon_half_disk, rel=1e-6)
    # the grown village still lies in its township (same township pair)
    t = metres(county.townships)[list(county.townships["code"]).index(v["township_code"].iloc[ka])]
    assert shapely.difference(om[ka], t).area < 1.0


def test_gap_between_two_villages(county, vm):
    v = county.villages
    a, b = sc.neighbour_pairs(v, county.epsg)[5]
    out, truth = sc.inject_gap(v, a, b, county.epsg, radius_m=120)
    om = metres(out)
    assert shapely.is_valid(om).all()
    assert max(pair_overlaps(om).values()) < 1.0
    lost = shapely.union_all(vm).area - shapely.union_all(om).area
    assert truth["gap_m2"] == pytest.approx(lost, rel=1e-6)
    assert lost == pytest.approx(0.5 * 120**2 * 64 * math.sin(math.pi / 64), rel=1e-6)
    # the gap is a hole inside the county, next to both villages, at the stated centre
    hole = shapely.difference(shapely.union_all(vm), shapely.union_all(om))
    centre = metres([Point(truth["lon"], truth["lat"])])[0]
    assert hole.distance(centre) < 0.01


@pytest.mark.parametrize("bearing", [90.0, 225.0])
def test_labels_moved_by_the_listed_distances(county, vm, bearing):
    v = county.villages
    moves = sc.pick_label_moves(county, bearing_deg=bearing)
    assert sorted(moves.values()) == [500, 2_000, 5_000, 10_000, 20_000]
    out, truth = sc.move_labels(county.place_labels, v, moves, county.epsg, bearing_deg=bearing)
    before, after = metres(county.place_labels), metres(out)
    outline_m = metres(county.outline)[0]
    names = v["name"].value_counts()
    moved = set(moves)
    for k, code in enumerate(out["village_code"]):
        if code not in moved:
            assert after[k].equals_exact(before[k], 1e-6)
            continue
        row = truth[truth["village_code"] == code].iloc[0]
        dx, dy = after[k].x - before[k].x, after[k].y - before[k].y
        assert math.hypot(dx, dy) == pytest.approx(moves[code], abs=1e-3)
        assert math.degrees(math.atan2(dx, dy)) % 360 == pytest.approx(bearing, abs=1e-6)
        own = vm[k]
        assert row["distance_outside_m"] == pytest.approx(own.distance(after[k]), abs=1e-3)
        assert row["distance_outside_m"] > 0 and not row["inside_own"]
        assert outline_m.contains(after[k])
        landed = [v["code"].iloc[j] for j in range(len(v)) if vm[j].contains(after[k])]
        assert [row["landed_in"]] == landed
        assert names[row["name"]] == 1 and row["name_unique"]


@pytest.mark.parametrize("actual, declared", [("gcj02", "cgcs2000"), ("bd09", "cgcs2000"),
                                              ("bd09", "gcj02")])
def test_label_file_in_the_wrong_system(county, tmp_path, actual, declared):
    labels = county.place_labels
    content, truth = sc.shift_label_file(labels, actual, declared, county.epsg)
    # the file's coordinates are the provider's own shift of the true positions
    for p, q in zip(labels.geometry, content.geometry, strict=True):
        x, y = coordTransform.wgs84_to_gcj02(p.x, p.y)
        if actual == "bd09":
            x, y = coordTransform.gcj02_to_bd09(x, y)
        assert abs(x - q.x) < 1e-9 and abs(y - q.y) < 1e-9
    path = sc.write_labels_csv(content, tmp_path / "labels.csv", system=None)
    read_as = None if declared == "cgcs2000" else declared
    stored = read_layer(path, "place_labels", crs=read_as)  # the real reader, as declared
    geod = Geod(ellps="GRS80")
    d = [geod.inv(p.x, p.y, q.x, q.y)[2] for p, q in zip(stored.geometry, labels.geometry,
                                                           strict=True)]
    assert truth["offset_m"] == pytest.approx(float(np.median(d)), abs=0.5)
    assert truth["suspect"] == actual
    # the shared check names the same system, by about the same offset
    poly = dict(zip(county.villages["code"], county.villages.geometry, strict=True))
    centre = dict(zip(county.villages["code"], county.committees, strict=True))
    codes = list(labels["village_code"])
    found = crsmod.suspect_crs(stored.geometry.x, stored.geometry.y, [poly[c] for c in codes],
                               [centre[c].x for c in codes], [centre[c].y for c in codes],
                               declared=read_as)
    assert found["suspect"] == actual
    assert found["offset_m"] == pytest.approx(truth["offset_m"], rel=0.02)


def test_label_name_variants(county):
    v = county.villages
    codes = list(v["code"].iloc[[30, 60, 90]])
    out, truth = sc.vary_label_names(county.place_labels, v,
                                     dict(zip(codes, ["committee", "traditional", "fullwidth"],
                                              strict=True)))
    rows = {r["code"]: r["name"] for r in roster_rows("villages.csv")}
    names = dict(zip(out["village_code"], out["name"], strict=True))
    assert names[codes[0]] == rows[codes[0]]
    assert names[codes[1]] != v["name"].iloc[60]
    assert OpenCC("t2s").convert(names[codes[1]]) == v["name"].iloc[60]
    assert names[codes[2]].replace("\u3000", "") == v["name"].iloc[90]
    assert list(truth["label_name"]) == [names[c] for c in codes]
    assert changed_rows(county.place_labels, out, "name") == [30, 60, 90]


def test_outline_files_with_several_features():
    both, truth = sc.outline_with_neighbour()
    assert len(both) == truth["features"] == 2
    assert list(both["name"]) == truth["names"] == ["竹山县", "竹溪县"]
    own, other = metres(both)
    extra = shapely.union_all([own, other]).area - own.area
    assert truth["union_extra_km2"] == pytest.approx(extra / 1e6, rel=1e-6)
    assert truth["union_extra_km2"] > 1000  # a silent union invents thousands of km² of gap
    meishan, truth = sc.meishan_outline()
    assert len(meishan) == truth["features"] == 6 and "511425" in truth["codes"]
