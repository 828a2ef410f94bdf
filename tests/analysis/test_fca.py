"""The floating catchment family (geoservice/analysis/fca.py) against PySAL ``access`` and
against dense computations written here, on two cost matrices:

- metres: straight lines between random points (every pair present, symmetric metric);
- minutes: shortest paths on a random directed graph with whole-minute edge times
  (asymmetric, not a metric of the plane, some pairs unreachable and some more dropped as an
  OD matrix would leave them out; whole minutes put costs exactly on the zone breaks).

``access`` is given the whole table (pairs beyond d0 included: it applies ``max_cost``
itself); ours gets only the pairs within d0, sorted by (demand, supply). Nothing below calls
the code under test except to get its answer (and ``coverage._g2sfca``, which g2sfca must
reproduce bit for bit).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from access import Access, weights
from access import fca as access_fca

from geoservice.analysis.coverage import _g2sfca
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.fca import fca, fca_note, step_weight

RTOL = 1e-9
E2_BREAKS, E2_WEIGHTS = (1 / 3, 2 / 3, 1.0), (1.0, 0.68, 0.22)  # defaults.toml [coverage.fca]
# access's Access.three_stage_fca default, {10: 0.962, 20: 0.704, 30: 0.377, 60: 0.042} minutes,
# as shares of a 60-minute catchment
THREE_BREAKS, THREE_WEIGHTS = (1 / 6, 1 / 3, 1 / 2, 1.0), (0.962, 0.704, 0.377, 0.042)


# --- the two matrices, as (i, j, cost) tables of the pairs present -----------------------------

def straight_matrix() -> dict:
    rng = np.random.default_rng(20120315)
    n, m = 140, 22
    a = rng.uniform(0, 20000, (n, 2))
    b = rng.uniform(0, 20000, (m, 2))
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    i, j = np.indices((n, m))
    return {"n": n, "m": m, "i": i.ravel(), "j": j.ravel(), "c": d.ravel(),
            "demand": rng.integers(50, 3000, n).astype(float),
            "supply": rng.integers(0, 120, m).astype(float)}


def minutes_graph() -> nx.DiGraph:
    """A random directed road graph, whole minutes on each edge."""
    rng = np.random.default_rng(2003)
    g = nx.gnp_random_graph(160, 0.03, seed=2009, directed=True)
    for u, v in g.edges:
        g.edges[u, v]["minutes"] = int(rng.integers(1, 9))
    return g


def graph_matrix() -> dict:
    rng = np.random.default_rng(2012)
    g = minutes_graph()
    nodes = rng.permutation(160)
    origins, dests = nodes[:110], nodes[110:135]
    n, m = len(origins), len(dests)
    where = {node: k for k, node in enumerate(dests)}
    rows = []
    for a, node in enumerate(origins):
        lengths = nx.single_source_dijkstra_path_length(g, int(node), weight="minutes")
        rows += [(a, where[t], float(c)) for t, c in lengths.items() if t in where]
    i, j, c = (np.array(x) for x in zip(*rows, strict=True))
    keep = rng.random(len(i)) > 0.1  # pairs an OD matrix leaves out
    return {"n": n, "m": m, "i": i[keep], "j": j[keep], "c": c[keep],
            "demand": rng.integers(50, 3000, n).astype(float),
            "supply": rng.integers(0, 120, m).astype(float)}


@pytest.fixture(scope="module")
def matrices():
    return {"straight": straight_matrix(), "graph": graph_matrix()}


def within(mat: dict, d0: float) -> tuple:
    """Our input: the pairs with cost <= d0, by demand point then supply point."""
    keep = mat["c"] <= d0
    i, j, c = mat["i"][keep], mat["j"][keep], mat["c"][keep]
    order = np.lexsort((j, i))
    return i[order], j[order], c[order]


# --- references written here -------------------------------------------------------------------

def gaussian(d, d0):
    e = math.exp(-0.5)
    d = np.asarray(d, dtype=float)
    return np.where(d <= d0, (np.exp(-0.5 * (d / d0) ** 2) - e) / (1 - e), 0.0)


def step_dict(d0, breaks, ws) -> dict:
    return {d0 * b: w for b, w in zip(breaks, ws, strict=True)}


def weight_fn(method: str, d0: float):
    """The weight function handed to access for each method (None: binary)."""
    return {"g2sfca": lambda x: gaussian(x, d0), "2sfca": None,
            "e2sfca": weights.step_fn(step_dict(d0, E2_BREAKS, E2_WEIGHTS)),
            "3sfca": weights.step_fn(step_dict(d0, THREE_BREAKS, THREE_WEIGHTS))}[method]


def dense(method: str, mat: dict, d0: float):
    """(A, R) from a dense n x m weight matrix: missing pairs and pairs beyond d0 weigh 0;
    the step weight is looked up zone by zone (cost <= break, first break that holds)."""
    n, m = mat["n"], mat["m"]
    cost = np.full((n, m), np.inf)
    cost[mat["i"], mat["j"]] = mat["c"]
    inside = cost <= d0
    if method == "g2sfca":
        w = np.where(inside, gaussian(np.where(inside, cost, 0), d0), 0.0)
    elif method == "2sfca":
        w = inside.astype(float)
    else:
        breaks, ws = (E2_BREAKS, E2_WEIGHTS) if method == "e2sfca" else \
            (THREE_BREAKS, THREE_WEIGHTS)
        w = np.zeros((n, m))
        done = np.zeros((n, m), dtype=bool)
        for b, wt in zip(breaks, ws, strict=True):
            zone = inside & ~done & (cost <= d0 * b)
            w[zone] = wt
            done |= zone
        if method == "3sfca":
            total = w.sum(axis=1, keepdims=True)
            w = w * np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    reach = w.T @ mat["demand"]
    ratio = np.divide(mat["supply"], reach, out=np.zeros(m), where=reach > 0)
    return w @ ratio, ratio


def pysal(method: str, mat: dict, d0: float) -> np.ndarray:
    """access's result per demand point; NaN where access gives none."""
    codes = np.array([f"v{k:04d}" for k in range(mat["n"])])
    cost = pd.DataFrame({"origin": codes[mat["i"]], "dest": mat["j"], "cost": mat["c"]})
    dem = pd.DataFrame({"elderly": mat["demand"]}, index=pd.Index(codes, name="geoid"))
    sup = pd.DataFrame({"beds": mat["supply"]},
                       index=pd.Index(np.arange(mat["m"]), name="geoid"))
    run = access_fca.three_stage_fca if method == "3sfca" else access_fca.two_stage_fca
    ref = run(dem, sup, cost, max_cost=d0, demand_index=True, demand_name="elderly",
              supply_index=True, supply_name="beds", cost_origin="origin", cost_dest="dest",
              cost_name="cost", weight_fn=weight_fn(method, d0))
    return ref.reindex(codes).to_numpy(dtype=float)


