"""Siting and coverage on the demo county's road network against PySAL spopt and access on
the same network cost matrix, and an OD matrix written from that network giving the same
answers as the network itself.

The network matrix is villages x (existing facilities, village-centre candidates), from
the road network (its distances are proven on hand-built graphs in test_network.py and
against networkx in test_network_oracle.py); spopt (CBC) and access get exactly that matrix.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pulp
import pytest
from access import Access
from spopt.locate import LSCP, MCLP, PMedian

from geoservice.analysis.cost import CostSpec
from geoservice.analysis.coverage import coverage, metre_centres
from geoservice.analysis.network import NetworkSource, build_graph
from geoservice.analysis.odmatrix import MatrixSource, read_od_matrix
from geoservice.analysis.siting import siting
from geoservice.analysis.siting.inputs import points_of
from layers import GeoPackageStore

LENGTH = CostSpec(kind="network")
TIME = CostSpec(kind="network", field="time", unit="min")


@pytest.fixture(scope="module")
def demo():
    from geoservice.config import DEMO_WORKSPACE

    s = GeoPackageStore(DEMO_WORKSPACE)  # read only
    layers = {k: s.read(k) for k in ("villages", "welfare_homes", "elderly_service_points",
                                     "roads")}
    gk, cxy, _ = metre_centres(layers["villages"])
    layers["gk"], layers["cxy"] = gk, cxy
    return layers


def _source(demo, spec):
    graph = build_graph(demo["roads"], demo["gk"])
    return NetworkSource(lambda crs: graph, spec)


def _matrix(demo, layer, spec):
    """Villages x (facilities of ``layer``, village centres) along the roads."""
    fac = demo[layer]
    fxy = np.asarray([(p.x, p.y) for p in
                      points_of(fac.to_crs(demo["gk"]))]).reshape(-1, 2)
    c = _source(demo, spec).bind(demo["cxy"], {"facilities": fxy, "candidates": demo["cxy"]},
                                 crs=demo["gk"])
    return np.hstack([c.dense("facilities"), c.dense("candidates")]), len(fxy)


def _cbc():
    return pulp.PULP_CBC_CMD(msg=False)


def test_the_demo_network_reaches_every_village(demo):
    cost, nf = _matrix(demo, "elderly_service_points", LENGTH)
    assert np.isfinite(cost).all()
    # along the roads is never shorter than the straight line minus the two walks
    straight = np.hypot(*(demo["cxy"][:, None, :] - demo["cxy"][None, :, :]).transpose(2, 0, 1))
    assert (cost[:, nf:] >= straight - 1e-6).all()
    assert (cost[:, nf:] > straight * 1.05).mean() > 0.5  # roads wind: mostly longer


@pytest.mark.parametrize("spec, radius, k", [(LENGTH, 3000, 3), (LENGTH, 2000, 5),
                                             (TIME, 8, 3)])
def test_network_mclp_equals_spopt(demo, spec, radius, k):
    villages, fac = demo["villages"], demo["elderly_service_points"]
    cost, nf = _matrix(demo, "elderly_service_points", spec)
    w = villages["elderly_population"].to_numpy(dtype=float)
    ref = MCLP.from_cost_matrix(cost, w, radius, p_facilities=nf + k,
                                predefined_facilities_arr=np.arange(nf)).solve(_cbc())
    ref_obj = pulp.value(ref.problem.objective)
    ours = siting(villages, fac, None, problem="mclp", radius_m=radius, add=k,
                  cost=_source(demo, spec))
    assert ours.summary["optimal"]
    assert ours.summary["cost"]["kind"] == "network"
    assert ours.summary["covered_elderly_after"] == pytest.approx(ref_obj, rel=1e-6)
    straight = siting(villages, fac, None, problem="mclp", radius_m=radius, add=k)
    if spec is LENGTH:  # by road fewer are covered than within the same straight radius
        assert ours.summary["covered_elderly_before"] < straight.summary["covered_elderly_before"]


@pytest.mark.parametrize("spec, radius", [(LENGTH, 4000), (TIME, 10)])
def test_network_full_coverage_equals_spopt_lscp(demo, spec, radius):
    villages, fac = demo["villages"], demo["elderly_service_points"]
    cost, nf = _matrix(demo, "elderly_service_points", spec)
    ref = LSCP.from_cost_matrix(cost, radius,
                                predefined_facilities_arr=np.arange(nf)).solve(_cbc())
    ref_count = round(pulp.value(ref.problem.objective))
    ours = siting(villages, fac, None, problem="target", radius_m=radius, target=1.0,
                  weight="villages", cost=_source(demo, spec))
    s = ours.summary
    assert s["optimal"] and s["target_reached"] and s["village_coverage_after"] == 1.0
    assert s["added"] == ref_count - nf and s["added"] > 0


@pytest.mark.parametrize("spec, k", [(LENGTH, 2), (LENGTH, 4), (TIME, 3)])
def test_network_pmedian_equals_spopt(demo, spec, k):
    villages, fac = demo["villages"], demo["welfare_homes"]
    cost, nf = _matrix(demo, "welfare_homes", spec)
    w = villages["elderly_population"].to_numpy(dtype=float)
    ref = PMedian.from_cost_matrix(cost, w, p_facilities=nf + k,
                                   predefined_facilities_arr=np.arange(nf)).solve(_cbc())
    ref_obj = pulp.value(ref.problem.objective)
    ours = siting(villages, fac, None, problem="pmedian", radius_m=15000 if spec is LENGTH
                  else 30, add=k, cost=_source(demo, spec))
    assert ours.summary["optimal"]
    assert ours.summary["objective"] == pytest.approx(ref_obj, rel=1e-6)
    # the objective by hand from the matrix and the chosen sites
    chosen = [int(np.flatnonzero(villages["code"].astype(str).to_numpy() == c)[0])
              for c in ours.sites["candidate"].astype(str)]
    by_hand = float((w * np.min(cost[:, list(range(nf)) + [nf + j for j in chosen]],
                                axis=1)).sum())
    assert ours.summary["objective"] == pytest.approx(by_hand, rel=1e-9)


@pytest.mark.parametrize("method, call", [("2sfca", "two_stage_fca"),
                                          ("e2sfca", "enhanced_two_stage_fca"),
                                          ("3sfca", "three_stage_fca"),
                                          ("g2sfca", "two_stage_fca")])
def test_network_accessibility_equals_access(demo, method, call):
    villages, fac = demo["villages"], demo["welfare_homes"]
    cost, nf = _matrix(demo, "welfare_homes", TIME)
    d0 = 30.0
    res = coverage(villages, fac, layer="welfare_homes", radius_m=d0,
                   cost=_source(demo, TIME), method=method)
    supply = res.facilities["supply"].to_numpy(dtype=float)
    codes = villages["code"].astype(str).to_numpy()
    demand = pd.DataFrame({"id": np.arange(len(villages)),
                           "elderly": villages["elderly_population"].to_numpy(dtype=float)})
    sup = pd.DataFrame({"id": np.arange(nf), "beds": supply})
    ii, jj = np.meshgrid(np.arange(len(villages)), np.arange(nf), indexing="ij")
    table = pd.DataFrame({"origin": ii.ravel(), "dest": jj.ravel(),
                          "cost": cost[:, :nf].ravel()})
    acc = Access(demand_df=demand, demand_index="id", demand_value="elderly",
                 supply_df=sup, supply_index="id", supply_value="beds",
                 cost_df=table, cost_origin="origin", cost_dest="dest", cost_name="cost")
    if method == "g2sfca":
        # access's Gaussian has no zero at d0; Dai's (ours) has: computed by hand instead
        w = np.where(cost[:, :nf] <= d0, (np.exp(-0.5 * (cost[:, :nf] / d0) ** 2) - np.exp(-0.5))
                     / (1 - np.exp(-0.5)), 0.0)
        reach = w.T @ demand["elderly"].to_numpy()
        ratio = np.divide(supply, reach, out=np.zeros(nf), where=reach > 0)
        expected = w @ ratio
    else:
        kwargs = {"max_cost": d0, "normalize": False}
        if method == "e2sfca":
            from access import weights

            kwargs["weight_fn"] = weights.step_fn({d0 / 3: 1.0, 2 * d0 / 3: 0.68, d0: 0.22})
        if method == "3sfca":
            from access import weights

            kwargs["weight_fn"] = weights.step_fn({d0 / 6: 0.962, d0 / 3: 0.704, d0 / 2: 0.377,
                                                   d0: 0.042})
        out = getattr(acc, call)(**kwargs)
        expected = out.iloc[:, 0].reindex(np.arange(len(villages))).fillna(0).to_numpy()
    assert res.summary["method"] == method
    assert np.isfinite(res.villages["access"]).all()
    assert res.villages["access"].to_numpy() == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert (res.villages["access"] > 0).sum() > 10
    assert list(res.villages["code"].astype(str)) == list(codes)


def _write_od(path, demo, layer, spec):
    """The network's villages x (facility names, village codes) costs as an OD CSV."""
    cost, nf = _matrix(demo, layer, spec)
    codes = demo["villages"]["code"].astype(str).tolist()
    names = demo[layer]["name"].astype(str).tolist()
    assert len(set(names)) == len(names)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["村代码", "设施", "时间" if spec.unit == "min" else "距离"])
        for i, code in enumerate(codes):
            for j, name in enumerate(names + codes):
                out.writerow([code, name, repr(float(cost[i, j]))])
    return path


