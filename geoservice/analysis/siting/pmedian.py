"""p-median: add K sites minimising the weighted distance to the nearest open facility.

Uncapacitated: the radius formulation (:mod:`.radius`) over each village's nearest
candidates, widened per village until the solution is proven exact (the classic
assignment model is kept as :func:`_uncapacitated_assignment` for the benchmark). Capacitated: existing facilities
with their beds, new sites with ``new_capacity`` beds each; a village's demand split
between facilities, or (``single_source``) wholly to one, as spopt.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from . import milp, radius
from .inputs import Coverage, Inputs
from .milp import Mip, Outcome
from .options import SitingOptions
from .progress import Progress

# Lagrangian phase of the uncapacitated model: rounds of subgradient steps and the share
# of the time budget they may use (the rest is HiGHS's)
LAGRANGE_ROUNDS = 16
LAGRANGE_ITERATIONS = 500
LAGRANGE_SHARE = 0.3


def solve_pmedian(data: Inputs, cov: Coverage, elig: np.ndarray, k_add: int,
                  opts: SitingOptions, prog: Progress) -> Outcome:
    """Uncapacitated or (``opts.capacitated``) capacitated p-median."""
    w = cov.w
    if not opts.capacitated:
        chosen_e, res, info = _uncapacitated(data, w, elig, k_add, opts, prog)
        return Outcome(chosen_e, res, extra=dict(info))
    q = data.w["elderly"] * opts.bed_demand_per_1000 / 1000.0
    need, have = float(q.sum()), float(data.fcap.sum())  # enough: checked before solving
    chosen_e, res, z_assign, info = _capacitated(
        data, w, q, elig, k_add, opts.new_capacity, opts, prog,
        single_source=opts.single_source)
    extra = dict(info)
    before_cost = None
    if have >= need * (1 - 1e-12) and len(data.fxy):
        _, res0, _, _ = _capacitated(data, w, q, elig, 0, opts.new_capacity, opts, prog,
                                     build_only=True, single_source=opts.single_source)
        before_cost = res0.objective
    extra["capacity_before_feasible"] = before_cost is not None
    return Outcome(chosen_e, res, extra=extra, assignment=z_assign, before_cost=before_cost)


def _uncapacitated(data: Inputs, w, elig, k_add, opts: SitingOptions, prog: Progress):
    """Uncapacitated p-median with the existing facilities open: the radius formulation
    (:mod:`.radius`) over each village's nearest candidates, reduced by Lagrangian
    reduced-cost fixing against the best plan found (greedy, swaps), solved by HiGHS
    and widened per village until proven exact. One time budget; costs from
    ``data.cost``."""
    t0 = time.monotonic()
    n_e = len(elig)
    cost = data.cost
    dexist_all = np.asarray(cost.nearest("facilities")[0], dtype=float)
    first_d, _ = cost.knearest("candidates", 1, cols=elig)
    reach = np.isfinite(dexist_all) | np.isfinite(np.asarray(first_d)[:, 0])
    unreachable = int(((w > 0) & ~reach).sum())
    active = np.flatnonzero((w > 0) & (dexist_all > 0) & reach)
    na = len(active)
    dexist, wa = dexist_all[active], w[active]
    kk = max(1, min(n_e, int(opts.pmedian_k)))
    k = np.full(na, kk)
    penalty = np.inf
    rounds = 0
    info = {"formulation": "radius", "unreachable": unreachable}
    best_plan, ub, lb = None, np.inf, 0.0

    def elapsed():
        return time.monotonic() - t0

    def true_cost(chosen):
        return _true_cost(cost, elig, chosen, dexist_all, w, active, penalty)

    while True:
        rounds += 1
        kmax = int(k.max()) if na else kk
        kq = int(min(n_e, kmax + 1))
        prog(0.15, f"建立模型：每村最近 {kmax} 个候选点（半径模型）")
        d, idx = cost.knearest("candidates", kq, cols=elig)
        d, idx = np.asarray(d, dtype=float)[active], np.asarray(idx)[active]
        # the cost of a village left unserved (it reaches no open place): above every
        # cost seen; only villages whose reachable candidates are all listed pay it
        seen = np.r_[dexist[np.isfinite(dexist)], d[np.isfinite(d)], 1.0]
        penalty = radius.PENALTY_FACTOR * float(seen.max())
        lst = radius.listing(d, idx, dexist, k, penalty)
        if best_plan is not None:  # the penalty may have changed: cost the plan again
            ub = true_cost(best_plan)
        prog(0.2, "计算初始方案：贪心加交换改进")
        y = radius.local_search(lst, wa, n_e, radius.greedy(lst, wa, n_e, k_add))
        plan = np.flatnonzero(y > 0.5)
        c = true_cost(plan)
        if c < ub:
            best_plan, ub = plan, c
        prog(0.25, "计算拉格朗日下界，固定不可能入选的候选点")
        lag = _lagrange(lst, wa, n_e, k_add, ub, opts, prog, t0, true_cost)
        ub, best_plan = min((ub, best_plan), (lag["ub"], lag["plan"]), key=lambda t: t[0])
        lb = max(lb, lag["bound"])
        keep = ~lag["dropped"] & ~lag["closed"][lst.jj]
        model = radius.build(lst, wa, n_e, k_add, keep=keep, closed=lag["closed"],
                             opened=lag["opened"])
        nl = len(model.level_cost)
        info.update(pmedian_k=kmax, pairs=len(lst.ii), levels=nl, rounds=rounds,
                    lagrange_iterations=lag["iterations"],
                    fixed_closed=int(lag["closed"].sum()), fixed_open=int(lag["opened"].sum()),
                    pairs_fixed=int((~keep).sum()))
        yb = np.zeros(n_e)
        yb[best_plan] = 1.0
        warm = model.warm(yb, lst, na)
        prog(0.3, f"求解整数规划：{n_e - int(lag['closed'].sum())} 个候选点、"
                  f"{nl} 个村-距离层级（半径模型）")
        left = max(0.01, opts.time_limit_s - elapsed())  # one budget for all rounds
        res = milp.solve(mip=model.mip, warm=warm, time_limit_s=left,
                         rel_gap=opts.mip_rel_gap, prog=prog, bound=model.mip.offset)
        res.seconds = elapsed()
        if res.x is None:
            if best_plan is None:
                return np.array([], dtype=int), res, info
            res.x = warm  # HiGHS found nothing in time: the best plan so far
        chosen = np.flatnonzero(res.x[:n_e] > 0.5)
        # Proof: a village charged a cap below its existing facility must truly cost that.
        loose = np.flatnonzero(model.at_cap(res.x, na) & ~lst.exact)
        bad = np.zeros(0, dtype=int)
        if len(loose):
            dnew = np.asarray(cost.nearest("candidates", cols=elig[chosen])[0])[active][loose]
            true = np.minimum(dexist[loose], dnew)
            bad = loose[true > lst.cap[loose] * (1 + 1e-12) + 1e-9]
        ok = len(bad) == 0
        # The reduced model's optimum M bounds every plan not cut off by the fixing, the
        # others cost more than ub: the optimum is at least min(M's bound, ub).
        if res.gap is not None and res.objective is not None:
            lb = max(lb, min(res.objective * (1 - res.gap), ub))
        c = true_cost(chosen)
        if c < ub:
            best_plan, ub = chosen, c
        cancelled_between = not ok and not res.cancelled and res.optimal and prog.cancelled()
        if ok or res.cancelled or not res.optimal or cancelled_between or np.all(k[bad] >= n_e):
            res.cancelled = res.cancelled or cancelled_between
            res.objective = ub
            res.optimal = bool((ok and res.optimal and not res.cancelled)
                               or ub - lb <= opts.mip_rel_gap * max(abs(ub), 1e-9))
            res.gap = 0.0 if res.optimal else max(0.0, (ub - lb) / ub) if ub > 0 else 0.0
            info["proven_exact"] = bool(ok)
            info["lower_bound"] = float(ub if res.optimal else lb)
            info["unserved"] = _unserved(cost, elig, best_plan, dexist_all, active)
            return np.sort(best_plan), res, info
        k[bad] = np.minimum(n_e, k[bad] * 2)


def _lagrange(lst, wa, n_e, k_add, ub, opts: SitingOptions, prog: Progress, t0, true_cost):
    """Rounds of subgradient steps, each followed by swaps from the relaxation's plan;
    candidates and pairs fixed in any round stay fixed (each fixing holds against the
    upper bound of its round, never below the final one). Stops when the bound meets
    the best plan, after ``LAGRANGE_SHARE`` of the time budget, or on cancel."""
    n_pairs = len(lst.ii)
    closed = np.zeros(n_e, dtype=bool)
    opened = np.zeros(n_e, dtype=bool)
    dropped = np.zeros(n_pairs, dtype=bool)
    plan, bound, lam, its = None, -np.inf, None, 0
    budget = LAGRANGE_SHARE * opts.time_limit_s
    tried = set()
    for _ in range(LAGRANGE_ROUNDS):
        if time.monotonic() - t0 > budget or prog.cancelled():
            break
        lag = radius.lagrangian(lst, wa, n_e, k_add, ub, iterations=LAGRANGE_ITERATIONS,
                                lam=lam, stop=lambda: time.monotonic() - t0 > budget)
        its += lag.iterations
        lam = lag.lam  # continue from the best multipliers with a fresh step size
        closed |= lag.closed
        opened |= lag.opened
        dropped |= lag.dropped
        bound = max(bound, lag.bound)
        # swaps from the relaxation's plans: the best one and a few met on the way
        for seed in [lag.plan, *lag.plans]:
            key = tuple(np.sort(seed))
            if key in tried or time.monotonic() - t0 > budget:
                continue
            tried.add(key)
            y = np.zeros(n_e)
            y[seed] = 1.0
            cand = np.flatnonzero(radius.local_search(lst, wa, n_e, y) > 0.5)
            c = true_cost(cand)
            if c < ub:
                ub, plan = c, cand
        prog(0.27, f"拉格朗日下界：与当前最好方案差距 {(ub - bound) / ub:.3%}"
             if ub > 0 else "拉格朗日下界", force=False)
        if ub - bound <= opts.mip_rel_gap * abs(ub):
            break
    return {"closed": closed & ~opened, "opened": opened & ~closed, "dropped": dropped,
            "bound": bound, "ub": ub, "plan": plan, "iterations": its}


def _true_cost(cost, elig, chosen, dexist_all, w, active, penalty) -> float:
    """The plan's weighted cost over the active villages (penalty where unserved)."""
    dnew = np.asarray(cost.nearest("candidates", cols=elig[chosen])[0])
    c = np.minimum(dexist_all, dnew)[active]
    return float((w[active] * np.where(np.isfinite(c), c, penalty)).sum())


