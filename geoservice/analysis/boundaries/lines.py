"""Boundary lines (界线): the shared edge of every adjacent pair, and the outer segments.

Shared line of units A and B = the part of A's boundary covered by B's boundary once B's
is snapped onto A's (``shapely.snap``, tolerance ``snap_m``): exact where both sides share
vertices, and digitising gaps or overlaps narrower than the snap tolerance still give one
line. Lines are merged into as few parts as possible; a pair whose common line is no
longer than ``snap_m`` (a corner touch) is not adjacent. Outer segments of A = A's
boundary minus its shared lines (the county border, or the rim of a gap). Candidate pairs come from an STRtree
(``dwithin``), never from all pairs.

How it is computed, in bulk (shapely 2 arrays, no loop per pair):

- Most neighbours share their edges exactly (the same vertices on both sides). Those
  edges are found by hashing the polygons' ring segments (endpoints in a canonical order):
  a segment that occurs in the rings of exactly two units is on their shared line.
- That shortcut is used only for a *clean* pair: no vertex of either unit lies within
  ``snap_m`` of the other unit unless it is also one of the other unit's vertices. Then
  snapping moves nothing and the two boundaries overlap exactly in their common segments,
  so the shortcut gives the same line as snap + intersection. Every other pair (gaps,
  overlaps, T-junctions, vertices closer than the tolerance) goes through
  ``shapely.snap`` and ``shapely.intersection`` as before, on arrays.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geoservice.analysis.boundaries.geometry import line_parts, ring_segments

OUTER_NAME = "县界（无相邻单位）"


def _merge_lines(geoms: np.ndarray, owner: np.ndarray, n: int, min_length: float) -> np.ndarray:
    """Per owner: its line parts longer than ``min_length``, merged."""
    parts, part_owner = line_parts(geoms, min_length)
    return _merge_parts(parts, owner[part_owner], n)


def _merge_parts(parts: np.ndarray, part_owner: np.ndarray, n: int) -> np.ndarray:
    """``line_merge`` of each owner's LineStrings (None where an owner has none)."""
    out = np.full(n, None, dtype=object)
    if not len(parts):
        return out
    order = np.argsort(part_owner, kind="stable")
    po = part_owner[order]
    multi = shapely.multilinestrings(parts[order], indices=po, out=out)
    has = np.unique(po)
    out[has] = shapely.line_merge(multi[has])
    return out


def _dirty_pairs(geoms: np.ndarray, tree: shapely.STRtree, vx: np.ndarray, vowner: np.ndarray,
                 vid: np.ndarray, n: int, snap_m: float) -> np.ndarray:
    """Unordered pair codes ``a * n + b`` (a < b) that are *not* clean (see module doc).

    ``vx`` (coordinates), ``vowner`` and ``vid`` list each unit's distinct vertices with a
    coordinate id (the same id for bitwise equal coordinates).
    """
    if not len(vid):
        return np.empty(0, dtype=np.int64)
    nv = int(vid.max()) + 1
    have = np.unique(vowner.astype(np.int64) * nv + vid)  # (unit, coordinate) pairs
    # Each distinct coordinate once, against the units whose box is within the tolerance
    # (a little more, so that rounding in GEOS' own distance never matters).
    tol = snap_m * (1 + 1e-9) + 1e-9
    ids, first = np.unique(vid, return_index=True)
    xy = vx[first]
    boxes = shapely.box(xy[:, 0] - tol, xy[:, 1] - tol, xy[:, 0] + tol, xy[:, 1] + tol)
    c, p = tree.query(boxes)
    cid = ids[c]
    # A unit that has the coordinate as one of its own vertices is fine.
    want = p.astype(np.int64) * nv + cid
    pos = np.minimum(np.searchsorted(have, want), len(have) - 1)
    other = have[pos] != want
    c, p, cid = c[other], p[other], cid[other]
    near = shapely.dwithin(shapely.points(xy[c]), geoms[p], tol)
    p, cid = p[near], cid[near]
    if not len(p):
        return np.empty(0, dtype=np.int64)
    # Every unit with that vertex and that other unit make a pair that is not clean.
    order = np.argsort(vid, kind="stable")
    vs = vid[order]
    lo = np.searchsorted(vs, cid, side="left")
    hi = np.searchsorted(vs, cid, side="right")
    reps = hi - lo
    rows = np.repeat(np.arange(len(cid)), reps)
    offs = np.arange(len(rows)) - np.repeat(np.cumsum(reps) - reps, reps)
    a = vowner[order][np.repeat(lo, reps) + offs]
    b = p[rows]
    return np.unique(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))


