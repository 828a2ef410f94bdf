"""The radius formulation of the uncapacitated p-median (Elloumi 2010; García, Labbé and
Marín 2011), truncated per village and widened until proven exact.

For village ``i`` let ``L_1 < L_2 < ... < L_m`` be the distinct costs to its listed
candidates (its nearest ones cheaper than its nearest existing facility: candidates at
the same cost share one level) and ``c`` its cap: the nearest existing facility, or the
cost of its first unlisted candidate when that is cheaper. With ``u_l`` = 1 when no
open candidate costs at most ``L_l``, the village's cost is

    L_1 + sum_l (L_{l+1} - L_l) u_l          (L_{m+1} = c)

under ``u_1 + sum_{j: d_ij = L_1} y_j >= 1`` and ``u_l + sum_{j: d_ij = L_l} y_j >= u_{l-1}``,
``u >= 0`` continuous, ``y`` binary with ``sum y = K``. One row and one column per
distinct level (not per village-candidate pair, and no opening rows), and its LP bound
is the classic one. The model's cost is ``min(true cost, c)``: a lower bound, exact when
the cap is the existing facility. After a solve, each village held at its cap by a
cheaper unlisted candidate has its true cost measured with the chosen sites; when a
true cost exceeds the cap those villages get twice as many candidates and the model is
solved again. The optimum is then the p-median's own.

Every cost comes from the :class:`~geoservice.analysis.cost.Costs` of the run, so the
same model runs on straight lines, roads and OD matrices. A village that can reach no
facility and no candidate is left out of the objective (counted as ``unreachable``);
one that can reach only some candidates is charged :data:`PENALTY_FACTOR` times the
largest cost seen in the run while none of them is open (counted as ``unserved``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .milp import Mip

PENALTY_FACTOR = 10.0


@dataclass
class Listing:
    """The villages' listed candidates as pairs sorted by village then cost, and caps."""

    ii: np.ndarray       # village (position among the active ones)
    jj: np.ndarray       # eligible candidate
    dd: np.ndarray       # its cost
    cap: np.ndarray      # per village: the model's cost when no listed candidate is open
    exact: np.ndarray    # per village: the cap is the true cost then


def listing(d: np.ndarray, idx: np.ndarray, dexist: np.ndarray, k: np.ndarray,
            penalty: float) -> Listing:
    """Pairs from ``knearest`` rows (``d``, ``idx``: ascending, ``inf`` padded) keeping
    each village's first ``k[i]`` that are cheaper than its existing facility."""
    n, kq = d.shape
    col = np.arange(kq)[None, :]
    keep = (col < k[:, None]) & (d < dexist[:, None]) & np.isfinite(d)
    ii = np.broadcast_to(np.arange(n)[:, None], d.shape)[keep]
    jj, dd = idx[keep], d[keep]
    # the first unlisted candidate (inf when every reachable one is listed)
    rows = np.arange(n)
    nxt = np.where(k < kq, d[rows, np.minimum(k, kq - 1)], np.inf)
    cap = np.minimum(dexist, nxt)
    exact = dexist <= nxt
    cap = np.where(np.isfinite(cap), cap, penalty)
    return Listing(ii=ii, jj=jj, dd=dd, cap=cap, exact=exact)


@dataclass
class RadiusModel:
    mip: Mip
    n_e: int
    level_village: np.ndarray   # per u column: its village
    level_cost: np.ndarray      # per u column: L_l
    last: np.ndarray            # per village: its last u column (-1 without levels)
    ii: np.ndarray              # the pairs in the model
    jj: np.ndarray
    dd: np.ndarray

    def warm(self, y: np.ndarray, lst: Listing, n: int) -> np.ndarray:
        """Column values of the plan ``y``: u_l = 1 while no open listed candidate costs
        at most L_l."""
        best = np.full(n, np.inf)
        open_p = y[self.jj] > 0.5
        np.minimum.at(best, self.ii[open_p], self.dd[open_p])
        u = (self.level_cost < best[self.level_village]).astype(float)
        return np.r_[y, u]

    def at_cap(self, x: np.ndarray, n: int) -> np.ndarray:
        """Villages the solution charges their cap (no listed candidate open)."""
        out = np.ones(n, dtype=bool)
        has = self.last >= 0
        out[has] = x[self.n_e + self.last[has]] > 0.5
        return out


