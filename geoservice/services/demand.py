"""Elderly population of a target year: the demand coverage and siting can be computed for.

Two sources, checked here with Chinese messages:

- a projection table (CSV/XLSX: village or township code, year, elderly population); a
  township row is the township's total and spreads over its villages (those without a row
  of their own) in proportion to their current elderly population, in whole people;
- an annual growth rate, for the county or per township, compounding from the data year
  (``[demand] base_year``): projected = current × (1 + rate) ** (year − base_year), rounded
  to whole people.

The analyses take a villages frame: :func:`apply_demand` returns a copy of the villages with
``elderly_population`` replaced by the projected figure, and the ``summary["demand"]`` entry
saying which year's demand was used and where it came from. Nothing is ever stored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geoservice.analysis.settings import demand_defaults
from geoservice.errors import BadParameter
from geoservice.services.params import number, text
from layers.errors import Problem, ValidationError, group_lines
from layers.readers import DEFAULT_LIMITS, ImportLimits, read_small_table, table_row_numbers

__all__ = ["CURRENT", "DemandParams", "ProjectionRejected", "ProjectionTable", "apply_demand",
           "demand_params", "demand_text", "read_projection"]

CURRENT = "当前数据"
MAX_RATE = 0.5  # |annual growth| at most 50%

VILLAGE_HEADERS = ("村代码", "村(社区)代码", "村（社区）代码", "village_code")
TOWNSHIP_HEADERS = ("乡镇代码", "township_code")
CODE_HEADERS = ("代码", "区划代码", "行政区划代码", "code")
YEAR_HEADERS = ("年份", "年", "year")
ELDERLY_HEADERS = ("60岁以上人口", "60周岁以上人口", "老年人口", "elderly_population", "elderly")


class ProjectionRejected(ValidationError):
    """A projection table that cannot be used: every problem with file, row and field."""

    def __init__(self, name: str, problems: list[Problem]):
        super().__init__(problems)
        head = f"预测表“{name}”不能使用，共 {len(self.problems)} 处问题，未改动任何数据"
        Exception.__init__(self, head + "：\n" + "\n".join(group_lines(self.problems)[:50]))


@dataclass(frozen=True)
class ProjectionTable:
    """A projection table after its format checks: one row per line of the file with
    ``line`` (as a spreadsheet shows it), ``code``, ``kind`` (village / township / None when
    the file has one code column), ``field`` (the code's header), ``year``, ``elderly`` and
    ``valid`` (False: a row with a problem, kept so that its code is checked too)."""

    name: str
    rows: pd.DataFrame = field(compare=False, repr=False)
    # row-level problems of the format, reported with those only the workspace can tell
    # (unknown codes) when the table is applied: one list with every problem
    problems: tuple[Problem, ...] = field(default=(), compare=False, repr=False)

    @property
    def years(self) -> list[int]:
        return sorted({int(y) for y in self.rows.loc[self.rows["valid"], "year"]})


@dataclass(frozen=True)
class DemandParams:
    """Which year's demand: ``year`` None = the villages layer as it is (nothing changes)."""

    year: int | None = None
    base_year: int = 0
    county_rate: float | None = None  # given for the county (or for townships not listed)
    township_rates: tuple[tuple[str, float], ...] = ()
    projection: ProjectionTable | None = None
    growth_text: str | None = None

    @property
    def active(self) -> bool:
        return self.year is not None

    @property
    def given(self) -> bool:
        """Whether the demand's source was given in this request (rate or table)."""
        return (self.projection is not None or self.county_rate is not None
                or bool(self.township_rates))

    def query(self) -> dict:
        """``year`` and ``growth`` as text, for URLs and forms (a table cannot travel in a
        URL: a result from one says so in its ``summary.demand``)."""
        q: dict = {}
        if self.year is not None:
            q["year"] = self.year
        if self.growth_text:
            q["growth"] = self.growth_text
        return q


# --- parameters ---------------------------------------------------------------------------

def _rate(value: str, name: str = "growth") -> float:
    x = number(value, name, "年增长率", percent=True)
    if x is None:
        raise BadParameter(f"参数 {name}（年增长率）“{value}”不是数字")
    if text(value).endswith("%") or abs(x) > 1:
        x = x / 100.0
    if abs(x) > MAX_RATE:
        raise BadParameter(f"参数 {name}（年增长率）应在 -50% 到 50% 之间，而不是“{value}”")
    return x


def _growth(value) -> tuple[float | None, tuple[tuple[str, float], ...]]:
    """``0.03`` / ``3%`` (the county), ``511425102:0.03,511425108:2%`` (per township), or
    both (``0.02,511425102:3%``: the bare rate for the townships not listed)."""
    county: float | None = None
    townships: dict[str, float] = {}
    for item in (p for p in re.split(r"[,，;；\s]+", text(value)) if p):
        code, sep, rate = item.replace("：", ":").partition(":")
        if not sep:
            if county is not None:
                raise BadParameter(f"参数 growth（年增长率）只能给一个全县增长率，而“{value}”给了多个")
            county = _rate(item)
            continue
        code = code.strip()
        if not re.fullmatch(r"\d{9}", code):
            raise BadParameter(f"参数 growth（年增长率）中“{item}”的乡镇代码“{code}”应为 9 位数字"
                               "（格式：乡镇代码:增长率，如 511425102:0.03）")
        if code in townships:
            raise BadParameter(f"参数 growth（年增长率）中乡镇代码“{code}”出现了两次")
        townships[code] = _rate(rate.strip())
    return county, tuple(sorted(townships.items()))


def demand_params(year=None, growth=None, projection: ProjectionTable | None = None
                  ) -> DemandParams:
    """Check the target-year parameters given as text; defaults from defaults.toml."""
    d = demand_defaults()
    raw_year = text(year)
    if raw_year == "":
        if text(growth) or projection is not None:
            what = "预测表" if projection is not None else "参数 growth（年增长率）"
            raise BadParameter(f"给出了{what}，还需要参数 year（目标年份），如 2030")
        return DemandParams(base_year=d["base_year"])
    if not re.fullmatch(r"\d{4}", raw_year):
        raise BadParameter(f"参数 year（目标年份）“{year}”应为四位数的年份，如 2030")
    y = int(raw_year)
    low, high = d["base_year"], d["base_year"] + d["max_years"]
    if not low <= y <= high:
        raise BadParameter(f"参数 year（目标年份）应在 {low} 到 {high} 年之间（基准年 {low}，"
                           f"defaults.toml [demand]），而不是 {y}")
    if projection is not None and text(growth):
        raise BadParameter("参数 growth（年增长率）与预测表不能同时给出：请只用其中一种")
    county, townships = _growth(growth)
    return DemandParams(y, d["base_year"], county, townships, projection,
                        text(growth) or None)


# --- the projection table -----------------------------------------------------------------

def _header(columns, names) -> str | None:
    for c in columns:
        if str(c).strip() in names:
            return c
    return None


def _cell(value) -> str:
    s = "" if value is None else str(value).strip()
    if s.lower() in ("nan", "none"):
        return ""
    return s[:-2] if re.fullmatch(r"\d+\.0", s) else s


def read_projection(path: str | Path, filename: str | None = None,
                    limits: ImportLimits | None = None) -> ProjectionTable:
    """A projection table from CSV or XLSX, its format checked row by row.

    Raises :class:`ProjectionRejected` naming the file when it cannot be read as a table
    (format, encoding, missing columns). Row-level problems (a year or population that is
    not a number, a (code, year) pair given twice) are kept in ``problems`` and raised by
    :func:`apply_demand` together with the codes the workspace does not have."""
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    name = filename or path.name

    def reject(message: str, row: int | None = None, fld: str | None = None,
               value: str | None = None):
        return ProjectionRejected(name, [Problem(name, row, fld, message, value=value)])

    try:
        df = read_small_table(path, name, "预测表", limits)
    except ValidationError as exc:
        raise ProjectionRejected(name, exc.problems) from None

    cols = list(df.columns)
    village_col, township_col = _header(cols, VILLAGE_HEADERS), _header(cols, TOWNSHIP_HEADERS)
    code_col = _header(cols, CODE_HEADERS)
    year_col, elderly_col = _header(cols, YEAR_HEADERS), _header(cols, ELDERLY_HEADERS)
    missing = []
    if village_col is None and township_col is None and code_col is None:
        missing.append("村代码或乡镇代码（code）")
    if year_col is None:
        missing.append("年份（year）")
    if elderly_col is None:
        missing.append("60岁以上人口（elderly_population）")
    if missing:
        raise reject(f"缺少列：{'、'.join(missing)}；表头应为 村代码/乡镇代码、年份、60岁以上人口"
                     "（或 code、year、elderly_population）")
    if not len(df):
        raise reject("预测表没有数据行")

    problems: list[Problem] = []
    out: list[dict] = []
    seen: dict[tuple[str, int], int] = {}
    lines = table_row_numbers(path, Path(name).suffix.lower() or path.suffix.lower(), len(df))
    for i, rec in enumerate(df.to_dict(orient="records")):
        line = int(lines[i])  # as a spreadsheet shows it: the header is line 1
        code, kind, fld = "", None, None
        for col, k in ((village_col, "village"), (township_col, "township"), (code_col, None)):
            if col is not None and _cell(rec[col]):
                code, kind, fld = _cell(rec[col]), k, str(col).strip()
                break
        y_txt, e_txt = _cell(rec[year_col]), _cell(rec[elderly_col])
        if not code and not y_txt and not e_txt:
            continue  # a blank line
        ok = True
        if not code:
            problems.append(Problem(name, line, str(village_col or township_col or code_col)
                                    .strip(), "代码为空"))
            ok = False
        if not re.fullmatch(r"\d{4}", y_txt):
            problems.append(Problem(name, line, str(year_col).strip(),
                                    "年份不是四位数的年份" if y_txt else "年份为空",
                                    value=y_txt or None))
            ok = False
        elderly = None
        try:
            elderly = float(e_txt.replace(",", "")) if e_txt else None
        except ValueError:
            elderly = None
        if elderly is None or not math.isfinite(elderly) or elderly < 0:
            msg = ("60岁以上人口为空" if not e_txt else "60岁以上人口不是数字"
                   if elderly is None or not math.isfinite(elderly) else "60岁以上人口不能为负数")
            problems.append(Problem(name, line, str(elderly_col).strip(), msg,
                                    value=e_txt or None))
            ok = False
        if code and re.fullmatch(r"\d{4}", y_txt):
            key = (code, int(y_txt))
            if key in seen:
                problems.append(Problem(name, line, fld,
                                        f"代码与年份重复：与第 {seen[key]} 行是同一代码、同一年份",
                                        value=f"{code} {y_txt}"))
                ok = False
            else:
                seen[key] = line
        if code:  # every code is checked against the workspace; only good rows are used
            out.append({"line": line, "code": code, "kind": kind, "field": fld,
                        "year": int(y_txt) if ok else 0, "elderly": elderly if ok else 0.0,
                        "valid": ok})
    rows = pd.DataFrame(out, columns=["line", "code", "kind", "field", "year", "elderly",
                                      "valid"])
    return ProjectionTable(name, rows, tuple(problems))


# --- applying it --------------------------------------------------------------------------

def _half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=float) + 0.5).astype("int64")


