"""Plan reports: a plan's sites (XLSX, GeoJSON) and the comparison of two plans (one
workbook with both sides and the difference, improvements and setbacks highlighted)."""

from __future__ import annotations

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from geoservice.analysis.vocabulary import TODAY
from geoservice.reports.xlsx import (
    PERCENT,
    append_row,
    demand_label,
    to_bytes,
    write_frame,
    write_summary,
    yes_no,
)
from geoservice.services.demand import demand_text
from geoservice.services.plans import MEASURES, TOWNSHIP_MEASURES
from layers import KINDS

BETTER = PatternFill("solid", fgColor="C6EFCE")  # Excel's "good" green
WORSE = PatternFill("solid", fgColor="FFC7CE")   # Excel's "bad" red
SITE_HEADERS = {"site_id": "站点编号", "name": "名称", "level_label": "层级/类型",
                "beds": "床位数", "rank": "建议序号", "lon": "经度", "lat": "纬度", "note": "备注"}
VILLAGE_HEADERS = {"code": "村(社区)代码", "name": "名称", "township_code": "所属乡镇代码",
                   "elderly_population": "60岁以上人口"}

__all__ = ["compare_cost", "compare_rows", "compare_xlsx", "plan_geojson", "plan_xlsx"]


def _sites_frame(rows: list[dict], layer: str | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(SITE_HEADERS))
    headers = dict(SITE_HEADERS)
    if layer == "cemeteries":
        headers["beds"] = "设计墓穴数"
    return df.rename(columns=headers)


def plan_xlsx(plan: dict) -> bytes:
    """A plan (``services.plans.plan_dict``) as a workbook: the plan, then its sites."""
    wb = Workbook()
    ws = wb.active
    ws.title = "规划方案"
    write_summary(ws, [
        ("方案名称", plan["name"]), ("设施图层", plan["layer_label"]),
        ("目标年份", plan.get("target_year") or "（未设）"), ("状态", plan["status_label"]),
        ("备注", plan.get("note") or ""), ("站点数", plan["site_count"]),
        ("床位数" if plan["layer"] != "cemeteries" else "设计墓穴数", plan["beds"]),
        ("创建", f"{plan.get('created_by') or ''} {plan.get('created_at') or ''}".strip()),
        ("最后修改", f"{plan.get('updated_by') or ''} {plan.get('updated_at') or ''}".strip()),
        ("规划新增设施图层版本", plan.get("version")),
    ])
    write_frame(wb.create_sheet("站点"), _sites_frame(plan["sites"], plan["layer"]))
    return to_bytes(wb)


