"""Files of the place-name check: map labels, former names (曾用名) and reading tables (读音表).

Label files are a layer kind (``place_labels``) read with :func:`layers.read_layer`, plus
their own coordinate system: an internet-map export names it in a 坐标系 column (gcj02 /
bd09), which is read in that system when no other is chosen and refused when it contradicts
the chosen one. Each label keeps the system it was read in (its ``crs`` column: the row's
own 坐标系 when given, else the system the file was read in, else CGCS2000), so that the
corrections sent back to a map provider are in the provider's own coordinates
(:func:`read_systems`, :func:`system_label`). Former names and readings are side tables (CSV or XLSX), not layers: they
are read here, checked row by row, and rejected with a message naming the file and row.
"""

from __future__ import annotations

import csv
import functools
import zipfile
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import crs as crsmod
from .errors import Problem, ValidationError
from .readers import (
    DEFAULT_LIMITS,
    ImportLimits,
    TableUnreadable,
    check_archive,
    read_layer,
    read_text_table,
    too_many,
)

ALIAS_CODE_HEADERS = ("代码", "村代码", "区划代码", "村(社区)代码", "code")
ALIAS_NAME_HEADERS = ("曾用名", "旧名", "原名", "former_name", "former")
READING_WORD_HEADERS = ("word", "词语", "地名", "汉字")
READING_PINYIN_HEADERS = ("pinyin", "读音", "拼音")


class TableRejected(ValidationError, ValueError):
    """A side table (former names, readings) that cannot be used; the message names the
    file (and the row), ``problems`` holds the same as one :class:`Problem`."""

    def __init__(self, message: str, problem: Problem):
        super().__init__([problem])
        Exception.__init__(self, message)


# --- label files --------------------------------------------------------------------------

def read_label_file(path: str | Path, crs: str | None, filename: str | None = None,
                    limits: ImportLimits | None = None) -> gpd.GeoDataFrame:
    """A label file as ``place_labels`` in CGCS2000; ``crs`` e.g. gcj02, bd09, EPSG:4490.

    The ``crs`` column (the provider's system, for the corrections XLSX) is filled from
    ``crs`` where the file does not say. Raises ValidationError (Chinese, with file, rows
    and fields), also when the file's 坐标系 column contradicts ``crs`` or mixes systems.
    ``limits``: as for :func:`layers.read_layer` (zip archives, feature count).
    """
    gdf = read_layer(path, "place_labels", crs=crs, filename=filename, limits=limits)
    check_own_systems(gdf, crs, filename or Path(path).name)
    if not crs:
        # No CRS given: an internet-map export that names its own system in a 坐标系 column
        # (gcj02 / bd09, one value for the whole file) is read in that system.
        own = own_crs(gdf)
        if own:
            crs = own
            gdf = read_layer(path, "place_labels", crs=crs, filename=filename, limits=limits)
    parsed = crsmod.parse_crs(crs) if crs else None
    # the system the reader really used (a zone-prefixed GK CRS for 8-digit eastings, the
    # file's own CRS for a GeoJSON/GeoPackage), so the labels can be written back in it
    given = gdf.attrs.get("source_crs") or parsed or crsmod.STORED_CRS
    if "crs" not in gdf.columns or parsed:
        gdf["crs"] = given
    else:
        gdf["crs"] = gdf["crs"].where(gdf["crs"].notna() & (gdf["crs"].astype(str) != ""),
                                      given)
    return gdf


def label_systems(gdf) -> set[str]:
    """The systems a label table's ``crs`` (坐标系) column names, parsed; WGS84 = CGCS2000."""
    if "crs" not in gdf.columns:
        return set()
    out = set()
    for v in {str(v).strip() for v in gdf["crs"] if isinstance(v, str) and v.strip()}:
        try:
            parsed = crsmod.parse_crs(v)
        except crsmod.CRSInputError:
            continue
        if parsed:
            out.add(crsmod.STORED_CRS if parsed == "EPSG:4326" else parsed)
    return out


def check_own_systems(gdf, crs: str | None, name: str) -> None:
    """Refuse a file whose 坐标系 column mixes GCJ-02 / BD-09 with another system, or names
    GCJ-02 / BD-09 while another system was chosen: read the wrong way, every label would
    be hundreds of metres off and reported as misplaced."""
    systems = label_systems(gdf)
    shifted = systems & {crsmod.GCJ02, crsmod.BD09}
    if len(systems) > 1 and shifted:
        listed = "、".join(sorted(crsmod.describe(x) for x in systems))
        raise ValidationError([Problem(
            name, None, "坐标系", f"“坐标系”列中有多种坐标系（{listed}），请按坐标系分成几个文件上传")])
    if crs and systems and shifted:
        try:
            chosen = crsmod.parse_crs(crs)
        except crsmod.CRSInputError:
            return
        chosen = crsmod.STORED_CRS if chosen == "EPSG:4326" else chosen
        own = next(iter(systems))
        if chosen != own:
            raise ValidationError([Problem(
                name, None, "坐标系",
                f"文件的“坐标系”列写的是 {crsmod.describe(own)}，而指定的标注坐标系是 "
                f"{crsmod.describe(chosen)}：请核对后重新选择标注坐标系（或不指定，按文件所写换算）")])


