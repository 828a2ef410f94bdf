"""Road network check report: XLSX (汇总, 连通部分, 悬挂线端, 离路过远) and the parts as CSV."""

from __future__ import annotations

import pandas as pd

from geoservice.analysis.netcheck import NetworkCheckResult
from geoservice.reports.xlsx import DEMO_MARK, report_title, workbook

PART_HEADERS = {"label": "连通部分", "junctions": "节点数", "length_km": "长度(千米)",
                "villages": "村(社区)数", "facilities": "设施数"}
DANGLE_HEADERS = {"road": "道路", "road_class_label": "道路等级", "distance_m": "距另一条道路(米)",
                  "near_road": "邻近道路", "near_road_class_label": "邻近道路等级",
                  "part_label": "所在连通部分", "lon": "经度", "lat": "纬度", "note": "说明"}
FAR_HEADERS = {"layer_label": "图层", "code": "代码", "name": "名称", "snap_m": "到道路距离(米)",
               "part_label": "接入的连通部分", "lon": "经度", "lat": "纬度", "note": "说明"}


def summary_rows(result: NetworkCheckResult) -> list[tuple[str, object]]:
    s = result.summary
    inputs = s.get("inputs") or {}
    rows = [
        ("道路图层", f"{s['network_label']}（{s['network']}，版本 "
                 f"{inputs.get('layer_versions', {}).get(s['network'], '')}）"),
        ("道路条数", s["roads"]), ("节点数", s["junctions"]), ("总长度(千米)", s["length_km"]),
        ("连通部分数", s["parts"]), ("主网长度占比", s["main_share"]),
        ("不在主网上的村(社区)", s["villages_off_main"]),
        ("不在主网上的设施", s["facilities_off_main"]),
        ("悬挂线端（疑似数字化错误）", s["dangles"]),
        ("离最近道路过远的村(社区)", s["far_villages"]),
        ("离最近道路过远的设施", s["far_facilities"]),
        ("节点容差(米)", s["snap_tolerance_m"]), ("悬挂线端判定距离(米)", s["dangle_m"]),
        ("离路过远判定距离(米)", s["far_m"]),
        *((f"默认车速：{label}(km/h)", v) for label, v in s["speed_labels"].items()),
        ("默认值来源", s["source"]),
        *(("结论", f) for f in s.get("findings", [])),
        ("分析日期", inputs.get("date", "")),
    ]
    if inputs.get("demo"):
        rows.append(("数据说明", DEMO_MARK))
    return rows


def _table(frame: pd.DataFrame, headers: dict) -> pd.DataFrame:
    cols = [c for c in headers if c in frame.columns]
    return pd.DataFrame(frame[cols]).rename(columns=headers)


def network_xlsx(result: NetworkCheckResult) -> bytes:
    """The check as a workbook people can file."""
    title = report_title(result.summary, "道路网检查")
    return workbook(("汇总", summary_rows(result)),
                    ("连通部分", _table(result.parts, PART_HEADERS)),
                    ("悬挂线端", _table(result.dangles, DANGLE_HEADERS)),
                    ("离路过远", _table(result.far, FAR_HEADERS)), title=title)
