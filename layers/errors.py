"""Errors raised while reading, validating and storing layers.

Messages are in Chinese: they reach the people who import the data.
"""

from __future__ import annotations

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


class LayerError(Exception):
    """Base of the errors of the ``layers`` package."""


class ValidationError(LayerError):
    """An input was rejected; ``problems`` lists every row-level problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        head = f"导入被拒绝，共 {len(self.problems)} 处问题，未写入任何数据"
        super().__init__(head + "：\n" + "\n".join(str(p) for p in self.problems[:50]))


class StoreError(LayerError):
    """The workspace cannot be opened or written."""


class LayerNotFound(LayerError):
    """A layer kind or version that the workspace does not hold."""