def _spread(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` whole people over ``weights`` in proportion (largest remainder: the parts
    add up to ``total``; equal weights when all are zero)."""
    w = np.asarray(weights, dtype=float)
    if w.sum() <= 0:
        w = np.ones_like(w)
    quota = total * w / w.sum()
    base = np.floor(quota).astype("int64")
    left = int(total - base.sum())
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:left]] += 1
    return base


def _pct(rate: float) -> str:
    return f"{rate * 100:g}%"


def _township_names(townships) -> dict[str, str]:
    if townships is None or not len(townships) or "name" not in townships.columns:
        return {}
    return {str(c): str(n) for c, n in zip(townships["code"], townships["name"], strict=True)
            if isinstance(n, str) and n}


def demand_text(summary: dict | None, base_year: int | None = None) -> str:
    """One line a person reads about the demand used, e.g.
    ``2030 年（年增长率 3%（默认），基准年 2024 年）`` or ``当前数据（2024 年）``."""
    if not summary:
        year = base_year if base_year is not None else demand_defaults()["base_year"]
        return f"{CURRENT}（{year} 年）"
    plan = (f"；规划方案“{summary['from_plan']}”的目标年份" if summary.get("from_plan")
            else "")
    if summary["source"] == CURRENT:
        return f"{summary['year']} 年（{CURRENT}{plan}）"
    return f"{summary['year']} 年（{summary['source']}，基准年 {summary['base_year']} 年{plan}）"


def apply_demand(villages, params: DemandParams, townships=None):
    """A copy of ``villages`` with ``elderly_population`` of ``params.year``, and the
    ``summary["demand"]`` entry; ``(villages, None)`` unchanged when no year is asked for.

    Raises :class:`ProjectionRejected` (codes not in the workspace, villages the table
    leaves out for the year, township totals below their villages' own rows) or
    BadParameter (a township in ``growth`` that is not in the workspace)."""
    if not params.active:
        return villages, None
    current = villages["elderly_population"].to_numpy(dtype=float, na_value=0.0)
    v_codes = villages["code"].astype(str).to_numpy()
    t_codes = villages["township_code"].astype(str).to_numpy()
    n = params.year - params.base_year
    summary = {"year": params.year, "base_year": params.base_year, "source": CURRENT,
               "given": params.given}
    if params.projection is not None:
        projected = _projected_from_table(params.projection, params.year, v_codes, t_codes,
                                          current)
        summary["source"] = f"预测表 {params.projection.name}"
    elif n == 0 and not params.given:
        projected = _half_up(current)
    else:
        default = demand_defaults()["annual_growth"]
        known = set(t_codes)
        unknown = [c for c, _ in params.township_rates if c not in known]
        if unknown:
            raise BadParameter(f"参数 growth（年增长率）中的乡镇代码“{'、'.join(unknown)}”不是工作空间"
                               "中任何村(社区)的所属乡镇")
        fallback = params.county_rate if params.county_rate is not None else default
        by_township = dict(params.township_rates)
        rates = np.array([by_township.get(t, fallback) for t in t_codes], dtype=float)
        projected = _half_up(current * (1.0 + rates) ** n)
        mark = "" if params.county_rate is not None else "（默认）"
        if by_township:
            names = _township_names(townships)
            listed = "、".join(f"{names.get(c, c)} {_pct(r)}" for c, r in params.township_rates)
            rest = (f"；其他乡镇 {_pct(fallback)}{mark}"
                    if len(by_township) < len(known) else "")
            summary["source"] = f"年增长率（分乡镇）{listed}{rest}"
        else:
            summary["source"] = f"年增长率 {_pct(fallback)}{mark}"
    out = villages.copy()
    dtype = "Int64" if str(villages["elderly_population"].dtype) == "Int64" else "int64"
    out["elderly_population"] = pd.array(projected, dtype=dtype)
    return out, summary


def _projected_from_table(table: ProjectionTable, year: int, v_codes: np.ndarray,
                          t_codes: np.ndarray, current: np.ndarray) -> np.ndarray:
    name = table.name
    rows = table.rows
    villages_set, townships_set = set(v_codes), set(t_codes)
    problems: list[Problem] = list(table.problems)
    kinds: list[str | None] = []
    for r in rows.itertuples():
        kind = r.kind
        if kind is None:
            kind = ("village" if r.code in villages_set else
                    "township" if r.code in townships_set else None)
        ok = (r.code in villages_set if kind == "village" else
              r.code in townships_set if kind == "township" else False)
        if not ok:
            what = {"village": "村(社区)", "township": "乡镇"}.get(kind, "村(社区)或乡镇")
            problems.append(Problem(name, int(r.line), r.field,
                                    f"代码不是工作空间中的{what}代码", value=r.code))
        kinds.append(kind if ok else None)
    if problems:
        raise ProjectionRejected(name, sorted(problems, key=lambda p: (p.row or 0)))
    rows = rows.assign(kind=kinds)
    this = rows[rows["valid"] & (rows["year"] == year)]
    if not len(this):
        years = "、".join(str(y) for y in table.years)
        raise ProjectionRejected(name, [Problem(name, None, "年份",
                                                f"预测表中没有 {year} 年的数据（表中年份：{years}）")])
    out = np.full(len(v_codes), -1, dtype="int64")
    position = {c: i for i, c in enumerate(v_codes)}
    for r in this[this["kind"] == "village"].itertuples():
        out[position[r.code]] = _half_up([r.elderly])[0]
    for r in this[this["kind"] == "township"].itertuples():
        members = np.flatnonzero(t_codes == r.code)
        own = members[out[members] >= 0]
        rest = members[out[members] < 0]
        total = int(_half_up([r.elderly])[0]) - int(out[own].sum())
        if total < 0 or (not len(rest) and total != 0):
            problems.append(Problem(
                name, int(r.line), r.field,
                f"乡镇合计与该乡镇已单列的村(社区)之和不符（单列村合计 {int(out[own].sum())} 人）",
                value=f"{r.code} {_half_up([r.elderly])[0]}"))
            continue
        if len(rest):
            out[rest] = _spread(total, current[rest])
    missing = np.flatnonzero(out < 0)
    if len(missing) and not problems:
        listed = "、".join(str(v_codes[i]) for i in missing[:10])
        more = f" 等 {len(missing)} 个" if len(missing) > 10 else ""
        problems.append(Problem(name, None, "代码",
                                f"{year} 年缺少村(社区) {listed}{more} 的数据（既无村行，也无所属乡镇行）"))
    if problems:
        raise ProjectionRejected(name, problems)
    return out
