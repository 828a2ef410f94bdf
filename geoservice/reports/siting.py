"""Siting reports: XLSX (汇总, 选址建议, 排除的候选点, 村) and a CSV of the sites.

Views of one :class:`~geoservice.services.siting.SitingRun`; every report states its inputs
(layers and versions, radius, problem, K or target, time limit, date, 示例数据).
"""

from __future__ import annotations

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from geoservice.analysis.vocabulary import PROBLEM_LABELS, WEIGHT_LABELS, level_label
from geoservice.reports.xlsx import (
    DEMO_MARK,
    PERCENT,
    append_row,
    cell,
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
from geoservice.services.siting import SitingRun
from layers import KINDS

SITE_HEADERS = {
    "rank": "序号", "candidate": "候选点编号", "name": "名称", "village_code": "所在村(社区)代码",
    "village_name": "所在村(社区)", "lon": "经度", "lat": "纬度",
    "marginal_elderly": "新增覆盖老年人口", "marginal_villages": "新增覆盖村数",
    "newly_covered_names": "新增覆盖的村(社区)", "assigned_elderly": "分配老年人口",
    "assigned_villages": "分配村数", "no_gain": "不再增加覆盖/缩短距离(可不建)",
}
EXCLUDED_HEADERS = {
    "candidate": "候选点编号", "name": "名称", "lon": "经度", "lat": "纬度",
    "rule_label": "排除规则", "reason": "原因", "distance_m": "距离(米)",
}
VILLAGE_HEADERS = {
    "code": "村(社区)代码", "name": "名称", "township_code": "所属乡镇代码",
    "elderly_population": "60岁以上人口", "population": "户籍人口",
    "covered_before": "新增前是否覆盖", "covered_after": "新增后是否覆盖",
    "nearest_m_before": "新增前到最近设施(米)", "nearest_m_after": "新增后到最近设施(米)",
    "new_site_rank": "覆盖/分配它的新站序号", "snap_m": "到道路距离(米)",
}
# Labels of summary values shown as percentages.
RATE_LABELS = {"村覆盖率", "老年人口覆盖率", "人口覆盖率", "目标覆盖率", "最优间隙(相对)"}


def input_rows(run: SitingRun) -> list[tuple[str, object]]:
    """What produced the result: workspace, layers and versions, parameters, date."""
    s = run.summary
    p = run.params
    inputs = s.get("inputs", {})
    versions = inputs.get("layer_versions", {})
    cand = (f"{KINDS[p.candidates].label}（第 {versions.get(p.candidates, '?')} 版）"
            if p.candidates else "各村(社区)中心")
    rows: list[tuple[str, object]] = [
        ("工作空间", inputs.get("workspace", "")),
        ("数据性质", DEMO_MARK if inputs.get("demo") else "正式数据"),
        ("分析日期", inputs.get("date", "")),
        ("选址问题", PROBLEM_LABELS[p.problem]),
        ("设施图层", f"{KINDS[p.layer].label}（第 {versions.get(p.layer, '?')} 版）"),
        ("设施层级/类型", level_label(p.layer, p.level)),
        ("村(社区)图层版本", f"第 {versions.get('villages', '?')} 版"),
        ("候选点", cand),
        ("需求（60岁以上人口）", demand_label(s) or "当前数据"),
        ("规划方案", plan_label(s)),
    ]
    if p.problem == "cemetery":
        zones = (f"禁建区（第 {versions['exclusion_zones']} 版）"
                 if "exclusion_zones" in versions else "无（工作空间中没有禁建区图层）")
        rows.append(("禁建区图层", zones))
    rows += [
        (radius_label(s), p.radius_m),
        ("半径来源", inputs.get("radius_from", "")),
        *cost_rows(s, versions),
        ("距离计算", distance_method(s)),
        ("不考虑现有设施", ignore_existing_text(s)),
        ("覆盖对象", WEIGHT_LABELS.get(p.weight, p.weight)),
    ]
    if p.problem == "target":
        rows.append(("目标覆盖率", p.target))
    else:
        rows.append(("新增设施数 K", p.add))
    if p.problem == "pmedian":
        rows.append(("按床位容量约束", "是" if p.capacitated else "否"))
    rows.append(("求解时限(秒)", s.get("time_limit_s", p.time_limit_s)))
    return rows


def ignore_existing_text(summary: dict) -> str:
    """是 (with the note: planned as if no facility existed yet) or 否."""
    if not summary.get("ignore_existing"):
        return "否"
    note = (summary.get("inputs") or {}).get("ignore_existing") or ""
    rest = note.removeprefix("不考虑现有设施")
    if rest.startswith("（"):
        return f"是{rest}"
    return f"是（{note}）" if note else "是"


def village_headers(summary: dict) -> dict:
    """The village columns, the distances in minutes when the cost is in minutes."""
    headers = dict(VILLAGE_HEADERS)
    if unit_word(summary) == "分钟":
        headers.update(nearest_m_before="新增前到最近设施通行时间(分钟)",
                       nearest_m_after="新增后到最近设施通行时间(分钟)")
    return headers


def result_rows(run: SitingRun) -> list[tuple[str, object]]:
    """How the solve went: solver, optimality, gap, time, candidate counts, message."""
    s = run.summary
    rows: list[tuple[str, object]] = [
        ("求解器", s.get("solver")),
        ("是否证明最优", yes_no(s.get("optimal"))),
        ("最优间隙(相对)", s.get("gap")),
        ("求解用时(秒)", s.get("solve_seconds")),
        ("目标函数值", s.get("objective")),
        ("候选点数", s.get("candidates")),
        ("排除的候选点数", s.get("excluded")),
        ("新增设施数", s.get("added")),
    ]
    if s.get("target") is not None:
        rows.append(("是否达到目标", yes_no(s.get("target_reached"))))
    if s.get("cancelled"):
        rows.append(("已取消", "是（结果为取消时的最好方案）"))
    if s.get("message"):
        rows.append(("说明", s.get("message")))
    note = s.get("inputs", {}).get("exclusion_note")
    if note:
        rows.append(("禁建区说明", note))
    return rows


def summary_rows(run: SitingRun) -> list[tuple[str, object]]:
    return input_rows(run) + result_rows(run)


def change_rows(run: SitingRun) -> list[tuple[str, object, object]]:
    """Before/after rows: (label, before, after)."""
    s = run.summary
    rows = [
        ("覆盖村数", s.get("covered_villages_before"), s.get("covered_villages_after")),
        ("村覆盖率", s.get("village_coverage_before"), s.get("village_coverage_after")),
        ("覆盖老年人口", s.get("covered_elderly_before"), s.get("covered_elderly_after")),
        ("老年人口覆盖率", s.get("elderly_coverage_before"), s.get("elderly_coverage_after")),
        ("人口覆盖率", s.get("population_coverage_before"), s.get("population_coverage_after")),
    ]
    if s.get("total_weighted_distance_before") is not None or \
            s.get("total_weighted_distance_after") is not None:
        if unit_word(s) == "分钟":
            total, mean = "老年人口加权总通行时间(人·分钟)", "老年人平均到最近设施通行时间(分钟)"
        else:
            total, mean = "老年人口加权总距离(人·米)", "老年人平均到最近设施距离(米)"
        rows += [
            (total, s.get("total_weighted_distance_before"),
             s.get("total_weighted_distance_after")),
            (mean, s.get("mean_distance_before_m"), s.get("mean_distance_after_m")),
        ]
    return rows


def site_frame(run: SitingRun) -> pd.DataFrame:
    """The suggested sites by rank, with the names of the villages each newly covers."""
    # The analysis names the villages by position (a code may name several villages).
    return pd.DataFrame(run.result.sites.drop(columns="geometry", errors="ignore"))


def excluded_frame(run: SitingRun) -> pd.DataFrame:
    """The excluded candidates; the result carries each one's ``rule_label`` (the
    vocabulary's name of its first rule)."""
    return pd.DataFrame(run.result.excluded.drop(columns="geometry", errors="ignore"))


def _frame(df: pd.DataFrame, headers: dict) -> pd.DataFrame:
    return relabel(df, headers, [c for c in df.columns if c.startswith("covered_")
                                 or c == "no_gain"])


def siting_xlsx(run: SitingRun) -> bytes:
    """汇总 (inputs + before/after), 选址建议, 排除的候选点 and 村 sheets."""
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    title = report_title(run.summary, f"{KINDS[run.params.layer].label}选址建议报告")
    write_summary(ws, summary_rows(run), rate_labels=RATE_LABELS, title=title)
    ws.append([])
    for c in append_row(ws, ["覆盖变化", "新增前", "新增后"]):
        c.font = Font(bold=True)
    for label, before, after in change_rows(run):
        append_row(ws, [label, before, after])
        if label in RATE_LABELS:
            for col in (2, 3):
                ws.cell(ws.max_row, col).number_format = PERCENT
    ws.column_dimensions["C"].width = 20
    write_frame(wb.create_sheet("选址建议"), _frame(site_frame(run), SITE_HEADERS))
    write_frame(wb.create_sheet("排除的候选点"), _frame(excluded_frame(run), EXCLUDED_HEADERS))
    villages = pd.DataFrame(run.result.villages.drop(columns="geometry", errors="ignore"))
    write_frame(wb.create_sheet("村"), _frame(villages, village_headers(run.summary)))
    return to_bytes(wb, title=title)


def siting_csv(run: SitingRun) -> bytes:
    """The suggested sites as CSV (UTF-8 with BOM), inputs as ``#`` comment lines."""
    frame = _frame(site_frame(run), SITE_HEADERS)
    return csv_bytes(frame.map(cell), summary_rows(run))


def report_name(run: SitingRun, ext: str) -> str:
    p = run.params
    k = f"k{p.add}" if p.add is not None else f"target{round(p.target * 100)}"
    radius = (f"{p.radius_m:g}min" if unit_word(run.summary) == "分钟"
              else f"{int(p.radius_m)}m")
    return f"siting_{p.problem}_{p.layer}_{radius}_{k}.{ext}"
