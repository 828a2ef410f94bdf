"""The demo county against PySAL spopt (MCLP, LSCP, PMedian) on the same cost matrix.

Demand: the 58 villages' centres (the coverage rule), weights: elderly population.
Facilities: existing ones (predefined, always open) + every village centre as candidate.
spopt is solved with CBC through PuLP; objectives must agree to 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pulp
import pytest
import shapely
from spopt.locate import LSCP, MCLP, PMedian

from geoservice.analysis.coverage import village_centres
from geoservice.analysis.siting import siting
from layers import GeoPackageStore
from layers.crs import metric_crs


@pytest.fixture(scope="module")
def demo():
    from geoservice.config import DEMO_WORKSPACE

    s = GeoPackageStore(DEMO_WORKSPACE)  # read only
    return {k: s.read(k) for k in ("villages", "welfare_homes", "elderly_service_points",
                                   "cemeteries")}


def _cost(villages, facilities):
    """Dense villages x (existing facilities, village-centre candidates) in metres."""
    gk = metric_crs(villages)
    c = shapely.get_coordinates(village_centres(villages).to_crs(gk).array)
    g = facilities.to_crs(gk).geometry
    f = shapely.get_coordinates(shapely.point_on_surface(g.array))
    sites = np.vstack([f, c])
    return np.sqrt(((c[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2)), len(f)


def _cbc():
    return pulp.PULP_CBC_CMD(msg=False)


@pytest.mark.parametrize("layer, radius, k", [("elderly_service_points", 2000, 3),
                                              ("elderly_service_points", 1500, 6),
                                              ("welfare_homes", 5000, 2)])
def test_mclp_equals_spopt(demo, layer, radius, k):
    villages, fac = demo["villages"], demo[layer]
    cost, nf = _cost(villages, fac)
    w = villages["elderly_population"].to_numpy(dtype=float)
    ref = MCLP.from_cost_matrix(cost, w, radius, p_facilities=nf + k,
                                predefined_facilities_arr=np.arange(nf)).solve(_cbc())
    ref_obj = pulp.value(ref.problem.objective)
    ours = siting(villages, fac, None, problem="mclp", radius_m=radius, add=k)
    assert ours.summary["optimal"]
    assert ours.summary["objective"] == pytest.approx(ref_obj, rel=1e-6)
    assert ours.summary["covered_elderly_after"] == pytest.approx(ref_obj, rel=1e-6)
    assert ours.summary["covered_elderly_after"] > ours.summary["covered_elderly_before"]


@pytest.mark.parametrize("layer, radius", [("elderly_service_points", 2000),
                                           ("elderly_service_points", 1200),
                                           ("welfare_homes", 4000)])
def test_target_full_coverage_equals_spopt_lscp(demo, layer, radius):
    villages, fac = demo["villages"], demo[layer]
    cost, nf = _cost(villages, fac)
    ref = LSCP.from_cost_matrix(cost, radius,
                                predefined_facilities_arr=np.arange(nf)).solve(_cbc())
    ref_count = round(pulp.value(ref.problem.objective))
    ours = siting(villages, fac, None, problem="target", radius_m=radius, target=1.0,
                  weight="villages")
    s = ours.summary
    assert s["optimal"] and s["target_reached"]
    assert s["added"] == ref_count - nf
    assert s["village_coverage_after"] == 1.0
    assert s["added"] > 0


@pytest.mark.parametrize("k", [1, 3, 5])
def test_pmedian_equals_spopt(demo, k):
    villages, fac = demo["villages"], demo["welfare_homes"]
    cost, nf = _cost(villages, fac)
    w = villages["elderly_population"].to_numpy(dtype=float)
    ref = PMedian.from_cost_matrix(cost, w, p_facilities=nf + k,
                                   predefined_facilities_arr=np.arange(nf)).solve(_cbc())
    ref_obj = pulp.value(ref.problem.objective)
    ours = siting(villages, fac, None, problem="pmedian", radius_m=15000, add=k)
    assert ours.summary["optimal"] and ours.summary["proven_exact"]
    assert ours.summary["objective"] == pytest.approx(ref_obj, rel=1e-6)
    assert ours.summary["total_weighted_distance_after"] < \
        ours.summary["total_weighted_distance_before"]


def test_capacitated_pmedian_equals_spopt(demo):
    villages, fac = demo["villages"], demo["welfare_homes"]
    cost, nf = _cost(villages, fac)
    w = villages["elderly_population"].to_numpy(dtype=float)
    k, cap_new, rate = 2, 60.0, 11.0
    # spopt's capacity rows use the weights as demand: scale the beds instead
    caps = np.r_[fac["beds"].to_numpy(dtype=float), np.full(len(villages), cap_new)] / (
        rate / 1000.0)
    ref = PMedian.from_cost_matrix(cost, w, p_facilities=nf + k,
                                   predefined_facilities_arr=np.arange(nf),
                                   facility_capacities=caps).solve(_cbc())
    ref_obj = pulp.value(ref.problem.objective)
    # spopt's PMedian assigns each village wholly to one facility (binary z)
    ours = siting(villages, fac, None, problem="pmedian", radius_m=15000, add=k,
                  capacitated=True, new_capacity=cap_new, bed_demand_per_1000=rate,
                  single_source=True)
    assert ours.summary["optimal"] and ours.summary["single_source"]
    assert ours.summary["objective"] == pytest.approx(ref_obj, rel=1e-6)
    free = siting(villages, fac, None, problem="pmedian", radius_m=15000, add=k)
    split = siting(villages, fac, None, problem="pmedian", radius_m=15000, add=k,
                   capacitated=True, new_capacity=cap_new, bed_demand_per_1000=rate)
    # capacity binds; splitting a village's demand can only help
    assert free.summary["objective"] < split.summary["objective"] <= \
        ours.summary["objective"] * (1 + 1e-9)


def test_cemetery_equals_spopt_over_eligible(demo):
    villages, fac = demo["villages"], demo["cemeteries"]
    ours = siting(villages, fac, None, problem="cemetery", radius_m=4000, add=2,
                  village_setback_m=1500)
    eligible = ours.candidates["eligible"].to_numpy()
    assert 0 < eligible.sum() < len(villages)
    cost, nf = _cost(villages, fac)
    cost = np.hstack([cost[:, :nf], cost[:, nf:][:, eligible]])
    w = villages["elderly_population"].to_numpy(dtype=float)
    ref = MCLP.from_cost_matrix(cost, w, 4000, p_facilities=nf + 2,
                                predefined_facilities_arr=np.arange(nf)).solve(_cbc())
    assert ours.summary["objective"] == pytest.approx(pulp.value(ref.problem.objective),
                                                      rel=1e-6)
    assert set(ours.sites["candidate"]) <= set(ours.candidates.loc[eligible, "id"])
