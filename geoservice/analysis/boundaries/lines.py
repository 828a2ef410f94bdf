"""Boundary lines (界线): the shared edge of every adjacent pair, and the outer segments.

Shared line of units A and B = the part of A's boundary covered by B's boundary once B's
is snapped onto A's (``shapely.snap``, tolerance ``snap_m``): exact where both sides share
vertices, and digitising gaps or overlaps narrower than the snap tolerance still give one
line. Lines are merged into as few parts as possible; a pair whose common line is no
longer than ``snap_m`` (a corner touch) is not adjacent. Outer segments of A = A's
boundary minus its shared lines (the county border, or the rim of a gap). Candidate pairs come from an STRtree
(``dwithin``), never from all pairs.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geoservice.analysis.boundaries.geometry import group_union, line_parts

OUTER_NAME = "县界（无相邻单位）"


def _merge_lines(geoms: np.ndarray, owner: np.ndarray, n: int, min_length: float) -> np.ndarray:
    """Per owner: its line parts longer than ``min_length``, merged."""
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
        merged = shapely.line_merge(shapely.multilinestrings(parts[order[s:e]]))
        out[po[s]] = merged
    return out


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
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=snap_m)
    keep = i != j
    i, j = i[keep], j[keep]
    boundaries = shapely.boundary(geoms)
    # B's boundary snapped onto A's (vertices and segments within snap_m), then the part of
    # A's boundary it covers: exact where both sides agree, robust to small gaps/overlaps.
    snapped = shapely.snap(boundaries[j], boundaries[i], snap_m)
    both = _merge_lines(shapely.intersection(boundaries[i], snapped), np.arange(len(i)),
                        len(i), 1e-6)
    length = np.array([0.0 if g is None else g.length for g in both])
    # A corner touch is no boundary line.
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
    outer = _merge_lines(outer_raw, np.arange(n), n, 1e-3)
    has_outer = np.flatnonzero([g is not None and not g.is_empty and g.length > snap_m
                                for g in outer])

    geom = np.concatenate([shared, outer[has_outer]]).astype(object)
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
