"""Reports people can file: XLSX and CSV views of an analysis result, Chinese headers."""

from __future__ import annotations

import pandas as pd
from openpyxl import Workbook

from geoservice.analysis.coverage import CoverageResult
from geoservice.analysis.vocabulary import FCA_METHODS, WEIGHTINGS, level_label
from geoservice.reports.xlsx import (
    DEMO_MARK,
    cost_rows,
    csv_bytes,
    demand_label,
    distance_method,
    plan_label,
    radius_label,
    relabel,
    report_title,
    to_bytes,
    unit_word,
    write_frame,
    write_summary,
    yes_no,
)
from geoservice.services.params import DEFAULT, GIVEN
from layers import KINDS

VILLAGE_HEADERS = {
    "code": "村(社区)代码", "name": "名称", "township_code": "所属乡镇代码",
    "population": "户籍人口", "elderly_population": "60岁以上人口", "covered": "是否覆盖",
    "nearest_m": "到最近设施距离(米)", "nearest_facility": "最近设施", "snap_m": "到道路距离(米)",
    "facilities_inside": "村内设施数", "has_facility": "村内有设施",
    "access": "可达性(床位/老年人)", "access_per_1000": "可达性(床位/千名老年人)",
    "centre_lon": "村中心经度", "centre_lat": "村中心纬度",
}
# Beds per 1,000 elderly "as the plans count it" is all elderly-care beds together: that
# figure has the plans' own name; this layer's figure says it is this layer's.
TOWNSHIP_HEADERS = {
    "code": "乡镇代码", "name": "乡镇名称", "villages": "村(社区)数",
    "covered_villages": "覆盖村数", "presence_villages": "村内有设施的村数",
    "population": "户籍人口", "covered_population": "覆盖人口",
    "elderly_population": "60岁以上人口", "covered_elderly": "覆盖老年人口",
    "facilities": "设施数", "village_coverage": "村覆盖率",
    "presence_coverage": "村级设施覆盖率", "population_coverage": "人口覆盖率",
    "elderly_coverage": "老年人口覆盖率", "meets_target": "覆盖率达标",
    "beds": "本图层床位数", "beds_per_1000_elderly": "本图层每千名老年人床位",
    "care_beds": "养老床位数(全部)", "care_beds_per_1000_elderly": "每千名老年人床位",
    "meets_beds_target": "床位达标",
    "capacity_graves": "设计墓穴数", "used_graves": "已用墓穴数", "remaining_graves": "剩余墓穴数",
}
RATE_COLUMNS = {"village_coverage", "presence_coverage", "population_coverage",
                "elderly_coverage"}


__all__ = ["DEMO_MARK", "coverage_csv", "coverage_xlsx", "cutoff_rows", "level_label",
           "method_rows", "radius_origin", "summary_rows"]


def radius_origin(summary: dict) -> str:
    """Where the radius came from, with the defaults-file entry when it is the default
    (``[coverage.radius_min]`` when the radius is in minutes)."""
    given_or_default = summary.get("inputs", {}).get("radius_from", DEFAULT)
    if given_or_default == GIVEN:
        return GIVEN
    source = summary.get("radius_source", "")
    if summary.get("radius_unit") == "min" and "radius_min" not in source:
        from geoservice.analysis.settings import coverage_defaults

        source = coverage_defaults(summary["layer"], summary.get("level"))["radius_min_source"]
    return f"{given_or_default}（{source}）"


def method_rows(summary: dict) -> list[tuple[str, object]]:
    """The accessibility method: its name, and its formula and weights (fca_note)."""
    from geoservice.analysis.fca import fca_note

    method = summary.get("method") or "g2sfca"
    return [("可达性方法", summary.get("method_label") or FCA_METHODS[method]),
            ("可达性公式", fca_note(method, supply="剩余墓穴" if summary.get("layer") ==
                                     "cemeteries" else "床位"))]


def _share(value) -> str:
    return "—" if value is None or value != value else f"{value:.1%}"


def cutoff_rows(summary: dict) -> list[tuple[str, object]]:
    """One row per further cutoff: the share (and number) of elderly, people and villages
    whose nearest facility is within it, e.g. ``15 分钟内``."""
    unit = unit_word(summary)
    return [(f"{c['cutoff']:g} {unit}内",
             f"老年人口 {_share(c.get('elderly_share'))}（{c.get('elderly', 0):,} 人）；"
             f"人口 {_share(c.get('population_share'))}（{c.get('population', 0):,} 人）；"
             f"村 {_share(c.get('village_share'))}（{c.get('villages', 0)} 个）")
            for c in summary.get("cutoffs") or []]


