"""The place-name check against a workspace, shared by the CLI, the JSON API and the page.

Villages come from the workspace; labels from the stored ``place_labels`` layer or from a
label file (CSV/XLSX/GeoJSON/... read with ``layers.read_layer`` and converted from its
CRS, e.g. ``gcj02`` or ``bd09``, to CGCS2000). Former names come from an aliases file
(CSV or XLSX, columns code/former_name or 代码/曾用名). There is no aliases layer kind: in
the demo workspace only, the demo's ``layers/demo/source/village_aliases.csv`` is used when
no file is given. Parameters arrive as text and are checked here with Chinese messages.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoservice.analysis.placenames import (
    PlacenamesResult,
    Romanizer,
    check_placenames,
    read_aliases_frame,
)
from geoservice.analysis.settings import placenames_defaults
from geoservice.errors import BadParameter, NotFound
from geoservice.services.params import number
from layers import KINDS, LayerNotFound, LayerStore, ValidationError, read_layer
from layers import crs as crsmod
from layers.demo import DEMO_WORKSPACE
from layers.errors import Problem

DEMO_ALIASES = Path(DEMO_WORKSPACE).parent / "source" / "village_aliases.csv"


class LabelFileRejected(ValidationError):
    """A label file with problems (rows, fields): nothing was checked, nothing stored."""

    def __init__(self, problems):
        # the layer reader names its own --crs option; here the option is --labels-crs
        problems = [dataclasses.replace(p, message=p.message.replace(
            "--crs ", "--labels-crs（网页上为“标注坐标系”，接口参数 crs）")) for p in problems]
        super().__init__(problems)
        head = f"标注文件有 {len(self.problems)} 处问题，未进行核查"
        Exception.__init__(self, head + "：\n" + "\n".join(str(p) for p in self.problems[:50]))
MAX_DISTANCE_M = 100_000


@dataclass(frozen=True)
class PlacenamesParams:
    tolerance_m: float | None = None
    search_radius_m: float | None = None
    fuzzy_threshold: float | None = None

    def query(self) -> dict:
        q = {}
        for key, value in (("tolerance", self.tolerance_m), ("radius", self.search_radius_m),
                           ("threshold", self.fuzzy_threshold)):
            if value is not None:
                q[key] = int(value) if float(value).is_integer() else value
        return q


def placenames_params(tolerance=None, radius=None, threshold=None) -> PlacenamesParams:
    """Check the parameters given as text; None means the defaults.toml value."""
    tol = number(tolerance, "tolerance", "位置容差，米")
    if tol is not None and not 0 <= tol <= MAX_DISTANCE_M:
        raise BadParameter(f"参数 tolerance（位置容差）应在 0 到 {MAX_DISTANCE_M} 米之间，而不是 {tol:g}")
    rad = number(radius, "radius", "搜索半径，米")
    if rad is not None and not 100 <= rad <= MAX_DISTANCE_M:
        raise BadParameter(f"参数 radius（搜索半径）应在 100 到 {MAX_DISTANCE_M} 米之间，而不是 {rad:g}")
    thr = number(threshold, "threshold", "近似名称阈值，0-1")
    if thr is not None and not 0 < thr <= 1:
        raise BadParameter(f"参数 threshold（近似名称阈值）应在 0 到 1 之间，而不是 {thr:g}")
    return PlacenamesParams(tol, rad, thr)


def read_labels_file(path: str | Path, crs: str | None, filename: str | None = None):
    """A label file as place_labels in CGCS2000; ``crs`` e.g. gcj02, bd09, EPSG:4490.

    The ``crs`` column (the provider's system, for the XLSX) is filled from ``crs`` where
    the file does not say. Raises ValidationError (Chinese, with rows and fields).
    """
    gdf = read_layer(path, "place_labels", crs=crs, filename=filename)
    _check_own_systems(gdf, crs, filename or Path(path).name)
    if not crs:
        # No CRS given: an internet-map export that names its own system in a 坐标系 column
        # (gcj02 / bd09, one value for the whole file) is read in that system.
        own = _own_crs(gdf)
        if own:
            crs = own
            gdf = read_layer(path, "place_labels", crs=crs, filename=filename)
    parsed = crsmod.parse_crs(crs) if crs else None
    given = parsed or "EPSG:4490"
    if "crs" not in gdf.columns:
        gdf["crs"] = given
    else:
        gdf["crs"] = gdf["crs"].where(gdf["crs"].notna() & (gdf["crs"].astype(str) != ""),
                                      given)
        if parsed:
            gdf["crs"] = parsed
    return gdf


def _systems(gdf) -> set[str]:
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


def _check_own_systems(gdf, crs: str | None, name: str) -> None:
    """Refuse a file whose 坐标系 column mixes GCJ-02 / BD-09 with another system, or names
    GCJ-02 / BD-09 while another system was chosen: read the wrong way, every label would
    be hundreds of metres off and reported as misplaced."""
    systems = _systems(gdf)
    shifted = systems & {crsmod.GCJ02, crsmod.BD09}
    if len(systems) > 1 and shifted:
        listed = "、".join(sorted(crsmod.describe(x) for x in systems))
        raise LabelFileRejected([Problem(name, None, "坐标系",
                                         f"“坐标系”列中有多种坐标系（{listed}），请按坐标系分成几个文件上传")])
    if crs and systems and shifted:
        try:
            chosen = crsmod.parse_crs(crs)
        except crsmod.CRSInputError:
            return
        chosen = crsmod.STORED_CRS if chosen == "EPSG:4326" else chosen
        own = next(iter(systems))
        if chosen != own:
            raise LabelFileRejected([Problem(
                name, None, "坐标系",
                f"文件的“坐标系”列写的是 {crsmod.describe(own)}，而指定的标注坐标系是 "
                f"{crsmod.describe(chosen)}：请核对后重新选择标注坐标系（或不指定，按文件所写换算）")])


def _own_crs(gdf) -> str | None:
    """The one GCJ-02 / BD-09 system a label table says it is in, else None."""
    systems = _systems(gdf)
    if len(systems) == 1 and systems <= {crsmod.GCJ02, crsmod.BD09}:
        return next(iter(systems))
    return None


def read_aliases_file(path: str | Path, filename: str | None = None) -> pd.DataFrame:
    """Former names from CSV or XLSX: columns code/former_name (代码/曾用名)."""
    path = Path(path)
    name = filename or path.name
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xls"):
            df = pd.read_excel(path, dtype=str)
        elif suffix in (".csv", ".txt"):
            try:
                df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            except UnicodeDecodeError:
                df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")
        else:
            raise BadParameter(f"曾用名文件“{name}”格式不支持：请用 CSV 或 XLSX")
    except BadParameter:
        raise
    except UnicodeDecodeError:
        raise BadParameter(f"无法读取曾用名文件“{name}”：文件编码无法识别，请存为 UTF-8 或 GBK 编码的 "
                           "CSV") from None
    except pd.errors.EmptyDataError:
        raise BadParameter(f"曾用名文件“{name}”是空文件") from None
    except Exception:  # unreadable file: say which, in Chinese
        raise BadParameter(f"无法读取曾用名文件“{name}”：文件已损坏或不是 {suffix.lstrip('.').upper()} "
                           "格式") from None
    try:
        out = read_aliases_frame(df)
    except ValueError as exc:
        raise BadParameter(f"曾用名文件“{name}”：{exc}") from None
    bad = out[~out["code"].str.fullmatch(r"\d{12}")]
    if len(bad):
        row = int(bad.index[0]) + 2
        raise BadParameter(f"曾用名文件“{name}”第 {row} 行：代码“{bad['code'].iloc[0]}”不是 12 位村(社区)代码")
    return out


def _require(store: LayerStore, kind: str):
    try:
        return store.read(kind)
    except LayerNotFound:
        raise NotFound(f"工作空间中没有“{KINDS[kind].label}”图层，请先导入") from None


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


def run_placenames(store: LayerStore, params: PlacenamesParams | None = None, *,
                   labels_path: str | Path | None = None, labels_crs: str | None = None,
                   labels_filename: str | None = None,
                   aliases_path: str | Path | None = None,
                   aliases_filename: str | None = None,
                   readings_path: str | Path | None = None,
                   labels_optional: bool = False) -> PlacenamesResult:
    """Run the check on the workspace's villages and the stored or given labels.

    ``labels_optional`` (the page): a workspace without a place_labels layer still gets the
    roster checks and the romanisation, with no label findings, instead of NotFound.
    """
    params = params or PlacenamesParams()
    versions = store.current_versions()
    info = store.info()
    demo = info.get("demo") == "1"
    villages = _require(store, "villages")
    townships = store.read("townships") if "townships" in versions else None
    layer_versions = {k: versions[k].version for k in ("villages", "townships")
                      if k in versions}
    labels_given = True
    if labels_path is not None:
        try:
            labels = read_labels_file(labels_path, labels_crs, labels_filename)
        except crsmod.CRSInputError as exc:
            raise BadParameter(f"参数 labels-crs：{exc}") from None
        except LabelFileRejected:
            raise
        except ValidationError as exc:
            raise LabelFileRejected(exc.problems) from None
        labels_source = f"上传文件 {labels_filename or Path(labels_path).name}"
    else:
        if labels_crs:
            raise BadParameter("只有指定标注文件时才能指定标注坐标系（labels-crs）")
        label_kind = KINDS["place_labels"].label
        if labels_optional and "place_labels" not in versions:
            labels = gpd.GeoDataFrame({"name": pd.Series(dtype=str)},
                                      geometry=gpd.GeoSeries([], crs=crsmod.STORED_CRS))
            labels_given = False
            labels_source = f"无：工作空间中没有“{label_kind}”图层，请上传标注文件"
        else:
            labels = _require(store, "place_labels")
            layer_versions["place_labels"] = versions["place_labels"].version
            labels_source = (f"工作空间“{label_kind}”图层（place_labels）"
                             f"第 {versions['place_labels'].version} 版")
    if aliases_path is not None:
        aliases = read_aliases_file(aliases_path, aliases_filename)
        aliases_source = f"文件 {aliases_filename or Path(aliases_path).name}"
    elif demo and DEMO_ALIASES.exists():
        aliases = read_aliases_file(DEMO_ALIASES)
        aliases_source = "示例数据 layers/demo/source/village_aliases.csv"
    else:
        aliases = None
        aliases_source = "无（未提供曾用名表）"
    romanizer = None
    if readings_path is not None:
        try:
            romanizer = Romanizer(user_file=readings_path)
        except (ValueError, OSError) as exc:
            raise BadParameter(f"读音表：{exc}") from None
    pcrs = provider_crs(labels)
    inputs = {
        "workspace": info.get("title", ""),
        "demo": demo,
        "layer_versions": layer_versions,
        "labels_source": labels_source,
        "labels_crs": pcrs,
        "labels_crs_label": crsmod.describe(pcrs),
        "aliases_source": aliases_source,
        "readings": "内置读音表" + (f" + {Path(readings_path).name}" if readings_path else ""),
    }
    try:
        return check_placenames(villages, labels, aliases, townships=townships,
                                tolerance_m=params.tolerance_m,
                                search_radius_m=params.search_radius_m,
                                fuzzy_threshold=params.fuzzy_threshold,
                                romanizer=romanizer, inputs=inputs,
                                labels_given=labels_given)
    except ValidationError:
        raise
    except ValueError as exc:
        raise BadParameter(str(exc)) from None


def defaults_note() -> str:
    d = placenames_defaults()
    return (f"位置容差 {d['misplaced_tolerance_m']:g} 米，搜索半径 {d['search_radius_m']:g} 米，"
            f"近似名称阈值 {d['fuzzy_threshold']:g}（{d['source']}）")
