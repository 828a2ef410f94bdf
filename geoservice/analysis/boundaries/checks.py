"""Boundary review: every gap, overlap and misfit of a township or village layer.

Plain functions: GeoDataFrames in (stored CRS, EPSG:4490), a :class:`BoundaryResult` out.
All measures are metres / square metres in the CGCS2000 Gauss-Kruger zone of the layer.
Candidate pairs come from an STRtree; intersections, areas and lengths are shapely 2 array
calls, so cost grows near N log N, not N².

Method (see docs/boundaries.md):

* invalid_geometry: empty, wrong type or invalid (``is_valid_reason``); the repair is
  ``make_valid`` with its area change and part count. Later checks use the repaired shape.
* overlap: the intersection of every intersecting pair, split into pieces.
* gap: holes of the union of the units; with a reference (a county outline, or for villages
  the townships' union) also the reference not covered by any unit. With a county outline
  the outline is the whole truth: its own holes (another county's enclave) are no gap.
  Village gaps are split by township.
* Each gap/overlap piece smaller than the area tolerance is noise (counted, not listed);
  a piece whose mean width 2·area/perimeter is below the width tolerance is a sliver.
* not_nested, area_mismatch, code checks, multipart (info), boundary markers.
* code checks (villages and townships as they were imported, defects included):
  ``bad_code`` (length, county prefix, segment outside the NBS ranges, segment against the
  name), ``code_mismatch`` (a village code whose first 9 digits are not its township_code,
  or a village most of whose area lies in another township than its township_code says),
  ``orphan`` (township_code not in the townships layer), ``duplicate_code`` (one finding per
  feature). A township code used twice in the townships layer is ambiguous: the villages
  that name it are not nested or summed against either township, and the review says so.
* Identical problems share a ``group`` text (:func:`group_findings`): the page and the CLI
  show one line per group ("103 个村(社区)的代码为 6 位…" with the features listed); the
  findings (JSON, XLSX) keep one row per feature.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoservice.analysis.boundaries.codes import (
    TOWNSHIP_KIND_RANGES,
    TOWNSHIP_RANGES,
    VILLAGE_KIND_RANGES,
    VILLAGE_RANGES,
    is_code,
    segment_range,
)
from geoservice.analysis.boundaries.geometry import (
    holes_of,
    polygon_parts,
    polygonal,
    reason_zh,
    width_m,
)
from geoservice.analysis.boundaries.lines import derive_lines
from geoservice.analysis.boundaries.names import township_kind, unit_kind
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.jsonsafe import column_values, gc_paused, page_records
from geoservice.analysis.settings import BOUNDARIES_SOURCE, boundaries_defaults
from layers.crs import STORED_CRS, gk_zone_epsg
from layers.schema import REPAIR_COLUMN

LAYERS = {"townships": "乡镇(街道)", "villages": "村(社区)"}
# type -> (Chinese label, default severity); the order is the order of the report.
TYPES = {
    "invalid_geometry": ("几何无效", "error"),
    "overlap": ("重叠", "error"),
    "gap": ("缝隙", "error"),
    "sliver": ("狭长碎片（疑似数字化误差）", "warning"),
    "not_nested": ("超出所属乡镇", "error"),
    "area_mismatch": ("乡镇面积与村面积合计不符", "warning"),
    "code_mismatch": ("村代码与所属乡镇不符", "error"),
    "orphan": ("所属乡镇不存在", "error"),
    "duplicate_code": ("代码重复", "error"),
    "bad_code": ("代码格式或范围错误", "error"),
    "multipart": ("多部分（飞地）", "info"),
    "marker_off_line": ("界桩偏离界线", "warning"),
    "marker_wrong_line": ("界桩不在所登记单位的界线上", "error"),
    "duplicate_marker": ("界桩编号重复", "error"),
}
SEVERITIES = {"error": "错误", "warning": "警告", "info": "提示"}
TOLERANCE_LABELS = {
    "area_m2": "面积容差（平方米，小于此值的缝隙/重叠视为噪声）",
    "sliver_width_m": "狭长碎片宽度（米，平均宽度 2×面积/周长 小于此值）",
    "marker_distance_m": "界桩偏离容差（米）",
    "area_sum_rel": "乡镇面积与村面积合计相对容差",
    "snap_m": "界线捕捉容差（米）",
}
GRID_M = 1e-3  # precision grid of the union when looking for gaps (metres)
FINDING_COLUMNS = ["type", "severity", "layer", "codes", "names", "area_m2", "length_m",
                   "lon", "lat", "message", "subtype", "ref", "group", "item"]
# What a group line counts, by the layer of its findings ("103 个村(社区)…").
GROUP_NOUNS = {"townships": "乡镇(街道)", "villages": "村(社区)", "boundary_markers": "界桩"}


@dataclass(frozen=True)
class Tolerances:
    area_m2: float
    sliver_width_m: float
    marker_distance_m: float
    area_sum_rel: float
    snap_m: float

    @classmethod
    def from_dict(cls, values: dict | None = None) -> Tolerances:
        d = dict(boundaries_defaults())
        for k, v in (values or {}).items():
            if v is not None:
                if k not in TOLERANCE_LABELS:
                    raise InvalidInput(f"未知的容差参数“{k}”", name=k)
                d[k] = float(v)
        for k in TOLERANCE_LABELS:
            if not np.isfinite(d[k]) or d[k] < 0:
                raise InvalidInput(f"容差 {k}（{TOLERANCE_LABELS[k]}）应为非负数", name=k)
        return cls(**{k: float(d[k]) for k in TOLERANCE_LABELS})

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in TOLERANCE_LABELS}


@dataclass
class BoundaryResult:
    """Findings (one row each, geometry in EPSG:4490), boundary lines and a summary."""

    findings: gpd.GeoDataFrame
    boundary_lines: gpd.GeoDataFrame
    summary: dict

    def to_dict(self, *, fields: list[str] | None = None, offset: int = 0,
                limit: int | None = None) -> dict:
        """The JSON shape of ``boundaries --json`` and ``/api/boundaries``.

        ``fields`` keeps only those fields of the findings (in the order given);
        ``offset``/``limit`` return one page of the findings. The summary, the boundary
        lines and the groups are always whole. Unknown fields raise ``InvalidInput``.
        Converted column by column (``jsonsafe``): the same values as row by row.
        """
        findings = page_records(self.findings, FINDING_COLUMNS, fields=fields, offset=offset,
                                limit=limit, noun="问题")
        bl = self.boundary_lines

        def present(c) -> bool:
            return c is not None and not (isinstance(c, float) and np.isnan(c))

        columns = [bl["kind"].tolist(), bl["code_a"].tolist(), bl["code_b"].tolist(),
                   *(column_values(bl[c]) for c in ("name_a", "name_b", "length_m",
                                                    "length_km"))]
        with gc_paused():  # two lists per line: the collector would walk them repeatedly
            lines = [{"kind": kind, "codes": [c for c in (a, b) if present(c)],
                      "names": [name_a, name_b], "length_m": m, "length_km": km}
                     for kind, a, b, name_a, name_b, m, km in zip(*columns, strict=True)]
        # Counts by finding type at the top of the summary (as the JSON has them),
        # and also under "counts".
        summary = {**self.summary.get("counts", {}), **self.summary}
        return {"summary": summary, "findings": findings, "boundary_lines": lines,
                "groups": self.groups()}

    def groups(self) -> list[dict]:
        """Identical findings grouped (see :func:`group_findings`)."""
        return group_findings(self.findings)


def group_findings(findings: pd.DataFrame) -> list[dict]:
    """One entry per group of identical findings, in the order of the findings.

    Findings with the same ``type``, ``severity``, ``layer`` and ``group`` text form one
    group; a finding without a group text (an overlap, a gap: each has its own place and
    area) is a group of its own. Each entry: ``type``, ``type_label``, ``severity``,
    ``layer``, ``count``, ``message`` (the finding's own message for a group of one; else
    "N 个村(社区)<group>：<the features>"), ``codes``, ``names``, ``items`` (one text per
    feature) and ``rows`` (the findings' row positions, for the page's map).
    """
    out: list[dict] = []
    at: dict = {}
    cols = {c: findings[c].tolist() for c in ("type", "severity", "layer", "codes", "names",
                                                 "message", "group", "item")}
    for k in range(len(findings)):
        group = cols["group"][k]
        has_group = isinstance(group, str) and group != ""
        key = (cols["type"][k], cols["severity"][k], cols["layer"][k], group) \
            if has_group else ("row", k)
        item = cols["item"][k] if isinstance(cols["item"][k], str) and cols["item"][k] \
            else "、".join(cols["names"][k] or cols["codes"][k])
        if key not in at:
            at[key] = len(out)
            out.append({"type": cols["type"][k], "type_label": TYPES[cols["type"][k]][0],
                        "severity": cols["severity"][k], "layer": cols["layer"][k],
                        "group": group if has_group else None, "count": 0,
                        "message": cols["message"][k], "codes": [], "names": [],
                        "items": [], "rows": []})
        g = out[at[key]]
        g["count"] += 1
        g["rows"].append(k)
        g["items"].append(item)
        g["codes"].extend(c for c in cols["codes"][k] if c not in g["codes"])
        g["names"].extend(c for c in cols["names"][k] if c not in g["names"])
    for g in out:
        if g["count"] > 1:
            noun = GROUP_NOUNS.get(g["layer"], "个要素")
            g["message"] = f"{g['count']} 个{noun}{g['group']}：" + "、".join(g["items"])
    return out




class _Findings:
    """Collects findings with metric geometry; turned into one GeoDataFrame at the end."""

    def __init__(self, layer: str):
        self.layer = layer
        self.rows: list[dict] = []
        self.geoms: list = []

    def add(self, type_: str, codes, names, geom, message: str, *, area=None, length=None,
            severity: str | None = None, subtype: str | None = None, ref: str | None = None,
            layer: str | None = None, group: str | None = None,
            item: str | None = None) -> None:
        """``group``: the problem without the feature, read after "N 个村(社区)" (e.g.
        "的代码为 6 位，应为 12 位数字"): identical problems share it and are shown as one
        line. ``item``: how the feature is named in that line (default its names)."""
        self.rows.append({
            "type": type_, "severity": severity or TYPES[type_][1],
            "layer": layer or self.layer,
            "codes": [str(c) for c in codes if c is not None and str(c) != ""],
            "names": [str(n) for n in names if n is not None and str(n) != ""],
            "area_m2": None if area is None else round(float(area), 3),
            "length_m": None if length is None else round(float(length), 3),
            "message": message, "subtype": subtype, "ref": ref, "group": group, "item": item,
        })
        self.geoms.append(geom if geom is not None and not shapely.is_empty(geom) else None)

    def frame(self, metric: str) -> gpd.GeoDataFrame:
        df = pd.DataFrame(self.rows, columns=[c for c in FINDING_COLUMNS
                                              if c not in ("lon", "lat")])
        gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(self.geoms, crs=metric),
                               crs=metric).to_crs(STORED_CRS)
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
        lon = np.full(len(gdf), np.nan)
        lat = np.full(len(gdf), np.nan)
        if present.any():
            pts = shapely.point_on_surface(geoms[present])
            lon[present], lat[present] = shapely.get_x(pts), shapely.get_y(pts)
        gdf["lon"], gdf["lat"] = np.round(lon, 7), np.round(lat, 7)
        order = {t: k for k, t in enumerate(TYPES)}
        sev = {"error": 0, "warning": 1, "info": 2}
        gdf["_o"] = gdf["type"].map(order)
        gdf["_s"] = gdf["severity"].map(sev)
        gdf["_a"] = -gdf["area_m2"].fillna(0).astype(float)
        gdf = gdf.sort_values(["_s", "_o", "_a"], kind="stable").drop(columns=["_o", "_s", "_a"])
        gdf = gdf.reset_index(drop=True)
        return gdf[FINDING_COLUMNS + ["geometry"]]


def _geoms(gdf) -> np.ndarray:
    return np.asarray(gdf.geometry.array, dtype=object)


def _text(series: pd.Series | None, n: int) -> np.ndarray:
    if series is None:
        return np.full(n, "", dtype=object)
    return np.array(["" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
                     for v in series], dtype=object)


def metric_crs_of(gdf: gpd.GeoDataFrame) -> str:
    """The GK zone of the layer's centre (non-empty geometries only)."""
    g = _geoms(gdf)
    present = np.array([x is not None and not x.is_empty for x in g], dtype=bool)
    if not present.any():
        return "EPSG:4544"
    minx, _, maxx, _ = shapely.total_bounds(g[present])
    return f"EPSG:{gk_zone_epsg((minx + maxx) / 2)}"


