"""File -> validated GeoDataFrame in CGCS2000, or a ValidationError listing every problem.

Formats: GeoJSON, GeoPackage, zipped Shapefile (``.cpg`` honoured when the text decodes in
it; without one, UTF-8 when the text decodes as UTF-8, else GBK), CSV and XLSX with
coordinate columns (or a WKT column for polygons). Nothing is half-imported: either the
whole file is read or the caller gets the list of problems.

Refused (problems): what cannot be read. Imported with warnings (``gdf.attrs["warnings"]``,
:class:`~layers.errors.Problem` each): the defects a reviewer must see, kept as given
so that the boundary review can report them. For every kind, codes that are not the
statistical division codes they should be (length, characters, the NBS segment ranges);
for villages and townships (:data:`REVIEWED_KINDS`) also duplicate codes, a village
code not under its township, more elderly than residents, and polygons that are
invalid but repairable (stored as ``shapely.make_valid`` made them, still polygons).

Hostile or oversized input is refused before it costs anything (:class:`ImportLimits`):
zip archives (zipped Shapefiles, XLSX) are checked from their directory before a byte is
inflated (total size, ratio, member count, ``..``/absolute member names), and the feature
or row count before the records are read. Messages name the file by the name the user
gave it (``filename``), never a temporary path, and never carry GDAL's English.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import tempfile
import zipfile
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from . import crs as crsmod
from .errors import Problem, ProblemList, ValidationError
from .schema import LINE, REPAIR_COLUMN, LayerKind, get_kind

# Integer fields are stored as 64-bit integers: larger whole numbers are a problem, not a crash.
INT_LIMIT = 2.0 ** 63
TOO_BIG = "超出整数的可用范围（最大约 9.2×10¹⁸）"
GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".zip", ".shp"}
TABLE_SUFFIXES = {".csv", ".xlsx"}
SUPPORTED = "GeoJSON(.geojson/.json)、GeoPackage(.gpkg)、压缩的 Shapefile(.zip)、CSV、XLSX"

LON_ALIASES = ("lon", "lng", "longitude", "经度", "x", "x坐标", "横坐标", "东坐标", "坐标x")
LAT_ALIASES = ("lat", "latitude", "纬度", "y", "y坐标", "纵坐标", "北坐标", "坐标y")
WKT_ALIASES = ("wkt", "geometry", "geom", "几何", "空间信息")

log = logging.getLogger(__name__)

GEOMETRY_LABEL = "几何(坐标)"
# The kinds a boundary review reads: their defects are imported with warnings, not refused.
REVIEWED_KINDS = frozenset({"villages", "townships"})
# The first two digits of a division code (GB/T 2260 provinces, Taiwan, Hong Kong, Macao).
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split())
# Township (digits 7-9) and village (10-12) segments of a statistical division code.
SEGMENT_RANGE = (1, 599)
TRUE_WORDS = {"true", "1", "是", "有", "y", "yes", "t", "√"}
FALSE_WORDS = {"false", "0", "否", "无", "n", "no", "f", "×", ""}


@dataclass(frozen=True)
class ImportLimits:
    """What one imported file may hold. The service passes its settings
    (``IMPORT_MAX_FEATURES``, ``ZIP_MAX_UNCOMPRESSED_MB``, ``ZIP_MAX_RATIO``,
    ``ZIP_MAX_MEMBERS``); these defaults are the settings' defaults."""

    max_features: int = 1_000_000
    zip_max_uncompressed_mb: int = 1000
    zip_max_ratio: int = 500
    zip_max_members: int = 1000


DEFAULT_LIMITS = ImportLimits()
# Members smaller than this are not held to the ratio (a short padded file compresses well).
RATIO_MIN_BYTES = 1 << 20


def check_archive(path: str | Path, name: str, limits: ImportLimits | None = None,
                  what: str = "压缩包", broken: str = "ZIP 文件已损坏或不完整"
                  ) -> list[zipfile.ZipInfo]:
    """Check a zip archive (a zipped Shapefile, an XLSX workbook) from its directory, before
    anything is inflated: member count, member names, total uncompressed size and
    compression ratio. Returns the members; raises ValidationError naming ``name``.

    Inflating is bounded by the sizes checked here: Python's zipfile never returns more
    than a member's declared size (a lying member fails its CRC check).
    """
    limits = limits or DEFAULT_LIMITS

    def refuse(message: str) -> ValidationError:
        return ValidationError([Problem(name, None, None, message)])

    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise refuse(broken) from None
    if len(infos) > limits.zip_max_members:
        raise refuse(f"{what}中有 {len(infos)} 个文件，超过上限 {limits.zip_max_members} 个"
                     "（配置 ZIP_MAX_MEMBERS）：拒绝解压")
    for info in infos:
        bad = _unsafe_member(info.filename)
        if bad:
            raise refuse(f"{what}中的文件名“{info.filename}”{bad}：拒绝解压")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    limit_bytes = limits.zip_max_uncompressed_mb * 1024 * 1024
    if total > limit_bytes:
        raise refuse(f"{what}解压后共 {_size_text(total)}，超过上限 "
                     f"{limits.zip_max_uncompressed_mb} MB（配置 ZIP_MAX_UNCOMPRESSED_MB）："
                     "疑似“压缩炸弹”，拒绝解压")
    for info in infos:
        if (info.file_size >= RATIO_MIN_BYTES
                and info.file_size > limits.zip_max_ratio * max(info.compress_size, 1)):
            raise refuse(f"{what}中的“{info.filename}”压缩比过高（{_size_text(info.compress_size)}"
                         f" 解压后为 {_size_text(info.file_size)}，超过 {limits.zip_max_ratio} 倍，"
                         "配置 ZIP_MAX_RATIO）：疑似“压缩炸弹”，拒绝解压")
    if total >= RATIO_MIN_BYTES and total > limits.zip_max_ratio * max(packed, 1):
        raise refuse(f"{what}压缩比过高（{_size_text(packed)} 解压后为 {_size_text(total)}，"
                     f"超过 {limits.zip_max_ratio} 倍，配置 ZIP_MAX_RATIO）：疑似“压缩炸弹”，拒绝解压")
    return infos


def _unsafe_member(member: str) -> str | None:
    """Why a member name must not be extracted, or None."""
    text = member.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return "是绝对路径"
    if ".." in PurePosixPath(text).parts:
        return "含有“..”（指向压缩包以外的位置）"
    if "\0" in text:
        return "含有非法字符"
    return None


def _size_text(n: int) -> str:
    if n >= 1024 ** 3:
        return f"{n / 1024 ** 3:.1f} GB"
    if n >= 1024 ** 2:
        return f"{n / 1024 ** 2:.1f} MB"
    return f"{max(n, 0) / 1024:.0f} KB" if n >= 1024 else f"{n} 字节"


def too_many(name: str, count: int, limits: ImportLimits, unit: str) -> ValidationError:
    """The feature-count limit, in Chinese."""
    return ValidationError([Problem(
        name, None, None,
        f"文件有 {count} {unit}，超过单次导入上限 {limits.max_features} {unit}（配置 "
        "IMPORT_MAX_FEATURES）：请分区导入，或请管理员调高上限")])


