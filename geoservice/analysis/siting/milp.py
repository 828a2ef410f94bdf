"""The MILP and its solve: HiGHS with a warm start, a time limit, a gap, progress and cancel.

:func:`solve` is the one place HiGHS is called. A cancel (polled in HiGHS' interrupt
callbacks) stops the solve and keeps the best plan found; so does the time limit. The
gap of a plan stopped early is HiGHS' own, else the distance to a trivial bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

from .progress import Progress


@dataclass
class Mip:
    """A MILP in column form: min/max c'x + offset, row_lo <= A x <= row_hi."""

    c: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray       # bool per column
    a: sparse.csc_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    maximize: bool = False
    offset: float = 0.0


@dataclass
class Solved:
    x: np.ndarray | None
    objective: float | None
    optimal: bool
    gap: float | None
    seconds: float
    status: str
    cancelled: bool
    time_limited: bool


def solver_name() -> str:
    h = highspy.Highs()
    return f"HiGHS {h.version()}"


def solve(mip: Mip, warm: np.ndarray | None, time_limit_s: float, rel_gap: float,
           prog: Progress, lo_frac: float = 0.3, hi_frac: float = 0.95,
           bound: float | None = None) -> Solved:
    """Solve with HiGHS. ``bound`` is a trivial bound on the objective (valid for every
    plan) used for the gap when stopped before HiGHS has proven one of its own."""
    h = highspy.Highs()
    h.silent()
    n, m = len(mip.c), mip.a.shape[0]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.asarray(mip.c, dtype=float)
    lp.col_lower_ = np.asarray(mip.lo, dtype=float)
    lp.col_upper_ = np.asarray(mip.hi, dtype=float)
    lp.row_lower_ = np.asarray(mip.row_lo, dtype=float)
    lp.row_upper_ = np.asarray(mip.row_hi, dtype=float)
    a = mip.a.tocsc()
    a.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in mip.integer]
    lp.sense_ = highspy.ObjSense.kMaximize if mip.maximize else highspy.ObjSense.kMinimize
    lp.offset_ = float(mip.offset)
    h.passModel(lp)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    h.setOptionValue("random_seed", 0)
    if warm is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(warm, dtype=float))
        sol.value_valid = True
        h.setSolution(sol)

    state = {"cancelled": False, "best": None}
    t0 = time.monotonic()

    def frac(gap: float) -> float:
        g = gap if gap is not None and 0 <= gap <= 1 else 1.0
        f = max((time.monotonic() - t0) / time_limit_s, 1.0 - g)
        return lo_frac + (hi_frac - lo_frac) * min(1.0, f)

    def on_interrupt(e):
        if prog.cancelled():
            state["cancelled"] = True
            e.interrupt()
        gap = e.data_out.mip_gap
        prog(frac(gap), f"求解中：已用 {time.monotonic() - t0:.1f} 秒"
             + (f"，与最优的差距不超过 {gap:.2%}" if 0 <= gap <= 1e9 else ""), force=False)

    def on_improve(e):
        val = e.data_out.objective_function_value
        state["best"] = val
        gap = e.data_out.mip_gap
        prog(frac(gap), f"找到更好的方案：目标值 {val:,.0f}", force=True)

    h.cbMipInterrupt.subscribe(on_interrupt)
    h.cbMipImprovingSolution.subscribe(on_improve)
    h.cbSimplexInterrupt.subscribe(on_interrupt)
    h.cbIpmInterrupt.subscribe(on_interrupt)

    h.run()
    seconds = time.monotonic() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_sol else None
    optimal = status == highspy.HighsModelStatus.kOptimal
    gap = 0.0 if optimal else (float(info.mip_gap) if has_sol and np.isfinite(info.mip_gap)
                               and info.mip_gap >= 0 else None)
    if gap is None and has_sol and bound is not None:
        obj = float(info.objective_function_value)
        better = max(bound, float(info.mip_dual_bound)) if not mip.maximize else \
            min(bound, float(info.mip_dual_bound))
        if not np.isfinite(better):
            better = bound
        gap = abs(obj - better) / max(abs(obj), 1e-9)
    return Solved(x=x, objective=float(info.objective_function_value) if has_sol else None,
                   optimal=optimal, gap=gap, seconds=seconds,
                   status=h.modelStatusToString(status), cancelled=state["cancelled"],
                   time_limited=status == highspy.HighsModelStatus.kTimeLimit)


@dataclass
class Outcome:
    """What solving a problem gave: the chosen eligible candidates (indices into the
    eligible ones), the solve (None when no model was needed), and what the problem adds."""

    chosen_e: np.ndarray
    res: Solved | None
    message: str = ""                 # set when no model was solved (target problem)
    target_reached: bool | None = None
    extra: dict | None = None         # solver facts for the summary (pairs, proven_exact ...)
    assignment: sparse.spmatrix | None = None  # capacitated pmedian: villages x facilities
    before_cost: float | None = None  # capacitated pmedian: the cost without new sites