def plan_geojson(plan: dict) -> dict:
    """A plan's sites as a GeoJSON FeatureCollection (CRS84 lon/lat, RFC 7946)."""
    feats = []
    for s in plan["sites"]:
        props = {k: s[k] for k in ("site_id", "name", "level", "level_label", "beds", "rank",
                                   "note")}
        props.update(plan=plan["name"], facility_layer=plan["layer"])
        feats.append({"type": "Feature", "id": s["site_id"], "properties": props,
                      "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]}})
    return {"type": "FeatureCollection", "name": plan["name"], "features": feats}


def _verdict(key: str, diff) -> int:
    """+1 when B is better than A on ``key``, -1 when worse, 0 otherwise."""
    higher = MEASURES.get(key, ("", "", None))[2]
    if higher is None or diff is None or diff == 0:
        return 0
    return 1 if (diff > 0) == higher else -1


def _shown(kind: str, value):
    if kind == "bool":
        return yes_no(value) if value is not None else None
    return value


def compare_rows(cmp: dict) -> list[dict]:
    """The county measures of a comparison: label, A, B, difference, which is better."""
    out = []
    a, b = cmp["a"]["county"], cmp["b"]["county"]
    for key, m in cmp["measures"].items():
        d = cmp["diff"].get(key)
        v = _verdict(key, d) if m["kind"] != "bool" else (
            0 if a.get(key) == b.get(key) or a.get(key) is None or b.get(key) is None
            else (1 if b.get(key) else -1))
        out.append({"key": key, "label": m["label"], "kind": m["kind"], "a": a.get(key),
                    "b": b.get(key), "diff": d,
                    "better": {1: "b", -1: "a", 0: None}[v]})
    return out


def compare_cost(cmp: dict) -> dict:
    """The travel cost of a comparison as its reports name it: ``label`` (e.g. 沿道路网·通行时间),
    ``unit`` (``m`` / ``min``) and ``unit_word`` (米 / 分钟), for a comparison made before
    costs too (straight line)."""
    cost = cmp.get("cost") or {}
    unit = cmp.get("unit") or cost.get("unit") or "m"
    return {"label": cost.get("label") or "直线距离", "unit": unit,
            "unit_word": "分钟" if unit == "min" else "米",
            "straight": cost.get("kind", "straight") == "straight"}


def _title(side: dict) -> str:
    return side["name"] if side["name"] == TODAY else f"方案“{side['name']}”"


def _mark(ws, row: int, col: int, verdict: int) -> None:
    if verdict > 0:
        ws.cell(row, col).fill = BETTER
    elif verdict < 0:
        ws.cell(row, col).fill = WORSE


def compare_xlsx(cmp: dict) -> bytes:
    """One workbook: 对比汇总 (county, A | B | B−A, better side coloured), 乡镇对比 (each
    measure for A, B and B−A per township), the villages newly covered and no longer
    covered, both plans' sites, and the parameters."""
    wb = Workbook()
    ta, tb = _title(cmp["a"]), _title(cmp["b"])
    ws = wb.active
    ws.title = "对比汇总"
    cost = compare_cost(cmp)
    for c in append_row(ws, ["指标", f"A：{ta}", f"B：{tb}", "差值（B−A）", "较优"]):
        c.font = Font(bold=True)
    for r in compare_rows(cmp):
        better = {"a": "A", "b": "B", None: ""}[r["better"]]
        append_row(ws, [r["label"], _shown(r["kind"], r["a"]), _shown(r["kind"], r["b"]),
                    r["diff"], better])
        if r["kind"] == "share":
            for col in (2, 3, 4):
                ws.cell(ws.max_row, col).number_format = PERCENT
        _mark(ws, ws.max_row, 4, {"b": 1, "a": -1, None: 0}[r["better"]])
    append_row(ws, [])
    append_row(ws, [f"出行成本：{cost['label']}；距离、时间类指标的单位为{cost['unit_word']}；"
                    f"服务半径 {cmp['a']['summary'].get('radius_m'):g} {cost['unit_word']}"])
    ws.column_dimensions["A"].width = 44
    for col in "BCDE":
        ws.column_dimensions[col].width = 22
    ws.freeze_panes = "A2"

    ws = wb.create_sheet("乡镇对比")
    keys = [k for k in TOWNSHIP_MEASURES
            if any(k in t["a"] or k in t["b"] for t in cmp["townships"])]
    head = ["乡镇代码", "乡镇名称"]
    for k in keys:
        label = MEASURES[k][0]
        head += [f"{label}（A）", f"{label}（B）"] + ([] if MEASURES[k][1] == "bool"
                                                    else [f"{label}（B−A）"])
    for c in append_row(ws, head):
        c.font = Font(bold=True)
    for t in cmp["townships"]:
        values, marks = [t["code"], t["name"]], []
        for k in keys:
            kind = MEASURES[k][1]
            values += [_shown(kind, t["a"].get(k)), _shown(kind, t["b"].get(k))]
            if kind != "bool":
                values.append(t["diff"].get(k))
                marks.append((len(values), _verdict(k, t["diff"].get(k)), kind))
            else:
                marks.append((len(values) - 1, 0, kind))
        append_row(ws, values)
        for col, verdict, _kind in marks:
            _mark(ws, ws.max_row, col, verdict)
        col = 3
        for k in keys:
            span = 2 if MEASURES[k][1] == "bool" else 3
            if MEASURES[k][1] == "share":
                for j in range(span):
                    ws.cell(ws.max_row, col + j).number_format = PERCENT
            col += span
    ws.freeze_panes = "C2"
    for i in range(1, len(head) + 1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = 16

    for title, rows in (("B 新增覆盖的村", cmp["newly_covered"]),
                        ("B 不再覆盖的村", cmp["no_longer_covered"])):
        df = pd.DataFrame(rows, columns=list(VILLAGE_HEADERS)).rename(columns=VILLAGE_HEADERS)
        write_frame(wb.create_sheet(title), df)
    for key, label in (("a", "A"), ("b", "B")):
        side = cmp[key]
        layer = (side.get("plan") or {}).get("layer")
        write_frame(wb.create_sheet(f"{label} 方案站点"), _sites_frame(side["sites"], layer))
    p = cmp["parameters"]
    s = cmp["a"]["summary"]
    demand = s.get("demand")
    cost = compare_cost(cmp)
    write_summary(wb.create_sheet("参数"), [
        ("A", ta), ("B", tb), ("设施图层", KINDS[p["layer"]].label),
        ("出行成本", cost["label"]),
        (f"服务半径（{cost['unit_word']}）", p.get("radius")),
        ("层级/类型", p.get("level") or "全部"),
        ("需求年份", demand_label(s) or demand_text(demand)),
        ("目标覆盖率", s.get("target")), ("每千名老年人床位目标", s.get("beds_target")),
        ("工作空间", (s.get("inputs") or {}).get("workspace", "")),
        ("说明", "A、B 各为“现状设施 + 该方案站点”的覆盖分析，参数与需求年份相同；"
                "差值为 B−A，绿色表示 B 较优，红色表示 A 较优"),
    ])
    return to_bytes(wb)