def build(lst: Listing, w: np.ndarray, n_e: int, k_add: int, keep=None, closed=None,
          opened=None) -> RadiusModel:
    """The radius model over the listed pairs (villages with weights ``w``); ``keep``:
    the pairs left after reduced-cost fixing, ``closed``/``opened``: candidates fixed."""
    n = len(w)
    ii, jj, dd = lst.ii, lst.jj, lst.dd
    if keep is not None:
        ii, jj, dd = ii[keep], jj[keep], dd[keep]
    # distinct levels: a new one where the village or the cost changes
    new = np.r_[True, (ii[1:] != ii[:-1]) | (dd[1:] != dd[:-1])] if len(ii) else \
        np.zeros(0, bool)
    lev = np.cumsum(new) - 1                       # level of each pair
    nl = int(new.sum())
    lv = ii[new]                                   # village of each level
    lc = dd[new]                                   # cost of each level
    first = np.r_[True, lv[1:] != lv[:-1]] if nl else np.zeros(0, bool)
    nxt_cost = np.r_[lc[1:], 0.0] if nl else np.zeros(0)
    is_last = np.r_[lv[1:] != lv[:-1], True] if nl else np.zeros(0, bool)
    upper = np.where(is_last, lst.cap[lv], nxt_cost)   # L_{l+1}
    step = upper - lc
    # offset: L_1 of villages with levels, the cap of the others
    base = lst.cap.copy()
    base[lv[first]] = lc[first]
    offset = float((w * base).sum())
    c = np.r_[np.zeros(n_e), w[lv] * step]
    ncol = n_e + nl
    lidx = np.arange(nl)
    prev = lidx[~first]
    a = sparse.csr_matrix(
        (np.r_[np.ones(nl), -np.ones(len(prev)), np.ones(len(ii))],
         (np.r_[lidx, prev, lev], np.r_[n_e + lidx, n_e + prev - 1, jj])),
        shape=(nl, ncol))
    card = sparse.csr_matrix((np.ones(n_e), (np.zeros(n_e, int), np.arange(n_e))),
                             shape=(1, ncol))
    lo, hi = np.zeros(ncol), np.ones(ncol)
    if closed is not None:
        hi[:n_e][closed] = 0.0
    if opened is not None:
        lo[:n_e][opened] = 1.0
    mip = Mip(c=c, lo=lo, hi=hi,
              integer=np.r_[np.ones(n_e, bool), np.zeros(nl, bool)],
              a=sparse.vstack([a, card], format="csc"),
              row_lo=np.r_[first.astype(float), k_add],
              row_hi=np.r_[np.full(nl, np.inf), k_add], offset=offset)
    last = np.full(n, -1)
    if nl:
        last[lv[is_last]] = lidx[is_last]
    return RadiusModel(mip=mip, n_e=n_e, level_village=lv, level_cost=lc, last=last,
                       ii=ii, jj=jj, dd=dd)


def greedy(lst: Listing, w: np.ndarray, n_e: int, k: int) -> np.ndarray:
    """Greedy plan: K times the candidate that lowers the model's cost most."""
    return greedy_pairs(lst.ii, lst.jj, lst.dd, lst.cap.copy(), w, n_e, k)


def greedy_pairs(ii, jj, dd, cur, w, n_e: int, k: int) -> np.ndarray:
    """Greedy plan over (village ``ii``, candidate ``jj``, cost ``dd``) pairs: K times the
    candidate that lowers sum w * min(cur, cost) most; ``cur`` (each village's cost with
    nothing new open) is lowered in place. 0/1 per candidate."""
    y = np.zeros(n_e)
    for _ in range(min(k, n_e)):
        gain = np.bincount(jj, weights=w[ii] * np.maximum(0.0, cur[ii] - dd), minlength=n_e)
        gain[y > 0] = -1.0
        j = int(np.argmax(gain))
        y[j] = 1
        sel = jj == j
        np.minimum.at(cur, ii[sel], dd[sel])
    return y


