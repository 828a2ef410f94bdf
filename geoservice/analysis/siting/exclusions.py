"""Cemetery candidates: the exclusion rules (zones with per-type setbacks, then the
distance from village centres) and, per excluded candidate, every rule it breaks."""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from geoservice.analysis.vocabulary import PLANNED, VILLAGE_SETBACK, ZONE_LABELS
from layers.crs import STORED_CRS

from .inputs import Inputs

Hit = tuple[str, str, float]  # (rule, reason in Chinese, distance in metres)


def exclusions(data: Inputs, zones, setbacks: dict,
               village_setback_m: float) -> tuple[np.ndarray, list[list[Hit]]]:
    """Eligibility of each candidate and, per candidate, the rules that exclude it, in
    rule order: the zone types in setback order (then any other type), the village setback
    last."""
    m = len(data.kxy)
    hits: list[list[Hit]] = [[] for _ in range(m)]
    if zones is not None and len(zones) and m:
        _zone_hits(data, zones, setbacks, hits)
    if village_setback_m and village_setback_m > 0 and m and len(data.cxy):
        _village_hits(data, village_setback_m, hits)
    eligible = np.array([not h for h in hits], dtype=bool)
    return eligible, hits


def _zone_hits(data: Inputs, zones, setbacks: dict, hits: list[list[Hit]]) -> None:
    """Per zone type, the nearest zone closer than its setback (inside, when 0)."""
    kpts = shapely.points(data.kxy)
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


def _village_hits(data: Inputs, village_setback_m: float, hits: list[list[Hit]]) -> None:
    """Candidates closer than the setback to a village centre (not their own)."""
    m = len(data.kxy)
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
    names = data.village_names
    for k in np.flatnonzero(dist < village_setback_m):
        hits[k].append((VILLAGE_SETBACK,
                        f"距{names[vid[k]]}中心 {dist[k]:.0f} 米，"
                        f"小于退让距离 {village_setback_m:g} 米", float(dist[k])))


# A candidate this close (metres) to a site of the plan the run builds on is that site.
TAKEN_M = 1.0


def planned_hits(data: Inputs, taken, hits: list[list[Hit]]) -> np.ndarray:
    """Candidates within ``TAKEN_M`` of a plan's site (``taken``: points, any CRS): rule
    ``planned`` added to their hits. Returns the eligibility left (False where taken)."""
    from .inputs import _project_xy, points_of

    t = taken.to_crs(STORED_CRS)
    t = t[t.geometry.notna() & ~t.geometry.is_empty]
    m = len(data.kxy)
    free = np.ones(m, dtype=bool)
    if not len(t):
        return free
    txy = _project_xy(points_of(t), data.gk)
    d, _ = cKDTree(txy).query(data.kxy, k=1)
    for k in np.flatnonzero(d <= TAKEN_M):
        hits[k].append((PLANNED, f"已在规划方案中（距方案站点 {d[k]:.1f} 米）", float(d[k])))
        free[k] = False
    return free
