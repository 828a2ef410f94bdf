"""Report workbooks: one way to put a table or a summary on a sheet, for every analysis.

Each analysis' report module decides which sheets and which Chinese headers; the cell
values (no NaN, no numpy scalars, lists joined), the bold header row, column widths, the
percentage format and the frozen header are done here.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The 数据性质 row of every report made from the demo workspace.
DEMO_MARK = "示例数据（模拟几何）"
PERCENT = "0.0%"


def cell(v):
    """A value openpyxl writes as a person expects: empty for missing or non-finite
    numbers, plain Python for numpy scalars, 、-joined lists."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (list, tuple, np.ndarray)):
        return "、".join(str(x) for x in v)
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def yes_no(v):
    """True/False as 是/否; anything else unchanged."""
    if v is True or v is np.True_:
        return "是"
    if v is False or v is np.False_:
        return "否"
    return v


def relabel(df: pd.DataFrame, headers: dict, yes_no_columns: Iterable[str] = ()) -> pd.DataFrame:
    """The ``headers`` columns of ``df`` (those present, in that order), yes/no columns as
    是/否, renamed to their Chinese headers."""
    cols = [c for c in headers if c in df.columns]
    out = df[cols].copy()
    for c in set(yes_no_columns) & set(cols):
        out[c] = out[c].map(yes_no)
    return out.rename(columns=headers)


def write_frame(ws, df: pd.DataFrame, *, rate_headers: Iterable[str] = ()) -> None:
    """``df`` on ``ws``: bold header row, widths from header and content, ``rate_headers``
    columns as percentages, header frozen."""
    rates = set(rate_headers)
    ws.append([str(c) for c in df.columns])
    for c in ws[1]:
        c.font = Font(bold=True)
    for row in df.itertuples(index=False):
        ws.append([cell(v) for v in row])
    for i, name in enumerate(df.columns, start=1):
        letter = get_column_letter(i)
        # CJK characters are about two columns wide.
        sample = [str(name)] + [str(v) for v in df.iloc[:200, i - 1] if v is not None]
        width = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in s) for s in sample) + 2
        ws.column_dimensions[letter].width = min(max(width, 10), 60)
        if name in rates:
            for c in ws[letter][1:]:
                c.number_format = PERCENT
    ws.freeze_panes = "A2"


def write_summary(ws, rows: Iterable[tuple[str, object]], *,
                  rate_labels: Iterable[str] = ()) -> None:
    """(label, value) rows under a bold 项目/值 header; float rates as percentages."""
    rates = set(rate_labels)
    ws.append(["项目", "值"])
    ws["A1"].font = ws["B1"].font = Font(bold=True)
    for label, value in rows:
        ws.append([label, cell(value)])
        if isinstance(value, float) and label in rates:
            ws.cell(ws.max_row, 2).number_format = PERCENT
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 70


def to_bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
