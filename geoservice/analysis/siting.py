"""Siting suggestions: where the next facilities should go, and proof that it is the best.

Four problems, existing facilities always stay open, new ones come from candidates (a
``candidates`` layer, else every village centre):

* ``mclp``     add K sites maximising the covered weight (elderly, population or villages);
* ``target``   the fewest new sites reaching a target share of the weight;
* ``pmedian``  add K sites minimising the weighted distance to the nearest open facility,
               optionally capacitated by beds (fractional assignment, as in spopt);
* ``cemetery`` candidates filtered by exclusion zones (per-type setbacks) and a distance
               from village centres, then ``mclp`` with the cemeteries as existing sites.

"Covered" means exactly what :func:`geoservice.analysis.coverage.coverage` means: the
village centre (``village_centres``) lies within ``radius_m`` straight-line metres of a
facility, measured in the CGCS2000 Gauss-Kruger zone of the villages. Coverage pairs come
from a KD-tree (never a dense villages x candidates matrix); every problem is solved as a
MILP by HiGHS with a time limit, warm-started from the greedy plan. The chosen sites are
listed in greedy order of marginal gain. See docs/siting.md for the formulations.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import geopandas as gpd
import highspy
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from geoservice.analysis.coverage import _geoms, _project_xy, village_centres
from geoservice.analysis.jsonsafe import jsonable, records
from geoservice.analysis.settings import siting_defaults
from geoservice.errors import BadParameter
from layers import KINDS
from layers.crs import STORED_CRS, metric_crs

PROBLEMS = ("mclp", "target", "pmedian", "cemetery")
PROBLEM_LABELS = {"mclp": "最大覆盖", "target": "目标覆盖率", "pmedian": "P 中位（总距离最短）",
                  "cemetery": "公墓选址"}
WEIGHTS = {"elderly": "老年人口", "population": "人口", "villages": "村数"}
ZONE_LABELS = dict(KINDS["exclusion_zones"].field("zone_type").choices or {})
VILLAGE_SETBACK = "village_setback"

__all__ = ["PROBLEMS", "SitingCancelled", "SitingResult", "precheck", "siting"]


class SitingCancelled(Exception):
    """The caller cancelled before any feasible plan was found."""


@dataclass
class SitingResult:
    """Chosen sites (by rank), excluded candidates, villages before/after, and a summary."""

    summary: dict
    sites: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame = field(default=None)

    def to_dict(self) -> dict:
        """The JSON shape of the CLI's ``--json`` and ``/api/siting``."""
        return {
            "summary": jsonable(self.summary),
            "sites": records(_plain(self.sites)),
            "excluded": records(_plain(self.excluded)),
            "villages": records(_plain(self.villages)),
        }


def _plain(gdf) -> pd.DataFrame:
    return pd.DataFrame(gdf.drop(columns="geometry", errors="ignore"))




# --------------------------------------------------------------------------- progress

class _Progress:
    """Monotone, throttled progress reports; ``cancel`` polled through ``cancelled()``."""

    def __init__(self, progress, cancel):
        self.fn, self.cancel_fn = progress, cancel
        self.last = -1.0
        self.last_t = 0.0

    def __call__(self, fraction: float, message: str, *, force: bool = True) -> None:
        if self.fn is None:
            return
        fraction = float(min(1.0, max(fraction, self.last, 0.0)))
        now = time.monotonic()
        if not force and now - self.last_t < 0.2:
            return
        self.last, self.last_t = fraction, now
        self.fn(fraction, message)

    def cancelled(self) -> bool:
        return bool(self.cancel_fn is not None and self.cancel_fn())


# --------------------------------------------------------------------------- inputs

@dataclass
class _Data:
    vill: gpd.GeoDataFrame
    gk: str
    cxy: np.ndarray          # village centres, metres
    clonlat: np.ndarray      # village centres, lon/lat
    w: dict                  # weight name -> per-village array
    fxy: np.ndarray          # existing facilities, metres
    fcap: np.ndarray         # their beds
    kxy: np.ndarray          # candidates, metres
    klonlat: np.ndarray
    kid: np.ndarray
    kname: np.ndarray
    kvillage: np.ndarray     # village code the candidate lies in (or None)
    kself: bool              # candidates are the village centres themselves


def _points_of(gdf: gpd.GeoDataFrame) -> np.ndarray:
    geoms = _geoms(gdf)
    return np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))


def _prepare(villages, facilities, candidates) -> _Data:
    vill = villages.to_crs(STORED_CRS)
    gk = metric_crs(vill)
    centres = _geoms(village_centres(vill))
    cxy = _project_xy(centres, gk)
    num = {c: pd.to_numeric(vill[c], errors="coerce").fillna(0).to_numpy(dtype=float)
           for c in ("population", "elderly_population")}
    w = {"elderly": num["elderly_population"], "population": num["population"],
         "villages": np.ones(len(vill))}
    if facilities is not None and len(facilities):
        fac = facilities.to_crs(STORED_CRS)
        fac = fac[fac.geometry.notna() & ~fac.geometry.is_empty]
        fxy = _project_xy(_points_of(fac), gk)
        fcap = (pd.to_numeric(fac["beds"], errors="coerce").fillna(0).to_numpy(dtype=float)
                if "beds" in fac.columns else np.zeros(len(fac)))
    else:
        fxy, fcap = np.zeros((0, 2)), np.zeros(0)
    codes = vill["code"].astype(str).to_numpy()
    if candidates is None:
        kpts = centres
        kid, kname, kvillage = codes, vill["name"].astype(str).to_numpy(), codes
        kself = True
    else:
        cand = candidates.to_crs(STORED_CRS)
        cand = cand[cand.geometry.notna() & ~cand.geometry.is_empty]
        if len(cand) == 0:
            raise BadParameter("参数 candidates（备选站点）图层没有任何有效的点")
        kpts = _points_of(cand)
        ids = cand["fid"] if "fid" in cand.columns else pd.Series(cand.index, index=cand.index)
        kid = np.array([str(x) for x in ids])
        if "name" in cand.columns:
            nm = cand["name"].astype(object).where(cand["name"].notna(), None).to_numpy()
            kname = np.array([str(n) if n not in (None, "") else f"备选点{i}"
                              for n, i in zip(nm, kid, strict=True)], dtype=object)
        else:
            kname = np.array([f"备选点{i}" for i in kid], dtype=object)
        tree = shapely.STRtree(_geoms(vill))
        k_idx, v_idx = tree.query(kpts, predicate="intersects")
        owner = np.full(len(kpts), -1)
        owner[k_idx[::-1]] = v_idx[::-1]  # first match wins
        kvillage = np.array([codes[o] if o >= 0 else None for o in owner], dtype=object)
        kself = False
    return _Data(vill=vill, gk=gk, cxy=cxy, clonlat=shapely.get_coordinates(centres), w=w,
                 fxy=fxy, fcap=fcap, kxy=_project_xy(kpts, gk),
                 klonlat=shapely.get_coordinates(kpts), kid=np.asarray(kid, dtype=object),
                 kname=np.asarray(kname, dtype=object), kvillage=kvillage, kself=kself)


