"""Match map labels to roster villages, name first, near-linearly.

A label is judged by its name first (issue 12):

1. Point in polygon (STRtree): the village each label lies in.
2. Names: a label whose standard name is the standard name or a former name (aliases) of
   exactly one village of the county is that village's label, however far it sits: one
   sorted join on (county, name), no search radius. A name several villages share (the
   same name in two townships, or one's name and another's former name) goes to the
   nearest of them whose centre lies within ``search_radius_m`` (inside first): a spatial
   hash of ``search_radius_m`` cells, the label looking in its own and the 8 neighbouring
   cells. A roster of several counties (the national one): the label's county is that of
   the village it lies in, else of the nearest village centre; a name unique in the whole
   roster goes straight to its village when that lies in the label's county, any other
   name first to the nearest same-name village within the search radius (of any county:
   a label moved across a county line still finds its own village), and only when none
   is that near to the one village of that name in the label's county.
3. Same sound (tone-less pinyin), only for the labels left after (2) and only against the
   unclaimed villages of their 9 cells, through the same spatial hash: sound keys are
   computed for those names only (``sound_key``, cached by the caller per distinct name).
4. Near misses (edit distance, rapidfuzz) only for labels still left, and only against the
   village they lie in and their ``fuzzy_neighbours`` nearest village centres (KD-tree).

Villages are claimed in that order of confidence: exact and former names first (a village
claimed twice keeps its best label, the others are duplicates), then same-sounding and
near-miss names, which may claim only villages that no exact or former name has claimed,
and only when the label lies in the village or within the tolerance of it.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """(l, v, rank) for equal name keys whose centres lie in neighbouring cells.

    A spatial hash of ``radius`` cells: the label looks in its own and 8 neighbour cells.
    The village keys are sorted once and each label key is looked up by binary search, so
    memory stays proportional to the pairs found, not to 9 copies of the labels.
    """
    empty = pd.DataFrame({"l": np.zeros(0, np.int64), "v": np.zeros(0, np.int64),
                          "rank": np.zeros(0, np.int64)})
    if len(label_ids) == 0 or len(village_ids) == 0:
        return empty
    vkeys = _cell_keys(village_ids, village_xy, radius)
    order = np.argsort(vkeys, kind="stable")
    sorted_keys = vkeys[order]
    parts = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            lk = _cell_keys(label_ids, label_xy, radius, dx, dy)
            lo = np.searchsorted(sorted_keys, lk, "left")
            cnt = np.searchsorted(sorted_keys, lk, "right") - lo
            has = np.flatnonzero(cnt)
            if len(has) == 0:
                continue
            c = cnt[has]
            first = np.repeat(lo[has] - (np.cumsum(c) - c), c)
            pos = order[first + np.arange(int(c.sum()))]
            parts.append((np.repeat(label_idx[has], c), pos))
    if not parts:
        return empty
    lab = np.concatenate([a for a, _ in parts])
    pos = np.concatenate([b for _, b in parts])
    return pd.DataFrame({"l": lab, "v": village_idx[pos], "rank": village_rank[pos]})


def _ids(strings, vocab: dict[str, int]) -> np.ndarray:
    return np.fromiter((vocab.setdefault(s, len(vocab)) for s in strings), dtype=np.int64,
                       count=len(strings))


def _rank_pairs(pairs: pd.DataFrame, lxy, cxy, k_l, inside, radius: float) -> pd.DataFrame:
    """Pairs within ``radius`` of the village centre (true metres), with the distance and
    whether the label lies outside the village, best first for each label."""
    pairs = pairs.drop_duplicates()
    l_arr, v_arr = pairs["l"].to_numpy(), pairs["v"].to_numpy()
    d = np.hypot(*(lxy[l_arr] - cxy[v_arr]).T) / k_l[l_arr] if len(pairs) else np.zeros(0)
    pairs = pairs.assign(d=d, out=(inside[l_arr] != v_arr).astype(np.int64))
    pairs = pairs[pairs["d"] <= radius]
    return pairs.sort_values(["l", "rank", "out", "d", "v"], kind="stable")


def match_labels(label_std: list[str], label_points: np.ndarray,
                 village_std: list[str], village_geoms: np.ndarray,
                 centres: np.ndarray, aliases: list[tuple[int, str]], metric_crs: str, *,
                 sound_key: Callable[[str], str],
                 village_county: np.ndarray | None = None,
                 search_radius_m: float, tolerance_m: float, fuzzy_threshold: float,
                 fuzzy_neighbours: int) -> LabelMatch:
    """Match labels to villages (see the module notes). Geometries in the stored CRS;
    ``aliases`` are (village index, standard former name); ``sound_key(name)`` gives the
    tone-less sound of a standard name (called only for the names that need it);
    ``village_county``: an integer per village naming its county (e.g. from the first 6
    code digits), for rosters of several counties; None: one county."""
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
    cell = search_radius_m * float(k_l.max())

    # --- stage 1: exact and former names ---------------------------------------------
    vocab: dict[str, int] = {}
    v_name = _ids(village_std, vocab)
    a_v = np.array([a for a, _ in aliases], dtype=np.int64)
    a_name = _ids([n for _, n in aliases], vocab)
    l_name = _ids(label_std, vocab)
    # every (name, village) once, with its best rank (a village's own name before a
    # former name)
    cand = pd.DataFrame({"n": np.concatenate([v_name, a_name]),
                         "v": np.concatenate([np.arange(nv), a_v]),
                         "rank": np.concatenate([np.full(nv, EXACT),
                                                 np.full(len(a_v), FORMER)])})
    cand = cand.sort_values(["n", "v", "rank"], kind="stable").drop_duplicates(["n", "v"])
    # The label's county: of the village it lies in, else of the nearest village centre
    # (a roster of one county: that county).
    vc = np.zeros(nv, dtype=np.int64) if village_county is None else \
        np.asarray(village_county, dtype=np.int64)
    n_c = int(vc.max()) + 1
    lc = np.zeros(nl, dtype=np.int64)
    if n_c > 1:
        lc[inside >= 0] = vc[inside[inside >= 0]]
        away = np.flatnonzero(inside < 0)
        if len(away):
            lc[away] = vc[cKDTree(cxy).query(lxy[away], k=1)[1]]
    c_name, c_v = cand["n"].to_numpy(), cand["v"].to_numpy()
    ckey = c_name * n_c + vc[c_v]
    order = np.argsort(ckey, kind="stable")
    ckey, cv, crank = ckey[order], c_v[order], cand["rank"].to_numpy()[order]
    lkey = l_name * n_c + lc
    lo = np.searchsorted(ckey, lkey, "left")
    in_county = np.searchsorted(ckey, lkey, "right") - lo  # villages of the name there
    per_name = np.bincount(c_name, minlength=len(vocab))  # villages of the name anywhere

    def take(labels_: np.ndarray) -> None:
        village[labels_] = cv[lo[labels_]]
        kind[labels_] = crank[lo[labels_]]
        score[labels_] = 1.0

    # (a) the name of exactly one village, in the label's county: that village, wherever
    # the label is (no search radius, no pairs)
    direct = (per_name[l_name] == 1) & (in_county == 1)
    take(np.flatnonzero(direct))
    # (b) a name several villages share: the nearest of them within the search radius
    hashed = np.flatnonzero(~direct & (per_name[l_name] > 0))
    if len(hashed):
        multi = np.isin(c_name, l_name[hashed])
        pairs = keyed_pairs(l_name[hashed], lxy[hashed], hashed, c_name[multi],
                            cxy[c_v[multi]], c_v[multi], cand["rank"].to_numpy()[multi],
                            cell)
        best = _rank_pairs(pairs, lxy, cxy, k_l, inside, search_radius_m).drop_duplicates("l")
        village[best["l"].to_numpy()] = best["v"].to_numpy()
        kind[best["l"].to_numpy()] = best["rank"].to_numpy()
        score[best["l"].to_numpy()] = 1.0
        # (c) none within the radius, but the name of exactly one village of the
        # label's county (a roster of several counties): that village
        take(hashed[(kind[hashed] == NONE) & (in_county[hashed] == 1)])
    claimed = np.zeros(nv, dtype=bool)
    claimed[village[village >= 0]] = True

    # --- stage 2: same sound, unclaimed villages near the labels left, in or near ----
    left = np.flatnonzero(kind == NONE)
    if len(left):
        sound = _sound_pairs(left, label_std, village_std, lxy, cxy, claimed, sound_key,
                             cell)
        sound = _rank_pairs(sound, lxy, cxy, k_l, inside, search_radius_m)
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
        cand3 = np.column_stack([inside[left], nn])
        rows = []
        for i, lab in enumerate(left):
            seen = set()
            for vil in cand3[i]:
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


def _sound_pairs(left: np.ndarray, label_std, village_std, lxy, cxy, claimed,
                 sound_key: Callable[[str], str], cell: float) -> pd.DataFrame:
    """(l, v, rank=SOUND) for labels ``left`` and the unclaimed villages of their 9 cells
    whose names sound the same; sound keys only for those labels and villages."""
    near_cells = np.unique(np.concatenate([
        _cell_keys(np.zeros(len(left), np.int64), lxy[left], cell, dx, dy)
        for dx in (-1, 0, 1) for dy in (-1, 0, 1)]))
    vcell = _cell_keys(np.zeros(len(cxy), np.int64), cxy, cell)
    vil = np.flatnonzero(np.isin(vcell, near_cells) & ~claimed)
    if len(vil) == 0:
        return keyed_pairs(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64),
                           np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64),
                           np.zeros(0, np.int64), cell)
    vocab: dict[str, int] = {}
    l_ids = _ids([sound_key(label_std[i]) for i in left], vocab)
    v_ids = _ids([sound_key(village_std[i]) for i in vil], vocab)
    return keyed_pairs(l_ids, lxy[left], left, v_ids, cxy[vil], vil,
                       np.full(len(vil), SOUND, dtype=np.int64), cell)


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
