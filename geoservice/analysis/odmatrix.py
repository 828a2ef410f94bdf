"""Travel cost read from an origin-destination matrix the user supplies (docs/network.md).

A matrix comes from elsewhere (a routing service, ArcGIS "OD Cost Matrix"): one row per
(village, destination) pair with its cost, in CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX:

- origin: the village's 12-digit code (村代码 / origin ...);
- destination: the name of a facility or candidate, unique in its layer (设施 / 候选点 /
  destination ...); when the candidates are the village centres, their names are the
  village codes;
- cost: metres or minutes, as the user says (``unit``: ``m`` or ``min``, never guessed).

:func:`read_od_matrix` checks the file row by row; :func:`matrix_costs` binds it to the
villages (by position) and the destination sets and returns a :class:`MatrixCosts`, the
:class:`~geoservice.analysis.cost.Costs` every analysis asks. Pairs absent from the
matrix are unreachable (``inf``). Every problem is reported at once, with file, row (as a
spreadsheet shows it: the header is row 1) and field, in one :class:`InvalidInput` whose
``problems`` attribute holds the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from geoservice.analysis.cost import Costs, CostSource, CostSpec, nearest_from_pairs, pairs_sorted
from geoservice.analysis.errors import InvalidInput
from geoservice.analysis.vocabulary import COST_UNITS
from layers.errors import Problem, ValidationError, group_lines
from layers.readers import DEFAULT_LIMITS, ImportLimits, read_small_table, table_row_numbers

__all__ = ["DESTINATION_SETS", "MatrixCosts", "MatrixSource", "ODTable", "matrix_costs",
           "read_od_matrix"]

# header aliases, compared case-insensitively after stripping (and without a trailing
# unit in brackets: 距离（米）, time (min))
ORIGIN_HEADERS = ("村代码", "村(社区)代码", "村（社区）代码", "起点", "起点代码", "origin",
                  "origin_code", "from")
DESTINATION_HEADERS = ("设施", "设施名称", "候选点", "终点", "目的地", "destination", "dest",
                       "to")
COST_HEADERS = ("距离", "时间", "费用", "成本", "出行时间", "通行时间", "cost", "distance",
                "time", "minutes", "metres")
# units a cost header may carry; a header naming the other unit than the one given is an error
_HEADER_UNITS = {"m": "m", "米": "m", "metres": "m", "meters": "m",
                 "min": "min", "分钟": "min", "minutes": "min", "mins": "min",
                 "km": "公里", "公里": "公里", "千米": "公里", "h": "小时", "小时": "小时",
                 "hours": "小时"}
# how the messages name each destination set
DESTINATION_SETS = {"facilities": "设施图层", "candidates": "候选点"}
PROBLEMS_LISTED = 50  # lines in the message (grouped); the whole list is in ``problems``

_TRAILING_UNIT = re.compile(r"\s*[（(]([^（()）]*)[）)]\s*$")
_INT_FLOAT = re.compile(r"[+-]?\d+\.0*")
_SCIENTIFIC = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")


@dataclass(frozen=True)
class ODTable:
    """An OD matrix after its format checks: one entry per data row, in file order.

    ``line`` is the row as a spreadsheet shows it (the header is row 1); ``origin`` the
    village code as text (numbers written by Excel turned back into digits),
    ``destination`` the name, ``cost`` a finite number >= 0 in ``unit``; ``fields`` the
    headers of the origin, destination and cost columns as the file writes them."""

    name: str
    unit: str
    line: np.ndarray = field(repr=False, compare=False)
    origin: np.ndarray = field(repr=False, compare=False)
    destination: np.ndarray = field(repr=False, compare=False)
    cost: np.ndarray = field(repr=False, compare=False)
    fields: tuple[str, str, str] = ("", "", "")

    def __len__(self) -> int:
        return len(self.line)

    def spec(self) -> CostSpec:
        """The cost this table gives, for provenance (kind ``matrix``, unit, file name)."""
        return CostSpec(kind="matrix", unit=self.unit, matrix_name=self.name)


def _reject(head: str, problems: list[Problem], name: str) -> InvalidInput:
    problems = sorted(problems, key=lambda p: (p.row is not None, p.row or 0))
    lines = group_lines(problems)
    more = (f"\n……另有 {len(lines) - PROBLEMS_LISTED} 类问题未列出"
            if len(lines) > PROBLEMS_LISTED else "")
    exc = InvalidInput(f"{head}，共 {len(problems)} 处问题：\n"
                       + "\n".join(lines[:PROBLEMS_LISTED]) + more, name=name)
    exc.problems = problems
    return exc


def _unit(unit) -> str:
    u = "" if unit is None else str(unit).strip().lower()
    if u not in COST_UNITS:
        given = f"，而不是“{unit}”" if u else "；OD 矩阵的成本单位不做猜测，必须给出"
        raise InvalidInput(f"参数 cost_unit（成本单位）应为 m（米）或 min（分钟）{given}",
                           name="cost_unit")
    return u


def _each_distinct(values, fn) -> np.ndarray:
    """``fn`` of each value as an object array, computed once per distinct value (codes and
    names repeat on every row of a matrix); ``fn(None)`` for missing ones (None, NaN)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object).reshape(-1),
                                  use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [fn(v) for v in uniques]
    table[-1] = fn(None)
    return table[codes]


