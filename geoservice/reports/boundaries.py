"""Boundary review reports: XLSX (汇总, 问题清单, 界线登记表), merge before/after, and
the boundary lines as GeoJSON, GeoPackage, zipped Shapefile and XLSX."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from openpyxl import Workbook

from geoservice.analysis.boundaries import SEVERITIES, TOLERANCE_LABELS, TYPES, BoundaryResult
from geoservice.analysis.boundaries.checks import GROUP_NOUNS
from geoservice.analysis.boundaries.merge import MergeResult
from geoservice.reports.xlsx import (
    DEMO_MARK,
    csv_bytes,
    report_title,
    to_bytes,
    workbook,
    write_frame,
    write_summary,
)
from geoservice.services.params import DEFAULT
from layers.schema import KINDS

LINE_KIND_LABELS = {"shared": "共有界线", "outer": "外界线（县界）"}
# Boundary-line fields: English names in files (Shapefile/DBF take 10 bytes), Chinese here.
LINE_FIELDS = {
    "line_no": "界线编号", "kind": "界线类型", "code_a": "单位甲代码", "name_a": "单位甲名称",
    "code_b": "单位乙代码", "name_b": "单位乙名称", "length_m": "长度(米)",
    "length_km": "长度(千米)",
}
FINDING_HEADERS = {
    "type_label": "问题类型", "severity_label": "级别", "layer": "图层", "codes": "代码",
    "names": "名称", "area_m2": "面积(平方米)", "length_m": "长度/距离(米)", "lon": "经度",
    "lat": "纬度", "message": "说明", "group_text": "同类问题", "type": "类型代码",
}
LAYER_LABELS = {"townships": "乡镇(街道)", "villages": "村(社区)",
                "boundary_markers": "界桩"}
LAYER_NAMES = {k: v.label for k, v in KINDS.items()}


def _versions_text(inputs: dict, kind: str) -> str:
    v = inputs.get("layer_versions", {}).get(kind)
    return f"第 {v} 版" if v is not None else "未导入"


def summary_rows(result: BoundaryResult) -> list[tuple[str, object]]:
    """The summary as (Chinese label, value) rows: inputs, tolerances, then counts."""
    s = result.summary
    inputs = s.get("inputs", {})
    rows: list[tuple[str, object]] = [
        ("工作空间", inputs.get("workspace", "")),
        ("数据性质", DEMO_MARK if inputs.get("demo") else "正式数据"),
        ("分析日期", inputs.get("date", "")),
        ("审查图层", f"{s['layer_label']}（{_versions_text(inputs, s['layer'])}）"),
    ]
    if s["layer"] == "villages":
        rows.append(("乡镇图层", _versions_text(inputs, "townships")))
    rows.append(("界桩图层", _versions_text(inputs, "boundary_markers")))
    outline = inputs.get("outline", "未提供")
    if inputs.get("outline_note"):
        outline += f"（{inputs['outline_note']}）"
    rows.append(("县界文件", outline))
    rows.append(("缝隙判定范围", s["gap_reference"]))
    rows.append(("量算坐标系", inputs.get("crs", "")))
    from_ = inputs.get("tolerances_from", {})
    source = s["tolerances_source"]
    for key, label in TOLERANCE_LABELS.items():
        value = s["tolerances"][key]
        rows.append((label, f"{value:g}（{from_.get(key, DEFAULT)}，{source}）"))
    rows.append(("单位数", s["units"]))
    rows.append(("问题总数", s["findings"]))
    for sev, label in SEVERITIES.items():
        rows.append((f"其中{label}", s["by_severity"][sev]))
    for t, (label, _) in TYPES.items():
        rows.append((f"{label}", s["counts"][t]))
    ign = s["ignored"]
    rows.append(("缝隙合计面积(平方米)", s["gap_area_m2"]))
    rows.append(("重叠合计面积(平方米)", s["overlap_area_m2"]))
    rows.append(("忽略的噪声缝隙（个/平方米）", f"{ign['gap_pieces']} / {ign['gap_area_m2']:g}"))
    rows.append(("忽略的噪声重叠（个/平方米）",
                 f"{ign['overlap_pieces']} / {ign['overlap_area_m2']:g}"))
    rows.append(("共有界线（条/千米）", f"{s['shared_lines']} / {s['shared_length_km']:g}"))
    rows.append(("外界线（条/千米）", f"{s['outer_lines']} / {s['outer_length_km']:g}"))
    return rows


def findings_frame(result: BoundaryResult) -> pd.DataFrame:
    df = pd.DataFrame(result.findings.drop(columns="geometry")).copy()
    df["layer_key"] = df["layer"]
    df["type_label"] = df["type"].map(lambda t: TYPES[t][0])
    df["severity_label"] = df["severity"].map(SEVERITIES)
    df["layer"] = df["layer"].map(lambda v: LAYER_LABELS.get(v, v))
    df["codes"] = df["codes"].map(lambda v: "、".join(v))
    df["names"] = df["names"].map(lambda v: "、".join(v))
    # One row per feature; the group text lets a reader filter the rows of one group.
    noun = df["layer_key"].map(lambda v: GROUP_NOUNS.get(v, ""))
    df["group_text"] = [f"{n}{g}" if isinstance(g, str) and g else ""
                        for n, g in zip(noun, df["group"], strict=True)]
    return df[list(FINDING_HEADERS)].rename(columns=FINDING_HEADERS)


def lines_frame(result: BoundaryResult) -> gpd.GeoDataFrame:
    """Boundary lines with a line number and a Chinese kind, English field names."""
    lines = result.boundary_lines.copy()
    lines.insert(0, "line_no", [f"L{k + 1:04d}" for k in range(len(lines))])
    lines["kind"] = lines["kind"].map(LINE_KIND_LABELS)
    return lines[list(LINE_FIELDS) + ["geometry"]]


def register_frame(result: BoundaryResult) -> pd.DataFrame:
    """The boundary register (界线登记表): one row per line, Chinese headers."""
    return pd.DataFrame(lines_frame(result).drop(columns="geometry")).rename(
        columns=LINE_FIELDS)


def boundaries_xlsx(result: BoundaryResult) -> bytes:
    """汇总 (inputs and tolerances), 问题清单, 界线登记表."""
    title = report_title(result.summary, f"{result.summary['layer_label']}界线审查报告")
    return workbook(("汇总", summary_rows(result)), ("问题清单", findings_frame(result)),
                    ("界线登记表", register_frame(result)), title=title)


def lines_xlsx(result: BoundaryResult) -> bytes:
    title = report_title(result.summary, f"{result.summary['layer_label']}界线登记表")
    return workbook(("界线登记表", register_frame(result)), ("汇总", summary_rows(result)),
                    title=title)


def lines_geojson(result: BoundaryResult) -> bytes:
    return lines_frame(result).to_crs(4326).to_json(drop_id=True, ensure_ascii=False) \
        .encode("utf-8")


def lines_gpkg(result: BoundaryResult) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "boundary_lines.gpkg"
        pyogrio.write_dataframe(lines_frame(result), path, layer="boundary_lines",
                                driver="GPKG")
        return path.read_bytes()


def lines_shapefile_zip(result: BoundaryResult) -> bytes:
    """Zipped Shapefile: UTF-8 DBF (.cpg), English field names, a Chinese alias table."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "boundary_lines.shp"
        pyogrio.write_dataframe(lines_frame(result), path, driver="ESRI Shapefile",
                                encoding="UTF-8")
        cpg = path.with_suffix(".cpg")
        if not cpg.exists():
            cpg.write_text("UTF-8")
        alias = csv_bytes(pd.DataFrame({"字段": list(LINE_FIELDS),
                                        "中文名": list(LINE_FIELDS.values())}))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(Path(tmp).iterdir()):
                zf.write(f, f.name)
            zf.writestr("fields_zh.csv", alias)
        return buf.getvalue()