def _nearest(xy_from: np.ndarray, xy_to: np.ndarray) -> np.ndarray:
    """Distance from each ``xy_from`` to the nearest ``xy_to`` (inf when none): the same
    KD-tree query coverage() uses, so "covered" is decided by the same arithmetic."""
    if len(xy_to) == 0:
        return np.full(len(xy_from), np.inf)
    return cKDTree(xy_to).query(xy_from, k=1)[0]


def _cover_matrix(cxy: np.ndarray, kxy: np.ndarray, radius_m: float) -> sparse.csc_matrix:
    """Villages x candidates, 1 where the candidate is within the radius (sparse)."""
    n, m = len(cxy), len(kxy)
    if n == 0 or m == 0:
        return sparse.csc_matrix((n, m))
    pairs = cKDTree(cxy).sparse_distance_matrix(cKDTree(kxy), radius_m, output_type="ndarray")
    keep = pairs["v"] <= radius_m
    a = sparse.csc_matrix((np.ones(int(keep.sum())), (pairs["i"][keep], pairs["j"][keep])),
                          shape=(n, m))
    a.sum_duplicates()
    a.data[:] = 1.0
    return a


# --------------------------------------------------------------------------- exclusions

def _exclusions(data: _Data, zones, setbacks: dict, village_setback_m: float,
                village_names: np.ndarray) -> tuple[np.ndarray, list[list[tuple]]]:
    """Eligibility of each candidate and, per candidate, the rules that exclude it, in
    rule order: (rule, reason, distance_m)."""
    m = len(data.kxy)
    hits: list[list[tuple]] = [[] for _ in range(m)]
    kpts = shapely.points(data.kxy) if m else np.array([], dtype=object)
    if zones is not None and len(zones) and m:
        z = zones.to_crs(STORED_CRS)
        z = z[z.geometry.notna() & ~z.geometry.is_empty]
        zgeom = np.asarray(z.to_crs(data.gk).geometry.array, dtype=object)
        ztype = z["zone_type"].astype(str).to_numpy()
        zname = (z["name"].astype(object).where(z["name"].notna(), None).to_numpy()
                 if "name" in z.columns else np.full(len(z), None, dtype=object))
        order = list(setbacks) + sorted(set(ztype) - set(setbacks))
        for t in order:
            sel = np.flatnonzero(ztype == t)
            if len(sel) == 0:
                continue
            s = float(setbacks.get(t, 0.0))
            tree = shapely.STRtree(zgeom[sel])
            if s > 0:
                ki, zi = tree.query(kpts, predicate="dwithin", distance=s)
            else:
                ki, zi = tree.query(kpts, predicate="intersects")
            if len(ki) == 0:
                continue
            d = shapely.distance(kpts[ki], zgeom[sel][zi])
            keep = (d < s) | (d == 0) if s > 0 else np.ones(len(d), bool)
            ki, zi, d = ki[keep], zi[keep], d[keep]
            # nearest zone of this type per candidate
            o = np.lexsort((d, ki))
            ki, zi, d = ki[o], zi[o], d[o]
            first = np.r_[True, ki[1:] != ki[:-1]]
            label = ZONE_LABELS.get(t, t)
            for k, zz, dd in zip(ki[first], zi[first], d[first], strict=True):
                nm = zname[sel][zz]
                what = f"{label}“{nm}”" if nm not in (None, "") else label
                if dd == 0:
                    reason = f"位于{what}内" + (f"（退让距离 {s:g} 米）" if s > 0 else "")
                else:
                    reason = f"距{what}{dd:.0f} 米，小于退让距离 {s:g} 米"
                hits[k].append((t, reason, float(dd)))
    if village_setback_m and village_setback_m > 0 and m and len(data.cxy):
        tree = cKDTree(data.cxy)
        if data.kself:
            # candidate j is village j's own centre: measure to the other villages
            kk = min(2, len(data.cxy))
            d, idx = tree.query(data.kxy, k=kk)
            d, idx = d.reshape(m, kk), idx.reshape(m, kk)
            other = idx != np.arange(m)[:, None]
            col = np.argmax(other, axis=1)
            has = other.any(axis=1)
            dist = np.where(has, d[np.arange(m), col], np.inf)
            vid = idx[np.arange(m), col]
        else:
            dist, vid = tree.query(data.kxy, k=1)
        for k in np.flatnonzero(dist < village_setback_m):
            hits[k].append((VILLAGE_SETBACK,
                            f"距{village_names[vid[k]]}中心 {dist[k]:.0f} 米，"
                            f"小于退让距离 {village_setback_m:g} 米", float(dist[k])))
    eligible = np.array([not h for h in hits], dtype=bool)
    return eligible, hits


