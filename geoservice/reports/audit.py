"""The audit trail as a workbook: one row per recorded action, Chinese headers, and a sheet
saying which rows were selected. Every text cell (user names, file names, parameters all
come from people) goes through ``reports/xlsx.py``, so none becomes a formula."""

from __future__ import annotations

import json

import pandas as pd

from geoservice.reports.xlsx import workbook
from geoservice.services.audit import ACTIONS
from layers.schema import KINDS

HEADERS = ("时间", "用户", "地址", "操作", "图层", "原版本", "新版本", "参数", "结果")
# filter key -> its Chinese name on the 筛选条件 sheet
FILTERS = {"user": "用户", "action": "操作", "layer": "图层", "since": "起始日期",
           "until": "截止日期"}


def _layer(kind) -> str | None:
    if not kind:
        return None
    return f"{KINDS[kind].label}（{kind}）" if kind in KINDS else str(kind)


def _action(action: str) -> str:
    label = ACTIONS.get(action)
    return f"{label}（{action}）" if label else action


def _params(params) -> str:
    if not params:
        return ""
    if isinstance(params, dict):
        return json.dumps(params, ensure_ascii=False, sort_keys=True, default=str)
    return str(params)


def audit_frame(rows: list[dict]) -> pd.DataFrame:
    """The rows (as ``services.audit.rows`` gives them) under the Chinese headers."""
    data = [[r.get("time"), r.get("user"), r.get("address"), _action(r.get("action", "")),
             _layer(r.get("layer")), r.get("version_before"), r.get("version_after"),
             _params(r.get("params")), r.get("result")] for r in rows]
    return pd.DataFrame(data, columns=list(HEADERS), dtype=object)


def audit_xlsx(rows: list[dict], filters: dict | None = None) -> bytes:
    """操作记录 sheet (newest first, as given) and 筛选条件 (the filters used, row count)."""
    conditions: list[tuple[str, object]] = [
        (label, _action(value) if key == "action" else _layer(value) if key == "layer" else value)
        for key, label in FILTERS.items() if (value := (filters or {}).get(key))]
    if not conditions:
        conditions.append(("筛选", "全部"))
    conditions.append(("记录条数", len(rows)))
    # The title (unit, 操作记录, date) is in every page's print header; the 筛选条件 sheet
    # stays the filters alone.
    return workbook(("操作记录", audit_frame(rows)), ("筛选条件", conditions), title="操作记录",
                    title_block=False)