def _unserved(cost, elig, chosen, dexist_all, active) -> int:
    """Active villages that reach neither an existing facility nor a chosen site."""
    dnew = np.asarray(cost.nearest("candidates", cols=elig[chosen])[0])
    return int((~np.isfinite(np.minimum(dexist_all, dnew)[active])).sum())


def _pmedian_pairs(data: Inputs, active, elig, dexist, k):
    """Each village's ``k`` nearest candidates closer than its nearest existing facility,
    and a fallback cost min(nearest existing, (k+1)-th nearest candidate): a lower bound
    on the village's cost when none of its listed candidates is open, exact when the
    existing facility is the nearer of the two."""
    n_e = len(elig)
    kq = min(k + 1, n_e)
    d, idx = data.cost.knearest("candidates", kq, cols=elig)
    d, idx = np.asarray(d, dtype=float)[active], np.asarray(idx)[active]
    n = len(active)
    if kq > k:
        nxt = d[:, k]
        d, idx = d[:, :k], idx[:, :k]
    else:
        nxt = np.full(n, np.inf)
    keep = d < dexist[:, None]
    ii = np.repeat(np.arange(n), d.shape[1])[keep.ravel()]
    jj, dd = idx.ravel()[keep.ravel()], d.ravel()[keep.ravel()]
    fallback = np.minimum(dexist, nxt)
    exact = dexist <= nxt
    return ii, jj, dd, fallback, exact