# --------------------------------------------------------------------------- HiGHS

@dataclass
class _Mip:
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
class _Solved:
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


def _solve(mip: _Mip, warm: np.ndarray | None, time_limit_s: float, rel_gap: float,
           prog: _Progress, lo_frac: float = 0.3, hi_frac: float = 0.95,
           bound: float | None = None) -> _Solved:
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
    return _Solved(x=x, objective=float(info.objective_function_value) if has_sol else None,
                   optimal=optimal, gap=gap, seconds=seconds,
                   status=h.modelStatusToString(status), cancelled=state["cancelled"],
                   time_limited=status == highspy.HighsModelStatus.kTimeLimit)


# --------------------------------------------------------------------------- greedy

def _greedy_cover(a: sparse.csc_matrix, w_rem: np.ndarray, pool: np.ndarray, k: int,
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


# --------------------------------------------------------------------------- problems

def _covering_model(a_e: sparse.csc_matrix, w_unc: np.ndarray):
    """Rows that matter (uncovered, weight > 0, some candidate in reach) and the
    block [-A_U | I] of the constraints y_u - sum_j a_uj x_j <= 0."""
    reach = np.asarray(a_e.sum(axis=1)).ravel() > 0
    rows = np.flatnonzero((w_unc > 0) & reach)
    a_u = a_e.tocsr()[rows]
    block = sparse.hstack([-a_u, sparse.identity(len(rows), format="csr")], format="csr")
    return rows, a_u, block


def _solve_mclp(a_e, w_unc, k, opts, prog) -> tuple[np.ndarray, _Solved]:
    n_e = a_e.shape[1]
    rows, a_u, block = _covering_model(a_e, w_unc)
    n_u = len(rows)
    card = sparse.csr_matrix(np.r_[np.ones(n_e), np.zeros(n_u)])
    mip = _Mip(c=np.r_[np.zeros(n_e), w_unc[rows]], lo=np.zeros(n_e + n_u),
               hi=np.ones(n_e + n_u), integer=np.r_[np.ones(n_e, bool), np.zeros(n_u, bool)],
               a=sparse.vstack([block, card], format="csc"),
               row_lo=np.r_[np.full(n_u, -np.inf), k], row_hi=np.r_[np.zeros(n_u), k],
               maximize=True)
    prog(0.2, "计算贪心初始方案")
    g, _ = _greedy_cover(a_e, w_unc, np.arange(n_e), k)
    x0 = np.zeros(n_e)
    x0[g] = 1
    warm = np.r_[x0, np.minimum(1.0, a_u @ x0)]
    prog(0.3, f"求解整数规划：{n_e} 个候选点、{n_u} 个待覆盖村")
    res = _solve(mip, warm, opts["time_limit_s"], opts["mip_rel_gap"], prog,
                 bound=float(w_unc[rows].sum()))
    if res.x is None:
        return np.array([], dtype=int), res
    return np.flatnonzero(res.x[:n_e] > 0.5), res


def _solve_target(a_e, w_unc, need, opts, prog) -> tuple[np.ndarray, _Solved]:
    n_e = a_e.shape[1]
    rows, a_u, block = _covering_model(a_e, w_unc)
    n_u = len(rows)
    reach = sparse.csr_matrix(np.r_[np.zeros(n_e), w_unc[rows]])
    mip = _Mip(c=np.r_[np.ones(n_e), np.zeros(n_u)], lo=np.zeros(n_e + n_u),
               hi=np.ones(n_e + n_u), integer=np.r_[np.ones(n_e, bool), np.zeros(n_u, bool)],
               a=sparse.vstack([block, reach], format="csc"),
               row_lo=np.r_[np.full(n_u, -np.inf), need], row_hi=np.r_[np.zeros(n_u), np.inf])
    prog(0.2, "计算贪心初始方案")
    g, _ = _greedy_cover(a_e, w_unc, np.arange(n_e), n_e, need=need)
    x0 = np.zeros(n_e)
    x0[g] = 1
    warm = np.r_[x0, np.minimum(1.0, a_u @ x0)]
    prog(0.3, f"求解整数规划：{n_e} 个候选点、{n_u} 个待覆盖村")
    res = _solve(mip, warm, opts["time_limit_s"], opts["mip_rel_gap"], prog, bound=1.0)
    if res.x is None:
        return np.array([], dtype=int), res
    return np.flatnonzero(res.x[:n_e] > 0.5), res


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


def _solve_pmedian(data, w, elig, k_add, opts, prog):
    """Uncapacitated p-median with the existing facilities open (sparse, proven exact)."""
    kxy = data.kxy[elig]
    n_e = len(kxy)
    dexist = _nearest(data.cxy, data.fxy)
    active = np.flatnonzero((w > 0) & (dexist > 0))
    kk = max(1, min(n_e, int(opts["pmedian_k"])))
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
        mip = _Mip(c=c, lo=np.zeros(ncol), hi=np.ones(ncol),
                   integer=np.r_[np.ones(n_e, bool), np.zeros(npair + nf, bool)],
                   a=sparse.vstack([assign, opening, card], format="csc"),
                   row_lo=np.r_[np.ones(na), np.full(npair, -np.inf), k_add],
                   row_hi=np.r_[np.ones(na), np.zeros(npair), k_add])
        prog(0.2, "计算贪心初始方案")
        x0 = _greedy_pmedian(ii, jj, dd, fb, w[active], n_e, k_add)
        warm = _pmedian_warm(x0, ii, jj, dd, fb, na, n_e, fcols)
        prog(0.3, f"求解整数规划：{n_e} 个候选点、{npair} 个村-候选点对")
        left = max(0.01, opts["time_limit_s"] - total_seconds)  # one budget for all rounds
        res = _solve(mip, warm, left, opts["mip_rel_gap"], prog, bound=0.0)
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
                              _nearest(data.cxy[active][loose], kxy[chosen]))
            ok = bool(np.all(true <= fb[loose] * (1 + 1e-12) + 1e-9))
        if not ok and not res.cancelled and res.optimal and kk < n_e and prog.cancelled():
            # Cancelled between rounds: keep this plan (feasible); the relaxation's optimum
            # is a lower bound, so the gap to the true optimum is known.
            true = float((w[active] * np.minimum(
                dexist[active], _nearest(data.cxy[active], kxy[chosen]))).sum())
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


