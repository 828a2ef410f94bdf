"""p-median: add K sites minimising the weighted distance to the nearest open facility.

Uncapacitated: a sparse model over each village's nearest candidates with a lower-bound
fallback, widened until the solution is proven exact. Capacitated: existing facilities
with their beds, new sites with ``new_capacity`` beds each; a village's demand split
between facilities, or (``single_source``) wholly to one, as spopt.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from . import milp
from .inputs import Coverage, Inputs, nearest
from .milp import Mip, Outcome
from .options import SitingOptions
from .progress import Progress


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


def _pmedian_pairs(cxy, kxy, dexist, k):
    """Each village's ``k`` nearest candidates closer than its nearest existing facility,
    and a fallback cost min(nearest existing, (k+1)-th nearest candidate): a lower bound
    on the village's cost when none of its listed candidates is open, exact when the
    existing facility is the nearer of the two."""
    n, m = len(cxy), len(kxy)
    kq = min(k + 1, m)
    d, idx = cKDTree(kxy).query(cxy, k=kq)
    d, idx = d.reshape(n, kq), idx.reshape(n, kq)
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


def _uncapacitated(data: Inputs, w, elig, k_add, opts: SitingOptions, prog: Progress):
    """Uncapacitated p-median with the existing facilities open (sparse, proven exact)."""
    kxy = data.kxy[elig]
    n_e = len(kxy)
    dexist = nearest(data.cxy, data.fxy)
    active = np.flatnonzero((w > 0) & (dexist > 0))
    kk = max(1, min(n_e, int(opts.pmedian_k)))
    total_seconds = 0.0
    while True:
        prog(0.15, f"建立模型：每村最近 {kk} 个候选点")
        ii, jj, dd, fb, exact = _pmedian_pairs(data.cxy[active], kxy, dexist[active], kk)
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
        if res.x is None:
            res.seconds = total_seconds
            return np.array([], dtype=int), res, {"pmedian_k": kk, "pairs": npair}
        chosen = np.flatnonzero(res.x[:n_e] > 0.5)
        # Proof: wherever the model used a lower-bound fallback, the true cost must match.
        fused = res.x[n_e + npair:] > 1e-6
        loose = fcols[fused & ~exact[fcols]]
        ok = True
        if len(loose):
            true = np.minimum(dexist[active][loose],
                              nearest(data.cxy[active][loose], kxy[chosen]))
            ok = bool(np.all(true <= fb[loose] * (1 + 1e-12) + 1e-9))
        if not ok and not res.cancelled and res.optimal and kk < n_e and prog.cancelled():
            # Cancelled between rounds: keep this plan (feasible); the relaxation's optimum
            # is a lower bound, so the gap to the true optimum is known.
            true = float((w[active] * np.minimum(
                dexist[active], nearest(data.cxy[active], kxy[chosen]))).sum())
            res.cancelled, res.optimal = True, False
            res.gap = (true - res.objective) / true if true > 0 else 0.0
            res.objective = true
        if ok or kk >= n_e or res.cancelled or not res.optimal:
            res.seconds = total_seconds
            return chosen, res, {"pmedian_k": kk, "pairs": npair, "proven_exact": ok}
        kk = min(n_e, kk * 2)


def _greedy_pmedian(ii, jj, dd, fb, w, n_e, k):
    cur = np.where(np.isfinite(fb), fb, 1e15)
    x0 = np.zeros(n_e)
    for _ in range(min(k, n_e)):
        gain = np.bincount(jj, weights=w[ii] * np.maximum(0.0, cur[ii] - dd), minlength=n_e)
        gain[x0 > 0] = -1.0
        j = int(np.argmax(gain))
        x0[j] = 1
        sel = jj == j
        np.minimum.at(cur, ii[sel], dd[sel])
    return x0


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
    if dense:
        ii = np.repeat(np.arange(na), nfac)
        jj = np.tile(np.arange(nfac), na)
        dd = np.hypot(*(data.cxy[active][ii] - allxy[jj]).T)
    else:
        kk = min(nfac, int(opts.capacitated_k))
        d, idx = cKDTree(allxy).query(data.cxy[active], k=kk)
        ii = np.repeat(np.arange(na), kk)
        jj, dd = idx.ravel(), d.ravel()
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


def rank_distance(cxy, sxy, cur, w):
    """Order of the chosen sites by greedy reduction of sum w * distance to the nearest
    open facility; also each one's reduction."""
    k = len(sxy)
    if k == 0:
        return np.array([], dtype=int), np.array([])
    d = np.hypot(cxy[:, None, 0] - sxy[None, :, 0], cxy[:, None, 1] - sxy[None, :, 1])
    cur = np.where(np.isfinite(cur), cur, 1e15).copy()
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
