"""File -> validated GeoDataFrame in CGCS2000, or a ValidationError listing every problem.

Formats: GeoJSON, GeoPackage, zipped Shapefile (``.cpg`` honoured; without one, UTF-8
when the text decodes as UTF-8, else GBK), CSV and XLSX with coordinate columns (or a
WKT column for polygons). Nothing is half-imported: either the whole file is valid or
the caller gets the list of problems.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from . import crs as crsmod
from .errors import Problem, ValidationError
from .schema import LayerKind, get_kind

GEO_SUFFIXES = {".geojson", ".json", ".gpkg", ".zip", ".shp"}
TABLE_SUFFIXES = {".csv", ".xlsx"}
SUPPORTED = "GeoJSON(.geojson/.json)、GeoPackage(.gpkg)、压缩的 Shapefile(.zip)、CSV、XLSX"

LON_ALIASES = ("lon", "lng", "longitude", "经度", "x", "x坐标", "横坐标", "东坐标", "坐标x")
LAT_ALIASES = ("lat", "latitude", "纬度", "y", "y坐标", "纵坐标", "北坐标", "坐标y")
WKT_ALIASES = ("wkt", "geometry", "geom", "几何", "空间信息")

GEOMETRY_LABEL = "几何(坐标)"
TRUE_WORDS = {"true", "1", "是", "有", "y", "yes", "t", "√"}
FALSE_WORDS = {"false", "0", "否", "无", "n", "no", "f", "×", ""}


def read_layer(path: str | Path, kind: str | LayerKind, *, crs: str | None = None,
               filename: str | None = None) -> gpd.GeoDataFrame:
    """Read and validate one layer file.

    Parameters
    ----------
    path : file to read.
    kind : layer kind name (see ``layers.schema.KINDS``) or LayerKind.
    crs : the input coordinate system when the file does not say (or to override it):
        an EPSG code, ``gcj02`` or ``bd09``. Geographic CSV/XLSX default to CGCS2000;
        8-digit Gauss-Kruger eastings are recognised by their zone prefix.
    filename : the name to show in messages (an uploaded file's original name).

    Returns
    -------
    GeoDataFrame in EPSG:4490 with the kind's fields (renamed from their aliases, typed)
    plus every other column of the file, and the geometry.

    Raises
    ------
    ValidationError listing every problem found.
    """
    path = Path(path)
    name = filename or path.name
    lk = kind if isinstance(kind, LayerKind) else get_kind(kind)
    try:
        source_crs = crsmod.parse_crs(crs)
    except crsmod.CRSInputError as exc:
        raise ValidationError([Problem(name, None, None, str(exc))]) from None
    reader = _Reader(path, name, lk, source_crs)
    return reader.run()


class _Reader:
    def __init__(self, path: Path, name: str, kind: LayerKind, source_crs: str | None):
        self.path, self.name, self.kind, self.source_crs = path, name, kind, source_crs
        self.problems: list[Problem] = []
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
        gdf = self._check_fields(gdf)
        self._centres_to_stored(gdf)
        if self.problems:
            self.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
            raise ValidationError(self.problems)
        gdf.attrs["source_crs"] = self.used_crs
        gdf.attrs["source"] = self.name
        return gdf

    def _read_table(self, suffix: str) -> pd.DataFrame:
        if suffix == ".csv":
            raw = self.path.read_bytes()
            text = None
            for enc in ("utf-8-sig", "gb18030"):
                try:
                    text = raw.decode(enc)
                    break
                except UnicodeDecodeError:
                    continue
            if text is None:
                raise self.fail("无法识别的文件编码：请另存为 UTF-8 或 GBK 编码的 CSV")
            if not text.strip():
                raise self.fail("文件为空")
            # Blank lines above the header are skipped; the line numbers still count them.
            lead = re.match(r"(?:[ \t]*\r?\n)*", text).group(0)
            text = text[len(lead):]
            self.row_offset += lead.count("\n")
            try:
                df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                 skipinitialspace=True, skip_blank_lines=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise self.fail(f"CSV 格式错误，文件可能不完整：{exc}") from None
        else:
            try:
                df = pd.read_excel(self.path, dtype=str, keep_default_na=False,
                                   engine="openpyxl")
            except Exception as exc:  # openpyxl raises many kinds for a broken zip/XML
                raise self.fail(f"XLSX 文件无法读取，可能已损坏或不完整：{type(exc).__name__}") \
                    from None
        df.columns = [str(c).strip() for c in df.columns]
        # Blank rows are not records; the others keep their line numbers (header = line 1).
        if not len(df):
            return df
        blank = df.apply(lambda r: all(str(v).strip() == "" for v in r), axis=1).to_numpy()
        self.lines = np.flatnonzero(~blank) + self.row_offset
        return df.loc[~blank]

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
                raise self.fail(f"GeoPackage 无法读取，可能已损坏或不完整：{exc}") from None
            if not layers:
                raise self.fail("GeoPackage 中没有图层")
            layer = self.kind.name if self.kind.name in layers else layers[0]
        return self._pyogrio(self.path, layer=layer)

    def _extract_shapefile(self, tmp: Path) -> Path:
        try:
            with zipfile.ZipFile(self.path) as zf:
                members = [m for m in zf.namelist() if not m.endswith("/")
                           and not Path(m).name.startswith(".")]
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
                for m in members:
                    if m.startswith(stem):
                        target = tmp / ("layer" + m[len(stem):].lower())
                        target.write_bytes(zf.read(m))
        except zipfile.BadZipFile:
            raise self.fail("ZIP 文件已损坏或不完整") from None
        return tmp / "layer.shp"

    def _read_shapefile(self, shp: Path) -> gpd.GeoDataFrame:
        if shp.with_suffix(".cpg").exists() or shp.with_suffix(".CPG").exists():
            return self._pyogrio(shp)
        # Decide in Python: GDAL drops or garbles bytes it cannot recode and only warns
        # (once per process, from a callback that cannot raise).
        encoding = _dbf_encoding(shp)
        if encoding is None:
            raise self.fail("无法识别的文件编码：请提供 .cpg 文件或使用 UTF-8/GBK 编码")
        return self._pyogrio(shp, encoding=encoding)

    def _pyogrio(self, path: Path, *, layer=None, encoding=None):
        try:
            return pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
        except UnicodeDecodeError:
            raise self.fail("无法识别的文件编码") from None
        except Exception as exc:
            raise self.fail(f"文件无法读取，可能已损坏或不完整：{exc}") from None

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
        if lon_col is not None and lat_col is not None and not (polygonal and wkt_col):
            xs = pd.to_numeric(df[lon_col].str.strip(), errors="coerce")
            ys = pd.to_numeric(df[lat_col].str.strip(), errors="coerce")
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
            geoms = []
            for idx, text in enumerate(df[wkt_col]):
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
            raise self.fail(f"坐标转换失败（{crsmod.describe(source)}）：{exc}") from None
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
            raise self.fail(f"中心点坐标转换失败：{exc}") from None
        lon[given], lat[given] = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
        outside = given & ~((lon >= crsmod.CHINA_LON[0]) & (lon <= crsmod.CHINA_LON[1])
                            & (lat >= crsmod.CHINA_LAT[0]) & (lat <= crsmod.CHINA_LAT[1]))
        for idx in np.flatnonzero(outside):
            self.add(idx, "中心经度/中心纬度", f"中心点（{lon[idx]:.6f}, {lat[idx]:.6f}）超出中国范围")
        gdf["center_lon"] = pd.array(np.where(given, lon, np.nan), dtype="Float64")
        gdf["center_lat"] = pd.array(np.where(given, lat, np.nan), dtype="Float64")

    def _check_geometry(self, gdf: gpd.GeoDataFrame) -> None:
        geoms = gdf.geometry.values
        want = self.kind.geometry
        for idx, g in enumerate(geoms):
            if g is None or g.is_empty:
                if idx not in self.coord_problem_rows:
                    self.add(idx, GEOMETRY_LABEL, "几何为空")
                continue
            if g.geom_type not in want:
                self.add(idx, GEOMETRY_LABEL,
                         f"几何类型为 {g.geom_type}，{self.kind.label}图层应为{self.kind.geometry_label}")
                continue
            if not g.is_valid:
                reason = shapely.is_valid_reason(g)
                self.add(idx, GEOMETRY_LABEL, f"几何无效：{validity_reason_zh(reason)}")

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
        return out

    def _convert(self, col: pd.Series, f) -> pd.Series:
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
                if not (text.isascii() and text.isdigit()) or len(text) != f.code_digits:
                    self.add(idx, f.label, f"代码“{text}”格式错误：应为 {f.code_digits} 位数字")
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
        if "code" not in self.kind.field_names or "code" not in gdf.columns:
            return
        label = self.kind.field("code").label
        codes = gdf["code"]
        dup = codes.notna() & codes.duplicated(keep=False)
        first_row: dict[str, int] = {}
        for idx in np.flatnonzero(dup.to_numpy()):
            code = codes.iloc[idx]
            if code in first_row:
                self.add(idx, label, f"代码“{code}”重复（与第 {first_row[code]} "
                                     f"{'个要素' if self.unit == '要素' else '行'}相同）")
            else:
                first_row[code] = self.row_of(idx)
        if self.kind.name == "villages" and "township_code" in gdf.columns:
            for idx, (code, parent) in enumerate(zip(codes, gdf["township_code"], strict=True)):
                if (isinstance(code, str) and isinstance(parent, str) and len(code) == 12
                        and code.isdigit() and code[:9] != parent):
                    self.add(idx, label, f"村代码“{code}”不在所属乡镇“{parent}”之下"
                                         f"（前 9 位应与乡镇代码相同）")

    def _check_consistency(self, gdf: gpd.GeoDataFrame) -> None:
        pairs = (("occupied_beds", "beds", "在住人数超过床位数"),
                 ("used_graves", "capacity_graves", "已用墓穴数超过设计墓穴数"),
                 ("elderly_population", "population", "60岁以上人口超过户籍人口"))
        for small, big, msg in pairs:
            if small in gdf.columns and big in gdf.columns and small in self.kind.field_names:
                s, b = gdf[small], gdf[big]
                over = (s.notna() & b.notna() & (s > b)).fillna(False).to_numpy(dtype=bool)
                for idx in np.flatnonzero(over):
                    self.add(idx, self.kind.field(small).label,
                             f"{msg}（{s.iloc[idx]} > {b.iloc[idx]}）")


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


def _dbf_encoding(shp: Path) -> str | None:
    """The encoding that decodes every text byte of the .dbf next to ``shp``.

    UTF-8 when the field names and records decode as UTF-8, else GB18030 (a superset of
    GBK); ``None`` when neither does. A missing or short .dbf is left to GDAL to report.
    """
    dbf = next((p for p in (shp.with_suffix(".dbf"), shp.with_suffix(".DBF")) if p.exists()),
               None)
    raw = dbf.read_bytes() if dbf else b""
    if len(raw) < 32:
        return "UTF-8"
    header_len = int.from_bytes(raw[8:10], "little")
    names = b"".join(raw[start:start + 11].split(b"\0")[0]
                     for start in range(32, max(header_len - 1, 32), 32))
    text = names + raw[header_len:]
    for encoding in ("UTF-8", "GB18030"):
        try:
            text.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
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