def _stored(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gdf is None:
        return None
    gdf = gdf.reset_index(drop=True)
    return gdf.set_crs(STORED_CRS) if gdf.crs is None else gdf.to_crs(STORED_CRS)


def review(units: gpd.GeoDataFrame, *, layer: str = "townships",
           townships: gpd.GeoDataFrame | None = None,
           outline: gpd.GeoDataFrame | None = None,
           markers: gpd.GeoDataFrame | None = None,
           tolerances: dict | Tolerances | None = None, county_code: str | None = None,
           inputs: dict | None = None) -> BoundaryResult:
    """Review the boundaries of one layer.

    Parameters
    ----------
    units : the township or village polygons (``code``, ``name``; villages also
        ``township_code``), any CRS (EPSG:4490 when none).
    layer : ``townships`` or ``villages``.
    townships : for a villages review: the township polygons, the reference for nesting,
        area sums, orphans and village gaps within each township.
    outline : optional county outline: ONE feature (it may have several parts, e.g. an
        exclave); the area inside it covered by no unit is a gap. Several features raise
        :class:`InvalidInput` (their union would count the neighbouring counties as gaps):
        the caller chooses one (``services.boundaries.choose_outline``).
    markers : optional boundary markers (``number``): distance to the nearest shared line.
    tolerances : overrides of ``defaults.toml [boundaries]`` (see :class:`Tolerances`).
    county_code : 6-digit county code the unit codes must start with (optional).
    inputs : provenance (layer versions ...) copied into the summary.
    """
    if layer not in LAYERS:
        raise InvalidInput(f"图层“{layer}”无效：可选 townships（乡镇）或 villages（村）",
                           name="layer")
    tol = tolerances if isinstance(tolerances, Tolerances) else Tolerances.from_dict(tolerances)
    units = _stored(units)
    for col in ("code", "name"):
        if col not in units.columns:
            raise InvalidInput(f"{LAYERS[layer]}图层缺少字段“{col}”", name=col)
    townships = _stored(townships) if layer == "villages" else None
    if outline is not None:
        outline = _stored(outline)
        outline = outline[outline.geometry.notna() & ~outline.geometry.is_empty]
        if len(outline) > 1:
            raise InvalidInput(f"县界应为一个要素（可由多个部分组成），收到 {len(outline)} 个要素："
                               "请先选定用哪一个作为县界", name="outline")
    gk = metric_crs_of(units)
    metric = units.to_crs(gk)
    n = len(units)
    codes, names = _text(units["code"], n), _text(units["name"], n)
    found = _Findings(layer)
    noise = {"gap_pieces": 0, "gap_area_m2": 0.0, "overlap_pieces": 0, "overlap_area_m2": 0.0,
             "not_nested": 0}

    work = _check_geometry(_geoms(metric), codes, names, found)
    _check_repaired(units, codes, names, work, found)
    ok = np.array([g is not None and not g.is_empty for g in work], dtype=bool)
    idx = np.flatnonzero(ok)
    g = work[idx].astype(object)

    t_codes = t_names = t_geoms = None
    if townships is not None:
        tm = townships.to_crs(gk)
        t_codes, t_names = _text(tm["code"], len(tm)), _text(tm["name"], len(tm))
        t_geoms = np.array([None if x is None or x.is_empty else
                            (x if x.is_valid else polygonal(shapely.make_valid(x)))
                            for x in _geoms(tm)], dtype=object)

    _overlaps(g, codes[idx], names[idx], tol, found, noise)
    reference = None
    reference_label = "各单位并集的内部空洞"
    if outline is not None and len(outline):
        ref_geoms = _geoms(_stored(outline).to_crs(gk))
        ref_geoms = np.array([x if x.is_valid else shapely.make_valid(x) for x in ref_geoms
                              if x is not None and not x.is_empty], dtype=object)
        reference = shapely.union_all(ref_geoms) if len(ref_geoms) else None
        reference_label = "县界（外部轮廓）内未被覆盖的区域及内部空洞"
    elif t_geoms is not None:
        present = np.array([x is not None for x in t_geoms], dtype=bool)
        if present.any():
            reference = shapely.union_all(t_geoms[present])
            reference_label = "乡镇图层范围内未被村覆盖的区域"
    _gaps(g, codes[idx], names[idx], reference, t_geoms, t_codes, t_names, tol, found, noise,
          outline_given=outline is not None and len(outline) > 0)
    _multipart(g, codes[idx], names[idx], found)
    where = None
    if t_geoms is not None and "township_code" in units.columns:
        where = _majority_township(_text(units["township_code"], n), work, ok, t_codes,
                                   t_geoms)
    _code_checks(layer, units, codes, names, _geoms(metric), work, found, county_code,
                 t_codes, t_names, where)
    if t_geoms is not None:
        _nesting(units, codes, names, work, ok, t_codes, t_names, t_geoms, tol, found, noise,
                 where)

    lines = derive_lines(g, codes[idx], names[idx], snap_m=tol.snap_m, crs=gk)
    n_markers = markers_checked = None
    if markers is not None:
        n_markers = len(markers)
        mk = _stored(markers).to_crs(gk)
        parent_of = {}
        if layer == "villages" and "township_code" in units.columns:
            parent_of = dict(zip(codes, _text(units["township_code"], n), strict=True))
        township_names = (dict(zip(t_codes, t_names, strict=True)) if t_codes is not None
                          else {})
        markers_checked = _markers(mk, lines, tol, found, layer=layer,
                                   unit_names=dict(zip(codes, names, strict=True)),
                                   parent_of=parent_of, township_names=township_names,
                                   unit_geoms={c: work[k] for k, c in enumerate(codes)
                                               if work[k] is not None},
                                   township_geoms=({c: t_geoms[k] for k, c in enumerate(t_codes)
                                                    if t_geoms[k] is not None}
                                                   if t_codes is not None else None))
        _duplicate_markers(mk, found, {**township_names, **dict(zip(codes, names, strict=True))})

    findings = found.frame(gk)
    lines_out = lines.to_crs(STORED_CRS)
    counts = {t: int((findings["type"] == t).sum()) for t in TYPES}
    shared = lines["kind"] == "shared"

    def area_of(*types):
        sel = findings["type"].isin(types)
        return float(findings.loc[sel, "area_m2"].fillna(0).sum())

    summary = {
        "layer": layer,
        "layer_label": LAYERS[layer],
        "units": int(n),
        "units_checked": int(ok.sum()),
        "counts": counts,
        "by_severity": {s: int((findings["severity"] == s).sum()) for s in SEVERITIES},
        "findings": int(len(findings)),
        "gap_area_m2": round(area_of("gap") + float(findings.loc[
            (findings["type"] == "sliver") & (findings["subtype"] == "gap"), "area_m2"]
            .fillna(0).sum()), 3),
        "overlap_area_m2": round(area_of("overlap") + float(findings.loc[
            (findings["type"] == "sliver") & (findings["subtype"] == "overlap"), "area_m2"]
            .fillna(0).sum()), 3),
        "ignored": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in noise.items()},
        "tolerances": tol.to_dict(),
        "tolerances_source": BOUNDARIES_SOURCE,
        "gap_reference": reference_label,
        "shared_lines": int(shared.sum()),
        "outer_lines": int((~shared).sum()),
        "shared_length_km": round(float(lines.loc[shared, "length_m"].sum()) / 1000.0, 3),
        "outer_length_km": round(float(lines.loc[~shared, "length_m"].sum()) / 1000.0, 3),
        "markers": n_markers,
        "markers_checked": markers_checked,
        "townships_given": townships is not None,
        "outline_given": outline is not None,
    }
    summary["inputs"] = {**(inputs or {}), "date": dt.date.today().isoformat(),
                         "crs": f"{gk}（高斯-克吕格，米）"}
    return BoundaryResult(findings, lines_out, summary)