@pytest.mark.parametrize("spec", [LENGTH, TIME])
def test_od_matrix_from_the_network_gives_the_network_answers(demo, tmp_path, spec):
    layer = "elderly_service_points"
    path = _write_od(tmp_path / "od.csv", demo, layer, spec)
    table = read_od_matrix(path, "od.csv", unit=spec.unit)
    # the matrix also names the village-centre candidates, which coverage does not use
    by_matrix = MatrixSource(table, other_names=demo["villages"]["code"].astype(str))
    by_net = _source(demo, spec)
    villages, fac = demo["villages"], demo[layer]
    radius = 2500 if spec is LENGTH else 8
    a = coverage(villages, fac, layer=layer, radius_m=radius, cost=by_net, cutoffs=(radius / 2,))
    b = coverage(villages, fac, layer=layer, radius_m=radius, cost=by_matrix,
                 cutoffs=(radius / 2,))
    assert b.summary["cost"]["kind"] == "matrix"
    for col in ("covered", "nearest_facility", "has_facility"):
        assert a.villages[col].tolist() == b.villages[col].tolist()
    assert a.villages["nearest_m"].to_numpy() == pytest.approx(b.villages["nearest_m"], rel=1e-12)
    assert a.villages["access"].to_numpy() == pytest.approx(b.villages["access"], rel=1e-9)
    assert a.summary["cutoffs"] == b.summary["cutoffs"]
    assert 0 < a.summary["village_coverage"] < 1
    for problem, extra in (("mclp", {"add": 3}), ("pmedian", {"add": 2})):
        sa = siting(villages, fac, None, problem=problem, radius_m=radius, cost=by_net, **extra)
        sb = siting(villages, fac, None, problem=problem, radius_m=radius, cost=by_matrix,
                    **extra)
        assert sa.summary["objective"] == pytest.approx(sb.summary["objective"], rel=1e-9)
        assert sorted(sa.sites["candidate"]) == sorted(sb.sites["candidate"])


def test_network_capacitated_pmedian_equals_spopt(demo):
    villages, fac = demo["villages"], demo["welfare_homes"]
    cost, nf = _matrix(demo, "welfare_homes", LENGTH)
    w = villages["elderly_population"].to_numpy(dtype=float)
    k, cap_new, rate = 2, 60.0, 11.0
    # spopt's capacity rows use the weights as demand: scale the beds instead
    caps = np.r_[fac["beds"].to_numpy(dtype=float), np.full(len(villages), cap_new)] / (
        rate / 1000.0)
    ref = PMedian.from_cost_matrix(cost, w, p_facilities=nf + k,
                                   predefined_facilities_arr=np.arange(nf),
                                   facility_capacities=caps).solve(_cbc())
    ours = siting(villages, fac, None, problem="pmedian", radius_m=15000, add=k,
                  capacitated=True, new_capacity=cap_new, bed_demand_per_1000=rate,
                  single_source=True, cost=_source(demo, LENGTH))
    assert ours.summary["optimal"] and ours.summary["single_source"]
    assert ours.summary["objective"] == pytest.approx(pulp.value(ref.problem.objective),
                                                      rel=1e-6)
