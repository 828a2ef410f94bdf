"""The result of a siting run: the chosen sites in greedy rank order with their marginal
gains, the villages before/after, the candidates and the excluded ones with their reasons,
and a summary (figures, the solve, a Chinese message). :meth:`SitingResult.to_dict` is
the JSON of the CLI's ``--json`` and ``/api/siting``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoservice.analysis.coverage import _geoms
from geoservice.analysis.jsonsafe import jsonable, page_records, records
from geoservice.analysis.vocabulary import PROBLEM_SHORT, WEIGHT_NOUNS, WEIGHT_UNITS, rule_label
from layers.crs import STORED_CRS

from .cover import rank_cover
from .exclusions import Hit
from .inputs import Coverage, Inputs, nearest_cost, share
from .milp import Outcome, solver_name
from .options import SitingOptions
from .pmedian import rank_distance


@dataclass
class SitingResult:
    """Chosen sites (by rank), excluded candidates, villages before/after, and a summary."""

    summary: dict
    sites: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame = field(default=None)

    def to_dict(self, *, fields: list[str] | None = None, offset: int = 0,
                limit: int | None = None) -> dict:
        """The JSON shape of the CLI's ``--json`` and ``/api/siting``.

        ``fields`` keeps only those fields of the village rows (in the order given);
        ``offset``/``limit`` return one page of the village rows. The summary, the sites
        and the excluded candidates are always whole. Unknown fields raise ``InvalidInput``.
        """
        villages = _plain(self.villages)
        return {
            "summary": jsonable(self.summary),
            "sites": records(_plain(self.sites)),
            "excluded": records(_plain(self.excluded)),
            "villages": page_records(villages, [str(c) for c in villages.columns],
                                     fields=fields, offset=offset, limit=limit, noun="村"),
        }


def _plain(gdf) -> pd.DataFrame:
    return pd.DataFrame(gdf.drop(columns="geometry", errors="ignore"))


@dataclass
class Prepared:
    """What was checked and computed before solving: the inputs, the candidates left
    after the exclusions (and why the others were excluded), K."""

    data: Inputs
    eligible: np.ndarray      # per candidate
    hits: list[list[Hit]]     # per candidate: the rules that exclude it
    elig: np.ndarray          # indices of the eligible candidates
    k_add: int | None


@dataclass
class _Ranked:
    """The chosen sites in rank order, who each newly covers, and coverage after."""

    chosen: np.ndarray            # candidate indices, by rank
    d_after: np.ndarray
    cov_after: np.ndarray
    first_rank: np.ndarray        # per village: the rank of the site that first covers it
    rows_per_site: list           # per site: the villages it newly covers
    distance_gain: np.ndarray | None  # pmedian: each site's reduction of the weighted distance


def rank(prep: Prepared, cov: Coverage, out: Outcome, opts: SitingOptions) -> _Ranked:
    """Order the chosen sites by greedy marginal gain (covered weight, or for the p-median
    the weighted distance saved) and work out who each one newly covers."""
    data = prep.data
    chosen = prep.elig[out.chosen_e]
    if opts.problem == "pmedian":
        order, dgain = rank_distance(data.cost.dense("candidates", chosen), cov.d_before,
                                     cov.w)
    else:
        order = rank_cover(cov.a_all[:, chosen].tocsc(), cov.w_unc)
        dgain = None
    chosen = chosen[order] if len(chosen) else chosen
    d_after = np.minimum(cov.d_before, nearest_cost(data, "candidates", chosen))
    cov_after = d_after <= opts.radius_m
    covered = cov.cov_before.copy()
    first_rank = np.full(len(data.cxy), 0)
    rows_per_site = []
    a_all = cov.a_all
    for r, j in enumerate(chosen, start=1):
        rows = a_all.indices[a_all.indptr[j]:a_all.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        first_rank[new] = r
        rows_per_site.append(np.sort(new))
    return _Ranked(chosen, d_after, cov_after, first_rank, rows_per_site, dgain)


def build_result(prep: Prepared, cov: Coverage, out: Outcome,
                 opts: SitingOptions) -> SitingResult:
    ranked = rank(prep, cov, out, opts)
    sites, new_site_rank, distances = _sites(prep, cov, out, opts, ranked)
    no_gain = _no_gain(cov, opts, ranked)
    sites["no_gain"] = no_gain
    chosen, data = ranked.chosen, prep.data
    sites_g = gpd.GeoDataFrame(
        sites, geometry=shapely.points(data.klonlat[chosen]) if len(chosen) else [],
        crs=STORED_CRS)
    summary = _summary(prep, cov, out, opts, ranked, distances, no_gain)
    return SitingResult(summary=jsonable(summary), sites=sites_g,
                        excluded=_excluded(prep),
                        villages=_villages(data, cov, ranked, new_site_rank),
                        candidates=_candidates(prep, chosen))


def _sites(prep: Prepared, cov: Coverage, out: Outcome, opts: SitingOptions,
           ranked: _Ranked) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The sites table, each village's new site (rank, 0 for none) and, for the p-median,
    the distance figures of the summary."""
    data, chosen, rows_per_site = prep.data, ranked.chosen, ranked.rows_per_site
    a_all = cov.a_all
    codes, names = data.codes, data.village_names
    eld, pop = data.w["elderly"], data.w["population"]
    sites = pd.DataFrame({
        "rank": np.arange(1, len(chosen) + 1),
        "candidate": [str(x) for x in data.kid[chosen]],
        "village_code": list(data.kvillage[chosen]),
        # by position, like the names below: a code may name several villages
        "village_name": list(data.kvillage_name[chosen]),
        "name": list(data.kname[chosen]),
        "lon": data.klonlat[chosen, 0] if len(chosen) else [],
        "lat": data.klonlat[chosen, 1] if len(chosen) else [],
        "marginal_elderly": [int(round(eld[r].sum())) for r in rows_per_site],
        "marginal_population": [int(round(pop[r].sum())) for r in rows_per_site],
        "marginal_villages": [len(r) for r in rows_per_site],
        "newly_covered": [[str(codes[i]) for i in r] for r in rows_per_site],
        # by position, not looked up by code: a code may name several villages
        "newly_covered_names": ["、".join(str(names[i]) for i in r) for r in rows_per_site],
        "covers_villages": [int(a_all[:, j].nnz) for j in chosen],
    })
    new_site_rank = np.where(ranked.first_rank > 0, ranked.first_rank, 0)
    if opts.problem != "pmedian":
        return sites, new_site_rank, {}
    sites["marginal_distance_reduction"] = np.round(ranked.distance_gain, 3)
    if opts.capacitated and out.assignment is not None:
        new_site_rank, distances = _assign_capacitated(prep, out, opts, chosen, sites)
    else:
        new_site_rank, distances = _assign_nearest(data, cov, ranked, sites)
    wsum = float(cov.w.sum())
    for k in ("before", "after"):
        tot = distances[f"total_weighted_distance_{k}"]
        distances[f"mean_distance_{k}_m"] = tot / wsum if tot is not None and wsum else None
    return sites, new_site_rank, distances


