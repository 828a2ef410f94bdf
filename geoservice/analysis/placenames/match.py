"""Match map labels to roster villages by name and place together, near-linearly.

Every comparison is blocked by position, never all pairs:

1. Point in polygon (STRtree): the village each label lies in.
2. Name keys hashed with a grid of ``search_radius_m`` cells: a label is compared with the
   villages of its own and the 8 neighbouring cells that share its exact standard name, a
   former name (aliases) or its tone-less pinyin. One merge on an integer key.
3. Near misses (edit distance, rapidfuzz) only for labels left over, and only against the
   village they lie in and their ``fuzzy_neighbours`` nearest village centres (KD-tree).

Villages are claimed in that order of confidence: exact and former names first (a village
claimed twice keeps its best label, the others are duplicates), then same-sounding and
near-miss names, which may claim only villages that no exact or former name has claimed,
and only when the label lies in the village or within the tolerance of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import Proj, Transformer
from rapidfuzz.distance import Levenshtein
from scipy.spatial import cKDTree

from geoservice.analysis.placenames.romanize import split_generic
from layers.crs import STORED_CRS

EXACT, FORMER, SOUND, FUZZY, NONE = 0, 1, 2, 3, 9
KIND_NAMES = {EXACT: "exact", FORMER: "former", SOUND: "sound", FUZZY: "fuzzy", NONE: "none"}


@dataclass
class LabelMatch:
    """Per label: the village claimed (-1 none), how, and where the label lies."""

    village: np.ndarray  # index into villages, -1 when unmatched
    kind: np.ndarray  # EXACT / FORMER / SOUND / FUZZY / NONE
    primary: np.ndarray  # bool: the label that stands for its village (not a duplicate)
    inside: np.ndarray  # index of the village polygon holding the label, -1 outside all
    centre_m: np.ndarray  # distance to the claimed village's centre (nan when none)
    outside_m: np.ndarray  # distance outside the claimed village's polygon (0 inside)
    score: np.ndarray  # similarity of the names (1 exact)
    primary_of: np.ndarray  # for duplicates: the primary label of the same village
    scale: np.ndarray  # GK point scale factor at each label (divide projected lengths by it)


class _Metric:
    """Projects stored lon/lat to the metric CRS, points and (few) polygons.

    One Gauss-Kruger zone serves the whole roster (the spatial hash needs one plane), so far
    from its central meridian projected lengths grow: +0.3% at 4 degrees, +2% at 14, +8% at
    30 (a national roster). :meth:`scale` gives the point scale factor at each label; the
    matcher divides every label distance by it, which leaves well under 0.1 m over the few
    kilometres compared.
    """

    def __init__(self, crs: str):
        self.crs = crs
        self.tr = Transformer.from_crs(STORED_CRS, crs, always_xy=True)

    def scale(self, points: np.ndarray) -> np.ndarray:
        c = shapely.get_coordinates(points)
        if len(c) == 0:
            return np.ones(0)
        factors = Proj(self.crs).get_factors(c[:, 0], c[:, 1])
        k = np.asarray(factors.meridional_scale, dtype=float)
        return np.where(np.isfinite(k) & (k > 0), k, 1.0)

    def xy(self, points: np.ndarray) -> np.ndarray:
        c = shapely.get_coordinates(points)
        if len(c) == 0:
            return np.zeros((0, 2))
        x, y = self.tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    def geoms(self, geoms: np.ndarray) -> np.ndarray:
        def f(c):
            x, y = self.tr.transform(c[:, 0], c[:, 1])
            return np.column_stack([x, y])
        return shapely.transform(geoms, f)


def containing(village_geoms: np.ndarray, label_points: np.ndarray) -> np.ndarray:
    """Index of the village polygon holding each label, -1 when none (first on a shared edge)."""
    out = np.full(len(label_points), -1, dtype=np.int64)
    if len(label_points) == 0 or len(village_geoms) == 0:
        return out
    tree = shapely.STRtree(village_geoms)
    li, vi = tree.query(label_points, predicate="intersects")
    order = np.lexsort((vi, li))
    li, vi = li[order], vi[order]
    first = np.r_[True, li[1:] != li[:-1]] if len(li) else np.array([], bool)
    out[li[first]] = vi[first]
    return out


def _cell_keys(ids: np.ndarray, xy: np.ndarray, size: float, dx: int = 0, dy: int = 0):
    cx = np.floor(xy[:, 0] / size).astype(np.int64) + dx + (1 << 19)
    cy = np.floor(xy[:, 1] / size).astype(np.int64) + dy + (1 << 19)
    return (ids.astype(np.int64) << 42) | (cx << 21) | cy


def keyed_pairs(label_ids: np.ndarray, label_xy: np.ndarray, label_idx: np.ndarray,
                village_ids: np.ndarray, village_xy: np.ndarray, village_idx: np.ndarray,
                village_rank: np.ndarray, radius: float) -> pd.DataFrame:
    """(label, village, rank, d) for equal name keys whose centres are within ``radius``.

    A spatial hash of ``radius`` cells: the label looks in its own and 8 neighbour cells.
    """
    vkeys = _cell_keys(village_ids, village_xy, radius)
    vt = pd.DataFrame({"key": vkeys, "v": village_idx, "rank": village_rank})
    frames = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            frames.append(pd.DataFrame({
                "key": _cell_keys(label_ids, label_xy, radius, dx, dy), "l": label_idx}))
    lt = pd.concat(frames, ignore_index=True)
    pairs = lt.merge(vt, on="key", how="inner")[["l", "v", "rank"]]
    return pairs


def match_labels(label_std: list[str], label_sound: list[str], label_points: np.ndarray,
                 village_std: list[str], village_sound: list[str], village_geoms: np.ndarray,
                 centres: np.ndarray, aliases: list[tuple[int, str]], metric_crs: str, *,
                 search_radius_m: float, tolerance_m: float, fuzzy_threshold: float,
                 fuzzy_neighbours: int) -> LabelMatch:
    """Match labels to villages (see the module notes). Geometries in the stored CRS."""
    nl, nv = len(label_std), len(village_std)
    metric = _Metric(metric_crs)
    lxy = metric.xy(label_points)
    cxy = metric.xy(centres)
    k_l = metric.scale(label_points)
    inside = containing(village_geoms, label_points)

    village = np.full(nl, -1, dtype=np.int64)
    kind = np.full(nl, NONE, dtype=np.int64)
    score = np.zeros(nl)
    if nl == 0 or nv == 0:
        return _finish(village, kind, inside, score, lxy, cxy, village_geoms, metric,
                       np.zeros(nv, bool), k_l)

    # --- name keys: one vocabulary for names, another (prefixed) for sounds -----------
    vocab: dict[str, int] = {}

    def ids(strings, prefix=""):
        return np.fromiter((vocab.setdefault(prefix + s, len(vocab)) for s in strings),
                           dtype=np.int64, count=len(strings))

    v_name = ids(village_std)
    v_sound = ids(village_sound, "\x01")
    a_v = np.array([a for a, _ in aliases], dtype=np.int64)
    a_name = ids([n for _, n in aliases])
    l_name = ids(label_std)
    l_sound = ids(label_sound, "\x01")
    vids = np.concatenate([v_name, a_name, v_sound])
    vidx = np.concatenate([np.arange(nv), a_v, np.arange(nv)])
    vrank = np.concatenate([np.full(nv, EXACT), np.full(len(a_v), FORMER), np.full(nv, SOUND)])
    vxy = cxy[vidx] if len(vidx) else np.zeros((0, 2))
    lidx = np.arange(nl)
    pairs = keyed_pairs(np.concatenate([l_name, l_sound]), np.vstack([lxy, lxy]),
                        np.concatenate([lidx, lidx]), vids, vxy, vidx, vrank,
                        search_radius_m * float(k_l.max()))
    pairs = pairs.drop_duplicates()
    l_arr, v_arr = pairs["l"].to_numpy(), pairs["v"].to_numpy()
    d = np.hypot(*(lxy[l_arr] - cxy[v_arr]).T) / k_l[l_arr] if len(pairs) else np.zeros(0)
    pairs = pairs.assign(d=d, out=(inside[l_arr] != v_arr).astype(np.int64))
    pairs = pairs[pairs["d"] <= search_radius_m]
    pairs = pairs.sort_values(["l", "rank", "out", "d"], kind="stable")

    # --- stage 1: exact and former names, the best per label ------------------------
    best = pairs.drop_duplicates("l")
    strong = best[best["rank"] <= FORMER]
    village[strong["l"].to_numpy()] = strong["v"].to_numpy()
    kind[strong["l"].to_numpy()] = strong["rank"].to_numpy()
    score[strong["l"].to_numpy()] = 1.0
    claimed = np.zeros(nv, dtype=bool)
    claimed[strong["v"].to_numpy()] = True

    # --- stage 2: same sound, unclaimed villages, in or near the village ------------
    left = kind == NONE
    sound = pairs[(pairs["rank"] == SOUND) & left[pairs["l"].to_numpy()]]
    sound = sound[~claimed[sound["v"].to_numpy()]]
    if len(sound):
        near = _near_enough(sound["l"].to_numpy(), sound["v"].to_numpy(), inside, lxy,
                            village_geoms, metric, tolerance_m, k_l)
        sound = sound[near]
        for lab, vil in zip(sound["l"].to_numpy(), sound["v"].to_numpy(), strict=True):
            if kind[lab] == NONE and not claimed[vil]:
                village[lab], kind[lab], score[lab] = vil, SOUND, 1.0
                claimed[vil] = True

    # --- stage 3: near misses by edit distance among the nearest villages -----------
    left = np.flatnonzero(kind == NONE)
    if len(left):
        k = int(min(max(fuzzy_neighbours, 1), nv))
        _, nn = cKDTree(cxy).query(lxy[left], k=k)
        nn = np.asarray(nn).reshape(len(left), k)
        cand = np.column_stack([inside[left], nn])
        rows = []
        for i, lab in enumerate(left):
            seen = set()
            for vil in cand[i]:
                if vil < 0 or vil in seen or claimed[vil]:
                    continue
                seen.add(vil)
                s = name_similarity(label_std[lab], village_std[vil])
                if s >= fuzzy_threshold:
                    rows.append((lab, int(vil), s))
        if rows:
            fz = pd.DataFrame(rows, columns=["l", "v", "s"])
            near = _near_enough(fz["l"].to_numpy(), fz["v"].to_numpy(), inside, lxy,
                                village_geoms, metric, tolerance_m, k_l)
            fz = fz[near].sort_values(["s"], ascending=False, kind="stable")
            for lab, vil, s in fz.itertuples(index=False):
                if kind[lab] == NONE and not claimed[vil]:
                    village[lab], kind[lab], score[lab] = vil, FUZZY, s
                    claimed[vil] = True
    return _finish(village, kind, inside, score, lxy, cxy, village_geoms, metric, claimed, k_l)


def name_similarity(a: str, b: str) -> float:
    """Edit-distance similarity (0-1) of two standard names; names that differ only in
    the generic (凤阳村 / 凤阳社区) count as their specifics' similarity."""
    s = Levenshtein.normalized_similarity(a, b)
    sa, ga, _ = split_generic(a)
    sb, gb, _ = split_generic(b)
    if sa and sb and ga != gb:
        s = max(s, Levenshtein.normalized_similarity(sa, sb))
    return float(s)