def _shared_segments(boundaries: np.ndarray, n: int):
    """Ring segments found in exactly two units (by exact endpoints), and the bad units.

    Returns (segments as (m, 2, 2) coordinates, unit a, unit b with a < b), all the
    segments (coordinates, owner, the code of the pair sharing it or -1), the vertex
    table (coordinates, owner, coordinate id) and the units whose segments are not simple
    (a segment repeated within one unit, or shared by three or more): those units never
    take the shortcut.
    """
    start, end, owner = ring_segments(boundaries)
    seg = np.stack([start, end], axis=1)  # (m, 2, 2)
    # Canonical order of the two endpoints (x, then y) so A's and B's edges hash alike.
    swap = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
    canon = seg.copy()
    canon[swap] = seg[swap][:, ::-1]
    # Coordinate ids: one id per distinct (x, y) (bitwise equal floats, -0.0 made 0.0).
    xy = np.ascontiguousarray(canon.reshape(-1, 2)) + 0.0
    _, cid = np.unique(xy.view(np.dtype((np.void, 16))).ravel(), return_inverse=True)
    cid = cid.reshape(-1, 2).astype(np.int64)
    nc = int(cid.max()) + 1 if len(cid) else 1
    key = cid[:, 0] * nc + cid[:, 1]
    order = np.lexsort((owner, key))
    ks, os_ = key[order], owner[order]
    first = np.r_[True, ks[1:] != ks[:-1]]
    group = np.cumsum(first) - 1
    count = np.bincount(group)
    gstart = np.flatnonzero(first)
    # Units with an unusual segment: repeated inside the unit or shared by 3+ units.
    bad = np.zeros(n, dtype=bool)
    c_of = count[group]
    bad[os_[c_of > 2]] = True
    two = np.flatnonzero(count == 2)
    a, b = os_[gstart[two]], os_[gstart[two] + 1]
    same = a == b
    bad[a[same]] = True
    sel = order[gstart[two[~same]]]
    shared = (canon[sel], a[~same], b[~same])
    # Every segment with the pair that shares it (-1: no pair shares it).
    pair = np.full(len(owner), -1, dtype=np.int64)
    pair_code = np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)
    pair[order[gstart[two[~same]]]] = pair_code[~same]
    pair[order[gstart[two[~same]] + 1]] = pair_code[~same]
    segments = (seg, owner, pair)
    # The vertex table for the clean-pair test: distinct (owner, coordinate).
    vowner = np.repeat(owner, 2)
    vid = cid.ravel()
    uniq = np.unique(vowner.astype(np.int64) * nc + vid)
    vowner_u, vid_u = (uniq // nc).astype(np.intp), uniq % nc
    first_of = np.zeros(nc, dtype=np.intp)
    first_of[vid] = np.arange(len(vid))
    vx = xy[first_of[vid_u]]
    return shared, segments, (vx, vowner_u, vid_u), bad


def derive_lines(geoms: np.ndarray, codes: np.ndarray, names: np.ndarray, *, snap_m: float,
                 crs: str) -> gpd.GeoDataFrame:
    """Shared and outer boundary lines of valid, non-empty polygons ``geoms`` (metric CRS).

    Returns a GeoDataFrame (``crs``) with ``kind`` (``shared``/``outer``), ``code_a``,
    ``name_a``, ``code_b``, ``name_b`` (None for outer), ``length_m``, ``length_km``.
    """
    n = len(geoms)
    columns = ["kind", "code_a", "name_a", "code_b", "name_b", "length_m", "length_km"]
    if n == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)
    geoms = np.asarray(geoms, dtype=object)
    tree = shapely.STRtree(geoms)
    boundaries = shapely.boundary(geoms)
    (seg, sa, sb), (all_seg, all_owner, all_pair), (vx, vowner, vid), bad = \
        _shared_segments(boundaries, n)
    seg_code = sa.astype(np.int64) * n + sb
    # Candidate pairs: units within snap_m of each other (the same set as an STRtree
    # ``dwithin`` query): boxes first; units sharing a segment are at distance 0, only the
    # others are measured.
    b = shapely.bounds(geoms)
    i, j = tree.query(shapely.box(b[:, 0] - snap_m, b[:, 1] - snap_m, b[:, 2] + snap_m,
                                  b[:, 3] + snap_m))
    keep = i != j
    i, j = i[keep], j[keep]
    lo, hi = np.minimum(i, j).astype(np.int64), np.maximum(i, j).astype(np.int64)
    code = lo * n + hi
    touching = np.isin(code, seg_code)
    measure = np.flatnonzero(~touching)
    touching[measure] = shapely.dwithin(geoms[i[measure]], geoms[j[measure]], snap_m)
    i, j, code = i[touching], j[touching], code[touching]

    dirty = _dirty_pairs(geoms, tree, vx, vowner, vid, n, snap_m)
    clean = ~np.isin(code, dirty) & ~bad[i] & ~bad[j]

    both = np.full(len(i), None, dtype=object)
    # Clean pairs: their exactly shared segments (longer than 1e-6, as GEOS' own output
    # parts are filtered below), one line per unordered pair, used for both directions.
    seg_len = np.hypot(seg[:, 1, 0] - seg[:, 0, 0], seg[:, 1, 1] - seg[:, 0, 1])
    clean_codes = np.unique(code[clean])
    on = np.isin(seg_code, clean_codes) & (seg_len > 1e-6)
    if on.any():
        slot = np.searchsorted(clean_codes, seg_code[on])
        per_pair = _merge_parts(shapely.linestrings(seg[on]), slot, len(clean_codes))
        both[clean] = per_pair[np.searchsorted(clean_codes, code[clean])]
    # Other pairs: B's boundary snapped onto A's (vertices and segments within snap_m),
    # then the part of A's boundary it covers: exact where both sides agree, robust to
    # small gaps/overlaps.
    rest = np.flatnonzero(~clean)
    if len(rest):
        ri, rj = i[rest], j[rest]
        snapped = shapely.snap(boundaries[rj], boundaries[ri], snap_m)
        both[rest] = _merge_lines(shapely.intersection(boundaries[ri], snapped),
                                  np.arange(len(rest)), len(rest), 1e-6)
    present = np.array([g is not None for g in both], dtype=bool)
    length = np.zeros(len(both))
    if present.any():
        length[present] = shapely.length(both[present])
    # A corner touch is no boundary line.
    adjacent = length > snap_m
    i, j, both, clean = i[adjacent], j[adjacent], both[adjacent], clean[adjacent]
    upper = i < j
    pi, pj, shared = i[upper], j[upper], both[upper]

    # Outer segments = each unit's boundary minus all its shared lines. A unit whose
    # neighbours are all clean pairs: its ring segments not shared with an adjacent unit
    # (longer than 1e-6, as above), merged. Any other unit: ``shapely.difference``.
    outer_raw = boundaries.copy()
    slow = bad.copy()
    slow[i[~clean]] = True
    with_nb = np.unique(i)
    fast, slow = with_nb[~slow[with_nb]], with_nb[slow[with_nb]]
    if len(slow):
        sel = np.flatnonzero(slow[np.searchsorted(slow, i).clip(0, len(slow) - 1)] == i)
        nb_parts, nb_owner = line_parts(both[sel])
        nb_owner = i[sel][nb_owner]
        order = np.argsort(nb_owner, kind="stable")
        nb = shapely.multilinestrings(nb_parts[order], indices=nb_owner[order],
                                      out=np.full(n, None, dtype=object))
        outer_raw[slow] = shapely.difference(boundaries[slow], nb[slow])
    if len(fast):
        is_fast = np.zeros(n, dtype=bool)
        is_fast[fast] = True
        all_len = np.hypot(all_seg[:, 1, 0] - all_seg[:, 0, 0],
                           all_seg[:, 1, 1] - all_seg[:, 0, 1])
        # Taken: shared with a unit whose line *from this unit's side* is adjacent (the
        # two directions of a pair that is not clean may disagree).
        partner = all_pair // n + all_pair % n - all_owner
        directed = np.where(all_pair >= 0, all_owner.astype(np.int64) * n + partner, -1)
        taken = np.isin(directed, i.astype(np.int64) * n + j) & (all_len > 1e-6)
        rest_seg = np.flatnonzero(is_fast[all_owner] & ~taken)
        chains = _merge_parts(shapely.linestrings(all_seg[rest_seg]), all_owner[rest_seg], n)
        outer_raw[fast] = chains[fast]
    outer = _merge_lines(outer_raw, np.arange(n), n, 1e-3)
    present = np.array([g is not None for g in outer], dtype=bool)
    outer_len = np.zeros(n)
    if present.any():
        outer_len[present] = shapely.length(outer[present])
    has_outer = np.flatnonzero(outer_len > snap_m)

    return lines_frame(shared, outer[has_outer], pi, pj, has_outer, codes, names, crs)


def lines_frame(shared, outer, pi, pj, has_outer, codes, names, crs) -> gpd.GeoDataFrame:
    """The boundary-line table: a row per shared line (units ``pi``/``pj``) and per outer
    line (units ``has_outer``), lengths in metres and km, in a stable order."""
    geom = np.concatenate([shared, outer]).astype(object)
    length = shapely.length(geom) if len(geom) else np.array([])
    frame = gpd.GeoDataFrame({
        "kind": ["shared"] * len(pi) + ["outer"] * len(has_outer),
        "code_a": np.concatenate([codes[pi], codes[has_outer]]),
        "name_a": np.concatenate([names[pi], names[has_outer]]),
        "code_b": np.concatenate([codes[pj], np.full(len(has_outer), None, dtype=object)]),
        "name_b": np.concatenate([names[pj], np.full(len(has_outer), OUTER_NAME,
                                                     dtype=object)]),
        "length_m": np.round(length, 3),
        "length_km": np.round(length / 1000.0, 3),
    }, geometry=geom, crs=crs)
    return frame.sort_values(["kind", "code_a", "code_b"], ascending=[False, True, True],
                             na_position="last").reset_index(drop=True)
