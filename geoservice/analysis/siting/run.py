"""One siting run, step by step: check the options, read the inputs, filter the
candidates, refuse what cannot be solved, compute coverage, solve, build the result."""

from __future__ import annotations

import numpy as np

from geoservice.analysis.cost import CostSource
from geoservice.analysis.errors import Cancelled, InvalidInput

from .cover import solve_mclp, solve_target
from .exclusions import exclusions, planned_hits
from .inputs import Coverage, coverage_of, read_inputs
from .milp import Outcome
from .options import SitingOptions
from .pmedian import solve_pmedian
from .progress import Progress
from .result import Prepared, SitingResult, build_result


def siting(villages, facilities, candidates=None, *, options: SitingOptions | None = None,
           exclusion_zones=None, progress=None, cancel=None, taken=None,
           cost: CostSource | None = None, **params) -> SitingResult:
    """Where to add facilities: see the package docstring and docs/siting.md.

    villages : villages layer (code, name, township_code, population, elderly_population).
    facilities : existing facilities (points or polygons; they stay open).
    candidates : ``candidates`` layer (points, name), or None for every village centre.
    options : the checked :class:`SitingOptions`; or give its parameters as keywords
        (``problem``, ``radius_m``, ``add``, ``target``, ``weight``, ``capacitated``,
        ``setbacks``, ``village_setback_m``, ``time_limit_s``, ``new_capacity``,
        ``bed_demand_per_1000``, ``single_source``: see :meth:`SitingOptions.build`).
    exclusion_zones : cemetery: the exclusion zones (zone_type, name, polygons).
    progress : callable(fraction 0-1, Chinese message).
    cancel : callable() -> bool; True stops the solve and returns the best plan so far
        (raises :class:`~geoservice.analysis.errors.Cancelled` before any plan exists).
    taken : points (a GeoDataFrame) where a plan already has a site: a candidate within
        ``TAKEN_M`` of one is never proposed (rule ``planned``, listed with the excluded).
        The plan's sites are expected among ``facilities`` too (they count as open).
    cost : how travel is measured (:mod:`geoservice.analysis.cost`): straight-line metres
        when None; road network or OD matrix otherwise, the radius in its unit.
    """
    opts = _options(options, params)
    prog = Progress(progress, cancel)
    prep = prepare(villages, facilities, candidates, exclusion_zones, opts, prog, taken, cost)

    prog(0.1, "计算覆盖关系（KD 树）" if prep.data.cost.straight else "计算覆盖关系（出行成本）")
    cov = coverage_of(prep.data, prep.elig, opts.weight, opts.radius_m)
    prog.stop_if_cancelled()

    out = solve(prep, cov, opts, prog)
    _require_a_plan(out, opts)

    prog(0.96, "整理结果：按边际收益排序")
    result = build_result(prep, cov, out, opts)
    prog(1.0, "完成")
    return result


def precheck(villages, facilities, candidates=None, *, options: SitingOptions | None = None,
             exclusion_zones=None, taken=None, cost: CostSource | None = None,
             **params) -> dict:
    """The checks :func:`siting` makes before it solves, without solving (cheap: no
    coverage matrix, no MILP). Raises the same ``InvalidInput``; a caller that runs the
    solve in the background calls this first so bad input is refused at once.
    Returns counts: candidates, eligible (after the cemetery exclusions), add."""
    opts = _options(options, params)
    prep = prepare(villages, facilities, candidates, exclusion_zones, opts, Progress(), taken,
                   cost)
    return {"candidates": int(len(prep.data.kxy)), "eligible": int(len(prep.elig)),
            "add": prep.k_add}


def _options(options: SitingOptions | None, params: dict) -> SitingOptions:
    if options is None:
        return SitingOptions.build(**params)
    if params:
        raise TypeError(f"options given: unexpected {', '.join(sorted(params))}")
    return options


def prepare(villages, facilities, candidates, exclusion_zones, opts: SitingOptions,
            prog: Progress, taken=None, cost: CostSource | None = None) -> Prepared:
    """Every check that only the data can tell, before solving: villages present, the
    candidates left after the exclusions, K against them, beds against the demand.
    Shared by :func:`siting` and :func:`precheck`, so both say the same."""
    if villages is None or len(villages) == 0:
        raise InvalidInput("村图层（villages）为空：无法选址", name="villages")
    prog(0.0, "读取村、设施和候选点")
    data = read_inputs(villages, facilities, candidates, cost)
    m = len(data.kxy)
    prog.stop_if_cancelled()

    problem = opts.problem
    prog(0.05, "筛选候选点" if problem == "cemetery" else "整理候选点")
    if problem == "cemetery":
        eligible, hits = exclusions(data, exclusion_zones, opts.setbacks_m,
                                    opts.village_setback_m)
    else:
        eligible, hits = np.ones(m, dtype=bool), [[] for _ in range(m)]
    if taken is not None and len(taken) and m:
        eligible = planned_hits(data, taken, hits) & eligible
    elig = np.flatnonzero(eligible)
    n_e = len(elig)
    k_add = opts.add
    if problem != "target":
        if n_e == 0:
            raise InvalidInput("没有可用的候选点：全部候选点都被禁建区或距村中心距离规则排除"
                               if problem == "cemetery" else
                               "没有可用的候选点：候选点都已在规划方案中" if m else "没有候选点",
                               name="candidates")
        if k_add > n_e:
            what = "符合条件的候选点" if problem == "cemetery" else "候选点"
            raise InvalidInput(f"参数 add（新增设施数）{k_add} 超过了{what}数 {n_e}", name="add")
    if problem == "pmedian" and opts.capacitated:
        _check_beds(data, k_add, opts)
    return Prepared(data=data, eligible=eligible, hits=hits, elig=elig, k_add=k_add)


def _check_beds(data, k_add: int, opts: SitingOptions) -> None:
    cap_new, bed_rate = opts.new_capacity, opts.bed_demand_per_1000
    need = float((data.w["elderly"] * bed_rate / 1000.0).sum())
    have = float(data.fcap.sum())
    if have + k_add * cap_new < need * (1 - 1e-12):
        raise InvalidInput(
            f"床位不足：现有 {have:g} 张加新建 {k_add}×{cap_new:g} 张，少于需求 {need:.0f} 张"
            f"（每千名老人 {bed_rate:g} 张）；请增加参数 add（新增设施数），或在 defaults.toml"
            f" 的 [siting] 中调整 new_capacity_beds（每处新建床位数）或 bed_demand_per_1000",
            name="add")


def solve(prep: Prepared, cov: Coverage, opts: SitingOptions, prog: Progress) -> Outcome:
    """The problem's model, solved (or, for a target already met or out of reach, not)."""
    if opts.problem in ("mclp", "cemetery"):
        return solve_mclp(cov, prep.k_add, opts, prog)
    if opts.problem == "target":
        return solve_target(cov, opts.target, opts.weight, opts, prog)
    return solve_pmedian(prep.data, cov, prep.elig, prep.k_add, opts, prog)


def _require_a_plan(out: Outcome, opts: SitingOptions) -> None:
    res = out.res
    if res is not None and res.x is None:
        if res.cancelled:
            raise Cancelled("已取消：尚未找到可行方案")
        raise InvalidInput(f"在求解时间上限 time_limit_s={opts.time_limit_s:g} 秒内没有找到可行方案，"
                           f"请放宽时间上限（HiGHS 状态：{res.status}）", name="time_limit_s")