def _solve_pmedian_cap(data, w, q, elig, k_add, cap_new, opts, prog, *, build_only=False,
                       single_source=False):
    """Capacitated p-median: existing facilities open with their beds, new sites with
    ``cap_new`` beds each; a village's demand may be split between facilities (fractional
    assignment) unless ``single_source`` (each village wholly to one facility, as spopt)."""
    kxy = data.kxy[elig] if k_add else np.zeros((0, 2))
    n, n_e, n_f = len(data.cxy), len(kxy), len(data.fxy)
    active = np.flatnonzero(q > 0)
    na = len(active)
    allxy = np.vstack([kxy, data.fxy])
    nfac = n_e + n_f
    dense = na * nfac <= int(opts["capacitated_dense_max_pairs"])
    if dense:
        ii = np.repeat(np.arange(na), nfac)
        jj = np.tile(np.arange(nfac), na)
        dd = np.hypot(*(data.cxy[active][ii] - allxy[jj]).T)
    else:
        kk = min(nfac, int(opts["capacitated_k"]))
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
    mip = _Mip(c=c, lo=np.zeros(ncol), hi=np.ones(ncol),
               integer=np.r_[np.ones(n_e, bool), np.full(npair, bool(single_source))],
               a=sparse.vstack([assign, caprows, opening, card], format="csc"),
               row_lo=np.r_[np.ones(na), np.full(nfac, -np.inf),
                            np.full(len(cand_pair), -np.inf), k_add],
               row_hi=np.r_[np.ones(na), cap_hi, np.zeros(len(cand_pair)), k_add])
    prog(0.3, f"求解整数规划：{n_e} 个候选点、{npair} 个村-设施对（按床位容量分配）")
    res = _solve(mip, None, opts["time_limit_s"], opts["mip_rel_gap"], prog,
                 *((0.1, 0.2) if build_only else (0.3, 0.95)), bound=0.0)
    info = {"pairs": npair, "dense_pairs": dense}
    if res.x is None:
        return np.array([], dtype=int), res, None, info
    z = sparse.csr_matrix((res.x[n_e:], (active[ii], jj)), shape=(n, nfac))
    return np.flatnonzero(res.x[:n_e] > 0.5), res, z, info


# --------------------------------------------------------------------------- ranking

def _rank_cover(a_sel: sparse.csc_matrix, w_unc: np.ndarray) -> np.ndarray:
    """Order of the chosen columns by greedy marginal covered weight."""
    order, _ = _greedy_cover(a_sel, w_unc, np.arange(a_sel.shape[1]), a_sel.shape[1])
    return np.asarray(order, dtype=int)


def _rank_distance(cxy, sxy, cur, w):
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


# --------------------------------------------------------------------------- main

def _check(problem, radius_m, add, target, weight, capacitated, time_limit_s, setbacks,
           village_setback_m, new_capacity, bed_demand_per_1000, defaults):
    if problem not in PROBLEMS:
        names = "、".join(f"{p}（{PROBLEM_LABELS[p]}）" for p in PROBLEMS)
        raise BadParameter(f"参数 problem（选址问题）“{problem}”无效：可选 {names}")
    if radius_m is None or not _finite(radius_m) or float(radius_m) <= 0:
        raise BadParameter(f"参数 radius_m（服务半径，米）必须为正数，而不是“{radius_m}”")
    if weight not in WEIGHTS:
        names = "、".join(f"{k}（{v}）" for k, v in WEIGHTS.items())
        raise BadParameter(f"参数 weight（加权方式）“{weight}”无效：可选 {names}")
    if problem == "target":
        if add is not None:
            raise BadParameter("参数 add（新建数量）与 target（目标覆盖率）只能给一个："
                               "目标覆盖率问题求最少新建数量，请去掉 add")
        if target is None:
            raise BadParameter("参数 target（目标覆盖率）必填：目标覆盖率问题需要 0 到 1 之间的目标，"
                               "如 0.6")
        if not _finite(target) or not 0 < float(target) <= 1:
            raise BadParameter(f"参数 target（目标覆盖率）应在 0 到 1 之间（可等于 1），"
                               f"而不是“{target}”")
    else:
        if target is not None:
            raise BadParameter(f"参数 target（目标覆盖率）只用于 target 问题；"
                               f"{PROBLEM_LABELS[problem]}问题请给 add（新建数量）")
        if add is None:
            raise BadParameter(f"参数 add（新建数量）必填：{PROBLEM_LABELS[problem]}问题需要新建设施的个数")
        if isinstance(add, bool) or not _finite(add) or float(add) != int(float(add)):
            raise BadParameter(f"参数 add（新建数量）应为正整数，而不是“{add}”")
        if int(float(add)) < 1:
            raise BadParameter(f"参数 add（新建数量）至少为 1，而不是 {int(float(add))}")
    if capacitated and problem != "pmedian":
        raise BadParameter("参数 capacitated（按床位容量分配）只用于 pmedian 问题")
    if time_limit_s is not None and (not _finite(time_limit_s) or float(time_limit_s) <= 0):
        raise BadParameter(f"参数 time_limit_s（求解时间上限，秒）必须为正数，而不是“{time_limit_s}”")
    sb = dict(defaults["setbacks_m"])
    for key, val in (setbacks or {}).items():
        if key not in ZONE_LABELS:
            names = "、".join(f"{k}（{v}）" for k, v in ZONE_LABELS.items())
            raise BadParameter(f"参数 setbacks（退让距离）中的禁建区类型“{key}”无效：可选 {names}")
        if val is None or not _finite(val) or float(val) < 0:
            raise BadParameter(f"参数 setbacks（退让距离）中 {key}（{ZONE_LABELS[key]}）"
                               f"应为不小于 0 的米数，而不是“{val}”")
        sb[key] = float(val)
    if village_setback_m is not None and (not _finite(village_setback_m)
                                          or float(village_setback_m) < 0):
        raise BadParameter(f"参数 village_setback_m（距村中心最小距离，米）应不小于 0，"
                           f"而不是“{village_setback_m}”")
    for name, label, val in (("new_capacity", "每处新建床位数", new_capacity),
                             ("bed_demand_per_1000", "每千名老人床位需求", bed_demand_per_1000)):
        if val is not None and (not _finite(val) or float(val) <= 0):
            raise BadParameter(f"参数 {name}（{label}）必须为正数，而不是“{val}”")
    return sb


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _share(num, den):
    return float(num) / float(den) if den else None


