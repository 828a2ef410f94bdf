"""Vectorised geometry helpers for the boundary review (metric CRS, shapely 2 arrays)."""

from __future__ import annotations

import numpy as np
import shapely

from layers.readers import validity_reason_zh

POLYGON, MULTIPOLYGON = 3, 6
LINESTRING, MULTILINESTRING = 1, 5

def reason_zh(reason: str) -> str:
    """GEOS' validity reason in Chinese (the location stays in the unit's CRS)."""
    return validity_reason_zh(reason)


def flat_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All simple parts of ``geoms`` (collections opened recursively) with their owner."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    while len(parts):
        multi = shapely.get_type_id(parts) >= 4
        if not multi.any():
            break
        sub, sub_owner = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        owner = np.concatenate([owner[~multi], owner[multi][sub_owner]])
    return parts, owner


def polygon_parts(geoms: np.ndarray, min_area: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Polygon parts (area > ``min_area``) of ``geoms`` with the index of their owner."""
    parts, owner = flat_parts(np.asarray(geoms, dtype=object))
    if not len(parts):
        return parts, owner
    keep = (shapely.get_type_id(parts) == POLYGON) & (shapely.area(parts) > min_area)
    return parts[keep], owner[keep]


def line_parts(geoms: np.ndarray, min_length: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    parts, owner = flat_parts(np.asarray(geoms, dtype=object))
    if not len(parts):
        return parts, owner
    keep = (shapely.get_type_id(parts) == LINESTRING) & (shapely.length(parts) > min_length)
    return parts[keep], owner[keep]


def ring_segments(boundaries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every segment of the lines in ``boundaries`` (e.g. polygons' rings) as coordinate
    arrays: start (m, 2), end (m, 2) and the index of the owner in ``boundaries``.
    Zero-length segments (repeated vertices) are left out."""
    lines, owner = line_parts(boundaries)
    if not len(lines):
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0, dtype=np.intp)
    xy, line = shapely.get_coordinates(lines, return_index=True)
    same = line[:-1] == line[1:]
    start, end = xy[:-1][same], xy[1:][same]
    seg_owner = owner[line[:-1][same]]
    moves = (start != end).any(axis=1)
    return start[moves], end[moves], seg_owner[moves]


def polygonal(geom):
    """The polygonal part of a geometry (a repaired polygon may carry stray lines)."""
    parts, _ = polygon_parts(np.array([geom], dtype=object))
    if len(parts) == 0:
        return shapely.Polygon()
    if len(parts) == 1:
        return parts[0]
    return shapely.multipolygons(parts)


def group_union(geoms: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Union of ``geoms`` per owner index 0..n-1 (None where an owner has none)."""
    out = np.full(n, None, dtype=object)
    if not len(geoms):
        return out
    order = np.argsort(owner, kind="stable")
    owner_sorted = owner[order]
    starts = np.flatnonzero(np.r_[True, owner_sorted[1:] != owner_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts, ends, strict=True):
        sel = geoms[order[s:e]]
        out[owner_sorted[s]] = sel[0] if len(sel) == 1 else shapely.union_all(sel)
    return out


def width_m(pieces: np.ndarray) -> np.ndarray:
    """Mean width of thin pieces: 2 x area / perimeter (a strip of length L, width w has
    area L·w and perimeter about 2L). A compact piece gets a width near its radius."""
    area = shapely.area(pieces)
    perim = shapely.length(pieces)
    return np.divide(2.0 * area, perim, out=np.zeros(len(pieces)), where=perim > 0)


def holes_of(union) -> np.ndarray:
    """The interior holes of a (multi)polygon as polygons, islands inside them removed."""
    parts, _ = polygon_parts(np.array([union], dtype=object))
    if not len(parts):
        return np.array([], dtype=object)
    counts = shapely.get_num_interior_rings(parts)
    rings = [shapely.get_interior_ring(p, k) for p, c in zip(parts, counts, strict=True)
             for k in range(c)]
    if not rings:
        return np.array([], dtype=object)
    holes = shapely.polygons(np.array(rings, dtype=object))
    tree = shapely.STRtree(parts)
    h, p = tree.query(holes, predicate="contains")
    for k in np.unique(h):
        holes[k] = shapely.difference(holes[k], shapely.union_all(parts[p[h == k]]))
    return holes
