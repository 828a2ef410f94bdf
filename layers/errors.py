"""Errors raised while reading, validating and storing layers.

Messages are in Chinese: they reach the people who import the data.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located by file, row and field.

    ``row`` is the line of a CSV/XLSX sheet as a spreadsheet shows it (the header is
    line 1) or the 1-based feature number of a GeoJSON/GeoPackage/Shapefile; ``None``
    when the problem concerns the whole file.

    ``value`` is what the row holds (a code, two numbers compared), kept out of the
    message so that the same defect on many rows reads as one line
    (:func:`group_problems`); it is shown in the per-row text and the CSV.
    The same class carries import warnings (a defect imported, not refused).
    """

    file: str
    row: int | None
    field: str | None
    message: str
    unit: str = "行"  # 行 (spreadsheet line) or 要素 (feature)
    value: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"第 {self.row} {_unit_word(self.unit)}")
        if self.field and not self.message.startswith(self.field):
            where.append(f"字段“{self.field}”")
        value = "" if self.value is None else f"（“{self.value}”）"
        return f"{'，'.join(where)}：{self.message}{value}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["text"] = str(self)
        return d

    @property
    def kind(self) -> str:
        """The kind of problem: the field and the message without the values quoted in it
        (``坐标“abc”不是数字`` and ``坐标“东经”不是数字`` are one kind)."""
        general = general_message(self.message)
        return f"{self.field}：{general}" if self.field else general


def general_message(message: str) -> str:
    """A message without the values quoted in it or numbered in parentheses."""
    general = _QUOTED.sub("“…”", message)
    return _NUMBERED.sub(lambda m: m.group(1) + "…" + m.group(3), general)


def _unit_word(unit: str) -> str:
    return "个要素" if unit == "要素" else "行"


class ProblemList(tuple):
    """An immutable list of problems that pandas copies by reference: a GeoDataFrame's
    ``attrs`` are deep-copied by most pandas operations, and a long list of warnings
    must not be copied with each."""

    def __deepcopy__(self, memo) -> ProblemList:
        return self


_QUOTED = re.compile(r"“[^”]*”")
# a parenthesised part holding a number: positions, counts, "第 3 行"
_NUMBERED = re.compile(r"([（(])([^（()）]*\d[^（()）]*)([）)])")