def _outside_m(lab: np.ndarray, vil: np.ndarray, inside: np.ndarray, lxy: np.ndarray,
               geoms: np.ndarray, metric: _Metric, k_l: np.ndarray) -> np.ndarray:
    """Distance in metres from each label to its village polygon (0 when inside), corrected
    by the scale factor at the label."""
    out = np.zeros(len(lab))
    todo = np.flatnonzero(inside[lab] != vil)
    if len(todo):
        uniq, inv = np.unique(vil[todo], return_inverse=True)
        projected = metric.geoms(geoms[uniq])
        pts = shapely.points(lxy[lab[todo]])
        out[todo] = shapely.distance(projected[inv], pts) / k_l[lab[todo]]
    return out


def _near_enough(lab, vil, inside, lxy, geoms, metric, tolerance_m, k_l) -> np.ndarray:
    return _outside_m(lab, vil, inside, lxy, geoms, metric, k_l) <= tolerance_m


def _finish(village, kind, inside, score, lxy, cxy, geoms, metric, claimed, k_l) -> LabelMatch:
    nl = len(village)
    matched = np.flatnonzero(village >= 0)
    centre_m = np.full(nl, np.nan)
    outside_m = np.full(nl, np.nan)
    if len(matched):
        vil = village[matched]
        centre_m[matched] = np.hypot(*(lxy[matched] - cxy[vil]).T) / k_l[matched]
        outside_m[matched] = _outside_m(matched, vil, inside, lxy, geoms, metric, k_l)
    # One primary label per village: inside first, then nearest its centre; rest duplicates.
    primary = np.zeros(nl, dtype=bool)
    primary_of = np.full(nl, -1, dtype=np.int64)
    if len(matched):
        df = pd.DataFrame({"l": matched, "v": village[matched], "k": kind[matched],
                           "o": outside_m[matched], "c": centre_m[matched]})
        df = df.sort_values(["v", "k", "o", "c"], kind="stable")
        first = ~df["v"].duplicated()
        primary[df.loc[first, "l"].to_numpy()] = True
        head = df[first].set_index("v")["l"]
        primary_of[df["l"].to_numpy()] = head.reindex(df["v"].to_numpy()).to_numpy()
        primary_of[primary] = -1
    return LabelMatch(village, kind, primary, inside, centre_m, outside_m, score, primary_of,
                      k_l)