def summary_rows(result: CoverageResult) -> list[tuple[str, object]]:
    """The summary as (Chinese label, value) rows, inputs first."""
    s = result.summary
    inputs = s.get("inputs", {})
    layer = KINDS[s["layer"]]
    versions = inputs.get("layer_versions", {})
    rows: list[tuple[str, object]] = [
        ("工作空间", inputs.get("workspace", "")),
        ("数据性质", DEMO_MARK if inputs.get("demo") else "正式数据"),
        ("分析日期", inputs.get("date", "")),
        ("设施图层", f"{layer.label}（第 {versions.get(s['layer'], '?')} 版）"),
        ("设施层级/类型", level_label(s["layer"], s.get("level"))),
        ("村(社区)图层版本", f"第 {versions.get('villages', '?')} 版"),
        ("需求（60岁以上人口）", demand_label(s) or "当前数据"),
        ("规划方案", plan_label(s)),
        (radius_label(s), s["radius_m"]),
        ("半径来源", radius_origin(s)),
        *cost_rows(s, versions),
        *method_rows(s),
        ("距离计算", distance_method(s)),
        ("设施数", s["facilities"]),
        ("村(社区)数", s["villages"]),
        ("覆盖村数", s["covered_villages"]),
        ("村覆盖率", s["village_coverage"]),
        ("村级设施覆盖率(村内有设施)", s["presence_coverage"]),
        ("人口覆盖率", s["population_coverage"]),
        ("60岁以上人口", s["elderly_population"]),
        ("覆盖老年人口", s["covered_elderly"]),
        ("老年人口覆盖率", s["elderly_coverage"]),
        ("目标", f"{WEIGHTINGS[s['weighting']][1]} ≥ {s['target']:.0%}"),
        ("目标依据", s["target_source"]),
        ("是否达标", yes_no(s["meets_target"])),
    ]
    rows += cutoff_rows(s)
    rows += capacity_rows(s)
    rows += [("注意", w) for w in s.get("code_warnings") or []]
    return rows


def care_label(summary: dict) -> str:
    """Which layers the beds per 1,000 elderly counts, e.g. "福利院/特困供养机构+养老服务设施"."""
    return "+".join(KINDS[k].label for k in summary.get("care_beds_layers") or []) or "无"


def capacity_rows(s: dict) -> list[tuple[str, object]]:
    """Beds (all elderly-care beds against the target, beside this layer's own), or for
    cemeteries graves, never beds."""
    if s["layer"] == "cemeteries":
        return [("设计墓穴数", s["capacity_graves"]), ("已用墓穴数", s["used_graves"]),
                ("剩余墓穴数", s["remaining_graves"])]
    layer = KINDS[s["layer"]].label
    rows: list[tuple[str, object]] = [
        (f"养老床位数(全部：{care_label(s)})", s["care_beds"]),
        ("每千名老年人床位", s["care_beds_per_1000_elderly"]),
        ("床位目标(每千名老年人)", s["beds_target"]),
        ("床位目标依据", s["beds_target_source"]),
        ("床位是否达标", yes_no(s["meets_beds_target"])),
        (f"本图层床位数({layer}{_level_note(s)})", s["beds"]),
        ("本图层每千名老年人床位", s["beds_per_1000_elderly"]),
    ]
    versions = s.get("inputs", {}).get("care_layer_versions")
    if versions:
        rows.append(("床位计入的图层", "、".join(f"{KINDS[k].label}（第 {v} 版）"
                                          for k, v in versions.items())))
    if s.get("care_beds_unassigned"):
        rows.append(("未落入任何乡镇的床位(计入全县)", s["care_beds_unassigned"]))
    if s.get("care_beds_note"):
        rows.append(("床位说明", s["care_beds_note"]))
    return rows


def _level_note(s: dict) -> str:
    return f"，{level_label(s['layer'], s['level'])}" if s.get("level") else ""


def coverage_xlsx(result: CoverageResult) -> bytes:
    """Summary (with inputs), township and village sheets."""
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    rows = summary_rows(result)
    title = report_title(result.summary, f"{KINDS[result.summary['layer']].label}覆盖分析报告")
    write_summary(ws, rows, rate_labels=[label for label, _ in rows if "覆盖率" in label],
                  title=title)
    rate_headers = {TOWNSHIP_HEADERS[c] for c in RATE_COLUMNS}
    write_frame(wb.create_sheet("乡镇"), _frame(result.townships, TOWNSHIP_HEADERS),
                rate_headers=rate_headers)
    villages = pd.DataFrame(result.villages.drop(columns="geometry"))
    headers = village_headers(result.summary["layer"], result.summary)
    write_frame(wb.create_sheet("村(社区)"), _frame(villages, headers))
    write_frame(wb.create_sheet("未覆盖村(按老年人口)"), _frame(result.uncovered, headers))
    return to_bytes(wb, title=title)


def village_headers(layer: str, summary: dict | None = None) -> dict:
    """The village columns; a cemetery's accessibility is in remaining graves, not beds;
    the nearest facility in minutes of travel when the cost is in minutes."""
    headers = dict(VILLAGE_HEADERS)
    if summary is not None and unit_word(summary) == "分钟":
        headers["nearest_m"] = "到最近设施通行时间(分钟)"
    if layer == "cemeteries":
        headers.update(access="可达性(剩余墓穴/老年人)",
                       access_per_1000="可达性(剩余墓穴/千名老年人)")
    return headers


def _frame(df: pd.DataFrame, headers: dict) -> pd.DataFrame:
    flags = [c for c in df.columns if df[c].dtype == bool or c.startswith("meets_")
             or c in ("covered", "has_facility")]
    return relabel(df, headers, flags)


def coverage_csv(result: CoverageResult) -> bytes:
    """The village table as CSV (UTF-8 with BOM, so Excel shows the Chinese), the inputs
    as ``#`` comment lines."""
    villages = pd.DataFrame(result.villages.drop(columns="geometry"))
    rows = summary_rows(result)
    inputs = [label for label, _ in rows].index("距离计算") + 1  # the inputs, not the figures
    return csv_bytes(_frame(villages, village_headers(result.summary["layer"], result.summary)),
                     rows[:inputs])
