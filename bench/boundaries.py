"""Benchmark: boundary review of 27,000 village polygons over the real Hubei outlines.

    python -m bench.boundaries [--n 27000] [--subset 1500] [--outlines PATH]
                               [--no-baseline-review]

Data: Voronoi villages clipped to the real Hubei county outlines (bench/synthetic.py), with
injected defects: a few villages shifted 30 m (an overlap on one side, a gap on the other)
and a few removed (a hole). Scales: one county (竹山县 420323) and the province.

Baseline (same process, same input): naive all-pairs candidate search for the overlap
check: ``shapely.intersects`` of every pair of a random subset of ``--subset`` villages
(vectorised, row by row), timed and extrapolated by (N / subset)² to all villages, against
our STRtree query for all villages. Both find the same intersecting pairs on the subset
(checked before any time is printed). The whole review is timed as well.

Boundary lines (界线), named baseline ``derive_lines_baseline``: the implementation before
vectorisation (``shapely.snap`` + ``shapely.intersection`` for every candidate pair, one
``line_merge``/``union_all`` call per pair and per unit), kept here verbatim. The lines step
alone (``derive_lines`` vs the baseline, same polygons; the two results are checked equal:
the same pairs and outer lines, lengths to 1e-6 relative) and the whole province review
(with ours, then with the baseline patched in) are timed in the same run, as ratios.
``--no-baseline-review`` skips the second province review (quicker iterations).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely import affinity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic import GK, province  # noqa: E402
from geoservice.analysis.boundaries import checks, review  # noqa: E402
from geoservice.analysis.boundaries.geometry import group_union, line_parts  # noqa: E402
from geoservice.analysis.boundaries.lines import derive_lines, lines_frame  # noqa: E402


def inject_defects(villages, rng, shifted: int = 12, removed: int = 6):
    """Shift some villages 30 m east (overlap + gap) and drop some (holes)."""
    v = villages.to_crs(GK).reset_index(drop=True)
    picks = rng.choice(len(v), shifted + removed, replace=False)
    for k in picks[:shifted]:
        v.loc[k, "geometry"] = affinity.translate(v.geometry.iloc[k], 30.0, 0.0)
    v = v.drop(index=picks[shifted:]).reset_index(drop=True)
    return v.to_crs("EPSG:4490")


def naive_pairs(geoms: np.ndarray) -> set[tuple[int, int]]:
    out = set()
    for i in range(len(geoms) - 1):
        hit = shapely.intersects(geoms[i], geoms[i + 1:])
        out.update((i, i + 1 + j) for j in np.flatnonzero(hit))
    return out


def tree_pairs(geoms: np.ndarray) -> set[tuple[int, int]]:
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    return set(zip(i[keep].tolist(), j[keep].tolist(), strict=True))


def _merge_lines_baseline(geoms, owner, n, min_length):
    parts, part_owner = line_parts(geoms, min_length)
    out = np.full(n, None, dtype=object)
    if not len(parts):
        return out
    part_owner = owner[part_owner]
    order = np.argsort(part_owner, kind="stable")
    po = part_owner[order]
    starts = np.flatnonzero(np.r_[True, po[1:] != po[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts, ends, strict=True):
        out[po[s]] = shapely.line_merge(shapely.multilinestrings(parts[order[s:e]]))
    return out


def derive_lines_baseline(geoms, codes, names, *, snap_m, crs):
    """The former ``derive_lines`` (before vectorisation), the named baseline."""
    import geopandas as gpd

    n = len(geoms)
    columns = ["kind", "code_a", "name_a", "code_b", "name_b", "length_m", "length_km"]
    if n == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=snap_m)
    keep = i != j
    i, j = i[keep], j[keep]
    boundaries = shapely.boundary(geoms)
    snapped = shapely.snap(boundaries[j], boundaries[i], snap_m)
    both = _merge_lines_baseline(shapely.intersection(boundaries[i], snapped),
                                 np.arange(len(i)), len(i), 1e-6)
    length = np.array([0.0 if g is None else g.length for g in both])
    adjacent = length > snap_m
    i, j, both = i[adjacent], j[adjacent], both[adjacent]
    upper = i < j
    pi, pj, shared = i[upper], j[upper], both[upper]
    neighbour_lines = group_union(both, i, n)
    outer_raw = boundaries.copy()
    with_nb = np.flatnonzero([u is not None for u in neighbour_lines])
    if len(with_nb):
        outer_raw[with_nb] = shapely.difference(boundaries[with_nb],
                                                neighbour_lines[with_nb].astype(object))
    outer = _merge_lines_baseline(outer_raw, np.arange(n), n, 1e-3)
    has_outer = np.flatnonzero([g is not None and not g.is_empty and g.length > snap_m
                                for g in outer])
    return lines_frame(shared, outer[has_outer], pi, pj, has_outer, codes, names, crs)


def same_lines(a, b) -> None:
    """The same pairs and outer lines, lengths to 1e-6 relative (else AssertionError)."""
    def rows(f):
        return {(k, x, y if isinstance(y, str) else None): g for k, x, y, g in
                zip(f["kind"], f["code_a"], f["code_b"], f.geometry.values, strict=True)}
    ra, rb = rows(a), rows(b)
    assert set(ra) == set(rb), "界线：新旧实现的单位对不同"
    keys = list(ra)
    la = shapely.length(np.array([ra[k] for k in keys], dtype=object))
    lb = shapely.length(np.array([rb[k] for k in keys], dtype=object))
    assert np.allclose(la, lb, rtol=1e-6, atol=1e-9), "界线：新旧实现的长度不同"


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=27_000)
    ap.add_argument("--subset", type=int, default=1500)
    ap.add_argument("--outlines", type=Path, default=None)
    ap.add_argument("--no-baseline-review", action="store_true",
                    help="不再用基线界线实现重跑省级审查（只比较界线一步）")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(7)
    villages, _, counties = province(args.n, 10, outlines=args.outlines)
    villages = inject_defects(villages, rng)
    geoms_m = np.asarray(villages.to_crs(GK).geometry.array, dtype=object)

    sub = np.sort(rng.choice(len(geoms_m), min(args.subset, len(geoms_m)), replace=False))
    naive, t_naive = timed(naive_pairs, geoms_m[sub])
    ours_sub = tree_pairs(geoms_m[sub])
    assert naive == ours_sub, "STRtree and all-pairs disagree on the subset"
    _, t_tree = timed(tree_pairs, geoms_m)
    scale = (len(geoms_m) / len(sub)) ** 2
    print(f"候选对（重叠检查）：全部两两 intersects {len(sub)} 个村 {t_naive:.2f} 秒，"
          f"外推到 {len(geoms_m)} 个村约 {t_naive * scale:.0f} 秒；"
          f"STRtree 全部 {len(geoms_m)} 个村 {t_tree:.2f} 秒；"
          f"倍数 {t_naive * scale / t_tree:.0f}×")

    county = villages[villages["county_code"] == "420323"]
    outline = counties[counties["code"].astype(str) == "420323"]
    res, t_county = timed(review, county, layer="villages", outline=outline)
    print(f"县级（竹山县，{len(county)} 个村）：审查 {t_county:.2f} 秒，"
          f"问题 {res.summary['findings']} 个 {res.summary['counts']}")
    codes = villages["code"].astype(str).to_numpy(dtype=object)
    names = villages["name"].astype(str).to_numpy(dtype=object)
    new, t_lines = timed(derive_lines, geoms_m, codes, names, snap_m=1.0, crs=GK)
    old, t_lines_old = timed(derive_lines_baseline, geoms_m, codes, names, snap_m=1.0, crs=GK)
    same_lines(new, old)
    print(f"界线一步（省级 {len(geoms_m)} 个村，{int((new['kind'] == 'shared').sum())} 条共有、"
          f"{int((new['kind'] == 'outer').sum())} 条外边界，结果一致）：基线 {t_lines_old:.2f} 秒，"
          f"向量化 {t_lines:.2f} 秒；倍数 {t_lines_old / t_lines:.1f}×")

    res, t_prov = timed(review, villages, layer="villages")
    c = res.summary["counts"]
    print(f"省级（湖北省，{len(villages)} 个村）：审查 {t_prov:.2f} 秒（含界线 "
          f"{res.summary['shared_lines']} 条共有界线），重叠 {c['overlap']}、缝隙 {c['gap']}、"
          f"狭长碎片 {c['sliver']}、飞地 {c['multipart']}；噪声 {res.summary['ignored']}")
    if not args.no_baseline_review:
        checks.derive_lines = derive_lines_baseline
        try:
            res_old, t_prov_old = timed(review, villages, layer="villages")
        finally:
            checks.derive_lines = derive_lines
        assert res_old.summary["counts"] == res.summary["counts"]
        same_lines(res.boundary_lines, res_old.boundary_lines)
        print(f"省级审查：基线界线实现 {t_prov_old:.2f} 秒，向量化 {t_prov:.2f} 秒；"
              f"倍数 {t_prov_old / t_prov:.2f}×；目标 8 秒以内："
              f"{'达到' if t_prov < 8.0 else '未达到'}")

if __name__ == "__main__":
    main()
