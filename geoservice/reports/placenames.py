"""The XLSX staff send to a map provider: one row per correction, coordinates in the
provider's own system (GCJ-02 for Amap/Tencent, BD-09 for Baidu), roster problems,
roman spellings and a summary sheet with the inputs.

A label's coordinates are written in the system that label was read in (its ``crs``, kept
from the label file or the layer version it came from), so they are the provider's own
numbers; a row without a label (a missing label: the village centre) is written in the
labels' usual system. The 坐标系 column names it in Chinese."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Transformer

from geoservice.analysis.placenames import FINDING_TYPES, PlacenamesResult
from geoservice.analysis.placenames.check import LABEL_TYPES, ROSTER_TYPES
from geoservice.reports.xlsx import DEMO_MARK, report_title, workbook
from layers import crs as crsmod
from layers.labels import normalise_system, system_label

CORRECTION_TYPES = ("missing",) + LABEL_TYPES


def provider_coords(lon, lat, target: str) -> tuple[np.ndarray, np.ndarray]:
    """CGCS2000 lon/lat to the provider's system (gcj02, bd09 or an EPSG code)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if target == crsmod.GCJ02:
        return crsmod.wgs_to_gcj(lon, lat)
    if target == crsmod.BD09:
        return crsmod.wgs_to_bd(lon, lat)
    if target in (crsmod.STORED_CRS, "EPSG:4326"):
        return lon, lat
    return Transformer.from_crs(crsmod.STORED_CRS, target, always_xy=True).transform(lon, lat)


def summary_rows(result: PlacenamesResult) -> list[tuple[str, object]]:
    s = result.summary
    inputs = s.get("inputs", {})
    versions = inputs.get("layer_versions", {})
    rows: list[tuple[str, object]] = [
        ("工作空间", inputs.get("workspace", "")),
        ("数据性质", DEMO_MARK if inputs.get("demo") else "工作空间数据"),
        ("分析日期", inputs.get("date", "")),
        ("村(社区)图层版本", versions.get("villages", "")),
        ("标注来源", inputs.get("labels_source", "")),
        ("标注原始坐标系", inputs.get("labels_crs_label", "")),
        ("坐标系核查", crs_check_text(s)),
        ("曾用名表", inputs.get("aliases_source", "")),
        ("读音表", inputs.get("readings", "")),
        ("位置容差（米）", s["tolerance_m"]),
        ("搜索半径（米）", s["search_radius_m"]),
        ("近似名称阈值", s["fuzzy_threshold"]),
        ("参数来源", s.get("source", "")),
        ("计量坐标系", s.get("metric_crs", "")),
        ("村(社区)数", s["villages"]),
        ("标注数", s["labels"]),
        ("无问题标注数", s["labels_ok"]),
    ]
    if s.get("crs_suspect"):
        rows.insert(7, ("疑似实际坐标系", crsmod.SUSPECT_LABELS.get(s["crs_suspect"],
                                                                 s["crs_suspect"])))
        rows.insert(8, ("按疑似坐标系换算后标注移动（米，中位数）", s.get("crs_offset_m")))
    if inputs.get("labels_crs_note"):
        rows.append(("标注坐标系说明", inputs["labels_crs_note"]))
    rows += [("代码提示", w) for w in s.get("code_warnings") or []]
    rows += [(f"{label}（{t}）", s["counts"].get(t, 0)) for t, label in FINDING_TYPES.items()]
    return rows


def crs_check_text(summary: dict) -> str:
    """The wrong-system check in one Chinese sentence (the warning when a system is
    suspected)."""
    if summary.get("crs_message"):
        return summary["crs_message"]
    check = summary.get("crs_check") or {}
    points = check.get("points") or 0
    if not summary.get("labels_given", True) or points == 0:
        return "未核查（没有按名称匹配到村(社区)的标注）"
    if check.get("inside") is None:
        return f"未核查（按名称匹配到村(社区)的标注只有 {points} 个，太少）"
    return (f"未发现整体偏移：按名称匹配的 {points} 个标注中 {check['inside']} 个位于所属村(社区)内，"
            "按其他坐标系解读也不会更吻合")


def correction_frame(result: PlacenamesResult) -> pd.DataFrame:
    """One row per correction to send to the provider, coordinates in its own system."""
    f = result.findings
    f = pd.DataFrame(f[f["type"].isin(CORRECTION_TYPES)].drop(columns="geometry"))
    default = normalise_system(result.summary.get("inputs", {}).get("labels_crs")) \
        or crsmod.STORED_CRS
    systems = np.full(len(f), default, dtype=object)
    labels = result.labels
    if len(f) and len(labels) and "crs" in labels.columns:
        by_id = pd.Series(labels["crs"].to_numpy(dtype=object),
                          index=labels["label_id"].to_numpy())
        ids = pd.to_numeric(f["label_id"], errors="coerce").to_numpy()
        has = np.isfinite(ids)
        own = by_id.reindex(ids[has].astype(np.int64)).to_numpy(dtype=object)
        systems[has] = [normalise_system(x) or default for x in own]
    x = np.full(len(f), np.nan)
    y = np.full(len(f), np.nan)
    lon, lat = f["lon"].to_numpy(dtype=float), f["lat"].to_numpy(dtype=float)
    for system in dict.fromkeys(systems):
        sel = systems == system
        x[sel], y[sel] = provider_coords(lon[sel], lat[sel], system)
    return pd.DataFrame({
        "类型": f["type_label"].to_numpy(),
        "标准名称": f["official_name"].to_numpy(),
        "区划代码": f["code"].to_numpy(),
        "所属乡镇": f["township_name"].astype(object).fillna(f["township_code"]).to_numpy(),
        "标注名称": f["label_name"].to_numpy(),
        "建议名称": f["suggestion"].to_numpy(),
        "坐标系": [system_label(x) for x in systems],
        "经度": np.round(x, 6),
        "纬度": np.round(y, 6),
        "偏差距离(米)": f["distance_m"].to_numpy(),
        "说明": f["note"].to_numpy(),
    })


def roster_frame(result: PlacenamesResult) -> pd.DataFrame:
    f = result.findings
    f = f[f["type"].isin(ROSTER_TYPES)]
    return pd.DataFrame({
        "类型": f["type_label"].to_numpy(), "标准名称": f["official_name"].to_numpy(),
        "区划代码": f["code"].to_numpy(),
        "所属乡镇": f["township_name"].astype(object).fillna(f["township_code"]).to_numpy(),
        "说明": f["note"].to_numpy()})


def romanization_frame(result: PlacenamesResult) -> pd.DataFrame:
    r = result.romanization
    return pd.DataFrame({"区划代码": r["code"].to_numpy(), "标准名称": r["name"].to_numpy(),
                         "罗马字母拼写（GB/T 16159）": r["pinyin"].to_numpy(),
                         "所属乡镇代码": r["township_code"].to_numpy()})


def placenames_xlsx(result: PlacenamesResult) -> bytes:
    return workbook(("更正清单", correction_frame(result)), ("名册问题", roster_frame(result)),
                    ("罗马字母拼写", romanization_frame(result)), ("汇总", summary_rows(result)),
                    title=report_title(result.summary, "村(社区)地名核查更正清单"))