def _assign_capacitated(prep: Prepared, out: Outcome, opts: SitingOptions, chosen,
                        sites: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Capacitated p-median: the elderly assigned to each new site (may be fractional)
    and each village's main facility when that is a new site."""
    data = prep.data
    n, nfac_new = len(data.cxy), len(chosen)
    eld = data.w["elderly"]
    z_assign = out.assignment
    # z columns: eligible candidates then existing; map chosen -> rank
    zc = z_assign.tocsc()
    col_of = {int(e): t for t, e in enumerate(prep.elig)}
    cols = [col_of[int(j)] for j in chosen]
    sub = zc[:, cols].toarray() if nfac_new else np.zeros((n, 0))
    zz = z_assign.toarray()
    best = zz.argmax(axis=1)
    best_new = np.full(n, 0)
    for r, col in enumerate(cols, start=1):
        best_new[(best == col) & (zz.max(axis=1) > 0)] = r
    sites["assigned_elderly"] = np.round((sub * eld[:, None]).sum(axis=0), 3)
    sites["assigned_villages"] = [int((best_new == r).sum()) for r in range(1, nfac_new + 1)]
    return best_new, {
        "total_weighted_distance_before": out.before_cost,
        "total_weighted_distance_after": out.res.objective,
        "capacity_beds_existing": float(data.fcap.sum()),
        "capacity_beds_new_each": opts.new_capacity,
        "bed_demand": float((data.w["elderly"] * opts.bed_demand_per_1000 / 1000).sum()),
        "bed_demand_per_1000": opts.bed_demand_per_1000,
    }


def _assign_nearest(data: Inputs, cov: Coverage, ranked: _Ranked,
                    sites: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Uncapacitated p-median: villages whose nearest facility is now a new site."""
    chosen, n = ranked.chosen, len(data.cxy)
    nfac_new = len(chosen)
    eld = data.w["elderly"]
    d_before = cov.d_before
    dn = (np.full((n, 0), np.inf) if nfac_new == 0 else data.cost.dense("candidates", chosen))
    to_new = dn.min(axis=1) < d_before if nfac_new else np.zeros(n, bool)
    which = dn.argmin(axis=1) + 1 if nfac_new else np.zeros(n, int)
    assigned = np.where(to_new, which, 0)
    sites["assigned_elderly"] = [int(round(eld[assigned == r].sum()))
                                 for r in range(1, nfac_new + 1)]
    sites["assigned_villages"] = [int((assigned == r).sum()) for r in range(1, nfac_new + 1)]
    return assigned, {
        "total_weighted_distance_before": _wsum(cov.w, d_before),
        "total_weighted_distance_after": _wsum(cov.w, ranked.d_after),
    }


def _no_gain(cov: Coverage, opts: SitingOptions, ranked: _Ranked) -> np.ndarray:
    """Sites that add nothing: K larger than useful (greedy order puts them last)."""
    if opts.problem == "pmedian":
        gain_w = (np.asarray(ranked.distance_gain, dtype=float) if len(ranked.chosen)
                  else np.zeros(0))
    else:
        gain_w = np.array([float(cov.w[r].sum()) for r in ranked.rows_per_site])
    return gain_w <= 1e-9 * max(1.0, float(np.abs(gain_w).sum()))


def _villages(data: Inputs, cov: Coverage, ranked: _Ranked,
              new_site_rank: np.ndarray) -> gpd.GeoDataFrame:
    d_before, d_after = cov.d_before, ranked.d_after
    snap = data.cost.snap()
    extra = {"snap_m": snap} if snap is not None else {}
    return gpd.GeoDataFrame({
        "code": data.codes,
        "name": data.vill["name"].to_numpy(),
        "township_code": data.vill["township_code"].to_numpy(),
        "elderly_population": data.w["elderly"].astype(int),
        "population": data.w["population"].astype(int),
        "covered_before": cov.cov_before,
        "covered_after": ranked.cov_after,
        "nearest_m_before": np.where(np.isfinite(d_before), np.round(d_before, 3), np.nan),
        "nearest_m_after": np.where(np.isfinite(d_after), np.round(d_after, 3), np.nan),
        "new_site_rank": pd.array([int(r) if r > 0 else None for r in new_site_rank],
                                  dtype="Int64"),
        "centre_lon": data.clonlat[:, 0],
        "centre_lat": data.clonlat[:, 1],
        **extra,
    }, geometry=_geoms(data.vill), crs=STORED_CRS)


def _candidates(prep: Prepared, chosen: np.ndarray) -> gpd.GeoDataFrame:
    data = prep.data
    m = len(data.kxy)
    chosen_mask = np.zeros(m, dtype=bool)
    chosen_mask[chosen] = True
    rank_of = np.zeros(m, dtype=int)
    rank_of[chosen] = np.arange(1, len(chosen) + 1)
    return gpd.GeoDataFrame({
        "id": [str(x) for x in data.kid], "name": list(data.kname),
        "village_code": list(data.kvillage),
        "lon": data.klonlat[:, 0], "lat": data.klonlat[:, 1],
        "eligible": prep.eligible, "chosen": chosen_mask,
        "rank": pd.array([int(r) if r > 0 else None for r in rank_of], dtype="Int64"),
    }, geometry=shapely.points(data.klonlat) if m else [], crs=STORED_CRS)


def _excluded(prep: Prepared) -> gpd.GeoDataFrame:
    """The excluded candidates: first rule (and its Chinese label), all reasons, all rules."""
    data, hits = prep.data, prep.hits
    ex = np.flatnonzero(~prep.eligible)
    return gpd.GeoDataFrame({
        "candidate": [str(data.kid[i]) for i in ex],
        "name": [data.kname[i] for i in ex],
        "lon": data.klonlat[ex, 0] if len(ex) else [],
        "lat": data.klonlat[ex, 1] if len(ex) else [],
        "rule": [hits[i][0][0] for i in ex],
        "rule_label": [rule_label(hits[i][0][0]) for i in ex],
        "reason": ["；".join(h[1] for h in hits[i]) for i in ex],
        "distance_m": [round(hits[i][0][2], 3) for i in ex],
        "rules": [[h[0] for h in hits[i]] for i in ex],
    }, geometry=shapely.points(data.klonlat[ex]) if len(ex) else [], crs=STORED_CRS)


def _summary(prep: Prepared, cov: Coverage, out: Outcome, opts: SitingOptions,
             ranked: _Ranked, distances: dict, no_gain: np.ndarray) -> dict:
    data, res = prep.data, out.res
    problem, weight = opts.problem, opts.weight
    cov_before, cov_after = cov.cov_before, ranked.cov_after
    chosen = ranked.chosen
    n, m, n_e = len(data.cxy), len(data.kxy), len(prep.elig)
    eld, pop = data.w["elderly"], data.w["population"]
    tot_e, tot_p = float(eld.sum()), float(pop.sum())
    cov_e_b, cov_e_a = float(eld[cov_before].sum()), float(eld[cov_after].sum())
    cov_p_b, cov_p_a = float(pop[cov_before].sum()), float(pop[cov_after].sum())
    objective, msg, target_reached = _objective_and_message(cov, out, opts, ranked, distances,
                                                            data.cost.unit)
    no_gain_from = int(np.argmax(no_gain)) + 1 if no_gain.any() else None
    cancelled = bool(res.cancelled) if res is not None else False
    if no_gain_from is not None:
        msg += _no_gain_note(problem, weight, no_gain_from, int(no_gain.sum()),
                             res is None or bool(res.optimal))
    if res is not None and not res.optimal:
        why = "已取消" if cancelled else ("达到求解时间上限" if res.time_limited else res.status)
        msg += f"（{why}：给出目前找到的最好方案，与最优的差距不超过 " + \
               (f"{res.gap:.2%}）" if res.gap is not None else "未知）")
    summary = {
        "problem": problem,
        "problem_label": PROBLEM_SHORT[problem],
        "radius_m": opts.radius_m,
        "weight": weight,
        "weight_label": WEIGHT_NOUNS[weight],
        "added": int(len(chosen)),
        "add": prep.k_add,
        "villages": int(n),
        "facilities": int(len(data.fxy)),
        "covered_villages_before": int(cov_before.sum()),
        "covered_villages_after": int(cov_after.sum()),
        "covered_elderly_before": int(round(cov_e_b)),
        "covered_elderly_after": int(round(cov_e_a)),
        "elderly_population": int(round(tot_e)),
        "population": int(round(tot_p)),
        "covered_population_before": int(round(cov_p_b)),
        "covered_population_after": int(round(cov_p_a)),
        "elderly_coverage_before": share(cov_e_b, tot_e),
        "elderly_coverage_after": share(cov_e_a, tot_e),
        "village_coverage_before": share(cov_before.sum(), n),
        "village_coverage_after": share(cov_after.sum(), n),
        "population_coverage_before": share(cov_p_b, tot_p),
        "population_coverage_after": share(cov_p_a, tot_p),
        "objective": objective,
        "optimal": bool(res.optimal) if res is not None else True,
        "gap": (res.gap if res is not None else 0.0),
        "solve_seconds": round(res.seconds, 3) if res is not None else 0.0,
        "solver_status": res.status if res is not None else "未求解",
        "time_limit_s": opts.time_limit_s,
        "mip_rel_gap": opts.mip_rel_gap,
        "solver": solver_name(),
        "candidates": int(m),
        "eligible": int(n_e),
        "excluded": int(m - n_e),
        "candidates_source": "村中心" if data.kself else "备选站点图层",
        "target": opts.target,
        "target_reached": target_reached,
        "capacitated": opts.capacitated,
        "single_source": opts.single_source if opts.capacitated else None,
        "message": msg,
        "cancelled": cancelled,
        "useful_sites": int((~no_gain).sum()),
        "no_gain_from_rank": no_gain_from,
        **distances,
        **(out.extra or {}),
    }
    ambiguous, warnings = _code_notes(data, ranked)
    summary["ambiguous_village_codes"] = ambiguous
    summary["code_warnings"] = warnings
    if warnings:
        summary["message"] = msg + "。注意：" + "；".join(warnings)
    if problem == "cemetery":
        summary.update({"setbacks_m": dict(opts.setbacks_m),
                        "village_setback_m": opts.village_setback_m,
                        "setbacks_source": opts.setbacks_source})
    summary["cost"] = data.cost.describe()
    summary["radius_unit"] = summary["cost"]["unit"]
    summary["inputs"] = {"date": dt.date.today().isoformat(),
                         "crs": f"{data.gk}（高斯-克吕格，米）",
                         "defaults": "geoservice/analysis/defaults.toml [siting]"}
    return summary


_EXAMPLES = 5


def _code_notes(data: Inputs, ranked: _Ranked) -> tuple[list[dict], list[str]]:
    """Village codes that name several villages (a villages layer imported with duplicate
    codes), and in Chinese what in this result depends on them: the villages listed by
    code, the sites' village codes (and, for village-centre candidates, their ids) and
    the codes of the villages a site newly covers. Nothing is picked silently."""
    codes = data.codes
    uniq, counts = np.unique(codes, return_counts=True)
    dup = set(uniq[counts > 1])
    if not dup:
        return [], []
    names = data.village_names
    towns = data.vill["township_code"].to_numpy()
    ambiguous = [{"code": str(c), "villages": int((codes == c).sum()),
                  "names": [str(n) for n in names[codes == c]],
                  "township_codes": [None if t is None else str(t) for t in towns[codes == c]]}
                 for c in sorted(dup)]

    def examples(items: list[str]) -> str:
        return "；".join(items[:_EXAMPLES]) + ("等" if len(items) > _EXAMPLES else "")

    listed = [f"{a['code']}（{'、'.join(a['names'])}）" for a in ambiguous]
    out = [f"村(社区)图层中有 {len(ambiguous)} 个代码对应多个村(社区)：{examples(listed)}。"
           "结果按村分行列出，但这些村按代码无法区分，请按名称和位置核对，并在村(社区)图层中更正代码"]
    sites = [f"第 {r} 处“{data.kname[j]}”：{data.kvillage[j]}"
             for r, j in enumerate(ranked.chosen, start=1) if data.kvillage[j] in dup]
    if sites:
        what = "候选点编号和所在村代码" if data.kself else "所在村代码"
        out.append(f"{len(sites)} 处建议站点的{what}对应多个村：{examples(sites)}，"
                   "请按站点位置确定所在村")
    newly = sorted({str(codes[i]) for r in ranked.rows_per_site for i in r
                    if codes[i] in dup})
    if newly:
        out.append(f"建议站点新增覆盖的村中有代码重复的村（{examples(newly)}），"
                   "“新增覆盖”列出的代码不能唯一确定是哪个村，请以所列名称为准")
    return ambiguous, out


def _objective_and_message(cov: Coverage, out: Outcome, opts: SitingOptions,
                           ranked: _Ranked, distances: dict, unit: str = "m"):
    """The objective value, the headline message and (target) whether it was reached;
    ``unit``: the cost's (``m`` metres, ``min`` minutes)."""
    problem, weight, target = opts.problem, opts.weight, opts.target
    w, n_new = cov.w, len(ranked.chosen)
    before = share(float(w[cov.cov_before].sum()), float(w.sum()))
    msg, target_reached = out.message, out.target_reached
    if problem == "target":
        if out.res is not None:
            share_after = share(float(w[ranked.cov_after].sum()), float(w.sum()))
            target_reached = bool(share_after is not None
                                  and share_after >= float(target) * (1 - 1e-12))
            msg = (f"最少新建 {n_new} 处即可使{WEIGHT_NOUNS[weight]}覆盖率由 {before:.1%} 提高到 "
                   f"{share_after:.1%}（目标 {float(target):.0%}）")
        return float(n_new), msg, target_reached
    if problem in ("mclp", "cemetery"):
        objective = float(w[ranked.cov_after].sum())
        if not msg:
            msg = (f"新建 {n_new} 处，{WEIGHT_NOUNS[weight]}覆盖率由 {before:.1%} 提高到 "
                   f"{share(objective, float(w.sum())):.1%}")
        return objective, msg, target_reached
    objective = distances["total_weighted_distance_after"]
    b, a_ = distances["mean_distance_before_m"], distances["mean_distance_after_m"]
    what, u, fmt = (("平均距离", "米", "{:,.0f}") if unit == "m" else
                    ("平均通行时间", "分钟", "{:,.1f}"))
    if opts.capacitated:
        msg = (f"新建 {n_new} 处（每处 {opts.new_capacity:g} 床），按床位容量分配后老人{what}"
               + (f"由 {fmt.format(b)} {u}" if b is not None else "")
               + f"变为 {fmt.format(a_)} {u}")
    else:
        msg = (f"新建 {n_new} 处，{WEIGHT_UNITS[weight]}到最近设施的{what}"
               + (f"由 {fmt.format(b)} {u}" if b is not None else "")
               + (f"缩短到 {fmt.format(a_)} {u}" if a_ is not None else ""))
    return objective, msg, target_reached


def _no_gain_note(problem: str, weight: str, first: int, count: int, optimal: bool) -> str:
    """Why sites ``first``.. are listed although they gain nothing (K larger than useful)."""
    what = WEIGHT_NOUNS[weight]
    span = f"第 {first} 处" if count == 1 else f"第 {first} 至 {first + count - 1} 处"
    if problem == "pmedian":
        return (f"；{span}不再缩短{what}到设施的距离（新增数 K 多于有用的数量），"
                f"只建前 {first - 1} 处效果相同" if first > 1 else
                f"；{span}都不再缩短距离（新增数 K 多于有用的数量）")
    if not optimal:
        return f"；{span}不再增加{what}覆盖，可不建"
    if first > 1:
        return (f"；{span}不再增加{what}覆盖：现有设施加前 {first - 1} 处已覆盖候选点所能覆盖的"
                f"全部{what}，只建前 {first - 1} 处即可，其余位置可任选、可不建")
    return (f"；新增站点都不再增加{what}覆盖：候选点所能覆盖的{what}现有设施已全部覆盖，"
            f"无需新建")


def _wsum(w, d):
    if np.any(~np.isfinite(d) & (w > 0)):
        return None
    return float((w * np.where(np.isfinite(d), d, 0.0)).sum())
