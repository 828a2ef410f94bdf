"""Version history of a layer: the list of its versions and what changed between two.

A diff goes from an old version (``version``) to the current one: features are matched by
their code where the kind has one (``code``; a boundary marker's ``number``), else by name
and position (features of the same name paired nearest first). Then

* ``added``: in the current version, not in the old one;
* ``removed``: in the old version, not in the current one;
* ``changed``: matched, with attributes that differ (field, Chinese label, old → new);
* ``moved``: matched, geometry moved by more than ``tolerance_m`` metres (the Hausdorff
  distance, measured in the Gauss-Kruger zone of the layer: ``layers.crs.metric_crs``).

No Flask here; restoring a version is ``services.layers.restore_version`` (role + audit).
"""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd

from geoservice.errors import NotFound
from geoservice.services.params import bounded
from layers import LayerNotFound, LayerStore
from layers.crs import metric_crs
from layers.schema import KINDS, get_kind

DEFAULT_TOLERANCE_M = 1.0
MAX_TOLERANCE_M = 100_000.0
KEY_FIELDS = ("code", "number")  # a feature's identity, where its kind has one
MATCH_LABELS = {"code": "按代码", "number": "按编号", "name": "按名称和位置"}


def tolerance_param(value) -> float:
    """The ``tolerance`` parameter (metres, default ``DEFAULT_TOLERANCE_M``)."""
    x = bounded(value, "tolerance", "位移容差", 0, MAX_TOLERANCE_M, unit="米")
    return DEFAULT_TOLERANCE_M if x is None else x


def versions(store: LayerStore, kind: str) -> list[dict]:
    """Every version of ``kind``, newest first (number, who, when, source, count, current)."""
    get_kind(kind)
    return [v.to_dict() for v in reversed(store.versions(kind))]


def version_of(store: LayerStore, kind: str, n: int):
    """The ``LayerVersion`` ``n`` of ``kind``; NotFound (Chinese) when there is none."""
    lk = get_kind(kind)
    for v in store.versions(kind):
        if v.version == int(n):
            return v
    raise NotFound(f"“{lk.label}”图层没有第 {n} 版")


def diff_version(store: LayerStore, kind: str, version: int, *,
                 tolerance_m: float = DEFAULT_TOLERANCE_M) -> dict:
    """The diff from version ``version`` of ``kind`` to its current version."""
    old_v = version_of(store, kind, version)
    current = store.current_versions().get(kind)
    if current is None:
        raise NotFound(f"工作空间中没有“{KINDS[kind].label}”图层")
    try:
        old = store.read(kind, version=old_v.version)
        new = store.read(kind, version=current.version)
    except LayerNotFound as exc:
        raise NotFound(str(exc)) from None
    out = diff_frames(old, new, kind, tolerance_m=tolerance_m)
    out.update({"kind": kind, "label": KINDS[kind].label, "version": old_v.version,
                "current": current.version})
    return out