def _setup(villages, facilities, candidates, *, problem, radius_m, add, target, weight,
           capacitated, exclusion_zones, setbacks, village_setback_m, time_limit_s,
           new_capacity, bed_demand_per_1000, single_source, prog) -> dict:
    """Every check that can be made before solving: the parameters, then what only the
    data can tell (candidates left after the exclusions, K against them, beds against the
    demand). Shared by :func:`siting` and :func:`precheck`, so both say the same."""
    defaults = siting_defaults()
    sb = _check(problem, radius_m, add, target, weight, capacitated, time_limit_s, setbacks,
                village_setback_m, new_capacity, bed_demand_per_1000, defaults)
    if single_source and not capacitated:
        raise BadParameter("参数 single_source（整村分配到一处）只用于按床位容量分配"
                           "（capacitated）的 pmedian 问题")
    if villages is None or len(villages) == 0:
        raise BadParameter("村图层（villages）为空：无法选址")
    opts = {"time_limit_s": float(time_limit_s if time_limit_s is not None
                                  else defaults["time_limit_s"]),
            "mip_rel_gap": float(defaults["mip_rel_gap"]),
            "pmedian_k": int(defaults["pmedian_k"]),
            "capacitated_dense_max_pairs": int(defaults["capacitated_dense_max_pairs"]),
            "capacitated_k": int(defaults["capacitated_k"])}
    vsb = float(village_setback_m if village_setback_m is not None
                else defaults["village_setback_m"])
    cap_new = float(new_capacity if new_capacity is not None else defaults["new_capacity_beds"])
    bed_rate = float(bed_demand_per_1000 if bed_demand_per_1000 is not None
                     else defaults["bed_demand_per_1000"])

    prog(0.0, "读取村、设施和候选点")
    data = _prepare(villages, facilities, candidates)
    m = len(data.kxy)
    vnames = data.vill["name"].astype(str).to_numpy()
    if prog.cancelled():
        raise SitingCancelled("已取消")

    prog(0.05, "筛选候选点" if problem == "cemetery" else "整理候选点")
    if problem == "cemetery":
        eligible, hits = _exclusions(data, exclusion_zones, sb, vsb, vnames)
    else:
        eligible, hits = np.ones(m, dtype=bool), [[] for _ in range(m)]
    elig = np.flatnonzero(eligible)
    n_e = len(elig)
    if problem != "target":
        k_add = int(float(add))
        if n_e == 0:
            raise BadParameter("没有可用的候选点：全部候选点都被禁建区或距村中心距离规则排除"
                               if problem == "cemetery" else "没有候选点")
        if k_add > n_e:
            what = "符合条件的候选点" if problem == "cemetery" else "候选点"
            raise BadParameter(f"参数 add（新建数量）{k_add} 超过了{what}数 {n_e}")
    else:
        k_add = None
    if problem == "pmedian" and capacitated:
        need = float((data.w["elderly"] * bed_rate / 1000.0).sum())
        have = float(data.fcap.sum())
        if have + k_add * cap_new < need * (1 - 1e-12):
            raise BadParameter(
                f"床位不足：现有 {have:g} 张加新建 {k_add}×{cap_new:g} 张，少于需求 {need:.0f} 张"
                f"（每千名老人 {bed_rate:g} 张）；请增加参数 add（新建数量），或在 defaults.toml"
                f" 的 [siting] 中调整 new_capacity_beds（每处新建床位数）或 bed_demand_per_1000")
    return {"defaults": defaults, "sb": sb, "opts": opts, "vsb": vsb, "cap_new": cap_new,
            "bed_rate": bed_rate, "data": data, "eligible": eligible, "hits": hits,
            "elig": elig, "k_add": k_add}


def precheck(villages, facilities, candidates=None, *, problem: str, radius_m: float,
             add: int | None = None, target: float | None = None, weight: str = "elderly",
             capacitated: bool = False, exclusion_zones=None, setbacks: dict | None = None,
             village_setback_m: float | None = None, time_limit_s: float | None = None,
             new_capacity: float | None = None, bed_demand_per_1000: float | None = None,
             single_source: bool = False) -> dict:
    """The checks :func:`siting` makes before it solves, without solving (cheap: no
    coverage matrix, no MILP). Raises the same ``BadParameter``; a caller that runs the
    solve in the background calls this first so bad input is refused at once.
    Returns counts: candidates, eligible (after the cemetery exclusions), add."""
    st = _setup(villages, facilities, candidates, problem=problem, radius_m=radius_m, add=add,
                target=target, weight=weight, capacitated=capacitated,
                exclusion_zones=exclusion_zones, setbacks=setbacks,
                village_setback_m=village_setback_m, time_limit_s=time_limit_s,
                new_capacity=new_capacity, bed_demand_per_1000=bed_demand_per_1000,
                single_source=single_source, prog=_Progress(None, None))
    return {"candidates": int(len(st["data"].kxy)), "eligible": int(len(st["elig"])),
            "add": st["k_add"]}