# --- the tests ---------------------------------------------------------------------------------

CASES = [("straight", 2500.0), ("straight", 5000.0), ("straight", 9000.0),
         ("graph", 4.0), ("graph", 12.0), ("graph", 30.0)]


# access 1.1.10 warns about its own use of DataFrame.drop(inplace=True) under pandas 3
@pytest.mark.filterwarnings("ignore:The inplace keyword")
@pytest.mark.parametrize("method", ["g2sfca", "2sfca", "e2sfca", "3sfca"])
@pytest.mark.parametrize("name, d0", CASES)
def test_each_method_equals_pysal_access(matrices, method, name, d0):
    mat = matrices[name]
    pairs = within(mat, d0)
    ours, ratio = fca(method, pairs, mat["n"], mat["m"], mat["demand"], mat["supply"], d0)
    ref = pysal(method, mat, d0)

    # access gives nothing (NaN) exactly for the demand points with no pair within d0;
    # we give them 0
    unreached = np.bincount(pairs[0], minlength=mat["n"]) == 0
    assert (np.isnan(ref) == unreached).all()
    assert (ours[unreached] == 0).all()
    assert np.count_nonzero(ours) >= 20  # not a comparison of zeros
    np.testing.assert_allclose(ours[~unreached], ref[~unreached], rtol=RTOL, atol=0)

    want_a, want_r = dense(method, mat, d0)
    np.testing.assert_allclose(ours, want_a, rtol=RTOL, atol=0)
    np.testing.assert_allclose(ratio, want_r, rtol=RTOL, atol=0)
    # the supply is shared out, no more, no less: sum_i P_i A_i is the supply of the
    # facilities with weighted demand in reach
    np.testing.assert_allclose((mat["demand"] * ours).sum(),
                               mat["supply"][want_r > 0].sum(), rtol=1e-12)