# --- checks -------------------------------------------------------------------------------

def _check_geometry(geoms: np.ndarray, codes, names, found: _Findings) -> np.ndarray:
    """Report empty, wrong-type and invalid shapes; return the shapes later checks use."""
    work = np.full(len(geoms), None, dtype=object)
    for k, geom in enumerate(geoms):
        who = f"{names[k] or '（无名称）'}（{codes[k] or '无代码'}）"
        if geom is None or geom.is_empty:
            found.add("invalid_geometry", [codes[k]], [names[k]], None,
                      f"{who}几何为空：请补绘边界", subtype="empty",
                      group="几何为空：请补绘边界", item=who)
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            found.add("invalid_geometry", [codes[k]], [names[k]], geom,
                      f"{who}几何类型为 {geom.geom_type}，应为面：无法自动修复，请重新数字化",
                      subtype="wrong_type",
                      group=f"几何类型为 {geom.geom_type}，应为面：无法自动修复，请重新数字化",
                      item=who)
            continue
        if geom.is_valid:
            work[k] = geom
            continue
        reason = shapely.is_valid_reason(geom)
        fixed = polygonal(shapely.make_valid(geom))
        before_parts = shapely.get_num_geometries(geom)
        after_parts = shapely.get_num_geometries(fixed)
        before, after = geom.area, fixed.area
        found.add("invalid_geometry", [codes[k]], [names[k]], geom,
                  f"{who}几何无效：{reason_zh(reason)}。建议修复（make_valid）："
                  f"面积 {before:,.1f} → {after:,.1f} 平方米（变化 {after - before:+,.1f}），"
                  f"部分数 {before_parts} → {after_parts}",
                  area=after - before, subtype="invalid",
                  ref=f"make_valid: area {before:.3f}->{after:.3f}, parts "
                      f"{before_parts}->{after_parts}",
                  group=f"几何无效（{reason_zh(reason).split('（位置')[0]}），可自动修复",
                  item=f"{who}面积变化 {after - before:+,.1f} 平方米")
        work[k] = fixed if not fixed.is_empty else None
    return work