# What a spreadsheet would run as a formula when a cell starts with it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(text: str) -> str:
    """Text that a spreadsheet shows as text: a leading ``'`` before = + - @ (tab, CR)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def problem_counts(problems: Iterable[Problem]) -> list[dict]:
    """How many problems of each kind, most frequent first (``kind``, ``count``)."""
    counts = Counter(p.kind for p in problems)
    return [{"kind": k, "count": n} for k, n in counts.most_common()]


# Rows listed in a group of identical problems before "等" (the rest are in the CSV).
GROUP_ROWS_SHOWN = 10


def group_problems(problems: Iterable[Problem], rows_shown: int = GROUP_ROWS_SHOWN
                   ) -> list[dict]:
    """Identical problems as one entry each: the same file, field and message (values
    quoted in the message aside, see :attr:`Problem.kind`) on many rows.

    Each group: ``file``, ``field``, ``unit``, ``message`` (the message itself when every
    row has the same, else its general form with “…” for the values), ``count``,
    ``rows`` (the first ``rows_shown`` rows), ``rows_more`` (how many more), ``value``
    (the value when the group is one problem) and ``text``, one line in Chinese such as
    ``v.geojson，103 个要素：乡镇代码为 6 位，应为 9 位（第 2、3、5 个要素等）``.
    Whole-file problems come first, then the largest groups; ties keep the file's order.
    """
    groups: dict[tuple, dict] = {}
    for p in problems:
        key = (p.file, p.field, p.unit, p.row is None, general_message(p.message))
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"file": p.file, "field": p.field, "unit": p.unit,
                               "message": p.message, "count": 0, "rows": [],
                               "rows_more": 0, "value": p.value, "_first": p,
                               "_seen": set()}
        elif g["message"] != p.message:
            g["message"] = key[-1]
        g["count"] += 1
        if p.row is not None and p.row not in g["_seen"]:
            g["_seen"].add(p.row)
            if len(g["rows"]) < rows_shown:
                g["rows"].append(p.row)
            else:
                g["rows_more"] += 1
    out = []
    for g in groups.values():
        first, seen = g.pop("_first"), g.pop("_seen")
        if g["count"] > 1:
            g["value"] = None
        g["text"] = str(first) if g["count"] == 1 and len(seen) <= 1 else _group_text(g)
        out.append(g)
    order = {id(g): i for i, g in enumerate(out)}
    out.sort(key=lambda g: (bool(g["rows"]), -g["count"], order[id(g)]))
    return out


def _group_text(g: dict) -> str:
    unit = _unit_word(g["unit"])
    message, field = g["message"], g["field"]
    where = [g["file"], f"{g['count']} {unit}" if g["rows"] else f"{g['count']} 处"]
    if field and not message.startswith(field):
        where.append(f"字段“{field}”")
    if not g["rows"]:
        return f"{'，'.join(where)}：{message}"
    rows = "、".join(str(r) for r in g["rows"])
    more = "等" if g["rows_more"] else ""
    return f"{'，'.join(where)}：{message}（第 {rows} {unit}{more}）"


def group_lines(problems: Iterable[Problem], rows_shown: int = GROUP_ROWS_SHOWN) -> list[str]:
    """The ``text`` of each group of :func:`group_problems`."""
    return [g["text"] for g in group_problems(problems, rows_shown)]


def warnings_summary(warnings: Iterable[Problem], rows_shown: int = GROUP_ROWS_SHOWN
                     ) -> dict:
    """What an import reports of the defects it imported: ``warning_count`` and
    ``warnings``, grouped (:func:`group_problems`); the per-row list goes to
    :func:`problems_csv`."""
    warnings = list(warnings)
    return {"warning_count": len(warnings), "warnings": group_problems(warnings, rows_shown)}


def problems_csv(problems: Iterable[Problem],
                 escape: Callable[[str], str] = excel_safe) -> bytes:
    """Every problem (or warning) as CSV (UTF-8 with BOM, so Excel reads the Chinese), one
    row each: 文件, 行/要素, 字段, 问题, 值, 问题类别. Text a spreadsheet would run as a
    formula is written as text (``escape``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["文件", "位置", "字段", "问题", "值", "问题类别"])
    for p in problems:
        where = "整个文件" if p.row is None else f"第 {p.row} {_unit_word(p.unit)}"
        w.writerow([escape(p.file), where, escape(p.field or ""), escape(p.message),
                    escape("" if p.value is None else str(p.value)), escape(p.kind)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


class LayerError(Exception):
    """Base of the errors of the ``layers`` package."""


class ValidationError(LayerError):
    """An input was rejected; ``problems`` lists every row-level problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        head = f"导入被拒绝，共 {len(self.problems)} 处问题，未写入任何数据"
        # Identical problems as one line each (the whole list: problems_csv).
        super().__init__(head + "：\n" + "\n".join(group_lines(self.problems)[:50]))

    def counts(self) -> list[dict]:
        """How many problems of each kind (see :attr:`Problem.kind`), most frequent first."""
        return problem_counts(self.problems)

    def summary(self, shown: int) -> dict:
        """What a page or an API shows of a long list: the total, the count of each kind
        and the first ``shown`` problems (the whole list goes to :func:`problems_csv`),
        and identical problems grouped with their rows (``problem_groups``,
        :func:`group_problems`)."""
        return {"problem_count": len(self.problems), "problem_counts": self.counts(),
                "problem_groups": group_problems(self.problems),
                "problems": [p.to_dict() for p in self.problems[:shown]],
                "problems_shown": min(shown, len(self.problems)),
                "problems_truncated": len(self.problems) > shown}


class StoreError(LayerError):
    """The workspace cannot be opened or written."""


class LayerNotFound(LayerError):
    """A layer kind or version that the workspace does not hold."""