def _uncapacitated_assignment(data: Inputs, w, elig, k_add, opts: SitingOptions,
                              prog: Progress):
    """The classic assignment formulation (x_ij <= y_j) over each village's nearest
    candidates with a lower-bound fallback, doubled until proven exact: the model used
    before the radius one, kept for the benchmark and the tests' comparison. Villages
    that reach nothing are left out; every reachable village must be served."""
    n_e = len(elig)
    cost = data.cost
    dexist_all = np.asarray(cost.nearest("facilities")[0], dtype=float)
    first_d, _ = cost.knearest("candidates", 1, cols=elig)
    reach = np.isfinite(dexist_all) | np.isfinite(first_d[:, 0])
    active = np.flatnonzero((w > 0) & (dexist_all > 0) & reach)
    dexist = dexist_all[active]
    kk = max(1, min(n_e, int(opts.pmedian_k)))
    total_seconds = 0.0
    while True:
        prog(0.15, f"建立模型：每村最近 {kk} 个候选点")
        ii, jj, dd, fb, exact = _pmedian_pairs(data, active, elig, dexist, kk)
        na, npair = len(active), len(ii)
        has_fb = np.isfinite(fb)
        fcols = np.flatnonzero(has_fb)
        nf = len(fcols)
        # columns: x (n_e) | z (npair) | f (nf)
        ncol = n_e + npair + nf
        c = np.r_[np.zeros(n_e), w[active][ii] * dd, w[active][fcols] * fb[fcols]]
        assign = sparse.csr_matrix(
            (np.ones(npair + nf), (np.r_[ii, fcols], np.r_[n_e + np.arange(npair),
                                                           n_e + npair + np.arange(nf)])),
            shape=(na, ncol))
        opening = sparse.csr_matrix(
            (np.r_[np.ones(npair), -np.ones(npair)],
             (np.r_[np.arange(npair), np.arange(npair)], np.r_[n_e + np.arange(npair), jj])),
            shape=(npair, ncol))
        card = sparse.csr_matrix((np.ones(n_e), (np.zeros(n_e, int), np.arange(n_e))),
                                 shape=(1, ncol))
        mip = Mip(c=c, lo=np.zeros(ncol), hi=np.ones(ncol),
                   integer=np.r_[np.ones(n_e, bool), np.zeros(npair + nf, bool)],
                   a=sparse.vstack([assign, opening, card], format="csc"),
                   row_lo=np.r_[np.ones(na), np.full(npair, -np.inf), k_add],
                   row_hi=np.r_[np.ones(na), np.zeros(npair), k_add])
        prog(0.2, "计算贪心初始方案")
        x0 = _greedy_pmedian(ii, jj, dd, fb, w[active], n_e, k_add)
        warm = _pmedian_warm(x0, ii, jj, dd, fb, na, n_e, fcols)
        prog(0.3, f"求解整数规划：{n_e} 个候选点、{npair} 个村-候选点对")
        left = max(0.01, opts.time_limit_s - total_seconds)  # one budget for all rounds
        res = milp.solve(mip, warm, left, opts.mip_rel_gap, prog, bound=0.0)
        total_seconds += res.seconds
        info = {"formulation": "assignment", "pmedian_k": kk, "pairs": npair}
        if res.x is None:
            res.seconds = total_seconds
            return np.array([], dtype=int), res, info
        chosen = np.flatnonzero(res.x[:n_e] > 0.5)
        # Proof: wherever the model used a lower-bound fallback, the true cost must match.
        fused = res.x[n_e + npair:] > 1e-6
        loose = fcols[fused & ~exact[fcols]]
        ok = True
        if len(loose):
            dnew = np.asarray(cost.nearest("candidates", cols=elig[chosen])[0])[active]
            true = np.minimum(dexist[loose], dnew[loose])
            ok = bool(np.all(true <= fb[loose] * (1 + 1e-12) + 1e-9))
        if not ok and not res.cancelled and res.optimal and kk < n_e and prog.cancelled():
            true = _true_cost(cost, elig, chosen, dexist_all, w, active, np.inf)
            res.cancelled, res.optimal = True, False
            res.gap = (true - res.objective) / true if true > 0 else 0.0
            res.objective = true
        if ok or kk >= n_e or res.cancelled or not res.optimal:
            res.seconds = total_seconds
            return chosen, res, {**info, "proven_exact": ok}
        kk = min(n_e, kk * 2)


