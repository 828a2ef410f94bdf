"""Report workbooks: one way to put a table or a summary on a sheet, for every analysis.

Each analysis' report module decides which sheets and which Chinese headers; the cell
values (no NaN, no numpy scalars, lists joined), the bold header row, column widths, the
percentage format and the frozen header are done here.

Every workbook is ready to file (:func:`to_bytes`): each sheet prints on A4, fitted to
the page width, landscape when wider than eight columns, its header row repeated on every
page, and a page header saying who made it, what it is and when (the title block: unit,
title, date; the 汇总/说明 sheet also starts with those rows, above the data sources and
layer versions). Data sheets keep their header on row 1 (frozen), so a reader (pandas,
a filter) finds the table where it expects. Numbers keep their value and are shown as
people read them (:func:`number_format`): distances to the metre, shares to 0.1%.

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

import contextvars
import datetime as dt
import io
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The 数据性质 row of every report made from the demo workspace.
DEMO_MARK = "示例数据（模拟几何）"
PERCENT = "0.0%"
# How a number is shown, by a word of its header or label (first match wins): distances
# to the metre, areas to 0.1 m², kilometres to 10 m, shares to 0.1%, degrees to 6 places.
NUMBER_FORMATS = (
    ("(平方千米)", "0.00"), ("（平方千米）", "0.00"), ("(千米)", "0.00"), ("（千米）", "0.00"),
    ("(平方米)", "0.0"), ("（平方米）", "0.0"), ("(人·米)", "0"), ("(米)", "0"), ("（米）", "0"),
    ("经度", "0.000000"), ("纬度", "0.000000"), ("千名", "0.0"), ("/老年人)", "0.0000"),
    ("(秒)", "0.0"), ("（秒）", "0.0"), ("(人·分钟)", "0"), ("(分钟)", "0.0"), ("（分钟）", "0.0"),
)
# Sheets wider than this print landscape.
PORTRAIT_MAX_COLUMNS = 8
# The producing unit of the reports written now (setting PRINT_UNIT, or the county's
# bureau): the web sets it for each request (geoservice/web/printing.py); a callable is
# asked only when a workbook is written. Unset: the PRINT_UNIT setting as is.
REPORT_UNIT: contextvars.ContextVar[str | Callable[[], str] | None] = \
    contextvars.ContextVar("report_unit", default=None)
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


def number_format(label: str, value, *, rate: bool = False) -> str | None:
    """How a number under ``label`` is shown (None: as it is): a share (``rate``, or a
    label with 率 and a value from 0 to 1.5) as 0.0%, else by :data:`NUMBER_FORMATS`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if (rate or "率" in label) and isinstance(value, float) and 0 <= value <= 1.5:
        return PERCENT
    return next((fmt for word, fmt in NUMBER_FORMATS if word in label), None)


def write_frame(ws, df: pd.DataFrame, *, rate_headers: Iterable[str] = ()) -> None:
    """``df`` on ``ws``: bold header row (repeated on every printed page), widths from
    header and content, numbers formatted by their header (:func:`number_format`;
    ``rate_headers`` columns as percentages), header frozen, a filter on the header."""
    rates = set(rate_headers)
    for c in append_row(ws, [str(c) for c in df.columns]):
        c.font = Font(bold=True)
        c.alignment = Alignment(wrap_text=True, vertical="center")
    for row in df.itertuples(index=False):
        append_row(ws, row)
    for i, name in enumerate(df.columns, start=1):
        letter = get_column_letter(i)
        # CJK characters are about two columns wide.
        sample = [str(name)] + [str(v) for v in df.iloc[:200, i - 1] if v is not None]
        width = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in s) for s in sample) + 2
        ws.column_dimensions[letter].width = min(max(width, 10), 60)
        for c in ws[letter][1:]:
            fmt = number_format(str(name), c.value, rate=name in rates)
            if fmt:
                c.number_format = fmt
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    if len(df.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(df.columns))}{max(len(df), 1) + 1}"


