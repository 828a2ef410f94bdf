"""The place-name check against a workspace, shared by the CLI, the JSON API and the page.

Villages come from the workspace; labels from the stored ``place_labels`` layer or from a
label file (CSV/XLSX/GeoJSON/..., converted from its CRS, e.g. ``gcj02`` or ``bd09``, to
CGCS2000). Former names come from an aliases file (CSV or XLSX, columns code/former_name
or 代码/曾用名). There is no aliases layer kind: in the demo workspace only, the demo's
``layers/demo/source/village_aliases.csv`` is used when no file is given. The files are
read and checked by ``layers.labels``; parameters arrive as text and are checked here
(``services.params``).

Each label keeps the system it was read in (its ``crs``): a label file's own 坐标系 column
or the system it was read in; for the stored layer, the system its version was imported
in (``store.versions("place_labels")``). The check uses it to tell whether the whole set
was read in the wrong system, and the corrections XLSX writes each label back in it.
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
from layers.labels import (
    TableRejected,
    normalise_system,
    provider_crs,
    read_aliases,
    read_label_file,
    read_readings,
    read_systems,
    system_label,
)

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
    read_crs, crs_note = None, None
    if labels_path is not None:
        try:
            labels = read_labels_file(labels_path, labels_crs, labels_filename, limits)
        except crsmod.CRSInputError as exc:
            raise BadParameter(f"参数 labels-crs：{exc}") from None
        labels_source = f"上传文件 {labels_filename or Path(labels_path).name}"
        # read_label_file wrote the system each label was read in into its crs column
        read_crs = normalise_system(labels.attrs.get("source_crs")) or crsmod.STORED_CRS
        labels = labels.assign(crs=read_systems(labels, read_crs))
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
            version = versions["place_labels"]
            layer_versions["place_labels"] = version.version
            labels_source = (f"工作空间“{label_kind}”图层（place_labels）"
                             f"第 {version.version} 版")
            read_crs = normalise_system(version.source_crs) or crsmod.STORED_CRS
            labels, crs_note = stored_label_systems(labels, read_crs, version.version)
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
    pcrs = provider_crs(labels) if len(labels) else (read_crs or crsmod.STORED_CRS)
    inputs = {
        "workspace": info.get("title", ""),
        "demo": demo,
        "layer_versions": layer_versions,
        "labels_source": labels_source,
        "labels_crs": pcrs,
        "labels_crs_label": system_label(pcrs),
        "labels_crs_note": crs_note,
        "aliases_source": aliases_source,
        "readings": "内置读音表" + (f" + {Path(readings_path).name}" if readings_path else ""),
    }
    return check_placenames(villages, labels, aliases, townships=townships,
                            tolerance_m=params.tolerance_m,
                            search_radius_m=params.search_radius_m,
                            fuzzy_threshold=params.fuzzy_threshold,
                            romanizer=romanizer, inputs=inputs,
                            labels_given=labels_given, labels_crs=read_crs)


def stored_label_systems(labels: gpd.GeoDataFrame, read_crs: str, version: int):
    """The stored labels with the system each was read in (``crs``), and a Chinese note
    when their own 坐标系 values disagree with it.

    A label's own 坐标系 value stands where it agrees with the system the layer version
    was imported in (``read_crs``), and blanks take that system. The layer reader reads
    a whole file in one system and does not convert by a 坐标系 column: where the column
    names another system, the label was still read in ``read_crs``, so that is the
    system used (the wrong-system check then shows whether the file is really in the
    other one), and the note says so."""
    own = [normalise_system(v) if isinstance(v, str) else None
           for v in (labels["crs"] if "crs" in labels.columns else [])]
    other = sorted({s for s in own if s is not None and s != read_crs})
    if not other:
        return labels.assign(crs=read_systems(labels, read_crs)), None
    count = sum(1 for s in own if s is not None and s != read_crs)
    listed = "、".join(system_label(s) for s in other)
    note = (f"地名标注图层第 {version} 版按{system_label(read_crs)}导入，但其中 {count} 个标注的"
            f"“坐标系”列写的是{listed}：导入时并未按该列换算，核查按导入时的坐标系进行。"
            "如该列属实，请按该坐标系重新导入")
    return labels.assign(crs=read_crs), note


def defaults_note() -> str:
    d = placenames_defaults()
    return (f"位置容差 {d['misplaced_tolerance_m']:g} 米，搜索半径 {d['search_radius_m']:g} 米，"
            f"近似名称阈值 {d['fuzzy_threshold']:g}（{d['source']}）")
