"""The uncapacitated p-median's radius model (with Lagrangian reduced-cost fixing) against
brute force over every K-subset, the assignment model it replaced, and PySAL spopt.

Costs are given as matrices through a hand-made :class:`Costs` (``inf`` where a village
cannot reach a place), so the solver sees only the cost interface, as on roads or an OD
matrix. Distances are integers on a coarse grid: many ties.
"""

from __future__ import annotations

import dataclasses
import itertools
from types import SimpleNamespace

import numpy as np
import pulp
import pytest
from spopt.locate import PMedian

from geoservice.analysis.cost import Costs
from geoservice.analysis.siting import SitingOptions, pmedian, radius
from geoservice.analysis.siting.progress import Progress


class MatrixCosts(Costs):
    """Costs read from dense matrices: villages x facilities, villages x candidates."""

    def __init__(self, facilities: np.ndarray, candidates: np.ndarray):
        self.m = {"facilities": np.asarray(facilities, float),
                  "candidates": np.asarray(candidates, float)}

    def dense(self, to, cols=None):
        d = self.m[to]
        return d if cols is None else d[:, np.asarray(cols, dtype=int)]

    def size(self, to, cols=None):
        return self.dense(to, cols).shape[1]

    def nearest(self, to, cols=None):
        d = self.dense(to, cols)
        n = d.shape[0]
        if d.shape[1] == 0:
            return np.full(n, np.inf), np.full(n, -1)
        j = np.argmin(d, axis=1)
        best = d[np.arange(n), j]
        return best, np.where(np.isfinite(best), j, -1)


def _opts(k_add, pmedian_k=32, time_limit_s=60.0):
    o = SitingOptions.build(problem="pmedian", radius_m=1000, add=k_add,
                            time_limit_s=time_limit_s)
    return dataclasses.replace(o, pmedian_k=pmedian_k)


def _solve(fn, dex, dc, w, k_add, pmedian_k=32, elig=None):
    data = SimpleNamespace(cost=MatrixCosts(dex, dc))
    elig = np.arange(dc.shape[1]) if elig is None else elig
    return fn(data, np.asarray(w, float), elig, k_add, _opts(k_add, pmedian_k), Progress())


def _brute(dex, dc, w, k_add, elig=None):
    """min over K-subsets of sum w * min(existing, chosen); villages reaching nothing
    are left out. Plans leaving a reachable village unserved are taken only when no plan
    serves them all (fewest unserved elderly first)."""
    dmin_f = dex.min(axis=1) if dex.shape[1] else np.full(len(w), np.inf)
    elig = np.arange(dc.shape[1]) if elig is None else elig
    reach = np.isfinite(dmin_f) | np.isfinite(dc[:, elig]).any(axis=1)
    best = None
    for s in itertools.combinations(elig, k_add):
        c = np.minimum(dmin_f, dc[:, list(s)].min(axis=1))[reach]
        key = (float(w[reach][~np.isfinite(c)].sum()),
               float((w[reach] * np.where(np.isfinite(c), c, 0.0)).sum()))
        if best is None or key < best[0]:
            best = (key, set(s))
    return best[0][1], best[1], int((~reach & (w > 0)).sum())


def _grid_instance(seed, n_v=26, n_c=9, n_f=2, step=2.0):
    """Villages, candidates and facilities on a 0..20 grid; costs are Manhattan
    distances scaled by ``step``: integers with many ties."""
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 21, (n_v, 2))
    c = rng.integers(0, 21, (n_c, 2))
    f = rng.integers(0, 21, (n_f, 2))
    dc = step * np.abs(v[:, None, :] - c[None, :, :]).sum(axis=2)
    dex = step * np.abs(v[:, None, :] - f[None, :, :]).sum(axis=2) if n_f else \
        np.zeros((n_v, 0))
    w = rng.integers(0, 40, n_v).astype(float)  # some villages without elderly
    return dex, dc, w


def _cost_of(dex, dc, w, chosen):
    dmin_f = dex.min(axis=1) if dex.shape[1] else np.full(len(w), np.inf)
    c = np.minimum(dmin_f, dc[:, chosen].min(axis=1))
    return float((w[np.isfinite(c)] * c[np.isfinite(c)]).sum())


@pytest.mark.parametrize("seed, k_add, n_f, pmedian_k", [
    (1, 2, 2, 1), (2, 3, 2, 2), (3, 3, 0, 1), (4, 4, 0, 32), (5, 2, 1, 1), (6, 5, 3, 2),
    (7, 1, 0, 1)])
def test_radius_model_equals_brute_force_and_the_assignment_model(seed, k_add, n_f,
                                                                  pmedian_k):
    dex, dc, w = _grid_instance(seed, n_f=n_f)
    assert len(np.unique(dc)) < dc.size / 3  # ties: levels are merged
    best, _, _ = _brute(dex, dc, w, k_add)
    chosen, res, info = _solve(pmedian._uncapacitated, dex, dc, w, k_add, pmedian_k)
    assert res.optimal and info["proven_exact"] and info["formulation"] == "radius"
    assert len(chosen) == k_add
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert _cost_of(dex, dc, w, chosen) == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert info["lower_bound"] == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert info["unreachable"] == 0 and info["unserved"] == 0
    _, res_old, info_old = _solve(pmedian._uncapacitated_assignment, dex, dc, w, k_add,
                                  pmedian_k)
    assert res_old.optimal and info_old["proven_exact"]
    assert res_old.objective == pytest.approx(res.objective, rel=1e-9, abs=1e-9)