def merge_rows(result: MergeResult) -> list[tuple[str, object]]:
    f = result.figures
    inputs = result.summary.get("inputs", {})
    rows: list[tuple[str, object]] = [
        ("工作空间", inputs.get("workspace", "")),
        ("数据性质", DEMO_MARK if inputs.get("demo") else "正式数据"),
        ("分析日期", inputs.get("date", "")),
        ("图层", f"{LAYER_LABELS[result.layer]}（{_versions_text(inputs, result.layer)}）"),
        ("合并单位", "、".join(f"{n}（{c}）" for c, n in
                           zip(result.before["code"], result.before["name"], strict=True))),
        ("新名称", result.new_name),
    ]
    if result.new_committee_name:
        rows.append(("名册名称（村(居)民委员会）", result.new_committee_name))
    rows += [
        ("新代码", result.new_code),
        ("代码说明", result.code_check["message"]),
        ("名称检查", result.name_check["message"]),
        ("合并前面积合计(平方千米)", round(f["area_m2_sum"] / 1e6, 4)),
        ("合并后面积(平方千米)", round(f["area_m2_after"] / 1e6, 4)),
        ("户籍人口", f["population"]),
        ("60岁以上人口", f["elderly_population"]),
    ]
    for kind, n in f["facilities"].items():
        rows.append((f"{f['facility_labels'][kind]}数", n))
    rows.append(("合并后部分数", f["parts_after"]))
    rows.append(("单位数（合并前 → 合并后）",
                 f"{result.summary['units_before']} → {result.summary['units_after']}"))
    if result.villages_recoded:
        rows.append(("村(社区)调整（个，其中代码改变）",
                     f"{result.summary['villages_recoded']}（"
                     f"{result.summary['village_codes_changed']}）"))
    for r in result.markers_recoded:
        rows.append(("界桩代码调整", f"{r['number'] or '（无编号）'}：{r['old_codes']} → "
                                  f"{r['new_codes']}"))
    rows.append(("应用时写入的图层", "、".join(
        f"{label}（{n} 个要素）" for label, n in
        ((LAYER_NAMES.get(k, k), len(g)) for k, g in result.layers_to_write()))))
    for w in result.warnings:
        rows.append(("提示", w))
    return rows


