"""The covering problems: maximal covering (MCLP, also the cemetery problem) and target
coverage (the fewest new sites reaching a share), their greedy warm start and the greedy
ranking of the chosen sites."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from geoservice.analysis.vocabulary import WEIGHT_NOUNS

from . import milp
from .inputs import Coverage, share
from .milp import Mip, Outcome, Solved
from .options import SitingOptions
from .progress import Progress


def greedy_cover(a: sparse.csc_matrix, w_rem: np.ndarray, pool: np.ndarray, k: int,
                 need: float | None = None) -> tuple[list[int], list[float]]:
    """Greedy max coverage: up to ``k`` columns of ``a`` from ``pool`` by marginal weight;
    stops early once ``need`` weight is gained (target problem)."""
    w_rem = np.asarray(w_rem, dtype=float).copy()
    allowed = np.zeros(a.shape[1], dtype=bool)
    allowed[pool] = True
    chosen, gains, total = [], [], 0.0
    at = a.T.tocsr()
    for _ in range(min(k, int(allowed.sum()))):
        g = at @ w_rem
        g[~allowed] = -1.0
        j = int(np.argmax(g))
        chosen.append(j)
        gains.append(float(g[j]))
        total += g[j]
        allowed[j] = False
        w_rem[a.indices[a.indptr[j]:a.indptr[j + 1]]] = 0.0
        if need is not None and total >= need:
            break
    return chosen, gains


def rank_cover(a_sel: sparse.csc_matrix, w_unc: np.ndarray) -> np.ndarray:
    """Order of the chosen columns by greedy marginal covered weight."""
    order, _ = greedy_cover(a_sel, w_unc, np.arange(a_sel.shape[1]), a_sel.shape[1])
    return np.asarray(order, dtype=int)


def _covering_model(a_e: sparse.csc_matrix, w_unc: np.ndarray):
    """Rows that matter (uncovered, weight > 0, some candidate in reach) and the
    block [-A_U | I] of the constraints y_u - sum_j a_uj x_j <= 0."""
    reach = np.asarray(a_e.sum(axis=1)).ravel() > 0
    rows = np.flatnonzero((w_unc > 0) & reach)
    a_u = a_e.tocsr()[rows]
    block = sparse.hstack([-a_u, sparse.identity(len(rows), format="csr")], format="csr")
    return rows, a_u, block


def solve_mclp(cov: Coverage, k: int, opts: SitingOptions, prog: Progress) -> Outcome:
    """Add ``k`` sites maximising the newly covered weight."""
    a_e, w_unc = cov.a_e, cov.w_unc
    n_e = a_e.shape[1]
    rows, a_u, block = _covering_model(a_e, w_unc)
    n_u = len(rows)
    card = sparse.csr_matrix(np.r_[np.ones(n_e), np.zeros(n_u)])
    mip = Mip(c=np.r_[np.zeros(n_e), w_unc[rows]], lo=np.zeros(n_e + n_u),
              hi=np.ones(n_e + n_u), integer=np.r_[np.ones(n_e, bool), np.zeros(n_u, bool)],
              a=sparse.vstack([block, card], format="csc"),
              row_lo=np.r_[np.full(n_u, -np.inf), k], row_hi=np.r_[np.zeros(n_u), k],
              maximize=True)
    prog(0.2, "计算贪心初始方案")
    g, _ = greedy_cover(a_e, w_unc, np.arange(n_e), k)
    res = _solve_with_warm_start(mip, a_u, g, n_e, n_u, opts, prog,
                                 bound=float(w_unc[rows].sum()))
    return Outcome(_chosen(res, n_e), res)


def solve_target(cov: Coverage, target: float, weight: str, opts: SitingOptions,
                 prog: Progress) -> Outcome:
    """The fewest new sites reaching ``target`` of the weight; no model when the existing
    facilities reach it already or all candidates together cannot."""
    w, w_unc, a_e = cov.w, cov.w_unc, cov.a_e
    total = float(w.sum())
    have = float(w[cov.cov_before].sum())
    goal = float(target) * total * (1 - 1e-12)
    reach = np.asarray(a_e.sum(axis=1)).ravel() > 0
    best = have + float(w_unc[reach].sum())
    none = np.array([], dtype=int)
    if have >= goal:
        return Outcome(none, None, target_reached=True,
                       message=f"现有设施已达到目标：{WEIGHT_NOUNS[weight]}覆盖率 "
                               f"{share(have, total):.1%} ≥ {float(target):.0%}，无需新建")
    if best < goal:
        return Outcome(none, None, target_reached=False,
                       message=f"候选点全部建成也只能覆盖 {share(best, total):.1%}，"
                               f"达不到目标 {float(target):.0%}")
    need = goal - have
    n_e = a_e.shape[1]
    rows, a_u, block = _covering_model(a_e, w_unc)
    n_u = len(rows)
    weights = sparse.csr_matrix(np.r_[np.zeros(n_e), w_unc[rows]])
    mip = Mip(c=np.r_[np.ones(n_e), np.zeros(n_u)], lo=np.zeros(n_e + n_u),
              hi=np.ones(n_e + n_u), integer=np.r_[np.ones(n_e, bool), np.zeros(n_u, bool)],
              a=sparse.vstack([block, weights], format="csc"),
              row_lo=np.r_[np.full(n_u, -np.inf), need], row_hi=np.r_[np.zeros(n_u), np.inf])
    prog(0.2, "计算贪心初始方案")
    g, _ = greedy_cover(a_e, w_unc, np.arange(n_e), n_e, need=need)
    res = _solve_with_warm_start(mip, a_u, g, n_e, n_u, opts, prog, bound=1.0)
    return Outcome(_chosen(res, n_e), res)


def _solve_with_warm_start(mip: Mip, a_u, greedy: list[int], n_e: int, n_u: int,
                           opts: SitingOptions, prog: Progress, *, bound: float) -> Solved:
    x0 = np.zeros(n_e)
    x0[greedy] = 1
    warm = np.r_[x0, np.minimum(1.0, a_u @ x0)]
    prog(0.3, f"求解整数规划：{n_e} 个候选点、{n_u} 个待覆盖村")
    return milp.solve(mip, warm, opts.time_limit_s, opts.mip_rel_gap, prog, bound=bound)


def _chosen(res: Solved, n_e: int) -> np.ndarray:
    if res.x is None:
        return np.array([], dtype=int)
    return np.flatnonzero(res.x[:n_e] > 0.5)