def test_the_matrices_test_what_they_should(matrices):
    g = matrices["graph"]
    assert len(g["c"]) < g["n"] * g["m"] * 0.9  # pairs missing
    for d0 in (4.0, 8.0):  # demand points out of reach of every facility
        assert (np.bincount(within(g, d0)[0], minlength=g["n"]) == 0).sum() >= 3
    # whole minutes: costs equal to the zone breaks (e2sfca at 30: 10 and 20 minutes;
    # 3sfca at 12: 2, 4 and 6 minutes)
    for d0, breaks in ((30.0, E2_BREAKS), (12.0, THREE_BREAKS)):
        edges = [d0 * b for b in breaks[:-1]]
        assert all((g["c"] == e).sum() >= 5 for e in edges), (d0, edges)
    # the methods differ on the same pairs
    pairs = within(g, 12.0)
    got = [fca(mt, pairs, g["n"], g["m"], g["demand"], g["supply"], 12.0)[0]
           for mt in ("g2sfca", "2sfca", "e2sfca", "3sfca")]
    assert all(not np.allclose(a, b) for k, a in enumerate(got) for b in got[k + 1:])
    # minutes by directed roads are asymmetric: u to v differs from v to u for many pairs
    lengths = dict(nx.all_pairs_dijkstra_path_length(minutes_graph(), weight="minutes"))
    differ = sum(1 for u in lengths for v, c in lengths[u].items()
                 if u != v and lengths.get(v, {}).get(u) not in (None, c))
    assert differ > 100


def test_step_side_of_a_break_is_access_step_fn():
    fn = weights.step_fn({10: 1, 20: 0.68, 30: 0.22})  # access's E2SFCA default, minutes
    d = np.array([0, 5, 10, 10.000001, 19.999, 20, 20.5, 29.9, 30, 30.01, 45])
    want = np.array([fn(x) for x in d], dtype=float)
    assert want[2] == 1 and want[5] == 0.68 and want[8] == 0.22 and want[9] == 0
    np.testing.assert_array_equal(step_weight(d, 30.0, E2_BREAKS, E2_WEIGHTS), want)


def access_object(mat: dict) -> Access:
    codes = np.array([f"v{k:04d}" for k in range(mat["n"])])
    cost = pd.DataFrame({"origin": codes[mat["i"]], "dest": mat["j"], "cost": mat["c"]})
    dem = pd.DataFrame({"elderly": mat["demand"]}, index=pd.Index(codes, name="geoid"))
    sup = pd.DataFrame({"beds": mat["supply"]}, index=pd.Index(np.arange(mat["m"]), name="geoid"))
    return Access(demand_df=dem, demand_value="elderly", supply_df=sup, supply_value="beds",
                  cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost"), codes


@pytest.mark.filterwarnings("ignore:The inplace keyword")
@pytest.mark.parametrize("method, d0", [("e2sfca", 30.0), ("3sfca", 60.0)])
def test_default_steps_are_access_defaults(matrices, method, d0):
    """With no weights given: e2sfca at 30 minutes is access's enhanced_two_stage_fca default
    ({10: 1, 20: 0.68, 30: 0.22}); 3sfca at 60 minutes is access's three_stage_fca default
    ({10: 0.962, 20: 0.704, 30: 0.377, 60: 0.042})."""
    mat = dict(matrices["graph"])
    mat["c"] = mat["c"] * 2.5  # spread the minutes over 60
    acc, codes = access_object(mat)
    if method == "e2sfca":
        ref = acc.enhanced_two_stage_fca(name="e2", max_cost=d0)["e2_beds"]
    else:
        ref = acc.three_stage_fca(name="t3", max_cost=d0)["t3_beds"]
    ref = ref.reindex(codes).to_numpy(dtype=float)
    pairs = within(mat, d0)
    ours, _ = fca(method, pairs, mat["n"], mat["m"], mat["demand"], mat["supply"], d0)
    reached = np.bincount(pairs[0], minlength=mat["n"]) > 0
    assert np.count_nonzero(ours) >= 20
    np.testing.assert_allclose(ours[reached], ref[reached], rtol=RTOL, atol=0)
    assert (ours[~reached] == 0).all() and np.isnan(ref[~reached]).all()


@pytest.mark.parametrize("name, d0", CASES)
def test_g2sfca_is_coverage_g2sfca_bit_for_bit(matrices, name, d0):
    mat = matrices[name]
    pairs = within(mat, d0)
    beds = mat["supply"].astype(np.int64)  # beds come as integers too
    for supply in (mat["supply"], beds):
        ours = fca("g2sfca", pairs, mat["n"], mat["m"], mat["demand"], supply, d0)
        old = _g2sfca(pairs, mat["n"], mat["m"], mat["demand"], supply, d0)
        for a, b in zip(ours, old, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    empty = (np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0))
    ours = fca("g2sfca", empty, 4, 3, np.ones(4), np.ones(3), d0)
    old = _g2sfca(empty, 4, 3, np.ones(4), np.ones(3), d0)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(ours, old, strict=True))