@dataclass
class Lagrange:
    """What the Lagrangian relaxation of the assignment rows proved."""

    bound: float              # best lower bound on the (truncated) model's optimum
    closed: np.ndarray        # candidates open in no plan cheaper than the upper bound
    dropped: np.ndarray       # pairs (village served by that candidate) in no such plan
    opened: np.ndarray        # candidates open in every plan cheaper than the upper bound
    plan: np.ndarray          # the relaxation's best set of K sites (a heuristic plan)
    iterations: int
    lam: np.ndarray           # the multipliers of the best bound (to continue from)
    theta: float              # the step factor reached
    plans: list               # distinct sets of K sites met on the way (heuristic seeds)


def lagrangian(lst: Listing, w: np.ndarray, n_e: int, k: int, ub: float, *,
               iterations: int = 600, lam=None, theta: float = 2.0, stall_max: int = 20,
               sample_every: int = 25, max_plans: int = 8, stop=None) -> Lagrange:
    """Subgradient optimisation of the Lagrangian bound (assignment rows relaxed with
    multipliers ``lam``: each village picks every candidate with ``w d < lam``, the K
    candidates with the most negative sum are opened), and reduced-cost fixing against
    ``ub`` (the true cost of a known plan): a candidate whose forced opening (closing)
    lifts the bound above ``ub`` is closed (opened) in every better plan. The bound
    equals the LP bound in the limit; fixing is valid at every iteration."""
    ii, jj, dd = lst.ii, lst.jj, lst.dd
    na = len(w)
    wd = w[ii] * dd
    wcap = w * lst.cap
    first = np.full(na, np.inf)
    np.minimum.at(first, ii, dd)
    lo = w * np.where(np.isfinite(first), np.minimum(first, lst.cap), lst.cap)
    lam = wcap.copy() if lam is None else lam.copy()   # start: every village at its cap
    best_lam = lam
    closed = np.zeros(n_e, dtype=bool)
    opened = np.zeros(n_e, dtype=bool)
    dropped = np.zeros(len(ii), dtype=bool)
    plans, seen = [], set()
    best, best_plan = -np.inf, np.arange(min(k, n_e))
    stall = 0
    tol = 1e-12 * max(abs(ub), 1.0)
    done = 0
    for it in range(1, iterations + 1):
        done = it
        r = wd - lam[ii]
        neg = r < 0
        rho = np.bincount(jj[neg], weights=r[neg], minlength=n_e)
        order = np.argsort(rho, kind="stable")
        sel = order[:k]
        fall = wcap - lam
        val = float(lam.sum() + np.minimum(0.0, fall).sum() + rho[sel].sum())
        in_s = np.zeros(n_e, dtype=bool)
        in_s[sel] = True
        rp = rho[order[k - 1]] if k > 0 else 0.0
        rq = rho[order[k]] if k < n_e else np.inf
        closed |= ~in_s & (val + rho - rp > ub + tol)
        opened |= in_s & (val + rq - rho > ub + tol)
        # serving village i from j: j opened (if not in the set) and the pair's own cost
        dropped |= val + np.where(in_s, 0.0, rho - rp)[jj] + np.maximum(0.0, r) > ub + tol
        if it % sample_every == 0 and len(plans) < max_plans:
            key = tuple(np.sort(sel))
            if key not in seen:
                seen.add(key)
                plans.append(np.sort(sel))
        if val > best + 1e-12 * abs(best if np.isfinite(best) else 1.0):
            best, best_plan, best_lam, stall = val, sel.copy(), lam, 0
        else:
            stall += 1
            if stall >= stall_max:
                theta, stall = theta / 2, 0
        if ub - val <= tol or theta < 1e-6 or (stop is not None and stop()):
            break
        g = 1.0 - np.bincount(ii[neg & in_s[jj]], minlength=na) - (fall < 0)
        norm = float((g * g).sum())
        if norm == 0:
            break
        lam = np.clip(lam + theta * (ub - val) / norm * g, lo, wcap)
    return Lagrange(bound=float(best), closed=closed, opened=opened, dropped=dropped,
                    plan=best_plan,
                    iterations=done, lam=best_lam, theta=theta,
                    plans=plans)


