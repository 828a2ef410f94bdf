"""Issue 12: a label is judged by its name first.

A county built from a real roster (泸溪县 433124, tests/data/placenames, NBS 2023 codes and
committee names) with its own seed, independently of the demo county: Voronoi cells of
random points in a 40 x 30 km box, laid out in metres in the CGCS2000 Gauss-Kruger zone of
108E (EPSG:4545), a label on each village's generating point (its committee seat, given to
the check as ``center_lon``/``center_lat``). Every expected distance is measured here, in
that plane, with shapely, never by the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from opencc import OpenCC
from pyproj import Transformer

from geoservice.analysis.placenames import check_placenames

DATA = Path(__file__).resolve().parents[1] / "data" / "placenames"
GK = "EPSG:4545"  # CGCS2000 3-degree GK, central meridian 108E
TO_LL = Transformer.from_crs(GK, "EPSG:4490", always_xy=True)
COUNTY = "433124"
SEED = 1212
X0, Y0, WIDTH, HEIGHT = 480_000.0, 3_120_000.0, 40_000.0, 30_000.0
SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会")


def plain_name(committee: str) -> str:
    """The place name of a roster committee name, written here without the code under test:
    a suffix stripped and its generic kept (兰沟村民委员会 -> 兰沟村)."""
    for suffix in SUFFIXES:
        if committee.endswith(suffix):
            rest = committee[: -len(suffix)]
            generic = "社区" if suffix.startswith("居") else "村"
            return rest if rest.endswith(generic) else rest + generic
    return committee


@dataclass
class County:
    villages: gpd.GeoDataFrame  # stored CRS, with center_lon / center_lat
    cells: list  # polygons in GK metres, one per village
    seats: np.ndarray  # generating points (n x 2, GK metres), inside their cells
    names: list[str]  # place names (the label a village should carry)

    def code_index(self, code: str) -> int:
        return int(np.flatnonzero(self.villages["code"].to_numpy() == code)[0])

    def unique_names(self) -> list[int]:
        counts = pd.Series(self.names).value_counts()
        return [i for i, n in enumerate(self.names) if counts[n] == 1]


def ll(x, y):
    lon, lat = TO_LL.transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def to_ll(geom):
    return shapely.transform(geom, lambda c: np.column_stack(TO_LL.transform(c[:, 0], c[:, 1])))


def build_county(seed: int = SEED) -> County:
    roster = pd.read_csv(DATA / "villages_subset.csv", dtype=str, keep_default_na=False)
    roster = roster[roster["areaCode"] == COUNTY].sort_values("code").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    n = len(roster)
    # generating points at least 600 m apart, so every cell is village-sized
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        p = (X0 + rng.uniform(0, WIDTH), Y0 + rng.uniform(0, HEIGHT))
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 > 600.0 ** 2 for q in pts):
            pts.append(p)
    seats = np.array(pts)
    box = shapely.box(X0, Y0, X0 + WIDTH, Y0 + HEIGHT)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seats),
                                                      extend_to=box))
    tree = shapely.STRtree(cells)
    pi, ci = tree.query(shapely.points(seats), predicate="intersects")
    cell_of = dict(zip(pi, ci, strict=True))
    polys = [shapely.intersection(cells[cell_of[i]], box) for i in range(n)]
    lon, lat = ll(seats[:, 0], seats[:, 1])
    villages = gpd.GeoDataFrame({
        "code": roster["code"], "name": roster["name"], "township_code": roster["streetCode"],
        "population": 1000, "elderly_population": 200, "center_lon": lon, "center_lat": lat,
    }, geometry=[to_ll(p) for p in polys], crs="EPSG:4490")
    return County(villages, polys, seats, [plain_name(x) for x in roster["name"]])


def label_frame(rows) -> gpd.GeoDataFrame:
    """Labels from (name, x, y) in GK metres."""
    lon, lat = ll([r[1] for r in rows], [r[2] for r in rows])
    return gpd.GeoDataFrame({"name": [r[0] for r in rows]}, geometry=shapely.points(lon, lat),
                            crs="EPSG:4490")


def seat_labels(county: County, skip=()) -> list[tuple[str, float, float]]:
    return [(county.names[i], *county.seats[i]) for i in range(len(county.names))
            if i not in set(skip)]


def point_outside(cell, seat: np.ndarray, direction: float, outside_m: float) -> np.ndarray:
    """A point on the ray from ``seat`` at ``direction`` lying ``outside_m`` outside
    ``cell`` (bisection on shapely's distance, in metres)."""
    u = np.array([np.cos(direction), np.sin(direction)])
    lo, hi = 0.0, outside_m + 50_000.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if cell.distance(shapely.Point(*(seat + u * mid))) < outside_m:
            lo = mid
        else:
            hi = mid
    return seat + u * hi


@pytest.fixture(scope="module")
def county() -> County:
    return build_county()


def _findings(result) -> pd.DataFrame:
    return pd.DataFrame(result.findings.drop(columns="geometry"))


def test_the_county_is_clean_as_built(county):
    """Every village labelled on its seat: no finding at all (the roster of this county
    has no duplicate, same-sounding, rare or nonstandard names)."""
    r = check_placenames(county.villages, label_frame(seat_labels(county)))
    assert len(r.findings) == 0, _findings(r)[["type", "code", "note"]].head()
    assert r.summary["labels_ok"] == len(county.names)
    assert r.summary["crs_suspect"] is None


@pytest.mark.parametrize("outside_m", [500, 2_000, 5_000, 10_000, 20_000])
def test_a_correctly_named_label_far_away_is_misplaced(county, outside_m):
    rng = np.random.default_rng(outside_m)
    uniq = county.unique_names()
    picks = [int(i) for i in rng.choice(uniq, 3, replace=False)]
    rows = seat_labels(county, skip=picks)
    expected = {}
    for k, i in enumerate(picks):
        p = point_outside(county.cells[i], county.seats[i], 2.1 * k + 0.4, outside_m)
        # the truth, measured here: the label's distance outside its village polygon
        expected[county.villages["code"][i]] = county.cells[i].distance(shapely.Point(*p))
        rows.append((county.names[i], *p))
    r = check_placenames(county.villages, label_frame(rows))
    f = _findings(r)
    assert set(f["type"]) == {"misplaced"}, f[["type", "code", "label_name", "note"]]
    got = f.set_index("code")["distance_m"].to_dict()
    assert set(got) == set(expected)
    for code, d in expected.items():
        assert d == pytest.approx(outside_m, abs=1.0)
        assert got[code] == pytest.approx(d, abs=1.0), (code, got[code], d)
    assert r.summary["counts"]["missing"] == 0
    assert r.summary["counts"]["unknown_label"] == 0
    lab = r.labels.set_index("code").loc[list(expected)]
    assert set(lab["match"]) == {"exact"} and set(lab["status"]) == {"misplaced"}


def test_a_suffixed_or_traditional_name_far_away_is_still_the_village(county):
    """The name variants of standard_name (committee suffix, full-width, traditional) count
    as the name: 8 km outside, each is its village's misplaced label."""
    uniq = county.unique_names()
    picks = [i for i in uniq if county.names[i].endswith("村") and len(county.names[i]) >= 3]
    picks = picks[:3]
    s2t = OpenCC("s2t")
    variants = [lambda s: s[:-1] + "村民委员会",
                lambda s: "\u3000".join(s),  # full-width spaces between characters
                lambda s: s2t.convert(s[:-1]) + "村委會"]
    rows = seat_labels(county, skip=picks)
    for k, i in enumerate(picks):
        p = point_outside(county.cells[i], county.seats[i], 1.3 + k, 8_000)
        rows.append((variants[k](county.names[i]), *p))
    r = check_placenames(county.villages, label_frame(rows))
    f = _findings(r)
    assert sorted(f["type"]) == ["misplaced"] * 3, f[["type", "label_name", "note"]]
    assert set(f["code"]) == {county.villages["code"][i] for i in picks}
    assert (f["distance_m"] > 7_999).all()


def test_a_former_name_far_away_is_that_village(county):
    uniq = county.unique_names()
    i = uniq[7]
    code = county.villages["code"][i]
    aliases = pd.DataFrame({"代码": [code], "曾用名": ["望江坪村"]})
    assert "望江坪村" not in county.names
    p = point_outside(county.cells[i], county.seats[i], 0.7, 10_000)
    rows = seat_labels(county, skip=[i]) + [("望江坪村", *p)]
    r = check_placenames(county.villages, label_frame(rows), aliases)
    f = _findings(r)
    assert f["type"].tolist() == ["former_name"]
    assert f["code"].tolist() == [code]
    assert f["suggestion"].tolist() == [county.names[i]]
    assert f["distance_m"].iloc[0] == pytest.approx(
        county.cells[i].distance(shapely.Point(*p)), abs=1.0)


def test_same_name_in_two_townships_goes_to_the_nearer(county):
    v = county.villages.copy()
    towns = v["township_code"].to_numpy()
    uniq = county.unique_names()
    a = uniq[3]
    b = next(j for j in uniq if towns[j] != towns[a] and
             np.hypot(*(county.seats[j] - county.seats[a])) > 12_000)
    # b carries a's name too (as its committee name: 某某村村民委员会)
    v.loc[b, "name"] = county.names[a][:-1] + "村民委员会" if county.names[a].endswith("村") \
        else county.names[a] + "居民委员会"
    same = county.names[a]
    code_a, code_b = v["code"][a], v["code"][b]
    base = [r for k, r in enumerate(seat_labels(county)) if k not in (a, b)]
    for near, code, other in ((a, code_a, code_b), (b, code_b, code_a)):
        # the label 400 m from the seat of one of them, unlabelled other
        rows = base + [(same, county.seats[near][0] + 400.0, county.seats[near][1])]
        r = check_placenames(v, label_frame(rows))
        lab = r.labels[r.labels["name"] == same]
        assert lab["code"].tolist() == [code] and lab["match"].tolist() == ["exact"]
        f = _findings(r)
        assert f[["type", "code"]].values.tolist() == [["missing", other]], f
    # labelled both: each its own
    rows = base + [(same, *county.seats[a]), (same, *county.seats[b])]
    r = check_placenames(v, label_frame(rows))
    assert len(r.findings) == 0
    assert sorted(r.labels.loc[r.labels["name"] == same, "code"]) == sorted([code_a, code_b])


def test_an_alias_of_a_duplicated_code_is_said_to_be_ambiguous(county):
    """Two villages share one code (a roster imported with duplicate codes): a former name
    given for that code is not silently given to one of them; distance decides and the
    summary and the finding say so, in Chinese."""
    v = county.villages.copy()
    uniq = county.unique_names()
    c, d = uniq[10], uniq[40]
    v.loc[d, "code"] = v["code"][c]
    code = v["code"][c]
    aliases = pd.DataFrame({"code": [code], "former_name": ["石门坎村"]})
    assert "石门坎村" not in county.names
    for near in (c, d):
        rows = seat_labels(county, skip=[near]) + [("石门坎村", *county.seats[near])]
        r = check_placenames(v, label_frame(rows), aliases)
        f = _findings(r)
        former = f[f["type"] == "former_name"]
        assert former["official_name"].tolist() == [county.names[near]]
        assert "对应多个村(社区)" in former["note"].iloc[0]
        amb = r.summary["ambiguous_alias_codes"]
        assert [a["code"] for a in amb] == [code]
        assert sorted(amb[0]["villages"]) == sorted([county.names[c], county.names[d]])
        assert amb[0]["former_names"] == ["石门坎村"]
        (warning,) = r.summary["code_warnings"]
        assert code in warning and "石门坎村" in warning and "重复" in warning
        json_summary = r.to_dict()["summary"]
        assert json_summary["ambiguous_alias_codes"] == amb
    # the same alias on a roster without duplicate codes: nothing said
    r = check_placenames(county.villages, label_frame(seat_labels(county)), aliases)
    assert r.summary["ambiguous_alias_codes"] == [] and r.summary["code_warnings"] == []