class TableUnreadable(Exception):
    """A small CSV/XLSX table (former names, a projection) that cannot be read as a table:
    ``reason`` is "encoding", "empty" or "broken"; the caller says so in its own words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_text_table(path: str | Path, suffix: str) -> pd.DataFrame:
    """A small table with every cell as text: XLSX/XLS, or CSV in UTF-8 (with or without
    BOM), else GBK/GB18030. Raises :class:`TableUnreadable`."""
    try:
        if suffix in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype=str)
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")
    except UnicodeDecodeError:
        raise TableUnreadable("encoding") from None
    except pd.errors.EmptyDataError:
        raise TableUnreadable("empty") from None
    except Exception:  # noqa: BLE001 - corrupt or not that format: the caller says which
        raise TableUnreadable("broken") from None


def decode_csv(raw: bytes) -> str | None:
    """The text of a CSV file: UTF-8 (with or without BOM), else GBK/GB18030; None when
    neither decodes it."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def table_row_numbers(path: str | Path, suffix: str, count: int) -> np.ndarray:
    """The row a person sees in a spreadsheet for each of the ``count`` records
    :func:`read_text_table` read (the header is row 1): blank CSV lines between records
    count as rows there, and pandas skips them; in order (2, 3, …) for XLSX, or when the
    two readings of a CSV do not agree."""
    plain = np.arange(2, count + 2, dtype=np.int64)
    if suffix not in (".csv", ".txt"):
        return plain
    text = decode_csv(Path(path).read_bytes())
    if text is None:
        return plain
    try:
        rows = [k for k, rec in enumerate(csv.reader(io.StringIO(text)), start=1)
                if len(rec) > 1 or (len(rec) == 1 and rec[0].strip())]
    except csv.Error:
        return plain
    return np.array(rows[1:], dtype=np.int64) if len(rows) == count + 1 else plain


def read_small_table(path: str | Path, name: str, what: str,
                     limits: ImportLimits | None = None) -> pd.DataFrame:
    """A small CSV/XLSX table people upload beside the layers (a projection, an OD
    matrix), every cell as text: the format, the archive (XLSX), the encoding and the row
    limit checked. Raises :class:`ValidationError` naming the file, ``what`` it is (e.g.
    "预测表", "OD 矩阵") in the message; the caller wraps it in its own error."""
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    suffix = Path(name).suffix.lower() or path.suffix.lower()

    def fail(message: str) -> ValidationError:
        return ValidationError([Problem(name, None, None, message)])

    if suffix not in (".csv", ".txt", ".xlsx", ".xls"):
        raise fail(f"{what}格式不支持：请用 CSV 或 XLSX")
    if suffix == ".xlsx" and zipfile.is_zipfile(path):
        check_archive(path, name, limits, f"{what} XLSX 文件")
    try:
        df = read_text_table(path, suffix)
    except TableUnreadable as exc:
        raise fail({
            "encoding": "文件编码无法识别，请存为 UTF-8 或 GBK 编码的 CSV",
            "empty": f"{what}是空文件",
            "broken": f"文件已损坏或不是 {suffix.lstrip('.').upper()} 格式"}[exc.reason]) from None
    if len(df) > limits.max_features:
        raise too_many(name, len(df), limits, "行")
    return df


def read_layer(path: str | Path, kind: str | LayerKind, *, crs: str | None = None,
               filename: str | None = None,
               limits: ImportLimits | None = None) -> gpd.GeoDataFrame:
    """Read and validate one layer file.

    Parameters
    ----------
    path : file to read.
    kind : layer kind name (see ``layers.schema.KINDS``) or LayerKind.
    crs : the input coordinate system when the file does not say (or to override it):
        an EPSG code, ``gcj02`` or ``bd09``. Geographic CSV/XLSX default to CGCS2000;
        8-digit Gauss-Kruger eastings are recognised by their zone prefix.
    filename : the name to show in messages (an uploaded file's original name).
    limits : feature count and zip archive limits (default :data:`DEFAULT_LIMITS`).

    Returns
    -------
    GeoDataFrame in EPSG:4490 with the kind's fields (renamed from their aliases, typed)
    plus every other column of the file, and the geometry. ``attrs``: ``source`` (the
    name), ``source_crs`` (the system it was read in), ``warnings`` (the defects imported,
    a :class:`~layers.errors.ProblemList`, empty when none) and ``rows``
    (:class:`SourceRows`: the line or feature number of each record, for the frame as
    returned).

    Raises
    ------
    ValidationError listing every problem found (what cannot be read).
    """
    path = Path(path)
    name = filename or path.name
    lk = kind if isinstance(kind, LayerKind) else get_kind(kind)
    try:
        source_crs = crsmod.parse_crs(crs)
    except crsmod.CRSInputError as exc:
        raise ValidationError([Problem(name, None, None, str(exc))]) from None
    reader = _Reader(path, name, lk, source_crs, limits or DEFAULT_LIMITS)
    return reader.run()


@dataclass(frozen=True, eq=False)
class SourceRows:
    """The spreadsheet line or feature number of each record of a layer as read
    (``rows[i]`` for position ``i``), and the unit (行 / 要素). Copied by reference when
    pandas copies ``attrs``."""

    rows: np.ndarray
    unit: str

    def __deepcopy__(self, memo) -> SourceRows:
        return self


