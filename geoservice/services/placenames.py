"""The place-name check against a workspace, shared by the CLI, the JSON API and the page.

Villages come from the workspace; labels from the stored ``place_labels`` layer or from a
label file (CSV/XLSX/GeoJSON/..., converted from its CRS, e.g. ``gcj02`` or ``bd09``, to
CGCS2000). Former names come from an aliases file (CSV or XLSX, columns code/former_name
or 代码/曾用名). There is no aliases layer kind: in the demo workspace only, the demo's
``layers/demo/source/village_aliases.csv`` is used when no file is given. The files are
read and checked by ``layers.labels``; parameters arrive as text and are checked here
(``services.params``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoservice.analysis.placenames import PlacenamesResult, Romanizer, check_placenames
from geoservice.analysis.settings import placenames_defaults
from geoservice.errors import BadParameter
from geoservice.services.params import bounded
from geoservice.services.workspace import require_layer
from layers import KINDS, LayerStore, ValidationError
from layers import crs as crsmod
from layers.demo import DEMO_WORKSPACE
from layers.labels import TableRejected, provider_crs, read_aliases, read_label_file, read_readings

__all__ = ["LabelFileRejected", "PlacenamesParams", "defaults_note", "placenames_params",
           "provider_crs", "read_aliases_file", "read_labels_file", "run_placenames"]

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
    tol = bounded(tolerance, "tolerance", "位置容差", 0, MAX_DISTANCE_M, unit="米")
    rad = bounded(radius, "radius", "搜索半径", 100, MAX_DISTANCE_M, unit="米")
    thr = bounded(threshold, "threshold", "近似名称阈值", 0, 1, low_open=True)
    return PlacenamesParams(tol, rad, thr)


def read_labels_file(path: str | Path, crs: str | None, filename: str | None = None,
                     limits=None):
    """A label file as place_labels in CGCS2000 (``layers.labels.read_label_file``); a file
    with problems raises :class:`LabelFileRejected` naming this check's options."""
    try:
        return read_label_file(path, crs, filename, limits)
    except ValidationError as exc:
        raise LabelFileRejected(exc.problems) from None


def read_aliases_file(path: str | Path, filename: str | None = None,
                      limits=None) -> pd.DataFrame:
    """Former names from CSV or XLSX (``layers.labels.read_aliases``); BadParameter naming
    the file and row when they cannot be used."""
    try:
        return read_aliases(path, filename, limits)
    except TableRejected as exc:
        raise BadParameter(str(exc)) from None



def run_placenames(store: LayerStore, params: PlacenamesParams | None = None, *,
                   labels_path: str | Path | None = None, labels_crs: str | None = None,
                   labels_filename: str | None = None,
                   aliases_path: str | Path | None = None,
                   aliases_filename: str | None = None,
                   readings_path: str | Path | None = None,
                   labels_optional: bool = False, limits=None) -> PlacenamesResult:
    """Run the check on the workspace's villages and the stored or given labels.

    ``limits`` (``layers.readers.ImportLimits``): the configured limits for the label and
    former-name files (archive sizes, feature count); the readers' defaults when None.

    ``labels_optional`` (the page): a workspace without a place_labels layer still gets the
    roster checks and the romanisation, with no label findings, instead of NotFound.
    """
    params = params or PlacenamesParams()
    versions = store.current_versions()
    info = store.info()
    demo = info.get("demo") == "1"
    villages = require_layer(store, "villages")
    townships = store.read("townships") if "townships" in versions else None
    layer_versions = {k: versions[k].version for k in ("villages", "townships")
                      if k in versions}
    labels_given = True
    if labels_path is not None:
        try:
            labels = read_labels_file(labels_path, labels_crs, labels_filename, limits)
        except crsmod.CRSInputError as exc:
            raise BadParameter(f"参数 labels-crs：{exc}") from None
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
            labels = require_layer(store, "place_labels")
            layer_versions["place_labels"] = versions["place_labels"].version
            labels_source = (f"工作空间“{label_kind}”图层（place_labels）"
                             f"第 {versions['place_labels'].version} 版")
    if aliases_path is not None:
        aliases = read_aliases_file(aliases_path, aliases_filename, limits)
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
            romanizer = Romanizer(read_readings(readings_path))
        except (TableRejected, OSError) as exc:
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
    return check_placenames(villages, labels, aliases, townships=townships,
                            tolerance_m=params.tolerance_m,
                            search_radius_m=params.search_radius_m,
                            fuzzy_threshold=params.fuzzy_threshold,
                            romanizer=romanizer, inputs=inputs,
                            labels_given=labels_given)


def defaults_note() -> str:
    d = placenames_defaults()
    return (f"位置容差 {d['misplaced_tolerance_m']:g} 米，搜索半径 {d['search_radius_m']:g} 米，"
            f"近似名称阈值 {d['fuzzy_threshold']:g}（{d['source']}）")