def test_a_facility_with_no_demand_in_reach_shares_nothing():
    """Supply point 1 reaches only a village with no elderly: R_1 = 0 (access divides by 0).
    Village 0 reaches only supply point 0, whose only weighted demand is its own: A_0 = 10/100
    whatever the weights."""
    pairs = (np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([1.0, 2.0, 1.0]))
    demand, supply = np.array([100.0, 0.0]), np.array([10.0, 7.0])
    for method in ("g2sfca", "2sfca", "e2sfca", "3sfca"):
        a, r = fca(method, pairs, 2, 2, demand, supply, 3.0)
        assert r[1] == 0 and np.isfinite(a).all()
        assert a[0] == pytest.approx(0.1, rel=1e-12)
    a, r = fca("2sfca", pairs, 2, 2, demand, supply, 3.0)
    assert r.tolist() == [0.1, 0.0] and a.tolist() == [0.1, 0.1]


def test_bad_input_is_refused_in_chinese():
    pairs = (np.array([0]), np.array([0]), np.array([1.0]))
    with pytest.raises(InvalidInput, match="未知的可达性方法“4sfca”"):
        fca("4sfca", pairs, 1, 1, [1.0], [1.0], 5.0)
    with pytest.raises(InvalidInput, match="2SFCA 不使用分段权重"):
        fca("2sfca", pairs, 1, 1, [1.0], [1.0], 5.0, breaks=[0.5, 1.0], weights=[1, 0.5])
    with pytest.raises(InvalidInput, match="分段点 2 个、权重 1 个"):
        fca("e2sfca", pairs, 1, 1, [1.0], [1.0], 5.0, breaks=[0.5, 1.0], weights=[1])
    with pytest.raises(InvalidInput, match="递增的正数"):
        fca("3sfca", pairs, 1, 1, [1.0], [1.0], 5.0, breaks=[0.5, 0.5], weights=[1, 0.5])
    with pytest.raises(InvalidInput, match="非负数"):
        fca("e2sfca", pairs, 1, 1, [1.0], [1.0], 5.0, breaks=[1.0], weights=[-1])
    with pytest.raises(InvalidInput, match="服务半径应为正数"):
        fca("2sfca", pairs, 1, 1, [1.0], [1.0], 0.0)


def test_notes_give_the_formula_and_the_weights_used():
    assert "exp(-½(d/d0)²)" in fca_note("g2sfca")
    assert "≤1/3·d0 为 1，≤2/3·d0 为 0.68，≤d0 为 0.22" in fca_note("e2sfca")
    assert "G_ij = T_ij / Σ_k T_ik" in fca_note("3sfca")
    assert "≤1/6·d0 为 0.962" in fca_note("3sfca")
    assert "米或分钟" in fca_note("2sfca")