def own_crs(gdf) -> str | None:
    """The one GCJ-02 / BD-09 system a label table says it is in, else None."""
    systems = label_systems(gdf)
    if len(systems) == 1 and systems <= {crsmod.GCJ02, crsmod.BD09}:
        return next(iter(systems))
    return None


def provider_crs(labels) -> str:
    """The labels' own coordinate system (most common ``crs`` value), default EPSG:4490."""
    if "crs" in labels.columns and len(labels):
        values = [str(v) for v in labels["crs"] if isinstance(v, str) and v.strip()]
        if values:
            top = Counter(values).most_common(1)[0][0]
            try:
                return crsmod.parse_crs(top) or "EPSG:4490"
            except crsmod.CRSInputError:
                return "EPSG:4490"
    return "EPSG:4490"


@functools.lru_cache(maxsize=256)
def normalise_system(value) -> str | None:
    """A label's coordinate system as the check compares it: ``gcj02``, ``bd09`` or an
    ``EPSG:n`` code (WGS84 counted as CGCS2000, EPSG:4490); None when blank or unknown."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none"):
        return None
    try:
        parsed = crsmod.parse_crs(text)
    except crsmod.CRSInputError:
        return None
    if parsed == "EPSG:4326":
        return crsmod.STORED_CRS
    return parsed


def read_systems(labels, default: str | None = None) -> np.ndarray:
    """The system each label was read in: its own ``crs`` (坐标系) value when it names one,
    else ``default`` (the system the file or layer version was read in), else CGCS2000."""
    fallback = normalise_system(default) or crsmod.STORED_CRS
    n = len(labels)
    if "crs" not in getattr(labels, "columns", ()) or n == 0:
        return np.full(n, fallback, dtype=object)
    values = labels["crs"].to_numpy(dtype=object)
    out = np.empty(n, dtype=object)
    for i, v in enumerate(values):
        out[i] = normalise_system(v if isinstance(v, str) else None) or fallback
    return out


_GK_PLAIN_FIRST, _GK_PREFIXED_FIRST, _GK_FIRST_ZONE, _GK_ZONES = 4534, 4513, 25, 21


def system_label(crs_text: str | None) -> str:
    """A coordinate system named for a person, in Chinese (the 坐标系 column of the
    corrections sent to a map provider): GCJ-02(高德/腾讯), BD-09(百度), CGCS2000 经纬度,
    CGCS2000 3 度带高斯-克吕格第 n 带, or the EPSG code."""
    system = normalise_system(crs_text) if crs_text else None
    if system is None:
        return "CGCS2000 经纬度（EPSG:4490，天地图、GPS）" if not crs_text else \
            f"坐标系“{crs_text}”"
    if system in crsmod.OFFSET_SYSTEMS:
        return crsmod.OFFSET_SYSTEMS[system]
    if system == crsmod.STORED_CRS:
        return "CGCS2000 经纬度（EPSG:4490，天地图、GPS）"
    code = system.split(":", 1)[1] if system.startswith("EPSG:") else ""
    if code.isdigit():
        n = int(code)
        for first, prefixed in ((_GK_PLAIN_FIRST, False), (_GK_PREFIXED_FIRST, True)):
            if first <= n < first + _GK_ZONES:
                zone = n - first + _GK_FIRST_ZONE
                how = "，横坐标前加带号" if prefixed else ""
                return (f"CGCS2000 3 度带高斯-克吕格投影第 {zone} 带（中央经线 {3 * zone}°E"
                        f"{how}，{system}）")
        return f"坐标系 {system}"
    return "自定义坐标系（WKT）"


# --- former names -------------------------------------------------------------------------

def aliases_frame(aliases: pd.DataFrame | None) -> pd.DataFrame:
    """Former names as (code, former_name) strings; Chinese headers 代码/曾用名 accepted.
    Raises ValueError (Chinese) when either column is missing."""
    if aliases is None or len(aliases) == 0:
        return pd.DataFrame({"code": pd.Series(dtype=str), "former_name": pd.Series(dtype=str)})
    rename = {}
    for col in aliases.columns:
        c = str(col).strip()
        if c in ALIAS_CODE_HEADERS:
            rename[col] = "code"
        elif c in ALIAS_NAME_HEADERS:
            rename[col] = "former_name"
    df = aliases.rename(columns=rename)
    if not {"code", "former_name"} <= set(df.columns):
        raise ValueError("曾用名表需要“代码（code）”和“曾用名（former_name）”两列")
    df = df[["code", "former_name"]].astype(str)
    df["code"] = df["code"].str.strip()
    df["former_name"] = df["former_name"].str.strip()
    return df[(df["code"] != "") & (df["former_name"] != "") & (df["former_name"] != "nan")]


def read_aliases(path: str | Path, filename: str | None = None,
                 limits: ImportLimits | None = None) -> pd.DataFrame:
    """Former names from CSV or XLSX: columns code/former_name (代码/曾用名), 12-digit codes.

    Raises :class:`TableRejected` naming the file (and the first bad row); an XLSX is
    checked as a zip archive first and the row count against ``limits``."""
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    name = filename or path.name
    suffix = Path(name).suffix.lower() or path.suffix.lower()

    def reject(message: str, row: int | None = None, field: str | None = None):
        return TableRejected(message, Problem(name, row, field, message))

    if suffix not in (".xlsx", ".xls", ".csv", ".txt"):
        raise reject(f"曾用名文件“{name}”格式不支持：请用 CSV 或 XLSX")
    if suffix == ".xlsx" and zipfile.is_zipfile(path):  # not a zip: reported below
        try:
            check_archive(path, name, limits, "曾用名 XLSX 文件")
        except ValidationError as exc:
            raise TableRejected(f"曾用名文件“{name}”：{exc.problems[0].message}",
                                exc.problems[0]) from None
    try:
        df = read_text_table(path, suffix)
    except TableUnreadable as exc:
        raise reject({
            "encoding": f"无法读取曾用名文件“{name}”：文件编码无法识别，请存为 UTF-8 或 GBK 编码的 CSV",
            "empty": f"曾用名文件“{name}”是空文件",
            "broken": f"无法读取曾用名文件“{name}”：文件已损坏或不是 "
                      f"{suffix.lstrip('.').upper()} 格式"}[exc.reason]) from None
    if len(df) > limits.max_features:
        exc = too_many(name, len(df), limits, "行")
        raise TableRejected(f"曾用名文件“{name}”：{exc.problems[0].message}", exc.problems[0])
    try:
        out = aliases_frame(df)
    except ValueError as exc:
        raise reject(f"曾用名文件“{name}”：{exc}") from None
    bad = out[~out["code"].str.fullmatch(r"\d{12}")]
    if len(bad):
        row = int(bad.index[0]) + 2
        raise reject(f"曾用名文件“{name}”第 {row} 行：代码“{bad['code'].iloc[0]}”不是 12 位村(社区)"
                     "代码", row, "代码")
    return out


# --- reading tables -----------------------------------------------------------------------

def read_readings(path: str | Path) -> dict[str, list[str]]:
    """A reading table: CSV with columns ``word`` (or 词语/地名) and ``pinyin`` (or 读音),
    syllables separated by spaces (``shi li pu``); ``v`` stands for ``ü``.

    Returns {word: [syllable, ...]}. Raises :class:`TableRejected` (a ValueError) naming the
    file and row; OSError when the file cannot be opened."""
    path = Path(path)

    def reject(message: str, row: int | None = None, field: str | None = None):
        return TableRejected(message, Problem(path.name, row, field, message))

    out: dict[str, list[str]] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            cols = {c.strip(): c for c in (reader.fieldnames or [])}
            word_col = next((cols[c] for c in READING_WORD_HEADERS if c in cols), None)
            py_col = next((cols[c] for c in READING_PINYIN_HEADERS if c in cols), None)
            if word_col is None or py_col is None:
                raise reject(f"读音表 {path.name} 需要 word（词语）和 pinyin（读音）两列")
            for i, row in enumerate(reader, start=2):
                word = (row.get(word_col) or "").strip()
                syl = (row.get(py_col) or "").strip().lower().split()
                if not word:
                    continue
                if len(syl) != len(word) or not all(s.isalpha() for s in syl):
                    raise reject(f"读音表 {path.name} 第 {i} 行：“{word}”的读音“{row.get(py_col)}”"
                                 "应为与字数相同、用空格分开的拼音音节", i, py_col)
                out[word] = [s.replace("v", "ü") for s in syl]
    except UnicodeDecodeError:
        raise reject(f"读音表 {path.name}：文件编码无法识别，请存为 UTF-8 编码的 CSV") from None
    return out
