"""Report workbooks: one way to put a table or a summary on a sheet, for every analysis.

Each analysis' report module decides which sheets and which Chinese headers; the cell
values (no NaN, no numpy scalars, lists joined), the bold header row, column widths, the
percentage format and the frozen header are done here.

Text is never a formula (CSV/formula injection): names come from imported data and some
summary rows echo request parameters. One rule, :func:`formula_like` (text starting with
``= + - @``, a tab or a carriage return), applied one way per format: in a workbook every
text cell is a string cell (:func:`as_text`; formula-like text also gets Excel's quote
prefix, so editing the cell keeps it text), and :func:`to_bytes` makes sure of it for every
cell of every sheet; in a CSV a formula-like text field gets a leading ``'`` (OWASP;
:func:`csv_field`, :func:`csv_bytes`) and a ``#`` comment line stays one text field
(:func:`csv_comment`). Numbers stay numbers in both.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The 数据性质 row of every report made from the demo workspace.
DEMO_MARK = "示例数据（模拟几何）"
PERCENT = "0.0%"
# What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_like(v) -> bool:
    """True for text a spreadsheet would take for a formula; never for a number."""
    return isinstance(v, str) and v.startswith(FORMULA_PREFIXES)


def cell(v):
    """A value openpyxl writes as a person expects: empty for missing or non-finite
    numbers, plain Python for numpy scalars, 、-joined lists, text without the control
    characters a workbook cannot hold."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (list, tuple, np.ndarray)):
        v = "、".join(str(x) for x in v)
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, str):
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
    return v


def as_text(c: Cell) -> Cell:
    """Text in a workbook cell stays text: a string cell, never a formula (openpyxl makes
    any str starting with ``=`` one) nor an error value (``#N/A``); formula-like text gets
    Excel's quote prefix, as when a person types ``'=...``. Other values are untouched."""
    if isinstance(c.value, str):
        c.data_type = "s"
        if formula_like(c.value):
            c.quotePrefix = True
    return c


def append_row(ws, values: Iterable) -> tuple[Cell, ...]:
    """``values`` (through :func:`cell`) as the next row of ``ws``, text as text."""
    cells = tuple(as_text(Cell(ws, value=cell(v))) for v in values)
    ws.append(cells)
    return cells


def csv_field(v):
    """A value for a CSV field: :func:`cell`, then a ``'`` before formula-like text, so a
    spreadsheet opening the file shows the text. Numbers (negative ones too) unchanged."""
    v = cell(v)
    return "'" + v if formula_like(v) else v


def csv_bytes(frame: pd.DataFrame, comments: Iterable[tuple[str, object]] = ()) -> bytes:
    """``frame`` as CSV (UTF-8 with BOM, so Excel shows the Chinese; CRLF rows, RFC 4180),
    headers and text fields through :func:`csv_field`, numeric columns as they are;
    ``comments`` (label, value) first, as :func:`csv_comment` lines."""
    out = frame.copy()
    out.columns = [csv_field(str(c)) for c in out.columns]
    for k in range(out.shape[1]):
        col = out.iloc[:, k]
        if col.dtype.kind not in "biufcmM":  # text, mixed or categorical
            out.isetitem(k, col.astype(object).map(csv_field))
    head = "".join(csv_comment(label, value) for label, value in comments)
    # With CRLF as the row end, a field holding a line break (a lone CR too) is quoted, so
    # no text can start a row of its own.
    return (head + out.to_csv(index=False, lineterminator="\r\n")).encode("utf-8-sig")


def csv_comment(label: str, value) -> str:
    """``# label: value`` as one line that readers skip (``comment="#"``) and a spreadsheet
    shows as one text cell starting with ``#``: line breaks in the value become spaces and
    commas full-width, so no part of it becomes a field (a formula) of its own."""
    value = cell(value)
    text = "" if value is None else " ".join(str(value).splitlines()).strip()
    return f"# {label}: {text.replace(',', '，')}\r\n"


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
    for c in append_row(ws, [str(c) for c in df.columns]):
        c.font = Font(bold=True)
    for row in df.itertuples(index=False):
        append_row(ws, row)
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
    for c in append_row(ws, ["项目", "值"]):
        c.font = Font(bold=True)
    for label, value in rows:
        append_row(ws, [label, value])
        if isinstance(value, float) and label in rates:
            ws.cell(ws.max_row, 2).number_format = PERCENT
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 70


def workbook(*sheets: tuple[str, object]) -> bytes:
    """A report workbook from ``(title, content)`` pairs, in order: a DataFrame becomes a
    table sheet, a list of ``(label, value)`` rows a summary sheet."""
    wb = Workbook()
    for i, (title, content) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        if isinstance(content, pd.DataFrame):
            write_frame(ws, content)
        else:
            write_summary(ws, content)
    return to_bytes(wb)


def to_bytes(wb: Workbook) -> bytes:
    """The workbook as XLSX; every text cell of every sheet made text (:func:`as_text`)
    first, whichever way it was written: reports never write formulas."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                as_text(c)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def demand_label(summary: dict) -> str | None:
    """Which year's elderly population a result used, and from where (``summary.demand``,
    set when a target year was asked for); None for today's data."""
    d = summary.get("demand")
    if not d:
        return None
    if d.get("source") == "当前数据":
        return f"{d['year']} 年（当前数据）"
    return f"{d['year']} 年（{d['source']}，基准年 {d['base_year']} 年）"