def report_unit() -> str:
    """The producing unit of the report being written (:data:`REPORT_UNIT`, else the
    PRINT_UNIT setting); "" when none is known."""
    unit = REPORT_UNIT.get()
    if callable(unit):
        unit = unit()
    if not unit:
        from geoservice.config import setting

        unit = setting("PRINT_UNIT") or ""
    return str(unit)


def title_rows(title: str) -> list[tuple[str, object]]:
    """The title block's rows: what the report is, who made it, when."""
    rows: list[tuple[str, object]] = [("报告", title)]
    unit = report_unit()
    if unit:
        rows.append(("编制单位", unit))
    rows.append(("编制日期", dt.date.today().isoformat()))
    return rows


def write_summary(ws, rows: Iterable[tuple[str, object]], *,
                  rate_labels: Iterable[str] = (), title: str | None = None) -> None:
    """(label, value) rows under a bold 项目/值 header, the title block first when a
    ``title`` is given; numbers formatted by their label (:func:`number_format`;
    ``rate_labels`` as percentages)."""
    rates = set(rate_labels)
    for c in append_row(ws, ["项目", "值"]):
        c.font = Font(bold=True)
    if title:
        for label, value in title_rows(title):
            cells = append_row(ws, [label, value])
            cells[1].font = Font(bold=label == "报告")
    for label, value in rows:
        append_row(ws, [label, value])
        fmt = number_format(label, value, rate=label in rates)
        if fmt:
            ws.cell(ws.max_row, 2).number_format = fmt
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 70
    for (c,) in ws.iter_rows(min_col=2, max_col=2, min_row=2):
        c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"


def workbook(*sheets: tuple[str, object], title: str | None = None,
             title_block: bool = True) -> bytes:
    """A report workbook from ``(title, content)`` pairs, in order: a DataFrame becomes a
    table sheet, a list of ``(label, value)`` rows a summary sheet (the first one starting
    with the title block when the report has a ``title`` and ``title_block``)."""
    wb = Workbook()
    block = title if title_block else None
    for i, (name, content) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = name
        if isinstance(content, pd.DataFrame):
            write_frame(ws, content)
        else:
            write_summary(ws, content, title=block)
            block = None
    return to_bytes(wb, title=title)


def report_title(summary: dict, what: str) -> str:
    """A report's title: the workspace (county) it was made from, then what it is."""
    workspace = (summary.get("inputs") or {}).get("workspace") or ""
    return f"{workspace} {what}".strip()


def _header_text(text: str) -> str:
    """Text for a print header/footer: ``&`` starts a code there, so it is doubled."""
    return str(text).replace("&", "&&")