def _key_field(kind: str, old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> str | None:
    """The field identifying features in both frames: present, never empty, unique."""
    fields = KINDS[kind].field_names
    for name in KEY_FIELDS:
        if name not in fields:
            continue
        ok = True
        for frame in (old, new):
            if name not in frame.columns:
                ok = False
                break
            col = frame[name]
            if col.isna().any() or (col.astype(str).str.strip() == "").any() or \
                    col.astype(str).duplicated().any():
                ok = False
        if ok:
            return name
    return None


def _plain(v):
    """A value as JSON shows it: None for missing, Python numbers, text as text."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "item") and not isinstance(v, str):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _same(a, b) -> bool:
    a, b = _plain(a), _plain(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _pairs_by_name(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame,
                   old_m: gpd.GeoSeries, new_m: gpd.GeoSeries) -> list[tuple[int, int]]:
    """(old row, new row) pairs: same name, nearest first (each row used once)."""
    def names(frame):
        if "name" not in frame.columns:
            return pd.Series([""] * len(frame))
        return frame["name"].astype(object).where(frame["name"].notna(), "").astype(str)

    old_names, new_names = names(old).tolist(), names(new).tolist()
    old_c = [g.centroid if g is not None and not g.is_empty else None for g in old_m]
    new_c = [g.centroid if g is not None and not g.is_empty else None for g in new_m]
    candidates = []
    for i, name in enumerate(old_names):
        for j, other in enumerate(new_names):
            if name == other:
                d = old_c[i].distance(new_c[j]) if old_c[i] is not None and \
                    new_c[j] is not None else math.inf
                candidates.append((d, i, j))
    candidates.sort()
    used_old, used_new, pairs = set(), set(), []
    for _d, i, j in candidates:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((i, j))
    return pairs


def _describe(frame: gpd.GeoDataFrame, i: int, key: str | None) -> dict:
    row = frame.iloc[i]
    geom = row.geometry
    c = geom.representative_point() if geom is not None and not geom.is_empty else None
    return {"key": _plain(row[key]) if key else None,
            "name": _plain(row["name"]) if "name" in frame.columns else None,
            "lon": round(c.x, 6) if c is not None else None,
            "lat": round(c.y, 6) if c is not None else None}


def diff_frames(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, kind: str, *,
                tolerance_m: float = DEFAULT_TOLERANCE_M) -> dict:
    """What changed from ``old`` to ``new`` (both of ``kind``, stored CRS): see the module
    docstring. Features appear in each list in the order of their frame."""
    old = old.reset_index(drop=True)
    new = new.reset_index(drop=True)
    key = _key_field(kind, old, new)
    both = pd.concat([old.geometry, new.geometry], ignore_index=True)
    frame = gpd.GeoDataFrame(geometry=both, crs=old.crs or new.crs)
    crs = metric_crs(frame) if len(frame) and not frame.geometry.is_empty.all() else None
    old_m = old.geometry.to_crs(crs) if crs else old.geometry
    new_m = new.geometry.to_crs(crs) if crs else new.geometry
    if key:
        where = {str(v): j for j, v in enumerate(new[key])}
        pairs = [(i, where[str(v)]) for i, v in enumerate(old[key]) if str(v) in where]
    else:
        pairs = _pairs_by_name(old, new, old_m, new_m)
    fields = [f for f in KINDS[kind].fields if f.name != key and
              (f.name in old.columns or f.name in new.columns)]
    changed, moved, touched = [], [], set()
    for i, j in pairs:
        diffs = []
        for f in fields:
            a = old.at[i, f.name] if f.name in old.columns else None
            b = new.at[j, f.name] if f.name in new.columns else None
            if not _same(a, b):
                diffs.append({"field": f.name, "label": f.label, "old": _plain(a),
                              "new": _plain(b)})
        if diffs:
            touched.add(j)
            changed.append({**_describe(new, j, key), "fields": diffs})
        ga, gb = old_m.iloc[i], new_m.iloc[j]
        if ga is None or gb is None or ga.is_empty or gb.is_empty:
            distance = 0.0 if (ga is None or ga.is_empty) == (gb is None or gb.is_empty) \
                else math.inf
        else:
            distance = ga.hausdorff_distance(gb)
        if distance > tolerance_m:
            touched.add(j)
            moved.append({**_describe(new, j, key),
                          "moved_m": round(distance, 2) if math.isfinite(distance) else None})
    matched_old = {i for i, _ in pairs}
    matched_new = {j for _, j in pairs}
    removed = [_describe(old, i, key) for i in range(len(old)) if i not in matched_old]
    added = [_describe(new, j, key) for j in range(len(new)) if j not in matched_new]
    return {
        "match": key or "name", "match_label": MATCH_LABELS[key or "name"],
        "tolerance_m": tolerance_m,
        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed),
                   "moved": len(moved), "unchanged": len(pairs) - len(touched)},
        "added": added, "removed": removed, "changed": changed, "moved": moved,
    }
