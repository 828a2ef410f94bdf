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
    """

    file: str
    row: int | None
    field: str | None
    message: str
    unit: str = "行"  # 行 (spreadsheet line) or 要素 (feature)

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"第 {self.row} {'个要素' if self.unit == '要素' else '行'}")
        if self.field:
            where.append(f"字段“{self.field}”")
        return f"{'，'.join(where)}：{self.message}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["text"] = str(self)
        return d

    @property
    def kind(self) -> str:
        """The kind of problem: the field and the message without the values quoted in it
        (``坐标“abc”不是数字`` and ``坐标“东经”不是数字`` are one kind)."""
        general = _QUOTED.sub("“…”", self.message)
        general = _NUMBERED.sub(lambda m: m.group(1) + "…" + m.group(3), general)
        return f"{self.field}：{general}" if self.field else general


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


def problems_csv(problems: Iterable[Problem],
                 escape: Callable[[str], str] = excel_safe) -> bytes:
    """Every problem as CSV (UTF-8 with BOM, so Excel reads the Chinese), one row each:
    文件, 行/要素, 字段, 问题, 问题类别. Text a spreadsheet would run as a formula is
    written as text (``escape``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["文件", "位置", "字段", "问题", "问题类别"])
    for p in problems:
        where = "整个文件" if p.row is None else (
            f"第 {p.row} {'个要素' if p.unit == '要素' else '行'}")
        w.writerow([escape(p.file), where, escape(p.field or ""), escape(p.message),
                    escape(p.kind)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


class LayerError(Exception):
    """Base of the errors of the ``layers`` package."""


class ValidationError(LayerError):
    """An input was rejected; ``problems`` lists every row-level problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        head = f"导入被拒绝，共 {len(self.problems)} 处问题，未写入任何数据"
        super().__init__(head + "：\n" + "\n".join(str(p) for p in self.problems[:50]))

    def counts(self) -> list[dict]:
        """How many problems of each kind (see :attr:`Problem.kind`), most frequent first."""
        return problem_counts(self.problems)

    def summary(self, shown: int) -> dict:
        """What a page or an API shows of a long list: the total, the count of each kind
        and the first ``shown`` problems (the whole list goes to :func:`problems_csv`)."""
        return {"problem_count": len(self.problems), "problem_counts": self.counts(),
                "problems": [p.to_dict() for p in self.problems[:shown]],
                "problems_shown": min(shown, len(self.problems)),
                "problems_truncated": len(self.problems) > shown}


class StoreError(LayerError):
    """The workspace cannot be opened or written."""


class LayerNotFound(LayerError):
    """A layer kind or version that the workspace does not hold."""