def print_setup(ws, title: str | None = None) -> None:
    """A4, fitted to the page width (as many pages down as needed), landscape when wider
    than :data:`PORTRAIT_MAX_COLUMNS`; page header: unit, title · sheet, date; footer:
    page n of N."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if ws.max_column > PORTRAIT_MAX_COLUMNS \
        else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.left = ws.page_margins.right = 0.5
    unit = report_unit()
    if unit:
        ws.oddHeader.left.text = _header_text(unit)
        ws.oddHeader.left.size = 9
    ws.oddHeader.center.text = (_header_text(title) + " · " if title else "") + "&A"
    ws.oddHeader.center.size = 11
    ws.oddHeader.right.text = "编制日期 " + dt.date.today().isoformat()
    ws.oddHeader.right.size = 9
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddFooter.center.size = 9


def to_bytes(wb: Workbook, title: str | None = None) -> bytes:
    """The workbook as XLSX, every sheet set up for printing (:func:`print_setup`, with
    the report's ``title`` in the page header); every text cell of every sheet made text
    (:func:`as_text`) first, whichever way it was written: reports never write formulas."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                as_text(c)
        print_setup(ws, title)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def demand_label(summary: dict) -> str | None:
    """Which year's elderly population a result used, and from where (``summary.demand``,
    set when a target year was asked for, or a plan's target year); None for today's data."""
    d = summary.get("demand")
    if not d:
        return None
    from geoservice.services.demand import demand_text

    return demand_text(d)


def plan_label(summary: dict) -> str:
    """Which plan's sites a result counted (``summary.inputs.plan``), or that it is today's
    facilities only."""
    p = (summary.get("inputs") or {}).get("plan")
    if not p:
        return "无（现状设施）"
    note = f"；{p['note']}" if p.get("note") else ""
    return (f"规划方案“{p['name']}”（{p['status_label']}）：{p['sites']} 处站点，计入 "
            f"{p['sites_counted']} 处，床位 {p['beds']}；规划新增设施第 "
            f"{p['planned_sites_version']} 版{note}")


# --- travel cost (docs/network.md): the rows every report of an analysis on a cost shows ---

def cost_of(summary: dict) -> dict:
    """The result's ``summary["cost"]`` (straight line in metres when it has none)."""
    from geoservice.analysis.cost import STRAIGHT

    return summary.get("cost") or STRAIGHT.to_dict()


def unit_word(summary: dict) -> str:
    """米 or 分钟: the unit of the radius and of every distance of the result."""
    from geoservice.analysis.vocabulary import COST_UNITS

    return COST_UNITS.get(summary.get("radius_unit") or cost_of(summary)["unit"], "米")


def radius_label(summary: dict) -> str:
    """``服务半径(米)`` or ``服务半径(分钟)``."""
    return f"服务半径({unit_word(summary)})"


def cost_rows(summary: dict, versions: dict | None = None) -> list[tuple[str, object]]:
    """出行成本 (the cost's label) and, on a road network, the network's figures: roads,
    junctions, length, the snapping tolerance, the walk to the road, the default speed of
    each road class and how far the villages are from their road."""
    c = cost_of(summary)
    rows: list[tuple[str, object]] = [("出行成本", c.get("label") or c.get("kind_label"))]
    if c.get("kind") == "network":
        from layers.schema import KINDS, ROAD_CLASSES

        kind = c.get("network", "roads")
        label = KINDS[kind].label if kind in KINDS else kind
        version = (versions or {}).get(kind)
        layer = f"{label}图层" + (f"（第 {version} 版）" if version is not None else "")
        if c.get("roads") is not None:
            rows.append(("道路网", f"{layer}：{c['roads']:,} 条道路，{c.get('junctions', 0):,} 个节点，"
                                  f"共 {float(c.get('length_km') or 0):,.1f} 千米"))
        else:
            rows.append(("道路网", layer))
        if c.get("snap_tolerance_m") is not None:
            rows.append(("道路连通容差", f"{float(c['snap_tolerance_m']):g} 米（线端点和节点相距不超过此值视为连通）"))
        if c.get("field") == "time" and c.get("access_speed_kmh") is not None:
            rows.append(("村/设施到道路的步行速度", f"{float(c['access_speed_kmh']):g} 千米/小时"))
        speeds = c.get("speed_kmh") or {}
        if speeds:
            rows.append(("各等级默认车速（道路未填设计时速时）",
                         "，".join(f"{ROAD_CLASSES.get(k, k)} {float(v):g}"
                                   for k, v in speeds.items()) + " 千米/小时"))
        if c.get("village_snap_m_mean") is not None:
            rows.append(("村中心到道路距离",
                         f"平均 {c['village_snap_m_mean']:,.0f} 米，最大 "
                         f"{float(c.get('village_snap_m_max') or 0):,.0f} 米"))
    elif c.get("kind") == "matrix":
        rows.append(("OD 矩阵文件", c.get("matrix") or ""))
    return rows


def distance_method(summary: dict) -> str:
    """How the distances were computed (the 距离计算 row)."""
    c = cost_of(summary)
    crs = (summary.get("inputs") or {}).get("crs", "")
    if c.get("kind") == "network":
        return (f"沿道路网最短路径（{c.get('field_label', '')}，按服务半径截断），"
                f"村中心和设施沿最近道路接入，{crs}")
    if c.get("kind") == "matrix":
        return f"OD 矩阵给出的出行成本（{c.get('unit_label', '')}），矩阵中没有的村-设施对视为不可达"
    return f"直线距离，{crs}"
