"""Merge simulation (村级建制调整, 乡镇行政区划调整): before/after figures, name and code.

Nothing is stored here: :func:`simulate_merge` returns the layers as they would be after
the merge (:meth:`MergeResult.layers_to_write`); the boundaries service writes them, as new
layer versions (``geoservice.services.boundaries.apply_merge``).

What a merge changes besides the merged layer, so that the next review and the other
analyses do not report problems the merge itself made:

* the merged village carries its standard name (``name``, 柳溪村) and, when the layer has
  the column, its full committee name (``committee_name``, 柳溪村村民委员会);
* a township merge recodes the villages of the merged townships;
* facility layers' ``village_code`` follow merged or recoded villages;
* boundary markers' ``codes`` follow merged townships and recoded villages. A marker of the
  former boundary between two merged townships marks the village boundary beneath it
  from then on: it takes the codes of the two villages that meet there. A marker between
  two merged villages has nothing left to mark but the merged village's inside: its codes
  name the merged village twice, which the review reads as "no boundary of this layer".

Codes are the keys of a merge: a code that several units share is ambiguous, and the merge
says so instead of picking one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoservice.analysis.boundaries.checks import LAYERS, metric_crs_of
from geoservice.analysis.boundaries.codes import (
    TOWNSHIP_KIND_RANGES,
    TOWNSHIP_RANGES,
    VILLAGE_KIND_RANGES,
    VILLAGE_RANGES,
    is_code,
    segment_range,
    suggest_code,
)
from geoservice.analysis.boundaries.names import (
    committee_name,
    sound,
    standard_name,
    township_kind,
    unit_kind,
)
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.jsonsafe import jsonable
from geoservice.analysis.settings import boundaries_defaults
from geoservice.analysis.vocabulary import FACILITY_LAYERS
from layers.crs import STORED_CRS
from layers.schema import KINDS

FACILITY_LABELS = {k: KINDS[k].label for k in FACILITY_LAYERS}


class MergeError(InvalidInput):
    """A merge that cannot be simulated; the message is Chinese and names the problem."""


@dataclass
class MergeResult:
    layer: str
    codes: list[str]
    new_code: str
    new_name: str
    before: gpd.GeoDataFrame  # the units being merged, with their figures (EPSG:4490)
    after: gpd.GeoDataFrame  # the merged unit (one row, EPSG:4490)
    layer_after: gpd.GeoDataFrame  # the whole layer as it would be stored
    figures: dict
    name_check: dict
    code_check: dict
    warnings: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    # Township merge with a village layer: the villages as they would be stored (their
    # township_code and codes moved to the new township) and one row per village moved.
    villages_after: gpd.GeoDataFrame | None = None
    villages_recoded: list[dict] = field(default_factory=list)
    # Facility layers whose ``village_code`` points at a merged or recoded village, as they
    # would be stored, and how many rows of each change.
    facilities_after: dict = field(default_factory=dict)
    facilities_recoded: dict = field(default_factory=dict)
    # Boundary markers whose ``codes`` name a merged or recoded unit, as they would be
    # stored, and one row per marker changed (number, old codes, new codes).
    markers_after: gpd.GeoDataFrame | None = None
    markers_recoded: list[dict] = field(default_factory=list)
    # The merged village's full committee name (None for a township merge).
    new_committee_name: str | None = None

    def layers_to_write(self) -> list[tuple[str, gpd.GeoDataFrame]]:
        """Every layer the merge changes, as it would be stored: ``self.layer`` first, then
        the recoded villages (a township merge), facility layers whose ``village_code``
        moved, and the boundary markers whose codes moved. Applying the merge writes all
        of them or none."""
        items = [(self.layer, self.layer_after)]
        if self.villages_after is not None:
            items.append(("villages", self.villages_after))
        items += list(self.facilities_after.items())
        if self.markers_after is not None:
            items.append(("boundary_markers", self.markers_after))
        return items

    def to_dict(self) -> dict:
        before = []
        for row in pd.DataFrame(self.before.drop(columns="geometry")).to_dict("records"):
            before.append({k: jsonable(v) for k, v in row.items()})
        return {
            "layer": self.layer, "codes": self.codes, "new_code": self.new_code,
            "new_name": self.new_name, "before": before, "figures": self.figures,
            "name_check": self.name_check, "code_check": self.code_check,
            "warnings": self.warnings, "summary": self.summary,
            "villages_recoded": self.villages_recoded,
            "facilities_recoded": self.facilities_recoded,
            "markers_recoded": self.markers_recoded,
            "new_committee_name": self.new_committee_name,
            "layers_to_write": [{"kind": k, "label": _kind_label(k), "features": int(len(g))}
                                for k, g in self.layers_to_write()],
        }


def _text(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _num(series: pd.Series | None) -> np.ndarray | None:
    if series is None:
        return None
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def simulate_merge(units: gpd.GeoDataFrame, codes: list[str], new_name: str, *,
                   layer: str = "villages", new_code: str | None = None,
                   villages: gpd.GeoDataFrame | None = None,
                   facilities: dict[str, gpd.GeoDataFrame] | None = None,
                   markers: gpd.GeoDataFrame | None = None,
                   inputs: dict | None = None) -> MergeResult:
    """Merge the ``codes`` of ``units`` (a township or village layer) into ``new_name``.

    Parameters
    ----------
    units : the layer (EPSG:4490) with ``code``, ``name`` (villages: ``township_code``,
        ``population``, ``elderly_population``; townships: optional ``population``).
    codes : two or more unit codes to merge.
    new_name : the merged unit's name; checked against the other units of the same
        township (villages) or county (townships), homophones included.
    new_code : optional; else a free code in the right range is suggested and used.
    villages : for a township merge: the village layer (elderly population, population when
        the township layer has none).
    facilities : facility layers (points) to count per unit, by kind.
    markers : the boundary markers (``number``, ``codes``): their codes follow the merge.

    Raises :class:`MergeError` when a code to merge is used by several units (ambiguous).
    """
    if layer not in LAYERS:
        raise MergeError(f"图层“{layer}”无效：可选 townships（乡镇）或 villages（村）")
    units = units.reset_index(drop=True)
    units = units.set_crs(STORED_CRS) if units.crs is None else units.to_crs(STORED_CRS)
    codes = [c.strip() for c in codes if c and c.strip()]
    codes = list(dict.fromkeys(codes))
    if len(codes) < 2:
        raise MergeError("参数 codes（要合并的单位代码）：至少需要两个不同的单位代码才能合并")
    new_name = (new_name or "").strip()
    if not new_name:
        raise MergeError("参数 name（合并后的新名称）：请填写")
    all_codes = units["code"].map(_text)
    missing = [c for c in codes if c not in set(all_codes)]
    if missing:
        raise MergeError(f"参数 codes（要合并的单位代码）：{LAYERS[layer]}图层中没有代码 {'、'.join(missing)}")
    ambiguous = _ambiguous(units, codes)
    if ambiguous:
        raise MergeError(f"参数 codes（要合并的单位代码）：{ambiguous}，无法确定要合并哪一个；"
                         "请先修正重复的代码（界线审查的“代码重复”），再模拟合并")
    sel = all_codes.isin(codes).to_numpy()
    merged = units[sel]
    rest = units[~sel]
    warnings: list[str] = []
    parent = None
    if layer == "villages":
        parents = sorted(set(merged["township_code"].map(_text)))
        if len(parents) != 1:
            raise MergeError("参数 codes（要合并的单位代码）：要合并的村(社区)不属于同一乡镇（"
                             + "、".join(parents) + "），请先调整乡镇")
        parent = parents[0]
        peers = rest[rest["township_code"].map(_text) == parent]
    else:
        peers = rest

    gk = metric_crs_of(units)
    metric = units.to_crs(gk)
    mg = np.asarray(metric.geometry.array, dtype=object)[sel]
    snap = boundaries_defaults()["snap_m"]
    joined = shapely.union_all(shapely.buffer(mg, snap, quad_segs=2))
    if shapely.get_num_geometries(joined) > 1:
        warnings.append(f"要合并的单位互不相邻（合并后由 {shapely.get_num_geometries(joined)} "
                        f"个不相连的部分组成，形成飞地）")
    dissolved = shapely.union_all(np.asarray(merged.geometry.array, dtype=object))
    dissolved_m = gpd.GeoSeries([dissolved], crs=STORED_CRS).to_crs(gk).iloc[0]

    # Figures per merged unit.
    before = gpd.GeoDataFrame({"code": merged["code"].map(_text).to_numpy(),
                               "name": merged["name"].map(_text).to_numpy()},
                              geometry=np.asarray(merged.geometry.array, dtype=object),
                              crs=STORED_CRS)
    before["area_m2"] = np.round(shapely.area(mg), 3)
    pop, eld = _people(layer, merged, villages)
    before["population"] = pop
    before["elderly_population"] = eld
    fac_counts = {}
    for kind, fac in (facilities or {}).items():
        counts = _count_points(mg, fac, gk)
        before[f"facilities_{kind}"] = counts
        fac_counts[kind] = int(counts.sum())

    figures = {
        "units": len(codes),
        "area_m2_sum": round(float(before["area_m2"].sum()), 3),
        "area_m2_after": round(float(dissolved_m.area), 3),
        "population": _sum(before["population"]),
        "elderly_population": _sum(before["elderly_population"]),
        "facilities": fac_counts,
        "facility_labels": {k: FACILITY_LABELS.get(k, k) for k in fac_counts},
        "parts_after": int(shapely.get_num_geometries(dissolved)),
    }

    name_check = _name_check(new_name, peers, layer, parent)
    code_check = _code_check(layer, new_code, new_name, codes, rest, units, parent)
    if not code_check["ok"]:
        raise MergeError(code_check["message"])
    final_code = code_check["code"]

    new_row = {c: None for c in units.columns if c != units.geometry.name}
    new_committee = None
    if layer == "villages":
        # The place name (柳溪村) in ``name``, the committee name (柳溪村村民委员会) beside it.
        new_committee = committee_name(new_name)
        new_name = standard_name(new_name) or new_name
    new_row.update({"code": final_code, "name": new_name})
    if layer == "villages":
        if "committee_name" in units.columns:
            new_row["committee_name"] = new_committee
        new_row["township_code"] = parent
        new_row["population"] = figures["population"]
        new_row["elderly_population"] = figures["elderly_population"]
    elif "population" in units.columns:
        new_row["population"] = figures["population"]
    after = gpd.GeoDataFrame([new_row], geometry=[dissolved], crs=STORED_CRS)
    layer_after = pd.concat([rest, after], ignore_index=True)
    layer_after = gpd.GeoDataFrame(layer_after, geometry=units.geometry.name, crs=STORED_CRS)
    layer_after = layer_after.sort_values("code", kind="stable").reset_index(drop=True)
    for col in ("population", "elderly_population"):
        if col in layer_after.columns:
            layer_after[col] = pd.array(pd.to_numeric(layer_after[col], errors="coerce")
                                        .round(), dtype="Int64")
    villages_after, recoded = None, []
    if layer == "townships" and villages is not None and "township_code" in villages.columns:
        villages = villages.reset_index(drop=True)
        villages_after, recoded = recode_villages(villages, codes, final_code)
        if not recoded:
            villages_after = None
        else:
            changed = sum(r["old_code"] != r["new_code"] for r in recoded)
            warnings.append(
                f"应用时村(社区)图层同时写入新版本：{len(recoded)} 个村(社区)的所属乡镇代码改为 "
                f"{final_code}，其中 {changed} 个村(社区)代码改变（尽量保留末 3 位，见“村代码调整”）")
    elif layer == "townships":
        warnings.append("未提供村(社区)图层：无法同时调整各村(社区)的所属乡镇代码和村代码")
    code_map = ({c: final_code for c in codes if c != final_code} if layer == "villages" else
                {r["old_code"]: r["new_code"] for r in recoded if r["old_code"] != r["new_code"]})
    # A village code used twice among the recoded villages may be moved to two new codes:
    # which one a facility (or marker) meant cannot be told.
    twice = sorted({r["old_code"] for r in recoded
                    if sum(x["old_code"] == r["old_code"] for x in recoded) > 1})
    for c in twice:
        code_map.pop(c, None)
    if twice:
        warnings.append("村(社区)代码 " + "、".join(twice) + " 被多个村(社区)使用（代码重复），"
                        "设施和界桩中引用这些代码的记录无法确定指哪一个村(社区)，未调整")
    facilities_after, facilities_recoded = recode_facilities(facilities or {}, code_map)
    if facilities_recoded:
        warnings.append("应用时设施图层同时写入新版本，所在村(社区)代码随之调整："
                        + "、".join(f"{_kind_label(k)} {n} 处" for k, n in facilities_recoded.items()))
    marker_map = dict(code_map)
    if layer == "townships":
        marker_map.update({c: final_code for c in codes if c != final_code})
    markers_after, markers_recoded = recode_markers(
        markers, marker_map, merged=codes if layer == "townships" else [],
        new_township=final_code, villages=villages if layer == "townships" else None,
        village_map=code_map, gk=gk)
    if markers_recoded:
        below = sum(r["to_villages"] for r in markers_recoded)
        inner = sum(r["inside"] for r in markers_recoded)
        warnings.append(
            f"应用时界桩图层同时写入新版本：{len(markers_recoded)} 个界桩的相邻单位代码随之调整"
            + (f"，其中 {below} 个原合并单位之间的界桩改记为两侧村(社区)的代码" if below else "")
            + (f"，{inner} 个界桩两侧同属合并后的单位（已不在本级界线上）" if inner else ""))
    summary = {"inputs": {**(inputs or {}), "date": dt.date.today().isoformat(),
                          "crs": f"{gk}（高斯-克吕格，米）"},
               "units_before": int(len(units)), "units_after": int(len(layer_after)),
               "snap_m": snap, "villages_recoded": len(recoded),
               "village_codes_changed": sum(r["old_code"] != r["new_code"] for r in recoded)}
    summary["facilities_recoded"] = sum(facilities_recoded.values())
    summary["markers_recoded"] = len(markers_recoded)
    return MergeResult(layer, codes, final_code, new_name, before, after, layer_after,
                       figures, name_check, code_check, warnings, summary,
                       villages_after, recoded, facilities_after, facilities_recoded,
                       markers_after, markers_recoded, new_committee)


def _ambiguous(units: gpd.GeoDataFrame, codes: list[str]) -> str:
    """Chinese text naming the ``codes`` several units share ("" when none)."""
    all_codes = units["code"].map(_text)
    names = units["name"].map(_text)
    parts = []
    for c in codes:
        hit = (all_codes == c).to_numpy()
        if hit.sum() > 1:
            parts.append(f"代码 {c} 被 {int(hit.sum())} 个单位使用（"
                         + "、".join(n or "（无名称）" for n in names[hit]) + "）")
    return "；".join(parts)


def _split_codes(text) -> list[str]:
    return [c for c in re.split(r"[,，、;；\s]+", _text(text)) if c]


def recode_markers(markers: gpd.GeoDataFrame | None, code_map: dict, *, merged: list[str],
                   new_township: str, villages: gpd.GeoDataFrame | None, village_map: dict,
                   gk: str) -> tuple[gpd.GeoDataFrame | None, list[dict]]:
    """Boundary markers with their ``codes`` moved by ``code_map`` (old → new unit code).

    A marker between two townships merged into ``new_township`` (``merged``) marks the
    village boundary beneath it: with ``villages`` (before the merge) it takes the codes of
    the two villages, one of each former township, whose common boundary passes nearest
    the marker (recoded by ``village_map``). Without villages, and for a marker between
    two merged villages, its codes name the merged unit twice. Returns ``(markers as they
    would be stored or None when none changes, one row per marker changed)``."""
    if markers is None or not len(markers) or "codes" not in markers.columns or not code_map:
        return None, []
    stated = markers["codes"].map(_text).tolist()
    numbers = (markers["number"].map(_text).tolist() if "number" in markers.columns
               else [""] * len(markers))
    pts = vgeoms = None
    new_codes = list(stated)
    rows = []
    for k, text in enumerate(stated):
        parts = _split_codes(text)
        moved = [code_map.get(c, c) for c in parts]
        if moved == parts:
            continue
        to_villages = False
        if (len(parts) == 2 and set(parts) <= set(merged) and parts[0] != parts[1]
                and villages is not None):
            if pts is None:
                pts = np.asarray(markers.to_crs(gk).geometry.array, dtype=object)
                vgeoms = np.asarray(villages.to_crs(gk).geometry.array, dtype=object)
            pair = _villages_at(pts[k], parts, villages, vgeoms)
            if pair is not None:
                moved = [village_map.get(c, c) for c in pair]
                to_villages = True
        new_codes[k] = ",".join(moved)
        rows.append({"number": numbers[k], "old_codes": text, "new_codes": new_codes[k],
                     "to_villages": to_villages,
                     "inside": len(moved) == 2 and moved[0] == moved[1]})
    if not rows:
        return None, []
    out = markers.copy()
    out["codes"] = new_codes
    return out, rows


def _villages_at(pt, townships: list[str], villages: gpd.GeoDataFrame, geoms: np.ndarray):
    """The codes of the two villages, one in each of ``townships``, whose common boundary
    passes nearest ``pt`` (``geoms``: the villages in the metric CRS of ``pt``); None when
    either township has no village."""
    if pt is None or pt.is_empty:
        return None
    parents = villages["township_code"].map(_text).to_numpy()
    vcodes = villages["code"].map(_text).to_numpy()
    sides = []
    for t in townships:
        idx = np.flatnonzero((parents == t) & np.array([g is not None and not g.is_empty
                                                        for g in geoms], dtype=bool))
        if not len(idx):
            return None
        d = shapely.distance(pt, geoms[idx].astype(object))
        # the nearest and any within 1 m of it (several villages may meet at the marker)
        sides.append(idx[d <= d.min() + 1.0])
    best, best_d = None, np.inf
    for a in sides[0]:
        for b in sides[1]:
            common = shapely.intersection(shapely.boundary(geoms[a]),
                                          shapely.buffer(geoms[b], 1.0))
            d = float(shapely.distance(pt, common)) if not common.is_empty else np.inf
            d += 1e-6 * float(shapely.distance(pt, geoms[a]) + shapely.distance(pt, geoms[b]))
            if best is None or d < best_d:
                best, best_d = (vcodes[a], vcodes[b]), d
    return best


def recode_facilities(facilities: dict, code_map: dict) -> tuple[dict, dict]:
    """Facility layers with ``village_code`` moved by ``code_map`` (old → new village code):
    ``({kind: layer as it would be stored}, {kind: rows changed})``, only layers that change."""
    after, changed = {}, {}
    if not code_map:
        return after, changed
    for kind, fac in facilities.items():
        if fac is None or not len(fac) or "village_code" not in fac.columns:
            continue
        old = fac["village_code"].map(_text)
        hit = old.isin(set(code_map)).to_numpy()
        if hit.any():
            moved = fac.copy()
            moved.loc[hit, "village_code"] = old[hit].map(code_map).to_numpy()
            after[kind], changed[kind] = moved, int(hit.sum())
    return after, changed


def _kind_label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind


def recode_villages(villages: gpd.GeoDataFrame, merged: list[str],
                    new_township: str) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """The village layer after townships ``merged`` became ``new_township``.

    Villages of the merged townships get ``township_code`` = ``new_township`` and a code
    under it: the same last 3 digits when that code is free, else the lowest free code in
    the range of their old last 3 digits (a 村 stays in 200-399, a 社区 in 001-199 ...).
    Villages already coded under ``new_township`` keep their codes and go first.
    Raises :class:`MergeError` when a range is full.
    """
    v = villages.reset_index(drop=True).copy()
    codes = v["code"].map(_text)
    parents = v["township_code"].map(_text)
    moving = parents.isin(set(merged)).to_numpy()
    used = set(codes[~moving])
    order = sorted(np.flatnonzero(moving),
                   key=lambda k: (not codes[k].startswith(new_township), codes[k]))
    new_codes = codes.copy()
    rows = []
    for k in order:
        old = codes[k]
        tail = old[9:] if is_code(old, 12) else ""
        wanted = new_township + tail if tail else None
        if wanted is None or wanted in used:
            seg = int(tail) if tail else 0
            key = segment_range(seg, VILLAGE_RANGES) or (
                "community" if unit_kind(v.at[k, "name"]) == "community" else "village")
            low, high = VILLAGE_RANGES[key][0]
            wanted = suggest_code(new_township, used, low, high)
            if wanted is None:
                raise MergeError(f"合并后乡镇 {new_township} 的{VILLAGE_RANGES[key][1]}"
                                 "代码已用完，无法为村(社区)重新编码")
        used.add(wanted)
        new_codes[k] = wanted
        rows.append({"name": _text(v.at[k, "name"]), "old_code": old, "new_code": wanted,
                     "old_township_code": parents[k], "new_township_code": new_township})
    v["code"] = new_codes
    v.loc[moving, "township_code"] = new_township
    v = v.sort_values("code", kind="stable").reset_index(drop=True)
    rows.sort(key=lambda r: r["new_code"])
    return v, rows


def _sum(series) -> int | None:
    values = pd.to_numeric(pd.Series(series), errors="coerce")
    if values.isna().all():
        return None
    return int(values.fillna(0).sum())


def _people(layer, merged, villages):
    n = len(merged)
    if layer == "villages":
        pop = _num(merged.get("population"))
        eld = _num(merged.get("elderly_population"))
        return (pop if pop is not None else np.full(n, np.nan),
                eld if eld is not None else np.full(n, np.nan))
    pop = _num(merged.get("population"))
    eld = np.full(n, np.nan)
    if villages is not None and "township_code" in villages.columns:
        tc = villages["township_code"].map(_text)
        vpop = _num(villages.get("population"))
        veld = _num(villages.get("elderly_population"))
        for k, code in enumerate(merged["code"].map(_text)):
            mine = (tc == code).to_numpy()
            if not mine.any():
                continue
            if veld is not None:
                eld[k] = np.nansum(veld[mine])
            if (pop is None or np.isnan(pop[k])) and vpop is not None:
                pop = np.full(n, np.nan) if pop is None else pop
                pop[k] = np.nansum(vpop[mine])
    return (pop if pop is not None else np.full(n, np.nan)), eld


def _count_points(unit_geoms: np.ndarray, fac: gpd.GeoDataFrame, gk: str) -> np.ndarray:
    counts = np.zeros(len(unit_geoms), dtype=int)
    if fac is None or not len(fac):
        return counts
    pts = np.asarray(fac.to_crs(gk).geometry.array, dtype=object)
    pts = pts[[p is not None and not p.is_empty for p in pts]]
    pts = np.where(shapely.get_type_id(pts) == 0, pts, shapely.point_on_surface(pts))
    tree = shapely.STRtree(unit_geoms)
    p_idx, u_idx = tree.query(pts, predicate="intersects")
    # A point on a shared edge counts once, for the first unit.
    _, first = np.unique(p_idx, return_index=True)
    return np.bincount(u_idx[first], minlength=len(unit_geoms))


def _name_check(new_name: str, peers: gpd.GeoDataFrame, layer: str, parent) -> dict:
    std = standard_name(new_name)
    snd = sound(std)
    conflicts = []
    for code, name in zip(peers["code"].map(_text), peers["name"].map(_text), strict=True):
        other = standard_name(name)
        if other == std:
            conflicts.append({"code": code, "name": name, "reason": "重名"})
        elif sound(other) == snd:
            conflicts.append({"code": code, "name": name, "reason": "同音"})
    scope = f"同一乡镇（{parent}）的其他村(社区)" if layer == "villages" else "本县其他乡镇"
    if conflicts:
        listed = "、".join(f"{c['name']}（{c['code']}，{c['reason']}）" for c in conflicts)
        message = f"新名称“{new_name}”与{scope}冲突：{listed}"
    else:
        message = f"新名称“{new_name}”与{scope}不重名、不同音"
    return {"ok": not conflicts, "standard_name": std, "pinyin": snd,
            "conflicts": conflicts, "message": message}


def _code_check(layer, new_code, new_name, codes, rest, units, parent) -> dict:
    """The given code checked, or a free one suggested in the range the name calls for."""
    if layer == "villages":
        prefix, digits, seg_at = parent, 12, 9
        kind = unit_kind(new_name)
        ranges, kind_ranges = VILLAGE_RANGES, VILLAGE_KIND_RANGES
    else:
        prefix, digits, seg_at = codes[0][:6], 9, 6
        kind = township_kind(new_name)
        ranges, kind_ranges = TOWNSHIP_RANGES, TOWNSHIP_KIND_RANGES
    allowed = kind_ranges.get(kind or "", ())
    main = allowed[0] if allowed else None
    other_codes = set(rest["code"].map(_text))
    # Prefer keeping one of the merged units' codes when it is in the right range; else the
    # lowest code in that range that no unit uses.
    suggested = None
    if main:
        low, high = ranges[main][0]
        keep = sorted(c for c in codes if is_code(c, digits) and low <= int(c[seg_at:]) <= high)
        suggested = keep[0] if keep else suggest_code(prefix, set(units["code"].map(_text)),
                                                      low, high)
    range_text = ranges[main][1] if main else "（名称无 村/社区/镇/乡/街道 后缀，无法判断范围）"
    if not new_code:
        if suggested is None:
            return {"ok": False, "code": None, "given": None, "suggested": None,
                    "message": f"无法建议代码：{range_text}；请用参数 code 指定新代码"}
        return {"ok": True, "code": suggested, "given": None, "suggested": suggested,
                "range": range_text, "message": f"建议代码 {suggested}（{range_text}）"}
    new_code = new_code.strip()
    if not is_code(new_code, digits):
        return {"ok": False, "code": None, "given": new_code, "suggested": suggested,
                "message": f"参数 code“{new_code}”格式错误：应为 {digits} 位数字"}
    if not new_code.startswith(prefix):
        return {"ok": False, "code": None, "given": new_code, "suggested": suggested,
                "message": f"参数 code“{new_code}”应以 {prefix} 开头"}
    if new_code in other_codes:
        return {"ok": False, "code": None, "given": new_code, "suggested": suggested,
                "message": f"参数 code“{new_code}”已被其他单位使用"}
    seg = int(new_code[seg_at:])
    rng = segment_range(seg, ranges)
    message = f"使用指定代码 {new_code}"
    if rng is None:
        return {"ok": False, "code": None, "given": new_code, "suggested": suggested,
                "message": f"参数 code“{new_code}”末 3 位不在规定范围内"}
    if allowed and rng not in allowed:
        message += f"（注意：{ranges[rng][1]}，与名称不符，建议 {suggested}）"
    return {"ok": True, "code": new_code, "given": new_code, "suggested": suggested,
            "range": ranges[rng][1], "message": message}