def _greedy_pmedian(ii, jj, dd, fb, w, n_e, k):
    return radius.greedy_pairs(ii, jj, dd, np.where(np.isfinite(fb), fb, 1e15), w, n_e, k)


def _pmedian_warm(x0, ii, jj, dd, fb, na, n_e, fcols):
    """Column values of the greedy plan: each village to its nearest open listed
    candidate, else to its fallback."""
    open_p = np.flatnonzero(x0[jj] > 0)
    o = open_p[np.lexsort((dd[open_p], ii[open_p]))]
    first = o[np.r_[True, ii[o][1:] != ii[o][:-1]]] if len(o) else o
    z = np.zeros(len(ii))
    z[first] = 1
    served = np.zeros(na, dtype=bool)
    served[ii[first]] = True
    f = (~served[fcols]).astype(float)
    return np.r_[x0, z, f]


def _capacitated(data: Inputs, w, q, elig, k_add, cap_new, opts: SitingOptions,
                 prog: Progress, *, build_only=False, single_source=False):
    """Capacitated p-median: existing facilities open with their beds, new sites with
    ``cap_new`` beds each; a village's demand may be split between facilities (fractional
    assignment) unless ``single_source`` (each village wholly to one facility, as spopt)."""
    kxy = data.kxy[elig] if k_add else np.zeros((0, 2))
    n, n_e, n_f = len(data.cxy), len(kxy), len(data.fxy)
    active = np.flatnonzero(q > 0)
    na = len(active)
    allxy = np.vstack([kxy, data.fxy])
    nfac = n_e + n_f
    dense = na * nfac <= int(opts.capacitated_dense_max_pairs)
    if data.cost.straight:
        if dense:
            ii = np.repeat(np.arange(na), nfac)
            jj = np.tile(np.arange(nfac), na)
            dd = np.hypot(*(data.cxy[active][ii] - allxy[jj]).T)
        else:
            kk = min(nfac, int(opts.capacitated_k))
            d, idx = cKDTree(allxy).query(data.cxy[active], k=kk)
            ii = np.repeat(np.arange(na), kk)
            jj, dd = idx.ravel(), d.ravel()
    else:
        # road / OD-matrix costs: the same pairs from the cost matrix; unreachable pairs
        # are left out, and so are villages that reach no facility at all
        dm = np.hstack([data.cost.dense("candidates", elig) if k_add else np.zeros((n, 0)),
                        data.cost.dense("facilities")])[active]
        kk = nfac if dense else min(nfac, int(opts.capacitated_k))
        idx = np.argsort(dm, axis=1, kind="stable")[:, :kk]
        d = np.take_along_axis(dm, idx, axis=1)
        ii = np.repeat(np.arange(na), kk)
        jj, dd = idx.ravel(), d.ravel()
        ok = np.isfinite(dd)
        reach = np.bincount(ii[ok], minlength=na) > 0
        keep_rows = np.flatnonzero(reach)
        remap = np.full(na, -1)
        remap[keep_rows] = np.arange(len(keep_rows))
        ii, jj, dd = remap[ii[ok]], jj[ok], dd[ok]
        keep = ii >= 0
        ii, jj, dd = ii[keep], jj[keep], dd[keep]
        active, na = active[keep_rows], len(keep_rows)
    npair = len(ii)
    ncol = n_e + npair
    c = np.r_[np.zeros(n_e), w[active][ii] * dd]
    assign = sparse.csr_matrix((np.ones(npair), (ii, n_e + np.arange(npair))),
                               shape=(na, ncol))
    capv = np.r_[np.full(n_e, float(cap_new)), data.fcap]
    caprows = sparse.csr_matrix(
        (np.r_[q[active][ii], -capv[:n_e]],
         (np.r_[jj, np.arange(n_e)], np.r_[n_e + np.arange(npair), np.arange(n_e)])),
        shape=(nfac, ncol))
    cap_hi = np.r_[np.zeros(n_e), data.fcap]
    cand_pair = np.flatnonzero(jj < n_e)
    opening = sparse.csr_matrix(
        (np.r_[np.ones(len(cand_pair)), -np.ones(len(cand_pair))],
         (np.r_[np.arange(len(cand_pair)), np.arange(len(cand_pair))],
          np.r_[n_e + cand_pair, jj[cand_pair]])), shape=(len(cand_pair), ncol))
    card = sparse.csr_matrix((np.ones(n_e), (np.zeros(n_e, int), np.arange(n_e))),
                             shape=(1, ncol))
    mip = Mip(c=c, lo=np.zeros(ncol), hi=np.ones(ncol),
               integer=np.r_[np.ones(n_e, bool), np.full(npair, bool(single_source))],
               a=sparse.vstack([assign, caprows, opening, card], format="csc"),
               row_lo=np.r_[np.ones(na), np.full(nfac, -np.inf),
                            np.full(len(cand_pair), -np.inf), k_add],
               row_hi=np.r_[np.ones(na), cap_hi, np.zeros(len(cand_pair)), k_add])
    prog(0.3, f"求解整数规划：{n_e} 个候选点、{npair} 个村-设施对（按床位容量分配）")
    res = milp.solve(mip, None, opts.time_limit_s, opts.mip_rel_gap, prog,
                 *((0.1, 0.2) if build_only else (0.3, 0.95)), bound=0.0)
    info = {"pairs": npair, "dense_pairs": dense}
    if res.x is None:
        return np.array([], dtype=int), res, None, info
    z = sparse.csr_matrix((res.x[n_e:], (active[ii], jj)), shape=(n, nfac))
    return np.flatnonzero(res.x[:n_e] > 0.5), res, z, info


def rank_distance(d, cur, w):
    """Order of the chosen sites by greedy reduction of sum w * cost to the nearest open
    facility; also each one's reduction. ``d``: villages x chosen sites costs."""
    k = d.shape[1]
    if k == 0:
        return np.array([], dtype=int), np.array([])
    # a village no facility reaches yet (green field, or beyond every road) starts from
    # the farthest chosen site that reaches it, so every gain stays a real distance
    reach = np.where(np.isfinite(d), d, -np.inf).max(axis=1)
    cur = np.where(np.isfinite(cur), cur, np.where(np.isfinite(reach), reach, 0.0)).copy()
    left = list(range(k))
    order, gains = [], []
    for _ in range(k):
        g = [(w * np.maximum(0.0, cur - d[:, j])).sum() for j in left]
        t = int(np.argmax(g))
        j = left.pop(t)
        order.append(j)
        gains.append(g[t])
        cur = np.minimum(cur, d[:, j])
    return np.asarray(order, dtype=int), np.asarray(gains)