def test_narrow_lists_are_widened_until_exact():
    # one candidate listed per village at first: the optimum needs more
    dex, dc, w = _grid_instance(11, n_v=30, n_c=10, n_f=0)
    best, _, _ = _brute(dex, dc, w, 3)
    chosen, res, info = _solve(pmedian._uncapacitated, dex, dc, w, 3, pmedian_k=1)
    assert res.optimal and info["proven_exact"]
    assert _cost_of(dex, dc, w, chosen) == pytest.approx(best, rel=1e-9)


def test_only_the_eligible_candidates_are_chosen():
    dex, dc, w = _grid_instance(12, n_v=24, n_c=10, n_f=1)
    elig = np.array([0, 2, 3, 5, 7, 8])
    best, _, _ = _brute(dex, dc, w, 3, elig=elig)
    chosen, res, _ = _solve(pmedian._uncapacitated, dex, dc, w, 3, elig=elig)
    assert res.optimal
    assert _cost_of(dex, dc, w, elig[chosen]) == pytest.approx(best, rel=1e-9)


def test_unreachable_villages_are_left_out_and_counted():
    dex, dc, w = _grid_instance(13, n_v=24, n_c=8, n_f=2)
    w[:5] = 10.0
    dex[:3] = np.inf           # three villages reach nothing at all
    dc[:3] = np.inf
    dex[3:5] = np.inf          # two reach no facility and only some candidates
    dc[3, [0, 1, 2]] = np.inf
    dc[4, 4:] = np.inf
    dc[5:, 6] = np.inf         # candidate 6 reachable from villages 3 and 4 only
    best, _, unreachable = _brute(dex, dc, w, 3)
    assert unreachable == 3
    chosen, res, info = _solve(pmedian._uncapacitated, dex, dc, w, 3, pmedian_k=1)
    assert res.optimal and info["proven_exact"]
    assert info["unreachable"] == 3 and info["unserved"] == 0
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert _cost_of(dex, dc, w, chosen) == pytest.approx(best, rel=1e-9)


def test_a_village_left_unserved_when_no_plan_can_serve_all():
    # villages 0 and 1 each reach only their own candidate; K = 1 serves one of them
    dc = np.array([[3.0, np.inf, np.inf], [np.inf, 4.0, np.inf], [5.0, 5.0, 1.0],
                   [6.0, 6.0, 2.0]])
    dex = np.full((4, 1), np.inf)
    dex[2:, 0] = 7.0
    w = np.array([10.0, 1.0, 5.0, 5.0])
    chosen, res, info = _solve(pmedian._uncapacitated, dex, dc, w, 1)
    # the heavier village 0 is served: candidate 0; village 1 is left unserved
    assert chosen.tolist() == [0] and info["unserved"] == 1 and info["unreachable"] == 0


def test_one_swap_of_the_local_search_is_the_best_swap():
    rng = np.random.default_rng(3)
    n, m, p = 40, 12, 4
    d = rng.integers(1, 60, (n, m)).astype(float)
    dex = rng.integers(30, 90, n).astype(float)
    w = rng.integers(1, 9, n).astype(float)
    idx = np.argsort(d, axis=1, kind="stable")
    lst = radius.listing(np.take_along_axis(d, idx, 1), idx, dex, np.full(n, m), 1e9)
    y = np.zeros(m)
    y[:p] = 1

    def cost(sel):
        return float((w * np.minimum(dex, d[:, sel].min(axis=1))).sum())

    base = cost(list(range(p)))
    best = max(base - cost(sorted(set(range(p)) - {a} | {b}))
               for a in range(p) for b in range(p, m))
    y1 = radius.local_search(lst, w, m, y, max_moves=1)
    assert base - cost(np.flatnonzero(y1)) == pytest.approx(best, rel=1e-12)


def test_medium_instance_equals_spopt():
    rng = np.random.default_rng(21)
    n_v, n_c, n_f, k_add = 70, 22, 3, 5
    v = rng.uniform(0, 30000, (n_v, 2))
    c = v[rng.choice(n_v, n_c, replace=False)] + rng.uniform(-500, 500, (n_c, 2))
    f = rng.uniform(0, 30000, (n_f, 2))
    dc = np.hypot(*(v[:, None, :] - c[None, :, :]).transpose(2, 0, 1))
    dex = np.hypot(*(v[:, None, :] - f[None, :, :]).transpose(2, 0, 1))
    w = rng.integers(50, 900, n_v).astype(float)
    ref = PMedian.from_cost_matrix(np.hstack([dex, dc]), w, p_facilities=n_f + k_add,
                                   predefined_facilities_arr=np.arange(n_f))
    ref = ref.solve(pulp.PULP_CBC_CMD(msg=False))
    ref_obj = pulp.value(ref.problem.objective)
    chosen, res, info = _solve(pmedian._uncapacitated, dex, dc, w, k_add, pmedian_k=4)
    assert res.optimal and info["proven_exact"]
    assert res.objective == pytest.approx(ref_obj, rel=1e-6)
    assert _cost_of(dex, dc, w, chosen) == pytest.approx(ref_obj, rel=1e-6)