def _text(v) -> str:
    return "" if v is None else str(v).strip()


def _texts(col: pd.Series) -> np.ndarray:
    """Each cell as stripped text ("" for an empty XLSX cell)."""
    return _each_distinct(col.to_numpy(dtype=object), _text)


def _as_code(text: str) -> str:
    """A code or name that a spreadsheet wrote as a number (``511425102201.0``,
    ``5.11425102201E+11``) as its digits; any other text unchanged."""
    if _INT_FLOAT.fullmatch(text):
        return text.split(".")[0]
    if _SCIENTIFIC.fullmatch(text):
        try:
            d = Decimal(text)
        except InvalidOperation:
            return text
        if d == d.to_integral_value():
            return str(int(d))
    return text


def _codes(values) -> np.ndarray:
    """Codes or names as text, as :func:`_as_code` reads them ("" for a missing one)."""
    return _each_distinct(values, lambda v: _as_code(_text(v)))


def _find(columns: list[str], aliases: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """The columns whose header is one of ``aliases`` (``时间（分钟）`` is ``时间``), with the
    unit in brackets their header ends with."""
    want = {a.lower() for a in aliases}
    out = []
    for c in columns:
        h = str(c).strip()
        m = _TRAILING_UNIT.search(h)
        if h.lower() in want:
            out.append((c, None))
        elif m and h[:m.start()].lower() in want:
            out.append((c, m.group(1).strip().lower()))
    return out


def read_od_matrix(path: str | Path, filename: str | None = None, *, unit: str,
                   limits: ImportLimits | None = None) -> ODTable:
    """An OD matrix from CSV or XLSX, checked row by row.

    ``filename`` is the name the user knows the file by (an upload's temporary file has
    another); ``unit`` (``m`` or ``min``) is the unit of the cost column. Raises
    :class:`InvalidInput` (``name="cost_unit"`` for the unit, ``"cost_matrix"`` for the
    file) listing every problem with file, row and field: an unreadable file, a missing
    column, an empty origin or destination, a cost that is not a number, negative or not
    finite, a (origin, destination) pair given twice."""
    unit = _unit(unit)
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    name = filename or path.name
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    head = f"OD 矩阵“{name}”不能使用"

    def reject(message: str, row: int | None = None, fld: str | None = None,
               name_: str = "cost_matrix") -> InvalidInput:
        return _reject(head, [Problem(name, row, fld, message)], name_)

    try:
        df = read_small_table(path, name, "OD 矩阵", limits)
    except ValidationError as exc:
        raise _reject(head, exc.problems, "cost_matrix") from None

    cols = list(df.columns)
    found = {role: _find(cols, aliases) for role, aliases in (
        ("origin", ORIGIN_HEADERS), ("destination", DESTINATION_HEADERS),
        ("cost", COST_HEADERS))}
    what = {"origin": "起点村代码（村代码 / origin）", "destination": "终点设施或候选点名称（设施 / 候选点 / destination）",
            "cost": "成本（距离 / 时间 / cost）"}
    missing = [what[r] for r, f in found.items() if not f]
    if missing:
        raise reject(f"缺少列：{'、'.join(missing)}；表头应为 村代码、设施（或候选点）、距离（或时间），"
                     "或 origin、destination、cost")
    for role, f in found.items():
        if len(f) > 1:
            names = "”“".join(str(c).strip() for c, _ in f)
            raise reject(f"有多列都可作为{what[role]}：“{names}”；请只保留一列")
    (ocol, _), (dcol, _), (ccol, cunit) = (found[r][0] for r in ("origin", "destination", "cost"))
    ofld, dfld, cfld = (str(c).strip() for c in (ocol, dcol, ccol))
    implied = _HEADER_UNITS.get(cunit or "") or _HEADER_UNITS.get(cfld.lower())
    if implied and implied != unit:
        raise reject(f"成本列“{cfld}”的单位是{COST_UNITS.get(implied, implied)}，与参数 cost_unit 给出的"
                     f"{COST_UNITS[unit]}（{unit}）不符" + ("；请先换算为米或分钟" if implied not in
                                                             COST_UNITS else ""),
                     None, cfld, "cost_unit")
    if not len(df):
        raise reject("OD 矩阵没有数据行")

    lines = table_row_numbers(path, suffix, len(df))
    o_raw, d_raw, c_txt = _texts(df[ocol]), _texts(df[dcol]), _texts(df[ccol])
    keep = (o_raw != "") | (d_raw != "") | (c_txt != "")  # blank rows are not records
    lines, o_raw, d_raw, c_txt = lines[keep], o_raw[keep], d_raw[keep], c_txt[keep]
    if not len(lines):
        raise reject("OD 矩阵没有数据行")
    origin, dest = _codes(o_raw), _codes(d_raw)
    cost = pd.to_numeric(pd.Series(c_txt, dtype=object).str.replace(",", "", regex=False),
                         errors="coerce").to_numpy(float)

    problems: list[Problem] = []
    for i in np.flatnonzero(origin == ""):
        problems.append(Problem(name, int(lines[i]), ofld, "起点村代码为空"))
    for i in np.flatnonzero(dest == ""):
        problems.append(Problem(name, int(lines[i]), dfld, "终点名称为空"))
    with np.errstate(invalid="ignore"):
        suspect = ~(cost >= 0) | ~np.isfinite(cost)
    for i in np.flatnonzero(suspect):
        t, c = c_txt[i], cost[i]
        if t == "":
            msg = "成本为空"
        elif np.isnan(c) and t.lower().lstrip("+-") != "nan":
            msg = "成本不是数字"
        elif not np.isfinite(c):
            msg = "成本不是有限的数"
        else:
            msg = "成本不能为负数"
        problems.append(Problem(name, int(lines[i]), cfld, msg, value=t or None))
    pairs = pd.DataFrame({"o": origin, "d": dest, "line": lines})
    named = (origin != "") & (dest != "")
    dup = pairs[named].duplicated(["o", "d"], keep=False)
    if dup.any():
        group = pairs[named][dup.to_numpy()]
        first = group.groupby(["o", "d"], sort=False)["line"].transform("min").to_numpy()
        for r, f in zip(group.itertuples(index=False), first, strict=True):
            if r.line != f:
                problems.append(Problem(
                    name, int(r.line), f"{ofld}、{dfld}",
                    f"起点与终点重复：与第 {f} 行是同一对起点和终点",
                    value=f"{r.o} → {r.d}"))
    if problems:
        raise _reject(head, problems, "cost_matrix")
    return ODTable(name, unit, lines, origin, dest, cost, (ofld, dfld, cfld))


# --- binding the table to the layers --------------------------------------------------------

def _expand(j: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For destination positions ``j``: (which entries are kept, their index in ``cols``);
    a position listed twice in ``cols`` keeps its pair twice."""
    order = np.argsort(cols, kind="stable")
    sc = cols[order]
    lo, hi = np.searchsorted(sc, j, "left"), np.searchsorted(sc, j, "right")
    count = hi - lo
    rows = np.repeat(np.arange(len(j)), count)
    starts = np.repeat(lo, count)
    offset = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    return rows, order[starts + offset]


@dataclass
class MatrixCosts(Costs):
    """Costs read from an OD matrix: per destination set the (village, destination,
    cost) triples the matrix gives, sorted by village then destination position."""

    n: int                                          # villages
    pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    sizes: dict[str, int]                           # destinations per set
    spec: CostSpec = field(default_factory=lambda: CostSpec(kind="matrix"))
    rows: int = 0                                   # data rows of the matrix

    def _pairs(self, to: str, cols):
        i, j, c = self.pairs[to]
        if cols is None:
            return i, j, c, self.sizes[to]
        cols = np.asarray(cols, dtype=np.intp).reshape(-1)
        keep, k = _expand(j, cols)
        i, k, c = pairs_sorted(i[keep], k, c[keep], len(cols))
        return i, k, c, len(cols)

    def size(self, to: str, cols=None) -> int:
        return self.sizes[to] if cols is None else len(np.asarray(cols).reshape(-1))

    def within(self, to: str, cutoff: float, cols=None):
        i, j, c, _ = self._pairs(to, cols)
        keep = c <= cutoff
        return i[keep], j[keep], c[keep]

    def nearest(self, to: str, cols=None):
        i, j, c, _ = self._pairs(to, cols)
        return nearest_from_pairs(i, j, c, self.n)

    def dense(self, to: str, cols=None) -> np.ndarray:
        i, j, c, m = self._pairs(to, cols)
        d = np.full((self.n, m), np.inf)
        d[i, j] = c
        return d

    def describe(self) -> dict:
        d = self.spec.to_dict()
        d["matrix_rows"] = self.rows
        d["matrix_pairs"] = {to: int(len(p[0])) for to, p in self.pairs.items()}
        return d


def matrix_costs(table: ODTable, village_codes, destinations: dict[str, object],
                 spec: CostSpec | None = None, other_names=()) -> MatrixCosts:
    """The costs of ``table`` from the villages (``village_codes``, by position) to each
    destination set (``destinations``: set name → names by position, e.g.
    ``{"facilities": names, "candidates": names}``; candidates at the village centres are
    named by their village codes).

    A name may be in several sets (a facility and a candidate of the same name): it is the
    same place, and its rows give the cost to both. Raises :class:`InvalidInput`
    (``name="cost_matrix"``) listing, with row and field: a village code not in the
    villages layer, or in it more than once; a name found in no set, or not unique in a set
    that holds it. ``other_names``: destinations the workspace knows but this run does not
    use (facilities of another level, a candidates layer in a coverage run): their rows
    are left out, not refused."""
    spec = spec or table.spec()
    if spec.unit != table.unit:
        raise InvalidInput(f"OD 矩阵“{table.name}”按 {table.unit} 读入，与所用成本单位 {spec.unit} 不符",
                           name="cost_unit")
    codes = _codes(np.asarray(village_codes, dtype=object).reshape(-1))
    n = len(codes)
    name, (ofld, dfld, _) = table.name, table.fields
    problems: list[Problem] = []

    counts = pd.Series(codes, dtype=object).value_counts()
    first = pd.Series(np.arange(n)).groupby(codes, sort=False).min()
    vpos = pd.Index(first.index).get_indexer(table.origin)
    vpos = np.where(vpos >= 0, first.to_numpy()[np.maximum(vpos, 0)], -1)
    many = counts.reindex(table.origin).to_numpy()
    for k in np.flatnonzero(vpos < 0):
        problems.append(Problem(name, int(table.line[k]), ofld, "村(社区)图层中没有这个代码",
                                value=str(table.origin[k])))
    for k in np.flatnonzero((vpos >= 0) & (many > 1)):
        problems.append(Problem(
            name, int(table.line[k]), ofld,
            f"代码在村(社区)图层中不唯一（有 {int(many[k])} 个村(社区)用这个代码），无法确定是哪一个",
            value=str(table.origin[k])))

    known = np.zeros(len(table), dtype=bool)
    positions: dict[str, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for to, names in destinations.items():
        label = DESTINATION_SETS.get(to, to)
        names = _codes(np.asarray(names, dtype=object).reshape(-1))
        sizes[to] = len(names)
        ncount = pd.Series(names, dtype=object).value_counts()
        firsts = pd.Series(np.arange(len(names))).groupby(names, sort=False).min()
        firsts = firsts[firsts.index != ""]
        pos = pd.Index(firsts.index).get_indexer(table.destination)
        pos = (np.where(pos >= 0, firsts.to_numpy()[np.maximum(pos, 0)], -1) if len(firsts)
               else np.full(len(table), -1))  # an empty set (green field): nothing found
        known |= pos >= 0
        dups = ncount.reindex(table.destination).to_numpy()
        for k in np.flatnonzero((pos >= 0) & (dups > 1)):
            problems.append(Problem(
                name, int(table.line[k]), dfld,
                f"名称在{label}中不唯一（{label}中有 {int(dups[k])} 个同名），无法确定是哪一个",
                value=str(table.destination[k])))
        positions[to] = pos
    where = "、".join(DESTINATION_SETS.get(to, to) for to in destinations) or "目的地"
    if len(other_names):
        other = _codes(np.asarray(list(other_names), dtype=object).reshape(-1))
        known |= pd.Series(table.destination, dtype=object).isin(set(other)).to_numpy()
    for k in np.flatnonzero(~known):
        problems.append(Problem(name, int(table.line[k]), dfld, f"在{where}中找不到这个名称",
                                value=str(table.destination[k])))
    if problems:
        raise _reject(f"OD 矩阵“{name}”与图层不符", problems, "cost_matrix")

    vpos = vpos.astype(np.intp)
    pairs = {}
    for to, pos in positions.items():
        hit = pos >= 0
        pairs[to] = pairs_sorted(vpos[hit], pos[hit].astype(np.intp),
                                 table.cost[hit].astype(float), sizes[to])
    return MatrixCosts(n=n, pairs=pairs, sizes=sizes, spec=spec, rows=len(table))


class MatrixSource(CostSource):
    """An OD matrix as the cost source a service hands an analysis: bound to the villages
    (by code) and destination sets (by name) the analysis works on."""

    def __init__(self, table: ODTable, spec: CostSpec | None = None, other_names=()):
        self.table = table
        self.spec = spec or table.spec()
        self.other_names = tuple(other_names)

    def bind(self, origins, places, *, crs=None, origin_codes=None, names=None) -> MatrixCosts:
        """:func:`matrix_costs` for ``origin_codes`` and ``names[set]`` of each set in
        ``places`` (the coordinates are not used: the matrix gives the costs)."""
        names = names or {}
        n = len(np.asarray(origins).reshape(-1, 2))
        sets = {}
        for to, xy in places.items():
            got = np.asarray(names.get(to, []), dtype=object).reshape(-1)
            if len(got) != len(np.asarray(xy).reshape(-1, 2)):
                raise InvalidInput(f"OD 矩阵需要{DESTINATION_SETS.get(to, to)}的名称，"
                                   "以便与矩阵中的终点对应", name="cost_matrix")
            sets[to] = got
        codes = np.asarray([] if origin_codes is None else origin_codes, dtype=object)
        if len(codes.reshape(-1)) != n:
            raise InvalidInput("OD 矩阵需要村(社区)代码，以便与矩阵中的起点对应", name="cost_matrix")
        return matrix_costs(self.table, codes, sets, self.spec, self.other_names)