class _Reader:
    def __init__(self, path: Path, name: str, kind: LayerKind, source_crs: str | None,
                 limits: ImportLimits = DEFAULT_LIMITS):
        self.path, self.name, self.kind, self.source_crs = path, name, kind, source_crs
        self.limits = limits
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.reviewed = kind.name in REVIEWED_KINDS
        self.invalid_rows: list[tuple[int, str]] = []  # (position, GEOS reason): repairable?
        self.unit = "行"
        self.row_offset = 2  # spreadsheet line of the first data row
        self.lines: np.ndarray | None = None  # spreadsheet line of each kept row
        self.coord_problem_rows: set[int] = set()

    def fail(self, message: str, field: str | None = None) -> ValidationError:
        return ValidationError([Problem(self.name, None, field, message)])

    def row_of(self, idx: int) -> int:
        """Spreadsheet line or feature number of the record at position ``idx``."""
        if self.lines is not None:
            return int(self.lines[idx])
        return int(idx) + self.row_offset

    def add(self, idx: int | None, field: str | None, message: str) -> None:
        row = None if idx is None else self.row_of(idx)
        self.problems.append(Problem(self.name, row, field, message, self.unit))

    def warn(self, idx: int | None, field: str | None, message: str,
             value: str | None = None) -> None:
        """A defect that is imported, not refused (shown grouped, listed in the CSV)."""
        row = None if idx is None else self.row_of(idx)
        self.warnings.append(Problem(self.name, row, field, message, self.unit, value))

    # --- reading -------------------------------------------------------------------

    def run(self) -> gpd.GeoDataFrame:
        if not self.path.exists():
            raise self.fail("文件不存在")
        if self.path.stat().st_size == 0:
            raise self.fail("文件为空")
        suffix = self.path.suffix.lower()
        if suffix in TABLE_SUFFIXES:
            df = self._read_table(suffix)
            df = self._rename(df)
            gdf, file_crs = self._table_geometry(df)
        elif suffix in GEO_SUFFIXES:
            self.unit, self.row_offset = "要素", 1
            gdf = self._read_geo(suffix)
            file_crs = None if gdf.crs is None else _crs_text(gdf.crs)
            gdf = self._rename(gdf)
        else:
            raise self.fail(f"不支持的文件格式“{suffix or '无扩展名'}”，支持：{SUPPORTED}")
        if len(gdf) == 0:
            raise self.fail("文件中没有任何记录")
        gdf = gdf.reset_index(drop=True)
        gdf = self._to_stored(gdf, file_crs)
        self._check_geometry(gdf)
        gdf = self._repair_geometry(gdf)
        gdf = self._check_fields(gdf)
        self._centres_to_stored(gdf)
        if self.problems:
            self.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
            raise ValidationError(self.problems)
        self.warnings.sort(key=lambda p: (p.row is not None, p.row or 0))
        gdf.attrs["source_crs"] = self.used_crs
        gdf.attrs["source"] = self.name
        gdf.attrs["warnings"] = ProblemList(self.warnings)
        rows = (self.lines.copy() if self.lines is not None
                else np.arange(len(gdf)) + self.row_offset)
        gdf.attrs["rows"] = SourceRows(rows.astype(np.int64), self.unit)
        return gdf

    def _read_table(self, suffix: str) -> pd.DataFrame:
        if suffix == ".csv":
            text = decode_csv(self.path.read_bytes())
            if text is None:
                raise self.fail("无法识别的文件编码：请另存为 UTF-8 或 GBK 编码的 CSV")
            if not text.strip():
                raise self.fail("文件为空")
            # Blank lines above the header are skipped; the line numbers still count them.
            lead = re.match(r"(?:[ \t]*\r?\n)*", text).group(0)
            text = text[len(lead):]
            self.row_offset += lead.count("\n")
            self._check_csv_rows(text)
            try:
                df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                 skipinitialspace=True, skip_blank_lines=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise self.fail(f"CSV 格式错误，文件可能不完整{_csv_error_zh(exc)}") from None
        else:
            check_archive(self.path, self.name, self.limits, "XLSX 文件",
                          "XLSX 文件无法读取，可能已损坏或不完整")
            self._check_workbook()
            try:
                df = pd.read_excel(self.path, dtype=str, keep_default_na=False,
                                   engine="openpyxl")
            except Exception as exc:  # openpyxl raises many kinds for a broken zip/XML
                log.info("XLSX %s unreadable: %r", self.name, exc)
                raise self.fail("XLSX 文件无法读取，可能已损坏或不完整") from None
        if len(df) > self.limits.max_features:
            raise too_many(self.name, len(df), self.limits, "行")
        df.columns = [str(c).strip() for c in df.columns]
        # Blank rows are not records; the others keep their line numbers (header = line 1).
        if not len(df):
            return df
        blank = np.logical_and.reduce([_blank_cells(df.iloc[:, j])
                                       for j in range(df.shape[1])])
        self.lines = np.flatnonzero(~blank) + self.row_offset
        return df.loc[~blank]

    def _check_csv_rows(self, text: str) -> None:
        """The row limit before parsing: lines are an upper bound of records (a quoted
        value may hold a line break), so only a file over it is counted exactly."""
        limit = self.limits.max_features
        if text.count("\n") <= limit + 1:
            return
        import csv

        rows = sum(1 for _ in csv.reader(io.StringIO(text))) - 1
        if rows > limit:
            raise too_many(self.name, rows, self.limits, "行")

    def _check_workbook(self) -> None:
        """Before pandas reads the first sheet: its row count (from the sheet's own
        dimension, when it states one) and formula cells, reported as formulas: the value
        a formula shows is whatever the last program that saved the file computed, or
        nothing at all when that program did not compute it."""
        import openpyxl

        try:
            wb = openpyxl.load_workbook(self.path, read_only=True, data_only=False)
        except Exception as exc:  # a broken zip or XML
            log.info("XLSX %s unreadable: %r", self.name, exc)
            raise self.fail("XLSX 文件无法读取，可能已损坏或不完整") from None
        try:
            if not wb.worksheets:
                raise self.fail("XLSX 文件中没有工作表")
            ws = wb.worksheets[0]
            max_row = getattr(ws, "max_row", None)
            if max_row and max_row - 1 > self.limits.max_features:
                raise too_many(self.name, max_row - 1, self.limits, "行")
            if not _sheet_has_formulas(wb, ws):
                return
            headers: dict[int, str] = {}
            formulas: list[Problem] = []
            for row in ws.iter_rows():
                for cell in row:
                    if getattr(cell, "data_type", None) != "f" or cell.value is None:
                        if cell.row == 1 and cell.value is not None:
                            headers[cell.column] = str(cell.value).strip()
                        continue
                    text = str(cell.value)
                    shown = text if len(text) <= 40 else text[:40] + "…"
                    field = headers.get(cell.column) or cell.column_letter + " 列"
                    formulas.append(Problem(
                        self.name, cell.row, field,
                        f"单元格“{cell.coordinate}”是公式“{shown}”，不是数值：请在 Excel 中"
                        "复制后“选择性粘贴 → 数值”，再导入"))
            if formulas:
                raise ValidationError(formulas)
        finally:
            wb.close()

    def _read_geo(self, suffix: str) -> gpd.GeoDataFrame:
        if suffix == ".zip":
            with tempfile.TemporaryDirectory() as tmp:
                shp = self._extract_shapefile(Path(tmp))
                return self._read_shapefile(shp)
        if suffix == ".shp":
            return self._read_shapefile(self.path)
        layer = None
        if suffix == ".gpkg":
            try:
                layers = [str(x[0]) for x in pyogrio.list_layers(self.path)]
            except Exception as exc:
                log.info("GeoPackage %s unreadable: %r", self.name, exc)
                raise self.fail("GeoPackage 无法读取：不是 GeoPackage 文件，或已损坏、不完整") \
                    from None
            if not layers:
                raise self.fail("GeoPackage 中没有图层")
            layer = self.kind.name if self.kind.name in layers else layers[0]
        return self._pyogrio(self.path, layer=layer)

    def _extract_shapefile(self, tmp: Path) -> Path:
        check_archive(self.path, self.name, self.limits)
        try:
            with zipfile.ZipFile(self.path) as zf:
                members = [m for m in zf.namelist() if not m.endswith("/")
                           and not PurePosixPath(m.replace("\\", "/")).name.startswith(".")]
                shps = [m for m in members if m.lower().endswith(".shp")]
                if not shps:
                    raise self.fail("压缩包中没有 .shp 文件")
                if len(shps) > 1:
                    raise self.fail(f"压缩包中有多个 .shp 文件（{'、'.join(shps)}），请每次导入一个图层")
                stem = shps[0][:-4]
                needed = {".shp", ".shx", ".dbf"}
                present = {m[len(stem):].lower() for m in members if m.startswith(stem)}
                missing = needed - present
                if missing:
                    raise self.fail(f"压缩包中缺少 Shapefile 组成文件：{'、'.join(sorted(missing))}")
                budget = self.limits.zip_max_uncompressed_mb * 1024 * 1024
                for m in members:
                    if m.startswith(stem):
                        target = tmp / ("layer" + m[len(stem):].lower())
                        budget -= _copy_member(zf, m, target, budget)
        except zipfile.BadZipFile:
            raise self.fail("ZIP 文件已损坏或不完整") from None
        except RuntimeError:  # an encrypted member
            raise self.fail("压缩包有密码保护，请解除密码后再导入") from None
        except NotImplementedError:
            raise self.fail("压缩包使用了不支持的压缩方式：请用常见的 ZIP（Deflate）格式重新压缩") \
                from None
        except _TooBig:
            raise self.fail(f"压缩包解压后超过上限 {self.limits.zip_max_uncompressed_mb} MB"
                            "（配置 ZIP_MAX_UNCOMPRESSED_MB）：拒绝解压") from None
        return tmp / "layer.shp"

    def _read_shapefile(self, shp: Path) -> gpd.GeoDataFrame:
        # Decide in Python: GDAL drops or garbles bytes it cannot recode and only warns
        # (once per process, from a callback that cannot raise); a .cpg naming the wrong
        # encoding would import mojibake.
        cpg = next((p for p in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG"))
                    if p.exists()), None)
        declared = _cpg_encoding(cpg) if cpg else None
        found = _dbf_encoding(shp)
        if declared is not None:
            codec, cpg_text = declared
            encoding = _cpg_check(self, codec, cpg_text, found, shp)
        elif found is None:
            raise self.fail("无法识别的文件编码：请提供 .cpg 文件或使用 UTF-8/GBK 编码")
        else:
            encoding = found
        return self._pyogrio(shp, encoding=encoding, what="Shapefile")

    def _pyogrio(self, path: Path, *, layer=None, encoding=None, what: str | None = None):
        what = what or {".gpkg": "GeoPackage", ".shp": "Shapefile"}.get(
            path.suffix.lower(), "GeoJSON")
        try:
            count = pyogrio.read_info(path, layer=layer, encoding=encoding)["features"]
        except Exception as exc:
            raise self._gdal_failure(exc, what) from None
        if count is not None and count > self.limits.max_features:
            raise too_many(self.name, int(count), self.limits, "个要素")
        try:
            gdf = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
        except UnicodeDecodeError:
            raise self.fail("属性表文字的编码无法识别：请存为 UTF-8 或 GBK 编码") from None
        except Exception as exc:
            raise self._gdal_failure(exc, what) from None
        if len(gdf) > self.limits.max_features:
            raise too_many(self.name, len(gdf), self.limits, "个要素")
        return gdf

    def _gdal_failure(self, exc: Exception, what: str) -> ValidationError:
        """GDAL's English (with the temporary path in it) goes to the log; the person gets
        Chinese, naming their file, with the line of a JSON syntax error when GDAL says."""
        log.info("%s %s unreadable: %r", what, self.name, exc)
        if isinstance(exc, UnicodeDecodeError):
            return self.fail("属性表文字的编码无法识别：请存为 UTF-8 或 GBK 编码")
        where = ""
        m = re.search(r"line (\d+), character (\d+)", str(exc))
        if m:
            where = f"（第 {m.group(1)} 行第 {m.group(2)} 个字符附近格式错误）"
        return self.fail(f"文件无法读取：不是有效的 {what} 文件，或文件已损坏或不完整{where}")

    # --- columns -------------------------------------------------------------------

    def _rename(self, df: pd.DataFrame) -> pd.DataFrame:
        lower = {str(c).strip().lower(): c for c in df.columns if c != "geometry"}
        mapping = {}
        for f in self.kind.fields:
            if f.name in df.columns:
                continue
            for alias in f.aliases:
                col = lower.get(alias.lower())
                if col is not None and col not in mapping and col not in self.kind.field_names:
                    mapping[col] = f.name
                    break
        return df.rename(columns=mapping)

    def _table_geometry(self, df: pd.DataFrame) -> tuple[gpd.GeoDataFrame, str | None]:
        cols = {str(c).strip().lower(): c for c in df.columns}
        lon_col = next((cols[a] for a in LON_ALIASES if a in cols), None)
        lat_col = next((cols[a] for a in LAT_ALIASES if a in cols), None)
        wkt_col = next((cols[a] for a in WKT_ALIASES if a in cols), None)
        polygonal = set(self.kind.geometry) <= {"Polygon", "MultiPolygon"}
        linear = set(self.kind.geometry) <= set(LINE)
        if lon_col is not None and lat_col is not None and not linear \
                and not (polygonal and wkt_col):
            xs = _finite(pd.to_numeric(df[lon_col].str.strip(), errors="coerce"))
            ys = _finite(pd.to_numeric(df[lat_col].str.strip(), errors="coerce"))
            if _survey_axes(xs.to_numpy(dtype=float), ys.to_numpy(dtype=float)):
                # Chinese survey tables call the northing X and the easting Y.
                xs, ys, lon_col, lat_col = ys, xs, lat_col, lon_col
            for col, vals in ((lon_col, xs), (lat_col, ys)):
                for idx in np.flatnonzero(vals.isna().to_numpy()):
                    raw = df[col].iloc[idx]
                    self.coord_problem_rows.add(int(idx))
                    self.add(idx, col, "坐标为空" if str(raw).strip() == "" else
                             f"坐标“{raw}”不是数字")
            geoms = shapely.points(xs.to_numpy(dtype=float), ys.to_numpy(dtype=float))
            geoms = np.where(xs.isna().to_numpy() | ys.isna().to_numpy(), None, geoms)
            rest = df.drop(columns=[lon_col, lat_col])
        elif wkt_col is not None:
            texts = df[wkt_col]
            if _str_mask(texts).all():
                given = ~_blank_cells(texts)
                geoms = np.full(len(texts), None, dtype=object)
                geoms[given] = shapely.from_wkt(texts.to_numpy(dtype=object)[given],
                                                on_invalid="ignore")
                for idx in np.flatnonzero(given & shapely.is_missing(geoms)):
                    self.add(idx, wkt_col, "WKT 几何无法解析")
            else:
                geoms = []
                for idx, text in enumerate(texts):
                    try:
                        geoms.append(shapely.from_wkt(text) if str(text).strip() else None)
                    except shapely.errors.GEOSException:
                        self.add(idx, wkt_col, "WKT 几何无法解析")
                        geoms.append(None)
            rest = df.drop(columns=[wkt_col])
        elif polygonal:
            raise self.fail(
                f"{self.kind.label}是面图层：表格需要一列 WKT 几何（列名 wkt、geometry 或 几何）；"
                "经度、纬度列只作为中心点", field=GEOMETRY_LABEL)
        elif linear:
            raise self.fail(
                f"{self.kind.label}是线图层：表格需要一列 WKT 几何（列名 wkt、geometry 或 几何），"
                "如 LINESTRING (103.80 29.80, 103.81 29.82)", field=GEOMETRY_LABEL)
        else:
            raise self.fail(
                "找不到坐标列：需要“经度”和“纬度”两列（或 lon/lat、x/y），面图层可用 WKT 列",
                field=GEOMETRY_LABEL)
        gdf = gpd.GeoDataFrame(rest, geometry=gpd.GeoSeries(list(geoms), index=df.index))
        return gdf, None

    # --- coordinates ---------------------------------------------------------------

    def _to_stored(self, gdf: gpd.GeoDataFrame, file_crs: str | None) -> gpd.GeoDataFrame:
        source = self.source_crs or file_crs
        geoms = gdf.geometry.values  # GeoSeries.notna() warns when some are empty
        valid = pd.Series(~(geoms.isna() | geoms.is_empty), index=gdf.index)
        xs = shapely.get_coordinates(gdf.geometry[valid].values)[:, 0]
        if not xs.size:
            # No usable coordinate at all (every one empty or not a number): those rows
            # are reported as such, not as an unknown coordinate system.
            self.used_crs = source or crsmod.STORED_CRS
            self._bad_coords = pd.Series(False, index=gdf.index)
            return gdf.set_crs(crsmod.STORED_CRS, allow_override=True)
        if source not in (crsmod.GCJ02, crsmod.BD09):
            try:
                source = crsmod.resolve_projected(source, xs)
            except crsmod.CRSInputError as exc:
                raise self.fail(str(exc)) from None
        if (self.source_crs is None and source is not None and source == file_crs
                and _is_geographic(source) and not _lonlat_like(xs)):
            # GeoJSON is lon/lat by definition, so GDAL reports EPSG:4326 even for a file
            # of projected numbers written without a CRS: such a file has no usable CRS.
            source = crsmod.resolve_projected(None, xs)
        if source is None:
            # Mostly lon/lat-looking numbers: geographic, and the odd row is flagged below.
            if _lonlat_like(xs):
                source = crsmod.STORED_CRS
            else:
                raise self.fail("无法判断坐标系：坐标不是经纬度，也没有带号。请用 --crs 指定，"
                                "例如 EPSG:4544（CGCS2000 3度带 中央经线 105°）")
        self.used_crs = source
        geographic = source in (crsmod.GCJ02, crsmod.BD09) or _is_geographic(source)
        if geographic:
            self._check_lonlat(gdf, valid)
        try:
            out = crsmod.to_stored(gdf, source)
        except Exception as exc:
            log.info("%s: transform from %s failed: %r", self.name, source, exc)
            raise self.fail(f"坐标转换失败（{crsmod.describe(source)}）：请核对坐标系和坐标值") \
                from None
        if not geographic:
            self._check_lonlat(out, valid, projected_from=source)
        return out

    def _check_lonlat(self, gdf, valid, projected_from: str | None = None) -> None:
        b = gdf.geometry.bounds
        lon_ok = (b.minx >= crsmod.CHINA_LON[0]) & (b.maxx <= crsmod.CHINA_LON[1])
        lat_ok = (b.miny >= crsmod.CHINA_LAT[0]) & (b.maxy <= crsmod.CHINA_LAT[1])
        swapped = ((b.miny >= crsmod.CHINA_LON[0]) & (b.maxy <= crsmod.CHINA_LON[1])
                   & (b.minx >= crsmod.CHINA_LAT[0]) & (b.maxx <= crsmod.CHINA_LAT[1]))
        bad = valid & ~(lon_ok & lat_ok)
        for idx in np.flatnonzero(bad.to_numpy()):
            x, y = b.minx.iloc[idx], b.miny.iloc[idx]
            if projected_from:
                msg = (f"按坐标系 {crsmod.describe(projected_from)} 换算后位于"
                       f"（{x:.4f}, {y:.4f}），超出中国范围：请核对坐标系")
            elif swapped.iloc[idx]:
                msg = f"经纬度可能颠倒（经度 {x:.6f}，纬度 {y:.6f}）：经度应在前"
            else:
                msg = f"坐标（{x:.6f}, {y:.6f}）超出中国范围（经度 73-136°，纬度 3-54°）"
            self.add(idx, GEOMETRY_LABEL, msg)
        self._bad_coords = bad

    def _centres_to_stored(self, gdf: gpd.GeoDataFrame) -> None:
        """Bring a kind's own centre columns (center_lon/center_lat) into CGCS2000."""
        if not {"center_lon", "center_lat"} <= set(gdf.columns):
            return
        lon = gdf["center_lon"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        lat = gdf["center_lat"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        given = np.isfinite(lon) & np.isfinite(lat)
        if not given.any():
            return
        pts = gpd.GeoDataFrame(geometry=shapely.points(lon[given], lat[given]))
        try:
            pts = crsmod.to_stored(pts, self.used_crs)
        except Exception as exc:
            log.info("%s: centre transform failed: %r", self.name, exc)
            raise self.fail("中心点坐标转换失败：请核对坐标系和中心经纬度") from None
        lon[given], lat[given] = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
        outside = given & ~((lon >= crsmod.CHINA_LON[0]) & (lon <= crsmod.CHINA_LON[1])
                            & (lat >= crsmod.CHINA_LAT[0]) & (lat <= crsmod.CHINA_LAT[1]))
        for idx in np.flatnonzero(outside):
            self.add(idx, "中心经度/中心纬度", f"中心点（{lon[idx]:.6f}, {lat[idx]:.6f}）超出中国范围")
        gdf["center_lon"] = pd.array(np.where(given, lon, np.nan), dtype="Float64")
        gdf["center_lat"] = pd.array(np.where(given, lat, np.nan), dtype="Float64")

    def _check_geometry(self, gdf: gpd.GeoDataFrame) -> None:
        """Empty geometries, wrong types and GEOS validity, checked as arrays: at most one
        problem per row, in row order."""
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        if not len(geoms):
            return
        want = self.kind.geometry
        linear = set(want) <= set(LINE)
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        type_ids = np.clip(shapely.get_type_id(geoms), 0, len(_GEOM_TYPES) - 1)
        type_names = np.asarray(_GEOM_TYPES, dtype=object)
        wanted = [i for i, name in enumerate(_GEOM_TYPES) if name in want]
        wrong = ~empty & ~np.isin(type_ids, wanted)
        rest = np.flatnonzero(~empty & ~wrong)
        invalid = np.zeros(len(geoms), dtype=bool)
        invalid[rest[~shapely.is_valid(geoms[rest])]] = True
        reasons = np.empty(len(geoms), dtype=object)
        if invalid.any():
            reasons[invalid] = shapely.is_valid_reason(geoms[invalid])
        skip = np.zeros(len(geoms), dtype=bool)
        if self.coord_problem_rows:
            skip[list(self.coord_problem_rows)] = True
        for idx in np.flatnonzero((empty & ~skip) | wrong | invalid):
            if empty[idx]:
                self.add(idx, GEOMETRY_LABEL, "几何为空")
            elif wrong[idx]:
                self.add(idx, GEOMETRY_LABEL,
                         f"几何类型为 {type_names[type_ids[idx]]}，{self.kind.label}图层应为{self.kind.geometry_label}")
            elif self.reviewed:
                self.invalid_rows.append((int(idx), reasons[idx]))
            elif linear and reasons[idx].startswith(_TOO_FEW):
                where = reasons[idx][len(_TOO_FEW):].strip().replace("[", "（位置 ").replace("]", "）")
                self.add(idx, GEOMETRY_LABEL, f"几何无效：线的不同点少于 2 个{where}")
            else:
                self.add(idx, GEOMETRY_LABEL, f"几何无效：{validity_reason_zh(reasons[idx])}")

    def _repair_geometry(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Invalid polygons of a reviewed kind (:meth:`_check_geometry`), made valid with
        ``shapely.make_valid`` and kept when the result is still a polygon: a warning
        each; a problem when nothing polygonal is left."""
        if not self.invalid_rows:
            return gdf
        idx = np.array([i for i, _ in self.invalid_rows], dtype=np.int64)
        geoms = np.array(gdf.geometry.values, dtype=object)
        fixed = [_polygonal(g) for g in shapely.make_valid(geoms[idx])]
        # Which rows were repaired, and why: stored with the layer, so that the boundary
        # review lists each repair as a finding (the stored shape itself is valid).
        notes = np.full(len(geoms), None, dtype=object)
        for (i, reason), g in zip(self.invalid_rows, fixed, strict=True):
            reason_zh = validity_reason_zh(reason)
            if g is None:
                self.add(i, GEOMETRY_LABEL, f"几何无效且无法修复为{self.kind.geometry_label}："
                                            f"{reason_zh}")
            else:
                geoms[i] = g
                notes[i] = f"导入时几何无效（{reason_zh}），已按 make_valid 自动修复"
                self.warn(i, GEOMETRY_LABEL, "几何无效，已自动修复为有效的面", reason_zh)
        out = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
        if any(n is not None for n in notes):
            out[REPAIR_COLUMN] = notes
        return out

    # --- attributes ----------------------------------------------------------------

    def _check_fields(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        out = gdf.copy()
        for f in self.kind.fields:
            if f.name not in out.columns:
                if f.required:
                    hint = "、".join(f.aliases[:4])
                    self.problems.append(Problem(
                        self.name, None, f.name,
                        f"缺少必填字段“{f.label}”（列名可用 {f.name} 或 {hint}）"))
                continue
            out[f.name] = self._convert(out[f.name], f)
        self._check_codes(out)
        self._check_consistency(out)
        self._check_positive(out)
        return out

    def _check_positive(self, gdf: gpd.GeoDataFrame) -> None:
        """Numbers that must be above zero (a road's speed and minutes): a problem each."""
        for name in POSITIVE_FIELDS.get(self.kind.name, ()):
            if name not in gdf.columns:
                continue
            nums = gdf[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            label = self.kind.field(name).label
            for idx in np.flatnonzero(nums <= 0):
                self.add(idx, label, f"“{nums[idx]:g}”应为大于 0 的数")

    def _convert(self, col: pd.Series, f) -> pd.Series:
        """Text -> the field's type, as column operations; problems (one per row at most)
        in row order. Columns of other than numpy or text dtypes take the row path."""
        if f.dtype in ("float", "int") and isinstance(col.dtype, np.dtype) and (
                col.dtype.kind in "iu" or col.dtype == np.float64):
            return self._convert_numbers(col, f)
        texts = _texts(col)
        if texts is None:
            return self._convert_rows(col, f)
        n = len(texts)
        blank = (texts == "").to_numpy(dtype=bool)
        messages = np.full(n, None, dtype=object)
        if f.required:
            messages[blank] = "必填字段为空"
        filled = np.flatnonzero(~blank)
        given = texts.iloc[filled]
        if f.dtype in ("float", "int"):
            nums = np.full(n, np.nan)
            nums[filled] = _numbers(given)
            text = np.full(n, None, dtype=object)
            text[filled] = given.to_numpy()
            return self._typed_numbers(nums, blank, text, messages, col, f)
        values = np.full(n, None, dtype=object)
        if f.dtype == "bool":
            low = given.str.lower()
            true = low.isin(TRUE_WORDS).to_numpy(dtype=bool)
            false = low.isin(FALSE_WORDS).to_numpy(dtype=bool) & ~true
            neither = ~true & ~false
            messages[filled[neither]] = [f"“{t}”应为 是/否" for t in given.to_numpy()[neither]]
            self._add_messages(messages, f.label)
            flags = np.zeros(n, dtype=bool)
            flags[filled[true]] = True
            missing = np.ones(n, dtype=bool)
            missing[filled[true | false]] = False
            return pd.Series(pd.arrays.BooleanArray(flags, missing), index=col.index)
        if f.dtype == "code":
            texts_out = given.to_numpy(dtype=object, copy=True)
            tail = np.fromiter(map(str.endswith, texts_out, repeat(".0")), dtype=bool,
                               count=len(texts_out))
            if tail.any():
                texts_out[tail] = [t[:-2] for t in texts_out[tail]]
            values[filled] = texts_out
            self._add_messages(messages, f.label)
            bad = ~_codes_ok(texts_out, int(f.code_digits))
            for pos, text in zip(filled[bad], texts_out[bad], strict=True):
                self.warn(pos, f.label, code_defect(text, f.label, f.code_digits), text)
            return pd.Series(values, index=col.index, dtype=object)
        elif f.choices:
            by_label = {v: k for k, v in f.choices.items()}
            known = given.isin(list(f.choices)).to_numpy(dtype=bool)
            labelled = given.isin(list(by_label)).to_numpy(dtype=bool) & ~known
            chosen = given.to_numpy().copy()
            chosen[labelled] = given[labelled].map(by_label).to_numpy()
            neither = ~known & ~labelled
            allowed = "、".join(f.choices.values())
            messages[filled[neither]] = [f"“{t}”不是可用的取值（{allowed}）"
                                         for t in given.to_numpy()[neither]]
            values[filled] = chosen
        else:
            values[filled] = given.to_numpy()
        self._add_messages(messages, f.label)
        return pd.Series(values, index=col.index, dtype=object)

    def _convert_numbers(self, col: pd.Series, f) -> pd.Series:
        """A numpy integer or float64 column for a number field: its text (``str`` of the
        value, what the row path reads) is only written out for a row with a problem."""
        nums = col.to_numpy(dtype=float, copy=True)
        n = len(nums)
        blank = np.isnan(nums)
        messages = np.full(n, None, dtype=object)
        if f.required:
            messages[blank] = "必填字段为空"
        values = col.to_numpy()
        odd = np.flatnonzero(~np.isfinite(nums) & ~blank)
        text = np.full(n, None, dtype=object)
        text[odd] = [str(values[i]).strip() for i in odd]
        nums[odd] = np.nan
        if f.dtype == "int":
            suspect = np.flatnonzero((nums < 0) | (nums != np.floor(nums)) | (nums >= INT_LIMIT))
            text[suspect] = [str(values[i]).strip() for i in suspect]
        return self._typed_numbers(nums, blank, text, messages, col, f)

    def _typed_numbers(self, nums: np.ndarray, blank: np.ndarray, text: np.ndarray,
                       messages: np.ndarray, col: pd.Series, f) -> pd.Series:
        """Numbers (NaN: blank or not a number) -> Float64 or non-negative Int64, with
        the problems of :meth:`_convert_rows`."""
        bad = np.isnan(nums) & ~blank
        messages[bad] = [f"“{t}”不是数字" for t in text[bad]]
        if f.dtype == "float":
            self._add_messages(messages, f.label)
            return pd.Series(pd.arrays.FloatingArray(np.nan_to_num(nums), np.isnan(nums)),
                             index=col.index)
        with np.errstate(invalid="ignore"):
            not_whole = ~np.isnan(nums) & ((nums < 0) | (nums != np.floor(nums)))
            too_big = ~np.isnan(nums) & ~not_whole & (nums >= INT_LIMIT)
        messages[not_whole] = [f"“{t}”应为非负整数" for t in text[not_whole]]
        messages[too_big] = [f"“{t}”{TOO_BIG}" for t in text[too_big]]
        nums = np.where(not_whole | too_big, np.nan, nums)
        self._add_messages(messages, f.label)
        missing = np.isnan(nums)
        return pd.Series(pd.arrays.IntegerArray(
            np.where(missing, 0, nums).astype(np.int64), missing), index=col.index)

    def _add_messages(self, messages: np.ndarray, field: str) -> None:
        for idx in np.flatnonzero(pd.notna(messages)):
            self.add(idx, field, messages[idx])

    def _convert_rows(self, col: pd.Series, f) -> pd.Series:
        """The row-by-row conversion (any dtype); :meth:`_convert` gives the same."""
        texts = col.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                        else str(v).strip())
        values: list = []
        for idx, text in enumerate(texts):
            if text == "":
                if f.required:
                    self.add(idx, f.label, "必填字段为空")
                values.append(None)
                continue
            if f.dtype in ("float", "int"):
                num = _number(text)
                if num is None:
                    self.add(idx, f.label, f"“{text}”不是数字")
                    values.append(None)
                    continue
                if f.dtype == "float":
                    values.append(num)
                    continue
                if num < 0 or num != int(num):
                    self.add(idx, f.label, f"“{text}”应为非负整数")
                    values.append(None)
                    continue
                if num >= INT_LIMIT:
                    self.add(idx, f.label, f"“{text}”{TOO_BIG}")
                    values.append(None)
                    continue
                values.append(int(num))
            elif f.dtype == "bool":
                low = text.lower()
                if low in TRUE_WORDS:
                    values.append(True)
                elif low in FALSE_WORDS:
                    values.append(False)
                else:
                    self.add(idx, f.label, f"“{text}”应为 是/否")
                    values.append(None)
            elif f.dtype == "code":
                if text.endswith(".0"):
                    text = text[:-2]
                defect = code_defect(text, f.label, f.code_digits)
                if defect:
                    self.warn(idx, f.label, defect, text)
                values.append(text)
            elif f.choices:
                by_label = {v: k for k, v in f.choices.items()}
                if text in f.choices:
                    values.append(text)
                elif text in by_label:
                    values.append(by_label[text])
                else:
                    allowed = "、".join(f.choices.values())
                    self.add(idx, f.label, f"“{text}”不是可用的取值（{allowed}）")
                    values.append(text)
            else:
                values.append(text)
        if f.dtype == "int":
            return pd.Series(values, index=col.index, dtype="Int64")
        if f.dtype == "float":
            return pd.Series(values, index=col.index, dtype="Float64")
        if f.dtype == "bool":
            return pd.Series(values, index=col.index, dtype="boolean")
        return pd.Series(values, index=col.index, dtype=object)

    def _check_codes(self, gdf: gpd.GeoDataFrame) -> None:
        """Duplicate codes and villages outside their township's code: warnings (the
        boundary review reports them), the codes kept as given."""
        if "code" not in self.kind.field_names or "code" not in gdf.columns:
            return
        label = self.kind.field("code").label
        codes = gdf["code"]
        dup = codes.notna() & codes.duplicated(keep=False)
        for idx in np.flatnonzero(dup.to_numpy()):
            self.warn(idx, label, f"{label}重复", codes.iloc[idx])
        if self.kind.name == "villages" and "township_code" in gdf.columns:
            parents = gdf["township_code"]
            code_text, parent_text = _str_mask(codes), _str_mask(parents)
            cand = np.flatnonzero(code_text & parent_text)
            c_ok, c_chars = _digit_chars(codes.to_numpy(dtype=object)[cand], 12)
            p_ok, p_chars = _digit_chars(parents.to_numpy(dtype=object)[cand], 9)
            both = c_ok & p_ok
            outside = np.zeros(len(cand), dtype=bool)
            outside[both] = (c_chars[both[c_ok], :9] != p_chars[both[p_ok]]).any(axis=1)
            for idx in cand[outside]:
                code, parent = codes.iloc[idx], parents.iloc[idx]
                self.warn(idx, label, f"{label}前 9 位与所属乡镇代码不同",
                          f"{code}，所属乡镇代码 {parent}")

    def _check_consistency(self, gdf: gpd.GeoDataFrame) -> None:
        """Counts larger than the count they are part of: a problem, or for a reviewed
        kind (villages: elderly and residents) a warning."""
        pairs = (("occupied_beds", "beds", "在住人数超过床位数"),
                 ("used_graves", "capacity_graves", "已用墓穴数超过设计墓穴数"),
                 ("elderly_population", "population", "60岁以上人口超过户籍人口"))
        for small, big, msg in pairs:
            if small in gdf.columns and big in gdf.columns and small in self.kind.field_names:
                s, b = gdf[small], gdf[big]
                over = (s.notna() & b.notna() & (s > b)).fillna(False).to_numpy(dtype=bool)
                label = self.kind.field(small).label
                for idx in np.flatnonzero(over):
                    if self.reviewed:
                        self.warn(idx, label, msg, f"{s.iloc[idx]} > {b.iloc[idx]}")
                    else:
                        self.add(idx, label, f"{msg}（{s.iloc[idx]} > {b.iloc[idx]}）")


# Number fields that must be above zero, by kind (a speed or a travel time of 0 or less
# would make a road free or impassable without saying so).
POSITIVE_FIELDS = {"roads": ("speed_kmh", "minutes")}
# GEOS' reason for a line with fewer than two distinct points.
_TOO_FEW = "Too few points in geometry component"

_GEOM_TYPES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
               "MultiLineString", "MultiPolygon", "GeometryCollection")


def code_defect(text: str, label: str, digits: int) -> str | None:
    """Why ``text`` is not a statistical division code of ``digits`` digits (Chinese,
    phrased without the value so that identical defects read as one), or None.

    Checked: ASCII digits only, the length, the province (first 2 digits), and the NBS
    township (digits 7-9) and village (10-12) segments, each 001-599."""
    if not re.fullmatch(r"[0-9]+", text):
        return f"{label}含 0-9 以外的字符，应为 {digits} 位数字"
    if len(text) != digits:
        return f"{label}为 {len(text)} 位，应为 {digits} 位"
    if text[:2] not in PROVINCE_CODES:
        return f"{label}的前 2 位不是省级行政区代码"
    low, high = SEGMENT_RANGE
    if digits >= 9 and not low <= int(text[6:9]) <= high:
        return f"{label}的乡级段（第 7-9 位）不在统计用区划代码的 001-599 之内"
    if digits >= 12 and not low <= int(text[9:12]) <= high:
        return f"{label}的村级段（第 10-12 位）不在统计用区划代码的 001-599 之内"
    return None


def _digit_chars(texts: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``texts`` (an object array of ``str``) are exactly ``digits`` ASCII digits
    (``re.fullmatch("[0-9]{digits}")``), and those texts' digits as an (n ok, digits)
    integer array, as array operations."""
    n = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    sized = np.flatnonzero(lengths == digits)
    if not len(sized) or not digits:
        return np.zeros(n, dtype=bool), np.zeros((0, digits), dtype=np.int64)
    # Exactly ``digits`` characters each: a fixed-width array holds them whole (a NUL
    # is kept as code point 0, not a digit), one 32-bit code point per character.
    chars = texts[sized].astype(f"U{digits}").view(np.uint32).reshape(len(sized), digits)
    ascii_digits = ((chars >= 48) & (chars <= 57)).all(axis=1)
    ok = np.zeros(n, dtype=bool)
    ok[sized[ascii_digits]] = True
    return ok, chars[ascii_digits].astype(np.int64) - 48


def _segment(chars: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The number written by digits ``start:stop`` of each row of :func:`_digit_chars`."""
    weights = 10 ** np.arange(stop - start - 1, -1, -1, dtype=np.int64)
    return chars[:, start:stop] @ weights


_PROVINCE_NUMBERS = np.array(sorted(int(c) for c in PROVINCE_CODES), dtype=np.int64)


def _codes_ok(codes: pd.Series | np.ndarray, digits: int) -> np.ndarray:
    """Which texts :func:`code_defect` finds nothing wrong with, as array operations."""
    ok, chars = _digit_chars(np.asarray(codes, dtype=object), digits)
    if not ok.any():
        return ok
    fine = np.isin(_segment(chars, 0, 2), _PROVINCE_NUMBERS) if digits >= 2 \
        else np.zeros(len(chars), dtype=bool)
    low, high = SEGMENT_RANGE
    for start in (6, 9):
        if digits >= start + 3:
            seg = _segment(chars, start, start + 3)
            fine &= (seg >= low) & (seg <= high)
    ok[np.flatnonzero(ok)[~fine]] = False
    return ok


def _polygonal(geom):
    """The polygonal part of a geometry ``make_valid`` returned (Polygon or
    MultiPolygon, valid), or None when nothing polygonal is left."""
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if kind not in ("Polygon", "MultiPolygon"):
        parts = [p for p in shapely.get_parts(geom)
                 if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
        polys = [q for p in parts for q in shapely.get_parts(p)]
        if not polys:
            return None
        geom = polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
        if not geom.is_valid:
            geom = shapely.union_all(polys)
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
        return None
    return geom
_PLAIN_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


def _str_mask(values: pd.Series) -> np.ndarray:
    """Which values are ``str`` (or a subclass), as a boolean array."""
    if isinstance(values.dtype, pd.StringDtype):  # its values are str, or missing
        return values.notna().to_numpy(dtype=bool)
    arr = values.to_numpy(dtype=object)
    return np.fromiter(map(isinstance, arr, [str] * len(arr)), dtype=bool, count=len(arr))


def _blank_cells(col: pd.Series) -> np.ndarray:
    """Which values are blank as text (``str(v).strip() == ""``), as a boolean array."""
    arr = col.to_numpy(dtype=object)
    is_str = _str_mask(col)
    out = np.zeros(len(arr), dtype=bool)
    out[is_str] = (pd.Series(arr[is_str], dtype=object).str.strip() == "").to_numpy(bool)
    for i in np.flatnonzero(~is_str):
        out[i] = str(arr[i]).strip() == ""
    return out


def _texts(col: pd.Series) -> pd.Series | None:
    """Each value as stripped text, "" for None/NaN (what a person typed); None for a
    column whose dtype is not numpy or plain text (the row path handles those)."""
    dtype = col.dtype
    numpy_dtype = isinstance(dtype, np.dtype)
    if numpy_dtype and dtype.kind in "iub":
        return pd.Series(col.to_numpy().astype(str), dtype=object).str.strip()
    if numpy_dtype and dtype == np.float64:  # (float32 values are not floats: the row path says "nan")
        arr = col.to_numpy()
        out = pd.Series(arr.astype(object), dtype=object).map(str, na_action="ignore")
        return out.where(~np.isnan(arr), "").str.strip()
    if not (numpy_dtype and dtype.kind == "O") and not (isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan):
        return None  # e.g. missing values as pd.NA, which the row path writes as "<NA>"
    arr = col.to_numpy(dtype=object)
    is_str = _str_mask(col)
    if is_str.all():
        return _stripped(arr)
    text = np.empty(len(arr), dtype=object)
    text[is_str] = arr[is_str]
    for i in np.flatnonzero(~is_str):
        v = arr[i]
        text[i] = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
    return _stripped(text)


def _stripped(texts: np.ndarray) -> pd.Series:
    """``str.strip`` of each text (an object array of ``str``), as an object Series
    (what ``.str.strip()`` gives, without its per-value Python calls)."""
    out = np.empty(len(texts), dtype=object)
    out[:] = list(map(str.strip, texts))
    return pd.Series(out, dtype=object)


def _numbers(texts: pd.Series) -> np.ndarray:
    """:func:`_number` of each text as an array (NaN where it gives None)."""
    plain = texts.str.replace(",", "", regex=False)
    simple = plain.str.fullmatch(_PLAIN_NUMBER).to_numpy(dtype=bool)
    out = np.full(len(texts), np.nan)
    if simple.any():
        out[simple] = np.fromiter(map(float, plain.to_numpy()[simple]), dtype=float,
                                  count=int(simple.sum()))
    for i in np.flatnonzero(~simple):
        num = _number(texts.iloc[i])
        if num is not None:
            out[i] = num
    out[~np.isfinite(out)] = np.nan
    return out


def _finite(values: pd.Series) -> pd.Series:
    """Numbers with inf/-inf as missing (reported like any other non-number)."""
    return values.where(np.isfinite(values.astype(float)))


def _number(text: str) -> float | None:
    """A finite number written by a person ("1,200", "35.0"), else None."""
    try:
        num = float(text.replace(",", ""))
    except ValueError:
        return None
    return num if math.isfinite(num) else None


def _survey_axes(xs: np.ndarray, ys: np.ndarray) -> bool:
    """True when "x" holds Gauss-Kruger northings and "y" eastings (survey convention).

    In China northings run from about 1 to 6 million metres (7 digits); eastings are
    6-digit, or 8-digit with the zone number in front.
    """
    x, y = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    if not x.size or not y.size:
        return False
    mx, my = np.median(x), np.median(y)
    return bool(1e6 <= mx < 7e6 and (1e5 <= my < 1e6 or 1e7 <= my < 1e8))


class _TooBig(Exception):
    pass


def _copy_member(zf: zipfile.ZipFile, member: str, target: Path, budget: int) -> int:
    """Stream one member to ``target`` (never whole in memory), at most ``budget`` bytes;
    returns the bytes written."""
    written = 0
    with zf.open(member) as src, target.open("wb") as dst:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                return written
            written += len(chunk)
            if written > budget:
                raise _TooBig
            dst.write(chunk)


def _sheet_has_formulas(wb, ws) -> bool:
    """Whether the sheet's XML holds a formula element (``<f>``), read as a stream: most
    workbooks have none and need no cell-by-cell pass."""
    archive = getattr(wb, "_archive", None)
    member = getattr(ws, "_worksheet_path", None)
    if archive is None or member is None:
        return True
    pattern = re.compile(rb"<(?:\w+:)?f[\s>/]")
    tail = b""
    with archive.open(member) as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                return False
            if pattern.search(tail + chunk):
                return True
            tail = chunk[-16:]


def _csv_error_zh(exc: Exception) -> str:
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m:
        return f"：第 {m.group(2)} 行有 {m.group(3)} 列，而表头只有 {m.group(1)} 列"
    return ""


# .cpg text -> the encoding name GDAL (iconv) and Python both know
_CPG_NAMES = {
    "UTF8": "UTF-8", "65001": "UTF-8",
    "GBK": "GB18030", "CP936": "GB18030", "936": "GB18030", "ANSI936": "GB18030",
    "GB2312": "GB18030", "GB18030": "GB18030", "54936": "GB18030", "EUCCN": "GB18030",
    "BIG5": "BIG5", "CP950": "BIG5", "950": "BIG5",
    "88591": "ISO-8859-1", "ISO88591": "ISO-8859-1", "LATIN1": "ISO-8859-1",
    "1252": "CP1252", "CP1252": "CP1252", "ANSI1252": "CP1252", "WINDOWS1252": "CP1252",
}


def _cpg_encoding(cpg: Path) -> tuple[str, str] | None:
    """(encoding, the .cpg's own text) for a .cpg naming an encoding we know, else None
    (the encoding is then found from the bytes, as without a .cpg)."""
    try:
        text = cpg.read_bytes()[:100].decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    key = re.sub(r"[\s_\-]", "", text).upper()
    if key in _CPG_NAMES:
        return _CPG_NAMES[key], text
    return None


def _cpg_check(reader: _Reader, codec: str, cpg_text: str, found: str | None,
               shp: Path) -> str:
    """The .cpg's encoding when the .dbf's text decodes in it; a mismatch (the text is
    UTF-8 while the .cpg says GBK, or the other way round) is refused naming the .cpg,
    rather than imported as mojibake."""
    names, records = _dbf_parts(shp)
    if all(n.isascii() for n in names) and records.isascii():
        return codec
    utf8 = found == "UTF-8"
    if codec == "UTF-8":
        if utf8:
            return codec
        actual = "GBK" if found == "GB18030" else None
    else:
        if not utf8 and _decodes(names, records, codec):
            return codec
        actual = "UTF-8" if utf8 else ("GBK" if found == "GB18030" else None)
    shown = "GBK" if codec == "GB18030" else codec
    fix = (f"请把 .cpg 文件的内容改为 {actual}，或删除 .cpg 文件（将自动识别编码）后重新打包导入"
           if actual else "请确认属性表的编码后改正 .cpg 文件，或存为 UTF-8 编码")
    seen = f"实际是 {actual} 编码" if actual else f"不是 {shown} 编码"
    raise reader.fail(f".cpg 文件写明属性表编码为“{cpg_text}”（{shown}），但属性表（.dbf）中的文字"
                      f"{seen}，按 .cpg 读会成为乱码：{fix}")


def _dbf_parts(shp: Path) -> tuple[list[bytes], bytes]:
    """The text bytes of the .dbf next to ``shp``: field names and records."""
    dbf = next((p for p in (shp.with_suffix(".dbf"), shp.with_suffix(".DBF")) if p.exists()),
               None)
    raw = dbf.read_bytes() if dbf else b""
    if len(raw) < 32:
        return [], b""
    header_len = int.from_bytes(raw[8:10], "little")
    names = [raw[start:start + 11].split(b"\0")[0]
             for start in range(32, max(header_len - 1, 32), 32)]
    return names, raw[header_len:]


def _decodes(names: list[bytes], records: bytes, encoding: str) -> bool:
    """Whether the .dbf's text decodes in ``encoding``. A field name holds 10 bytes, so
    a writer may have cut its last character in half: that tail is allowed."""
    import codecs

    try:
        for name in names:
            codecs.getincrementaldecoder(encoding)().decode(name, final=False)
        records.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _dbf_encoding(shp: Path) -> str | None:
    """The encoding that decodes every text byte of the .dbf next to ``shp``.

    UTF-8 when the field names and records decode as UTF-8, else GB18030 (a superset of
    GBK); ``None`` when neither does. A missing or short .dbf is left to GDAL to report.
    """
    names, records = _dbf_parts(shp)
    if not names and not records:
        return "UTF-8"
    for encoding in ("UTF-8", "GB18030"):
        if _decodes(names, records, encoding):
            return encoding
    return None


def _lonlat_like(xs: np.ndarray) -> bool:
    """Mostly lon/lat-looking x values (the odd bad row is reported, not guessed from)."""
    return bool(xs.size) and np.mean(np.abs(xs) <= 180) >= 0.5


def _is_geographic(source: str) -> bool:
    from pyproj import CRS

    return CRS.from_user_input(source).is_geographic


def _crs_text(crs) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


_REASONS = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points": "点数过少",
    "Hole lies outside shell": "内环位于外环之外",
    "Nested shells": "外环嵌套",
    "Interior is disconnected": "内部不连通",
    "Invalid Coordinate": "坐标无效",
    "Duplicate Rings": "环重复",
    "Nested holes": "内环嵌套",
    "Ring is not closed": "环未闭合",
}


def validity_reason_zh(reason: str) -> str:
    """GEOS' validity reason (``shapely.is_valid_reason``) in Chinese; the location stays
    in the geometry's own CRS."""
    for en, zh in _REASONS.items():
        if reason.startswith(en):
            rest = reason[len(en):]
            return zh + rest.replace("[", "（位置 ").replace("]", "）")
    return reason