def _check_repaired(units: gpd.GeoDataFrame, codes, names, work: np.ndarray,
                    found: _Findings) -> None:
    """Polygons that were invalid in the imported file and stored repaired (the import
    notes each in ``geometry_repair``): listed like the invalid ones, since the source
    file still holds the defect."""
    if REPAIR_COLUMN not in units.columns:
        return
    notes = units[REPAIR_COLUMN].to_numpy(dtype=object)
    for k, note in enumerate(notes):
        if not isinstance(note, str) or not note.strip() or work[k] is None:
            continue
        who = f"{names[k] or '（无名称）'}（{codes[k] or '无代码'}）"
        found.add("invalid_geometry", [codes[k]], [names[k]], work[k],
                  f"{who}{note}：请在源数据中修正", subtype="repaired_on_import",
                  group="导入时几何无效，已自动修复：请在源数据中修正", item=who)


def _classify(pieces: np.ndarray, tol: Tolerances) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    area = shapely.area(pieces)
    width = width_m(pieces)
    is_noise = area < tol.area_m2
    is_sliver = ~is_noise & (width < tol.sliver_width_m)
    return area, width, np.where(is_noise, "noise", np.where(is_sliver, "sliver", "real"))


def _who(names, codes, sel) -> str:
    return "、".join(f"{names[s] or codes[s]}" for s in sel)