RECODE_HEADERS = {"name": "名称", "old_code": "原代码", "new_code": "新代码",
                  "old_township_code": "原所属乡镇代码", "new_township_code": "新所属乡镇代码"}


def merge_xlsx(result: MergeResult) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "合并汇总"
    title = report_title(result.summary, f"{LAYER_LABELS[result.layer]}合并模拟报告")
    write_summary(ws, merge_rows(result), title=title)
    before = pd.DataFrame(result.before.drop(columns="geometry"))
    headers = {"code": "代码", "name": "名称", "area_m2": "面积(平方米)",
               "population": "户籍人口", "elderly_population": "60岁以上人口"}
    for kind, label in result.figures["facility_labels"].items():
        headers[f"facilities_{kind}"] = f"{label}数"
    write_frame(wb.create_sheet("合并前"), before[list(headers)].rename(columns=headers))
    after = pd.DataFrame([{
        "代码": result.new_code, "名称": result.new_name,
        "面积(平方米)": result.figures["area_m2_after"],
        "户籍人口": result.figures["population"],
        "60岁以上人口": result.figures["elderly_population"],
        **{f"{result.figures['facility_labels'][k]}数": n
           for k, n in result.figures["facilities"].items()},
    }])
    write_frame(wb.create_sheet("合并后"), after)
    if result.layer == "townships":
        recoded = pd.DataFrame(result.villages_recoded, columns=list(RECODE_HEADERS))
        write_frame(wb.create_sheet("村代码调整"), recoded.rename(columns=RECODE_HEADERS))
    return to_bytes(wb, title=title)