def _two_best(lst: Listing, y: np.ndarray, na: int):
    """Per village: the cheapest and second cheapest open listed candidate (the cap
    counts as an always-open one, index -1)."""
    ii, jj, dd = lst.ii, lst.jj, lst.dd
    op = np.flatnonzero(y[jj] > 0.5)
    vi = ii[op]
    start = np.r_[True, vi[1:] != vi[:-1]] if len(op) else np.zeros(0, bool)
    rank = np.arange(len(op)) - np.maximum.accumulate(np.where(start, np.arange(len(op)), 0))
    b1 = lst.cap.copy()
    f1 = np.full(na, -1)
    b2 = lst.cap.copy()
    r0, r1 = op[rank == 0], op[rank == 1]
    take = dd[r0] < b1[ii[r0]]
    b1[ii[r0][take]], f1[ii[r0][take]] = dd[r0][take], jj[r0][take]
    # second: the next open one, else the cap (when the first is not the cap itself)
    b2[ii[r1]] = np.minimum(dd[r1], lst.cap[ii[r1]])
    return b1, f1, np.where(f1 >= 0, b2, lst.cap)


def truncated_cost(lst: Listing, w: np.ndarray, y: np.ndarray) -> float:
    b1, _, _ = _two_best(lst, y, len(w))
    return float((w * b1).sum())


def local_search(lst: Listing, w: np.ndarray, n_e: int, y: np.ndarray,
                 max_moves: int = 1000) -> np.ndarray:
    """Best-improvement swaps (one site out, one in) on the model's cost, each round
    evaluating every swap at once (Whitaker's fast interchange as in Resende and
    Werneck 2003): profit(b, a) = gain(b) - loss(a) + extra(b, a)."""
    ii, jj, dd = lst.ii, lst.jj, lst.dd
    na = len(w)
    y = y.copy()
    for _ in range(max_moves):
        b1, f1, b2 = _two_best(lst, y, na)
        closed = y[jj] < 0.5
        gain = np.bincount(jj[closed], weights=(w[ii] * np.maximum(0.0, b1[ii] - dd))[closed],
                           minlength=n_e)
        own = f1 >= 0
        loss = np.bincount(f1[own], weights=(w * (b2 - b1))[own], minlength=n_e)
        sel = closed & own[ii] & (dd < b2[ii])
        extra = sparse.csr_matrix(
            ((w[ii] * (b2[ii] - np.maximum(dd, b1[ii])))[sel], (jj[sel], f1[ii[sel]])),
            shape=(n_e, n_e)).tocoo()
        is_open = y > 0.5
        # best site to close for each site opened: among those it takes villages from,
        # or else the one losing least
        lmin = np.where(is_open, loss, np.inf)
        a0 = int(np.argmin(lmin))
        best_a = np.full(n_e, a0)
        best_v = np.full(n_e, -lmin[a0])
        v = extra.data - loss[extra.col]
        order = np.lexsort((-v, extra.row))
        first = order[np.r_[True, extra.row[order][1:] != extra.row[order][:-1]]] \
            if len(order) else order
        better = v[first] > best_v[extra.row[first]]
        best_v[extra.row[first][better]] = v[first][better]
        best_a[extra.row[first][better]] = extra.col[first][better]
        profit = np.where(is_open, -np.inf, gain + best_v)
        b = int(np.argmax(profit))
        a = int(best_a[b])
        if not profit[b] > 1e-12 * max(1.0, float((w * b1).sum())):
            break
        y[b], y[a] = 1.0, 0.0
    return y