def siting(villages, facilities, candidates=None, *, problem: str, radius_m: float,
           add: int | None = None, target: float | None = None, weight: str = "elderly",
           capacitated: bool = False, exclusion_zones=None, setbacks: dict | None = None,
           village_setback_m: float | None = None, time_limit_s: float | None = None,
           progress=None, cancel=None, new_capacity: float | None = None,
           bed_demand_per_1000: float | None = None,
           single_source: bool = False) -> SitingResult:
    """Where to add facilities: see the module docstring and docs/siting.md.

    Parameters
    ----------
    villages : villages layer (code, name, township_code, population, elderly_population).
    facilities : existing facilities (points or polygons; they stay open).
    candidates : ``candidates`` layer (points, name), or None for every village centre.
    problem : ``mclp``, ``target``, ``pmedian`` or ``cemetery``.
    radius_m : service radius in metres (what "covered" means, as in coverage()).
    add : number of new sites (mclp, pmedian, cemetery).
    target : target share in (0, 1] of ``weight`` (target problem).
    weight : ``elderly``, ``population`` or ``villages``: what is covered / summed.
    capacitated : pmedian only: assign demand within beds.
    exclusion_zones, setbacks, village_setback_m : cemetery candidate filters.
    time_limit_s : MILP time limit; the best plan found and its gap are returned when hit.
    progress : callable(fraction 0-1, Chinese message).
    cancel : callable() -> bool; True stops the solve and returns the best plan so far.
    new_capacity, bed_demand_per_1000 : capacitated pmedian: beds per new site, bed
        demand per 1,000 elderly (defaults in defaults.toml).
    single_source : capacitated pmedian: each village wholly to one facility (binary
        assignment, as spopt's PMedian) instead of split demand.
    """
    prog = _Progress(progress, cancel)
    st = _setup(villages, facilities, candidates, problem=problem, radius_m=radius_m, add=add,
                target=target, weight=weight, capacitated=capacitated,
                exclusion_zones=exclusion_zones, setbacks=setbacks,
                village_setback_m=village_setback_m, time_limit_s=time_limit_s,
                new_capacity=new_capacity, bed_demand_per_1000=bed_demand_per_1000,
                single_source=single_source, prog=prog)
    defaults, sb, opts, vsb, cap_new, bed_rate = (st["defaults"], st["sb"], st["opts"],
                                                  st["vsb"], st["cap_new"], st["bed_rate"])
    data, eligible, hits, elig, k_add = (st["data"], st["eligible"], st["hits"], st["elig"],
                                         st["k_add"])
    radius_m = float(radius_m)
    n, m = len(data.cxy), len(data.kxy)
    n_e = len(elig)

    prog(0.1, "计算覆盖关系（KD 树）")
    d_before = _nearest(data.cxy, data.fxy)
    cov_before = d_before <= radius_m
    a_all = _cover_matrix(data.cxy, data.kxy, radius_m)
    a_e = a_all[:, elig]
    w = data.w[weight]
    w_unc = np.where(cov_before, 0.0, w)
    if prog.cancelled():
        raise SitingCancelled("已取消")

    msg = ""
    extra: dict = {}
    target_reached = None
    res: _Solved | None = None
    z_assign = None
    chosen_e = np.array([], dtype=int)
    if problem in ("mclp", "cemetery"):
        chosen_e, res = _solve_mclp(a_e, w_unc, k_add, opts, prog)
    elif problem == "target":
        total = float(w.sum())
        have = float(w[cov_before].sum())
        goal = float(target) * total * (1 - 1e-12)
        reach = np.asarray(a_e.sum(axis=1)).ravel() > 0
        best = have + float(w_unc[reach].sum())
        if have >= goal:
            target_reached = True
            msg = f"现有设施已达到目标：{WEIGHTS[weight]}覆盖率 {_share(have, total):.1%}" \
                  f" ≥ {float(target):.0%}，无需新建"
        elif best < goal:
            target_reached = False
            msg = (f"候选点全部建成也只能覆盖 {_share(best, total):.1%}，"
                   f"达不到目标 {float(target):.0%}")
        else:
            chosen_e, res = _solve_target(a_e, w_unc, goal - have, opts, prog)
    else:  # pmedian
        if capacitated:
            q = data.w["elderly"] * bed_rate / 1000.0
            need, have = float(q.sum()), float(data.fcap.sum())  # enough: checked in _setup
            chosen_e, res, z_assign, info = _solve_pmedian_cap(
                data, w, q, elig, k_add, cap_new, opts, prog, single_source=single_source)
            extra.update(info)
            before_cost = None
            if have >= need * (1 - 1e-12) and len(data.fxy):
                _, res0, _, _ = _solve_pmedian_cap(data, w, q, elig, 0, cap_new, opts, prog,
                                                   build_only=True,
                                                   single_source=single_source)
                before_cost = res0.objective
            extra["capacity_before_feasible"] = before_cost is not None
        else:
            chosen_e, res, info = _solve_pmedian(data, w, elig, k_add, opts, prog)
            extra.update(info)

    if res is not None and res.x is None:
        if res.cancelled:
            raise SitingCancelled("已取消：尚未找到可行方案")
        raise BadParameter(f"在求解时间上限 time_limit_s={opts['time_limit_s']:g} 秒内没有找到可行方案，"
                           f"请放宽时间上限（HiGHS 状态：{res.status}）")

    chosen = elig[chosen_e]
    prog(0.96, "整理结果：按边际收益排序")
    # rank
    if problem == "pmedian":
        order, dgain = _rank_distance(data.cxy, data.kxy[chosen], d_before, w)
    else:
        order = _rank_cover(a_all[:, chosen].tocsc(), w_unc)
        dgain = None
    chosen = chosen[order] if len(chosen) else chosen
    if dgain is not None:
        extra_gain = dgain
    d_after = np.minimum(d_before, _nearest(data.cxy, data.kxy[chosen]))
    cov_after = d_after <= radius_m

    # marginal coverage in rank order
    covered = cov_before.copy()
    first_rank = np.full(n, 0)
    rows_per_site = []
    for r, j in enumerate(chosen, start=1):
        rows = a_all.indices[a_all.indptr[j]:a_all.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        first_rank[new] = r
        rows_per_site.append(np.sort(new))
    codes = data.vill["code"].astype(str).to_numpy()
    eld, pop = data.w["elderly"], data.w["population"]
    sites = pd.DataFrame({
        "rank": np.arange(1, len(chosen) + 1),
        "candidate": [str(x) for x in data.kid[chosen]],
        "village_code": list(data.kvillage[chosen]),
        "name": list(data.kname[chosen]),
        "lon": data.klonlat[chosen, 0] if len(chosen) else [],
        "lat": data.klonlat[chosen, 1] if len(chosen) else [],
        "marginal_elderly": [int(round(eld[r].sum())) for r in rows_per_site],
        "marginal_population": [int(round(pop[r].sum())) for r in rows_per_site],
        "marginal_villages": [len(r) for r in rows_per_site],
        "newly_covered": [[str(codes[i]) for i in r] for r in rows_per_site],
        "covers_villages": [int(a_all[:, j].nnz) for j in chosen],
    })
    new_site_rank = np.where(first_rank > 0, first_rank, 0)

    summary_extra: dict = {}
    if problem == "pmedian":
        sites["marginal_distance_reduction"] = np.round(extra_gain, 3)
        nfac_new = len(chosen)
        if capacitated and z_assign is not None:
            # z columns: eligible candidates then existing; map chosen -> rank
            zc = z_assign.tocsc()
            col_of = {int(e): t for t, e in enumerate(elig)}
            cols = [col_of[int(j)] for j in chosen]
            sub = zc[:, cols].toarray() if nfac_new else np.zeros((n, 0))
            zz = z_assign.toarray()
            best = zz.argmax(axis=1)
            best_new = np.full(n, 0)
            for r, col in enumerate(cols, start=1):
                best_new[(best == col) & (zz.max(axis=1) > 0)] = r
            sites["assigned_elderly"] = np.round((sub * eld[:, None]).sum(axis=0), 3)
            sites["assigned_villages"] = [int((best_new == r).sum())
                                          for r in range(1, nfac_new + 1)]
            new_site_rank = best_new
            after_cost = res.objective
            summary_extra.update({
                "total_weighted_distance_before": before_cost,
                "total_weighted_distance_after": after_cost,
                "capacity_beds_existing": float(data.fcap.sum()),
                "capacity_beds_new_each": cap_new,
                "bed_demand": float((data.w["elderly"] * bed_rate / 1000).sum()),
                "bed_demand_per_1000": bed_rate,
            })
        else:
            dn = (np.full((n, 0), np.inf) if nfac_new == 0 else
                  np.hypot(data.cxy[:, None, 0] - data.kxy[chosen][None, :, 0],
                           data.cxy[:, None, 1] - data.kxy[chosen][None, :, 1]))
            to_new = dn.min(axis=1) < d_before if nfac_new else np.zeros(n, bool)
            which = dn.argmin(axis=1) + 1 if nfac_new else np.zeros(n, int)
            assigned = np.where(to_new, which, 0)
            sites["assigned_elderly"] = [int(round(eld[assigned == r].sum()))
                                         for r in range(1, nfac_new + 1)]
            sites["assigned_villages"] = [int((assigned == r).sum())
                                          for r in range(1, nfac_new + 1)]
            new_site_rank = assigned
            summary_extra.update({
                "total_weighted_distance_before": _wsum(w, d_before),
                "total_weighted_distance_after": _wsum(w, d_after),
            })
        wsum = float(w.sum())
        for k in ("before", "after"):
            tot = summary_extra[f"total_weighted_distance_{k}"]
            summary_extra[f"mean_distance_{k}_m"] = (tot / wsum if tot is not None and wsum
                                                     else None)
    # Sites that add nothing: K larger than useful (greedy order puts them last).
    if problem == "pmedian":
        gain_w = np.asarray(extra_gain, dtype=float) if len(chosen) else np.zeros(0)
    else:
        gain_w = np.array([float(w[r].sum()) for r in rows_per_site])
    no_gain = gain_w <= 1e-9 * max(1.0, float(np.abs(gain_w).sum()))
    sites["no_gain"] = no_gain
    no_gain_from = int(np.argmax(no_gain)) + 1 if no_gain.any() else None
    sites_g = gpd.GeoDataFrame(
        sites, geometry=shapely.points(data.klonlat[chosen]) if len(chosen) else [],
        crs=STORED_CRS)

    # villages
    vill_out = gpd.GeoDataFrame({
        "code": codes,
        "name": data.vill["name"].to_numpy(),
        "township_code": data.vill["township_code"].to_numpy(),
        "elderly_population": eld.astype(int),
        "population": pop.astype(int),
        "covered_before": cov_before,
        "covered_after": cov_after,
        "nearest_m_before": np.where(np.isfinite(d_before), np.round(d_before, 3), np.nan),
        "nearest_m_after": np.where(np.isfinite(d_after), np.round(d_after, 3), np.nan),
        "new_site_rank": pd.array([int(r) if r > 0 else None for r in new_site_rank],
                                  dtype="Int64"),
        "centre_lon": data.clonlat[:, 0],
        "centre_lat": data.clonlat[:, 1],
    }, geometry=_geoms(data.vill), crs=STORED_CRS)

    # candidates and exclusions
    chosen_mask = np.zeros(m, dtype=bool)
    chosen_mask[chosen] = True
    rank_of = np.zeros(m, dtype=int)
    rank_of[chosen] = np.arange(1, len(chosen) + 1)
    cand_out = gpd.GeoDataFrame({
        "id": [str(x) for x in data.kid], "name": list(data.kname),
        "village_code": list(data.kvillage),
        "lon": data.klonlat[:, 0], "lat": data.klonlat[:, 1],
        "eligible": eligible, "chosen": chosen_mask,
        "rank": pd.array([int(r) if r > 0 else None for r in rank_of], dtype="Int64"),
    }, geometry=shapely.points(data.klonlat) if m else [], crs=STORED_CRS)
    ex = np.flatnonzero(~eligible)
    excluded = gpd.GeoDataFrame({
        "candidate": [str(data.kid[i]) for i in ex],
        "name": [data.kname[i] for i in ex],
        "lon": data.klonlat[ex, 0] if len(ex) else [],
        "lat": data.klonlat[ex, 1] if len(ex) else [],
        "rule": [hits[i][0][0] for i in ex],
        "rule_label": [_rule_label(hits[i][0][0]) for i in ex],
        "reason": ["；".join(h[1] for h in hits[i]) for i in ex],
        "distance_m": [round(hits[i][0][2], 3) for i in ex],
        "rules": [[h[0] for h in hits[i]] for i in ex],
    }, geometry=shapely.points(data.klonlat[ex]) if len(ex) else [], crs=STORED_CRS)

    # summary
    tot_e, tot_p = float(eld.sum()), float(pop.sum())
    cov_e_b, cov_e_a = float(eld[cov_before].sum()), float(eld[cov_after].sum())
    cov_p_b, cov_p_a = float(pop[cov_before].sum()), float(pop[cov_after].sum())
    if problem == "target" and res is not None:
        share_after = _share(float(w[cov_after].sum()), float(w.sum()))
        target_reached = bool(share_after is not None
                              and share_after >= float(target) * (1 - 1e-12))
        msg = (f"最少新建 {len(chosen)} 处即可使{WEIGHTS[weight]}覆盖率由 "
               f"{_share(float(w[cov_before].sum()), float(w.sum())):.1%} 提高到 "
               f"{share_after:.1%}（目标 {float(target):.0%}）")
    if problem in ("mclp", "cemetery"):
        objective = float(w[cov_after].sum())
        if not msg:
            msg = (f"新建 {len(chosen)} 处，{WEIGHTS[weight]}覆盖率由 "
                   f"{_share(float(w[cov_before].sum()), float(w.sum())):.1%} 提高到 "
                   f"{_share(objective, float(w.sum())):.1%}")
    elif problem == "target":
        objective = float(len(chosen))
    else:
        objective = summary_extra["total_weighted_distance_after"]
        b, a_ = summary_extra["mean_distance_before_m"], summary_extra["mean_distance_after_m"]
        unit = {"elderly": "老人", "population": "居民", "villages": "村"}[weight]
        msg = (f"新建 {len(chosen)} 处，{unit}到最近设施的平均距离"
               + (f"由 {b:,.0f} 米" if b is not None else "")
               + (f"缩短到 {a_:,.0f} 米" if a_ is not None else ""))
        if capacitated:
            msg = (f"新建 {len(chosen)} 处（每处 {cap_new:g} 床），按床位容量分配后老人平均距离"
                   + (f"由 {b:,.0f} 米" if b is not None else "")
                   + f"变为 {a_:,.0f} 米")
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
        "problem_label": PROBLEM_LABELS[problem],
        "radius_m": radius_m,
        "weight": weight,
        "weight_label": WEIGHTS[weight],
        "added": int(len(chosen)),
        "add": k_add,
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
        "elderly_coverage_before": _share(cov_e_b, tot_e),
        "elderly_coverage_after": _share(cov_e_a, tot_e),
        "village_coverage_before": _share(cov_before.sum(), n),
        "village_coverage_after": _share(cov_after.sum(), n),
        "population_coverage_before": _share(cov_p_b, tot_p),
        "population_coverage_after": _share(cov_p_a, tot_p),
        "objective": objective,
        "optimal": bool(res.optimal) if res is not None else True,
        "gap": (res.gap if res is not None else 0.0),
        "solve_seconds": round(res.seconds, 3) if res is not None else 0.0,
        "solver_status": res.status if res is not None else "未求解",
        "time_limit_s": opts["time_limit_s"],
        "mip_rel_gap": opts["mip_rel_gap"],
        "solver": solver_name(),
        "candidates": int(m),
        "eligible": int(n_e),
        "excluded": int(m - n_e),
        "candidates_source": "村中心" if data.kself else "备选站点图层",
        "target": float(target) if target is not None else None,
        "target_reached": target_reached,
        "capacitated": bool(capacitated),
        "single_source": bool(single_source) if capacitated else None,
        "message": msg,
        "cancelled": cancelled,
        "useful_sites": int((~no_gain).sum()),
        "no_gain_from_rank": no_gain_from,
        **summary_extra,
        **{k: v for k, v in extra.items()},
    }
    if problem == "cemetery":
        summary.update({"setbacks_m": sb, "village_setback_m": vsb,
                        "setbacks_source": defaults.get("setbacks_source")})
    summary["inputs"] = {"date": dt.date.today().isoformat(),
                         "crs": f"{data.gk}（高斯-克吕格，米）",
                         "defaults": "geoservice/analysis/defaults.toml [siting]"}
    prog(1.0, "完成")
    return SitingResult(summary=jsonable(summary), sites=sites_g, excluded=excluded,
                        villages=vill_out, candidates=cand_out)


def _no_gain_note(problem: str, weight: str, first: int, count: int, optimal: bool) -> str:
    """Why sites ``first``.. are listed although they gain nothing (K larger than useful)."""
    what = WEIGHTS[weight]
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


def _rule_label(rule: str) -> str:
    if rule == VILLAGE_SETBACK:
        return "距村中心过近"
    return ZONE_LABELS.get(rule, rule)