def _overlaps(g, codes, names, tol, found, noise) -> None:
    if len(g) < 2:
        return
    tree = shapely.STRtree(g)
    i, j = tree.query(g, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if not len(i):
        return
    # Touching neighbours share only an edge: no need to intersect them.
    inner = ~shapely.touches(g[i], g[j])
    i, j = i[inner], j[inner]
    if not len(i):
        return
    pieces, pair = polygon_parts(shapely.intersection(g[i], g[j]))
    area, width, cls = _classify(pieces, tol)
    noise["overlap_pieces"] += int((cls == "noise").sum())
    noise["overlap_area_m2"] += float(area[cls == "noise"].sum())
    for k in np.flatnonzero(cls != "noise"):
        a, b = i[pair[k]], j[pair[k]]
        who = _who(names, codes, (a, b))
        if cls[k] == "sliver":
            found.add("sliver", [codes[a], codes[b]], [names[a], names[b]], pieces[k],
                      f"{who}之间的狭长重叠：{area[k]:,.1f} 平方米，平均宽约 {width[k]:.2f} 米"
                      f"（小于 {tol.sliver_width_m:g} 米，疑似数字化误差）",
                      area=area[k], subtype="overlap", length=shapely.length(pieces[k]) / 2)
        else:
            found.add("overlap", [codes[a], codes[b]], [names[a], names[b]], pieces[k],
                      f"{who}相互重叠 {area[k]:,.1f} 平方米（平均宽约 {width[k]:,.1f} 米）",
                      area=area[k])


def _gaps(g, codes, names, reference, t_geoms, t_codes, t_names, tol, found, noise,
          outline_given: bool = False) -> None:
    if not len(g):
        return
    # A 1 mm precision grid: coordinates that agree to a millimetre (e.g. after a round
    # trip through EPSG:4490) close up, so the union has no hairline cracks.
    union = shapely.union_all(g, grid_size=GRID_M)
    if reference is not None and outline_given:
        gap = shapely.difference(reference, union, grid_size=GRID_M)
        pieces, _ = polygon_parts(np.array([gap], dtype=object))
    elif reference is not None:
        filled = shapely.union_all(np.concatenate([[reference], holes_of(union)]).astype(object),
                                   grid_size=GRID_M)
        gap = shapely.difference(filled, union, grid_size=GRID_M)
        pieces, _ = polygon_parts(np.array([gap], dtype=object))
    else:
        pieces, _ = polygon_parts(holes_of(union))
    if not len(pieces):
        return
    township_of = np.full(len(pieces), -1)
    if t_geoms is not None:
        # Village gaps belong to a township: split each piece by the townships.
        present = np.flatnonzero([x is not None for x in t_geoms])
        tg = t_geoms[present].astype(object)
        tree = shapely.STRtree(tg)
        pi, ti = tree.query(pieces, predicate="intersects")
        split = shapely.intersection(pieces[pi], tg[ti])
        sub, owner = polygon_parts(split)
        outside = np.setdiff1d(np.arange(len(pieces)), pi)
        pieces = np.concatenate([sub, pieces[outside]]).astype(object)
        township_of = np.concatenate([present[ti[owner]], np.full(len(outside), -1)])
    area, width, cls = _classify(pieces, tol)
    noise["gap_pieces"] += int((cls == "noise").sum())
    noise["gap_area_m2"] += float(area[cls == "noise"].sum())
    real = np.flatnonzero(cls != "noise")
    if not len(real):
        return
    tree = shapely.STRtree(g)
    pk, uk = tree.query(pieces[real], predicate="dwithin", distance=max(tol.snap_m, 0.01))
    for n_k, k in enumerate(real):
        around = uk[pk == n_k]
        around = around[np.argsort(codes[around])]
        who = _who(names, codes, around) or "无"
        t = township_of[k]
        where = f"{t_names[t] or t_codes[t]}内" if t >= 0 else ""
        unit_codes = ([t_codes[t]] if t >= 0 else []) + list(codes[around])
        unit_names = ([t_names[t]] if t >= 0 else []) + list(names[around])
        if cls[k] == "sliver":
            found.add("sliver", unit_codes, unit_names, pieces[k],
                      f"{where}狭长缝隙：{area[k]:,.1f} 平方米，平均宽约 {width[k]:.2f} 米"
                      f"（小于 {tol.sliver_width_m:g} 米，疑似数字化误差）；相邻：{who}",
                      area=area[k], subtype="gap", length=shapely.length(pieces[k]) / 2)
        else:
            found.add("gap", unit_codes, unit_names, pieces[k],
                      f"{where}缝隙（未被任何单位覆盖）{area[k]:,.1f} 平方米"
                      f"（约 {area[k] / 1e6:.3f} 平方千米）；相邻：{who}", area=area[k])


def _multipart(g, codes, names, found) -> None:
    nparts = shapely.get_num_geometries(g)
    for k in np.flatnonzero(nparts > 1):
        parts = np.asarray(shapely.get_parts(g[k]), dtype=object)
        areas = shapely.area(parts)
        rest = parts[np.argsort(areas)[::-1][1:]]
        rest_area = float(shapely.area(rest).sum())
        found.add("multipart", [codes[k]], [names[k]], shapely.multipolygons(rest),
                  f"{names[k] or codes[k]}由 {len(parts)} 个不相连的部分组成（飞地），"
                  f"主体以外面积 {rest_area:,.1f} 平方米：请确认是否属实",
                  area=rest_area, ref=str(len(parts)),
                  group="由多个不相连的部分组成（飞地）：请确认是否属实",
                  item=f"{names[k] or '（无名称）'}（{codes[k] or '无代码'}，{len(parts)} 个部分）")


def _rep_point(geom):
    if geom is None or geom.is_empty:
        return None
    return shapely.point_on_surface(geom)


def _majority_township(parents: np.ndarray, work: np.ndarray, ok: np.ndarray,
                       t_codes: np.ndarray, t_geoms: np.ndarray) -> dict:
    """Where each village lies: ``best`` (index of the township holding most of its area,
    -1 when none) and ``share`` (that part of its area). A village covered by the one
    township its township_code names is settled without measuring."""
    n = len(work)
    best = np.full(n, -1)
    share = np.zeros(n)
    present = np.array([x is not None for x in t_geoms], dtype=bool)
    if not present.any() or not ok.any():
        return {"best": best, "share": share}
    counts = pd.Series(t_codes).value_counts()
    unique = {c: k for k, c in enumerate(t_codes) if counts[c] == 1 and present[k]}
    pidx = np.array([unique.get(p, -1) for p in parents])
    sel = np.flatnonzero(ok & (pidx >= 0))
    if len(sel):
        inside = shapely.covered_by(work[sel].astype(object), t_geoms[pidx[sel]].astype(object))
        best[sel[inside]] = pidx[sel[inside]]
        share[sel[inside]] = 1.0
    rest = np.flatnonzero(ok & (best < 0))
    if len(rest):
        tk = np.flatnonzero(present)
        tg = t_geoms[tk].astype(object)
        vg = work[rest].astype(object)
        v, t = shapely.STRtree(tg).query(vg, predicate="intersects")
        if len(v):
            area = shapely.area(shapely.intersection(vg[v], tg[t]))
            order = np.lexsort((-area, v))
            first = order[np.r_[True, v[order][1:] != v[order][:-1]]]
            total = shapely.area(vg)
            best[rest[v[first]]] = tk[t[first]]
            share[rest[v[first]]] = np.divide(area[first], total[v[first]],
                                              out=np.zeros(len(first)),
                                              where=total[v[first]] > 0)
    return {"best": best, "share": share}


def _code_checks(layer, units, codes, names, raw, work, found, county_code, t_codes,
                 t_names=None, where=None) -> None:
    digits = 9 if layer == "townships" else 12
    label = "乡镇代码" if layer == "townships" else "村(社区)代码"
    reps = [_rep_point(work[k] if work[k] is not None else raw[k]) for k in range(len(codes))]
    parents = (_text(units["township_code"], len(units)) if "township_code" in units.columns
               else None)
    t_set = set(t_codes) if t_codes is not None else set()

    def who_of(k):
        return f"{names[k] or '（无名称）'}（{codes[k] or '无代码'}）"

    def lies_in(k) -> tuple[str, str] | None:
        """(code, name) of the township holding most of village k, when more than half."""
        if where is None or where["best"][k] < 0 or where["share"][k] <= 0.5:
            return None
        b = where["best"][k]
        return t_codes[b], t_names[b] if t_names is not None else ""

    for k, code in enumerate(codes):
        who = names[k] or "（无名称）"
        if not is_code(code, digits):
            if code == "":
                what, group = "为空", "没有代码"
            elif code.isascii() and code.isdigit():
                what = f"为 {len(code)} 位"
                group = f"的代码为 {len(code)} 位，应为 {digits} 位数字"
            else:
                what = "含非数字字符"
                group = f"的代码含非数字字符，应为 {digits} 位数字"
            found.add("bad_code", [code], [names[k]], reps[k],
                      f"{who}的{label}“{code}”格式错误（{what}）：应为 {digits} 位数字",
                      subtype="format", group=group, item=who_of(k))
            continue
        if county_code and not code.startswith(county_code):
            found.add("bad_code", [code], [names[k]], reps[k],
                      f"{who}的{label}“{code}”不在本县（{county_code}）之下", subtype="county",
                      group=f"的代码不在本县（{county_code}）之下", item=who_of(k))
        if layer == "townships":
            seg = int(code[6:9])
            rng = segment_range(seg, TOWNSHIP_RANGES)
            kind = township_kind(names[k])
            allowed = TOWNSHIP_KIND_RANGES.get(kind or "", ())
        else:
            seg = int(code[9:12])
            rng = segment_range(seg, VILLAGE_RANGES)
            kind = unit_kind(names[k])
            allowed = VILLAGE_KIND_RANGES.get(kind or "", ())
        ranges = TOWNSHIP_RANGES if layer == "townships" else VILLAGE_RANGES
        if rng is None:
            listed = "、".join(v[1] for v in ranges.values())
            found.add("bad_code", [code], [names[k]], reps[k],
                      f"{who}的{label}“{code}”末 3 位 {seg:03d} 不在任何规定范围内（"
                      + listed + "）", subtype="range",
                      group=f"的代码末 3 位不在任何规定范围内（{listed}）", item=who_of(k))
        elif allowed and rng not in allowed:
            want = "或".join(ranges[a][1] for a in allowed)
            found.add("bad_code", [code], [names[k]], reps[k],
                      f"{who}的{label}“{code}”末 3 位 {seg:03d} 属于{ranges[rng][1]}，"
                      f"与名称不符（应为 {want}）", subtype="range_name", severity="warning",
                      group=f"的代码末 3 位属于{ranges[rng][1]}，与名称不符（应为 {want}）",
                      item=who_of(k))
        if parents is not None:
            parent = parents[k]
            lies = lies_in(k)
            lies_text = (f"；其边界 {where['share'][k]:.0%} 位于{lies[1] or lies[0]}（{lies[0]}）内"
                         if lies is not None and lies[0] != parent else "")
            if is_code(parent, 9) and code[:9] != parent:
                hint = ""
                if lies is not None and lies[0] == code[:9]:
                    hint = "，与代码一致：所属乡镇代码可能有误"
                elif lies is not None and lies[0] == parent:
                    hint = (f"；其边界位于所属乡镇{lies[1] or parent}内：村(社区)代码可能有误")
                found.add("code_mismatch", [code, parent], [names[k]], reps[k],
                          f"{who}的代码“{code}”前 9 位 {code[:9]} 与所属乡镇代码“{parent}”不一致"
                          + lies_text + hint, subtype="prefix",
                          group="的代码前 9 位与所属乡镇代码不一致",
                          item=f"{who}（{code}，所属乡镇代码 {parent}）")
            elif not is_code(parent, 9):
                found.add("bad_code", [code], [names[k]], reps[k],
                          f"{who}的所属乡镇代码“{parent}”格式错误：应为 9 位数字",
                          subtype="parent_format",
                          group="的所属乡镇代码格式错误：应为 9 位数字",
                          item=f"{who}（{code}，所属乡镇代码“{parent}”）")
            elif t_codes is not None and parent not in t_set:
                found.add("orphan", [code, parent], [names[k]], reps[k],
                          f"{who}的所属乡镇代码“{parent}”在乡镇图层中不存在" + lies_text,
                          group=f"的所属乡镇代码“{parent}”在乡镇图层中不存在",
                          item=who_of(k))
            elif lies is not None and lies[0] != parent:
                # Code and township_code agree, but the polygon lies in another township.
                own = t_names[list(t_codes).index(parent)] if t_names is not None else ""
                found.add("code_mismatch", [code, parent, lies[0]], [names[k], own, lies[1]],
                          reps[k],
                          f"{who}（{code}）登记属于{own or parent}（{parent}），但其边界 "
                          f"{where['share'][k]:.0%} 位于{lies[1] or lies[0]}（{lies[0]}）内："
                          "代码或边界有误", subtype="location",
                          group="的边界大部分位于另一乡镇，与所属乡镇代码不符",
                          item=f"{who}（{code}，登记 {parent}，实际 {lies[0]}）")
    series = pd.Series(codes)
    dup = series[(series != "") & series.duplicated(keep=False)]
    noun = GROUP_NOUNS[layer]
    for code, rows in dup.groupby(dup).groups.items():
        rows = list(rows)
        for r in rows:
            others = "、".join(names[o] or "（无名称）" for o in rows if o != r)
            found.add("duplicate_code", [code], [names[r]], reps[r],
                      f"{names[r] or '（无名称）'}的代码“{code}”与{others}相同（{len(rows)} 个"
                      f"{noun}使用同一代码）：按代码引用它们的分析无法确定指哪一个",
                      ref=str(len(rows)), group=f"使用同一代码“{code}”",
                      item=names[r] or "（无名称）")


def _nesting(units, codes, names, work, ok, t_codes, t_names, t_geoms, tol, found,
             noise, where=None) -> None:
    """Villages outside their township; township area vs the sum of its villages.

    A township code used by several townships is ambiguous: the villages naming it are
    neither nested nor summed (the review says so, once per township of that code). A
    village reported as lying mostly in another township (``code_mismatch``) is not
    reported again as outside its own."""
    if "township_code" not in units.columns:
        return
    parents = _text(units["township_code"], len(units))
    counts = pd.Series(t_codes).value_counts()
    ambiguous = {c for c, m in counts.items() if m > 1 and c != ""}
    for tcode in sorted(ambiguous):
        ts = np.flatnonzero(t_codes == tcode)
        mine = int((parents == tcode).sum())
        for t in ts:
            others = "、".join(t_names[o] or "（无名称）" for o in ts if o != t)
            found.add("duplicate_code", [tcode], [t_names[t]],
                      _rep_point(t_geoms[t]) if t_geoms[t] is not None else None,
                      f"乡镇图层中{t_names[t] or '（无名称）'}的代码“{tcode}”与{others}相同："
                      f"所属乡镇代码为 {tcode} 的 {mine} 个村(社区)无法确定属于哪一个乡镇，"
                      "未核对其是否超出乡镇，也未计入乡镇面积合计",
                      layer="townships", ref=str(len(ts)),
                      group=f"使用同一代码“{tcode}”", item=t_names[t] or "（无名称）")
    tindex = {c: k for k, c in enumerate(t_codes) if c not in ambiguous}
    pidx = np.array([tindex.get(p, -1) for p in parents])
    has = ok & (pidx >= 0)
    has &= np.array([t_geoms[p] is not None if p >= 0 else False for p in pidx], dtype=bool)
    if where is not None:
        # Mostly in another township: already a code_mismatch (location) finding.
        elsewhere = (where["best"] >= 0) & (where["share"] > 0.5) & (where["best"] != pidx)
        has &= ~elsewhere
    sel = np.flatnonzero(has)
    if len(sel):
        parent_geoms = t_geoms[pidx[sel]].astype(object)
        inside = shapely.covered_by(work[sel].astype(object), parent_geoms)
        check = sel[~inside]
        if len(check):
            outside = shapely.difference(work[check].astype(object),
                                         t_geoms[pidx[check]].astype(object))
            area = shapely.area(outside)
            width = width_m(outside)
            for k, vi in enumerate(check):
                if area[k] < tol.area_m2:
                    noise["not_nested"] += 1
                    continue
                t = pidx[vi]
                thin = width[k] < tol.sliver_width_m
                found.add("not_nested", [codes[vi], t_codes[t]], [names[vi], t_names[t]],
                          outside[k],
                          f"{names[vi] or codes[vi]}有 {area[k]:,.1f} 平方米位于所属乡镇"
                          f"{t_names[t] or t_codes[t]}之外"
                          + (f"（狭长，平均宽约 {width[k]:.2f} 米，疑似数字化误差）" if thin else ""),
                          area=area[k], severity="warning" if thin else None,
                          subtype="sliver" if thin else None)
    # Sum of village areas per township vs the township's own area.
    v_area = np.where(ok, shapely.area(np.where(ok, work, None).astype(object)), 0.0)
    v_area = np.nan_to_num(v_area)
    for t, tcode in enumerate(t_codes):
        if tcode in ambiguous:
            continue
        mine = (parents == tcode) & ok
        if not mine.any() or t_geoms[t] is None:
            continue
        total = float(v_area[mine].sum())
        own = float(t_geoms[t].area)
        diff = total - own
        if own > 0 and abs(diff) / own > tol.area_sum_rel:
            found.add("area_mismatch", [tcode], [t_names[t]], shapely.point_on_surface(t_geoms[t]),
                      f"{t_names[t] or tcode}面积 {own / 1e6:,.4f} 平方千米，其 {int(mine.sum())} 个"
                      f"村(社区)面积合计 {total / 1e6:,.4f} 平方千米，相差 {diff:+,.1f} 平方米"
                      f"（{diff / own:+.3%}，容差 {tol.area_sum_rel:.3%}）",
                      area=abs(diff), layer="townships", ref=f"{diff / own:.6f}")


def _split_codes(text: str) -> list[str]:
    return [c for c in re.split(r"[,，、;；\s]+", str(text or "")) if c]


def _contact(ga, gb, snap: float):
    """Where two units that share no clean line meet: the part of each one's boundary
    within ``snap`` of (or inside) the other. None when they do not meet at all."""
    if ga is None or gb is None or shapely.distance(ga, gb) > snap:
        return None
    zone = shapely.union(shapely.intersection(ga.boundary, shapely.buffer(gb, snap)),
                         shapely.intersection(gb.boundary, shapely.buffer(ga, snap)))
    return None if zone.is_empty else zone


def _markers(markers: gpd.GeoDataFrame, lines: gpd.GeoDataFrame, tol, found, *, layer: str,
             unit_names: dict, parent_of: dict, township_names: dict,
             unit_geoms: dict | None = None, township_geoms: dict | None = None) -> int:
    """Markers must sit on a shared line (not the outer border) and carry unique numbers.

    A marker whose ``codes`` name two units must sit on the shared line of THOSE two
    units: within tolerance of another pair's line it is ``marker_wrong_line``; two units
    without a shared line (not adjacent, unknown codes) too. Township codes in a villages
    review are matched against the village lines between the two townships; village codes
    in a townships review are judged by their townships (a marker between two villages of
    one township is no township marker and is skipped). A marker whose codes name one
    unit twice (both sides merged into one) is skipped too. Returns the markers checked.
    """
    numbers = _text(markers["number"] if "number" in markers.columns else None, len(markers))
    stated = _text(markers["codes"] if "codes" in markers.columns else None, len(markers))
    pts = _geoms(markers)
    present = np.array([p is not None and not p.is_empty for p in pts], dtype=bool)
    pts = np.where(present, pts, None)
    shared = lines[lines["kind"] == "shared"].reset_index(drop=True)
    sgeoms = _geoms(shared)
    code_a = shared["code_a"].astype(str).to_numpy()
    code_b = shared["code_b"].astype(str).to_numpy()

    def parent(c: str) -> str:
        return parent_of.get(c) or c[:9]

    pa = np.array([parent(c) for c in code_a], dtype=object)
    pb = np.array([parent(c) for c in code_b], dtype=object)
    tree = shapely.STRtree(sgeoms) if len(sgeoms) else None

    def name_of(c: str, township_level: bool) -> str:
        if township_level and layer == "villages":
            return township_names.get(c) or c
        return unit_names.get(c) or c

    def line_text(k: int) -> str:
        return f"{shared['name_a'].iloc[k]}—{shared['name_b'].iloc[k]}"

    checked = 0
    contacts: dict = {}
    for k in np.flatnonzero(present):
        pt = shapely.get_parts(pts[k])[0]
        number = numbers[k] or "（无编号）"
        near_k, near_d = None, None
        if tree is not None:
            near_k = int(tree.nearest(pt))
            near_d = float(shapely.distance(pt, sgeoms[near_k]))
        stated_codes = _split_codes(stated[k])
        if len(stated_codes) == 2 and stated_codes[0] == stated_codes[1]:
            # Both sides the same unit (a marker of a boundary a merge removed): it marks no
            # boundary of this layer.
            continue
        codes = list(dict.fromkeys(stated_codes))
        if len(codes) != 2:
            checked += 1
            if near_k is None:
                found.add("marker_off_line", codes, [], pt,
                          f"界桩 {number} 无法核对：图层中没有共有界线", layer="boundary_markers",
                          ref=numbers[k])
            elif near_d > tol.marker_distance_m:
                row = shared.iloc[near_k]
                found.add("marker_off_line", [row["code_a"], row["code_b"]],
                          [row["name_a"], row["name_b"]], pt,
                          f"界桩 {number} 距最近的共有界线（{line_text(near_k)}）{near_d:,.1f} 米，"
                          f"超过容差 {tol.marker_distance_m:g} 米", length=near_d,
                          layer="boundary_markers", ref=numbers[k])
            continue
        township_level = layer == "townships" or any(len(c) == 9 for c in codes)
        if township_level:
            # Judge village codes by their townships.
            codes = [parent(c) if len(c) == 12 else c for c in codes]
            if codes[0] == codes[1]:
                continue  # two villages of one township: not a township boundary marker
        if layer == "villages" and township_level:
            a, b = pa, pb  # village lines between the two townships
        else:
            a, b = code_a, code_b
        mask = ((a == codes[0]) & (b == codes[1])) | ((a == codes[1]) & (b == codes[0]))
        checked += 1
        names = [name_of(c, township_level) for c in codes]
        pair = "—".join(names)
        own = (float(shapely.distance(pt, shapely.union_all(sgeoms[mask])))
               if mask.any() else np.inf)
        zone = None
        if own > tol.marker_distance_m:
            # Two units that meet without a clean shared line (an overlap or a gap between
            # them): the marker may sit on either of the two conflicting boundaries.
            geoms = (township_geoms if layer == "villages" and township_level
                     else unit_geoms) or {}
            key = (township_level, *sorted(codes))
            if key not in contacts:
                contacts[key] = _contact(geoms.get(codes[0]), geoms.get(codes[1]),
                                         max(tol.snap_m, 0.01))
            zone = contacts[key]
            if zone is not None:
                own = min(own, float(shapely.distance(pt, zone)))
        if own <= tol.marker_distance_m:
            continue
        if near_d is not None and near_d <= tol.marker_distance_m:
            found.add("marker_wrong_line", codes, names, pt,
                      f"界桩 {number} 登记为 {pair} 界线的界桩，实际位于 {line_text(near_k)} "
                      f"界线上" + (f"，距登记的界线 {own:,.1f} 米" if np.isfinite(own) else ""),
                      length=own if np.isfinite(own) else None,
                      layer="boundary_markers", ref=numbers[k], subtype="other_line")
        elif np.isfinite(own):
            found.add("marker_off_line", codes, names, pt,
                      f"界桩 {number} 距所登记的界线（{pair}）{own:,.1f} 米，"
                      f"超过容差 {tol.marker_distance_m:g} 米", length=own,
                      layer="boundary_markers", ref=numbers[k])
        else:
            where = (f"；最近的共有界线为 {line_text(near_k)}，相距 {near_d:,.1f} 米"
                     if near_k is not None else "")
            found.add("marker_wrong_line", codes, names, pt,
                      f"界桩 {number} 登记在 {pair} 之间，但两者不相邻（或代码不存在）{where}",
                      length=near_d, layer="boundary_markers", ref=numbers[k],
                      subtype="not_adjacent")
    return checked


def _duplicate_markers(markers: gpd.GeoDataFrame, found, names_of: dict) -> None:
    numbers = _text(markers["number"] if "number" in markers.columns else None, len(markers))
    pts = _geoms(markers)
    present = np.array([p is not None and not p.is_empty for p in pts], dtype=bool)
    pts = np.where(present, pts, None)
    stated = _text(markers["codes"] if "codes" in markers.columns else None, len(markers))
    series = pd.Series(numbers)
    dup = series[(series != "") & series.duplicated(keep=False)]
    for number, rows in dup.groupby(dup).groups.items():
        rows = [r for r in rows]
        good = [pts[r] for r in rows if pts[r] is not None]
        geom = shapely.union_all(np.array(good, dtype=object)) if good else None
        listed = list(dict.fromkeys(c for r in rows for c in _split_codes(stated[r])))
        found.add("duplicate_marker", listed, [names_of.get(c, "") for c in listed], geom,
                  f"界桩编号“{number}”重复 {len(rows)} 次", layer="boundary_markers",
                  ref=number)
