"""Coverage and G2SFCA against hand-computed answers and brute force."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from fixtures import GK
from shapely.geometry import Point, Polygon

from geoservice.analysis.coverage import coverage, g2sfca, gaussian_weight, village_centres
from geoservice.analysis.errors import InvalidInput
from layers import open_store


def G(d, d0):
    """Dai (2010), written out again independently of the code under test."""
    if d > d0:
        return 0.0
    return (math.exp(-0.5 * (d / d0) ** 2) - math.exp(-0.5)) / (1 - math.exp(-0.5))


@pytest.fixture
def tiny(tiny_workspace):
    s = open_store(tiny_workspace)
    return {k: s.read(k) for k in ("villages", "townships", "elderly_service_points",
                                    "welfare_homes")}


def test_gaussian_weight_shape():
    d0 = 1000.0
    w = gaussian_weight(np.array([0, 500, 999.999, 1000, 1500]), d0)
    assert w[0] == pytest.approx(1.0)
    assert w[1] == pytest.approx(G(500, d0), abs=1e-15)
    assert w[3] == pytest.approx(0.0, abs=1e-15) and w[4] == 0.0
    assert np.all(np.diff(w) <= 0)


def test_tiny_county_by_hand(tiny):
    r = coverage(tiny["villages"], tiny["elderly_service_points"], layer="elderly_service_points",
                 radius_m=1500, townships=tiny["townships"])
    v = r.villages.set_index("name")
    assert v.loc["甲一村", "nearest_m"] == pytest.approx(300, abs=0.05)
    assert v.loc["甲二村", "nearest_m"] == pytest.approx(2000, abs=0.05)
    assert v.loc["乙一村", "nearest_m"] == pytest.approx(1700, abs=0.05)
    assert v.loc["乙二村", "nearest_m"] == pytest.approx(0, abs=0.05)
    assert list(v["covered"]) == [True, False, False, True]
    s = r.summary
    assert s["villages"] == 4 and s["covered_villages"] == 2 and s["village_coverage"] == 0.5
    assert s["presence_coverage"] == 0.5
    assert s["population_coverage"] == pytest.approx(5000 / 7500)
    assert s["elderly_coverage"] == pytest.approx(1100 / 1650)
    assert s["beds"] == 36 and s["beds_per_1000_elderly"] == pytest.approx(36_000 / 1650)
    assert s["meets_target"] is False and s["target"] == 0.6
    # G2SFCA: 甲一村 alone reaches the centre (30 beds), 乙二村 alone reaches the station.
    r1 = 30 / (G(300, 1500) * 500)
    assert v.loc["甲一村", "access"] == pytest.approx(G(300, 1500) * r1, rel=1e-6)
    assert v.loc["乙二村", "access"] == pytest.approx(6 / 600, rel=1e-6)
    assert v.loc["甲二村", "access"] == 0 and v.loc["乙一村", "access"] == 0
    t = r.townships.set_index("name")
    assert t.loc["甲镇", "beds_per_1000_elderly"] == pytest.approx(30 * 1000 / 800)
    assert t.loc["乙镇", "beds_per_1000_elderly"] == pytest.approx(6 * 1000 / 850)
    assert bool(t.loc["甲镇", "meets_beds_target"]) and not bool(t.loc["乙镇", "meets_beds_target"])
    assert list(r.uncovered["name"]) == ["甲二村", "乙一村"]  # by elderly population


def test_radius_and_level_change_the_answer(tiny):
    r = coverage(tiny["villages"], tiny["elderly_service_points"], layer="elderly_service_points",
                 radius_m=2100)
    assert r.summary["covered_villages"] == 4 and r.summary["meets_target"] is True
    r = coverage(tiny["villages"], tiny["elderly_service_points"], layer="elderly_service_points",
                 radius_m=2100, level="village_station")
    assert r.summary["facilities"] == 1 and r.summary["beds"] == 6
    assert r.villages.set_index("name").loc["甲一村", "nearest_m"] == pytest.approx(
        math.hypot(2000, 2000), abs=0.05)


def test_weighting_picks_the_share_compared_with_the_target(tiny):
    kw = dict(layer="elderly_service_points", radius_m=1500, target=0.6)
    by_villages = coverage(tiny["villages"], tiny["elderly_service_points"], **kw)
    by_elderly = coverage(tiny["villages"], tiny["elderly_service_points"], weighting="elderly",
                          **kw)
    assert by_villages.summary["meets_target"] is False  # 50% of villages
    assert by_elderly.summary["meets_target"] is True  # 66.7% of elderly
    assert by_elderly.summary["target_metric"] == "elderly_coverage"


def test_g2sfca_equals_brute_force():
    rng = np.random.default_rng(7)
    dem = rng.uniform(0, 10_000, (60, 2))
    sup = rng.uniform(0, 10_000, (25, 2))
    P = rng.integers(50, 900, 60).astype(float)
    S = rng.integers(0, 80, 25).astype(float)
    d0 = 2500.0
    A, R = g2sfca(dem, P, sup, S, d0)
    R_ref = np.zeros(25)
    for j in range(25):
        den = sum(G(math.dist(dem[k], sup[j]), d0) * P[k] for k in range(60))
        R_ref[j] = S[j] / den if den > 0 else 0
    A_ref = np.array([sum(G(math.dist(dem[i], sup[j]), d0) * R_ref[j] for j in range(25))
                      for i in range(60)])
    np.testing.assert_allclose(R, R_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(A, A_ref, rtol=1e-12, atol=1e-15)


def test_village_centre_rules():
    # A U-shaped village: its centroid falls in the notch, outside the polygon.
    u = Polygon([(0, 0), (3000, 0), (3000, 3000), (2000, 3000), (2000, 1000), (1000, 1000),
                 (1000, 3000), (0, 3000)])
    square = Polygon([(5000, 0), (6000, 0), (6000, 1000), (5000, 1000)])
    gdf = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=[u, square, square],
                           crs=GK).to_crs("EPSG:4490")
    committee = gpd.GeoSeries([Point(5100, 100)], crs=GK).to_crs("EPSG:4490")
    gdf["center_lon"] = [None, None, committee.x[0]]
    gdf["center_lat"] = [None, None, committee.y[0]]
    c = village_centres(gdf).to_crs(GK)
    assert gdf.to_crs(GK).geometry[0].contains(c[0])  # representative point, inside
    assert c[1].distance(Point(5500, 500)) < 0.05  # centroid (taken in lon/lat: cm apart)
    assert c[2].distance(Point(5100, 100)) < 0.01  # the committee's own location


def test_no_facilities_means_nothing_covered(tiny):
    empty = tiny["welfare_homes"].iloc[0:0]
    r = coverage(tiny["villages"], empty, layer="welfare_homes", radius_m=5000)
    assert r.summary["covered_villages"] == 0 and r.summary["village_coverage"] == 0
    assert r.villages["nearest_m"].isna().all() and (r.villages["access"] == 0).all()


def test_bad_radius_is_refused(tiny):
    with pytest.raises(InvalidInput, match="半径") as exc:
        coverage(tiny["villages"], tiny["welfare_homes"], layer="welfare_homes", radius_m=0)
    assert exc.value.name == "radius_m"
    with pytest.raises(InvalidInput, match="weighting") as exc:
        coverage(tiny["villages"], tiny["welfare_homes"], layer="welfare_homes",
                 radius_m=1000, weighting="cars")
    assert exc.value.name == "weighting"



def test_the_level_rule_is_decided_once():
    """Which field is a facility's level, its values and labels: analysis/vocabulary.py."""
    from geoservice.analysis.coverage import filter_facilities
    from geoservice.analysis.vocabulary import (
        FACILITY_LAYERS,
        LEVEL_FIELDS,
        level_choices,
        level_label,
        level_value,
    )
    from layers.schema import KINDS

    assert set(LEVEL_FIELDS) == set(FACILITY_LAYERS)
    for layer in FACILITY_LAYERS:
        choices = level_choices(layer)
        assert choices == KINDS[layer].field(LEVEL_FIELDS[layer]).choices
        for value, label in choices.items():
            assert level_value(layer, value) == value and level_value(layer, label) == value
            assert level_label(layer, value) == label
        assert level_label(layer, None) == "全部"
    assert level_value("welfare_homes", "village_station") is None
    points = gpd.GeoDataFrame({"level": ["township_center", "village_station"],
                               "kind": ["county", "county"]},
                              geometry=[Point(0, 0), Point(1, 1)], crs=4490)
    kept = filter_facilities(points, "elderly_service_points", "village_station")
    assert kept["level"].tolist() == ["village_station"]
    assert len(filter_facilities(points, "welfare_homes", "county")) == 2
