"""Boundary review and merge simulation against a workspace: parameters checked here, and
the one place an applied merge is written to the store.

Shared by the CLI, the JSON API and the pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from geoservice.analysis.boundaries import LAYERS, TOLERANCE_LABELS, Tolerances, review
from geoservice.analysis.boundaries.checks import metric_crs_of
from geoservice.analysis.boundaries.merge import FACILITY_LABELS, MergeResult, simulate_merge
from geoservice.errors import BadParameter
from geoservice.services.params import choice, number, plain, provenance, text, within
from geoservice.services.workspace import require_layer
from layers import LayerStore
from layers.crs import STORED_CRS
from layers.schema import KINDS

# query parameter -> tolerance key
TOLERANCE_PARAMS = {"area": "area_m2", "width": "sliver_width_m", "marker": "marker_distance_m",
                    "area_sum": "area_sum_rel", "snap": "snap_m"}
MAX_TOLERANCE = {"area_m2": 1e8, "sliver_width_m": 10_000, "marker_distance_m": 10_000,
                 "area_sum_rel": 1.0, "snap_m": 100}


@dataclass(frozen=True)
class BoundaryParams:
    layer: str
    given: dict = field(default_factory=dict)  # tolerance key -> value given by the user

    @property
    def tolerances(self) -> Tolerances:
        return Tolerances.from_dict(self.given)

    def query(self) -> dict:
        q = {"layer": self.layer}
        for param, key in TOLERANCE_PARAMS.items():
            if key in self.given:
                q[param] = plain(self.given[key])
        return q


def check_layer(layer, default: str = "townships") -> str:
    return choice(layer, "layer", "审查图层", LAYERS, default=default)


def boundary_params(layer=None, **tolerances) -> BoundaryParams:
    """Check the review parameters given as text (query string or shell).

    ``tolerances`` keys are the query names: area (m²), width (m), marker (m), area_sum
    (relative, or a percentage when above 1 and ending with %), snap (m).
    """
    layer = check_layer(layer)
    given = {}
    for param, value in tolerances.items():
        if param not in TOLERANCE_PARAMS:
            raise BadParameter(f"未知参数 {param}")
        key = TOLERANCE_PARAMS[param]
        text = value.strip() if isinstance(value, str) else value
        percent = isinstance(text, str) and text.endswith("%")
        x = number(text[:-1] if percent else text, param, TOLERANCE_LABELS[key])
        if x is None:
            continue
        if percent:
            x /= 100.0
        given[key] = within(x, param, TOLERANCE_LABELS[key], 0, MAX_TOLERANCE[key])
    return BoundaryParams(layer, given)



def _inputs(store: LayerStore, kinds) -> dict:
    versions = store.current_versions()
    info = store.info()
    return {
        "workspace": info.get("title", ""),
        "demo": info.get("demo") == "1",
        "county_code": info.get("county_code"),
        "layer_versions": {k: versions[k].version for k in kinds if k in versions},
    }


def run_boundaries(store: LayerStore, params: BoundaryParams,
                   outline: Outline | gpd.GeoDataFrame | None = None,
                   outline_name: str | None = None):
    """Review the workspace's ``params.layer`` (with townships and markers when loaded).

    ``outline``: the county outline (:func:`read_outline`), or a frame of one feature."""
    versions = store.current_versions()
    units = require_layer(store, params.layer)
    townships = None
    if params.layer == "villages" and "townships" in versions:
        townships = store.read("townships")
    markers = store.read("boundary_markers") if "boundary_markers" in versions else None
    kinds = [params.layer] + (["townships"] if townships is not None else []) + \
        (["boundary_markers"] if markers is not None else [])
    inputs = _inputs(store, kinds)
    # Where each tolerance came from; the defaults file is summary["tolerances_source"].
    inputs["tolerances_from"] = {k: provenance(k in params.given) for k in TOLERANCE_LABELS}
    if isinstance(outline, Outline):
        inputs["outline"] = outline.label
        if outline.note:
            inputs["outline_note"] = outline.note
        outline = outline.frame
    elif outline is not None:
        inputs["outline"] = outline_name or "县界文件"
    county = inputs.get("county_code")
    county = county if county and len(county) == 6 and county.isdigit() else None
    return review(units, layer=params.layer, townships=townships, outline=outline,
                  markers=markers, tolerances=params.tolerances, county_code=county,
                  inputs=inputs)


# Columns an outline file names its features by (county outlines from different sources).
OUTLINE_CODE_FIELDS = ("code", "adcode", "CODE", "代码", "行政区划代码", "区划代码", "县代码",
                       "编码", "PAC", "gb")
OUTLINE_NAME_FIELDS = ("name", "NAME", "名称", "县名", "行政区名称", "区划名称")


@dataclass(frozen=True)
class Outline:
    """The county outline a review uses: one feature of a file.

    ``frame``: that feature (EPSG:4490); ``label``: the file and the feature, as the report
    shows it; ``note``: for a feature of several parts, the parts and their areas (a real
    county may have an exclave: 竹山县 420323 is two parts), else None."""

    frame: gpd.GeoDataFrame
    label: str
    note: str | None = None
    parts: tuple[float, ...] = ()  # areas of the parts, km², largest first


def _column(gdf: gpd.GeoDataFrame, candidates) -> str | None:
    return next((c for c in candidates if c in gdf.columns), None)


def _feature_texts(gdf: gpd.GeoDataFrame) -> tuple[list[str], list[str]]:
    def col(candidates):
        c = _column(gdf, candidates)
        if c is None:
            return [""] * len(gdf)
        return [text(v) if v is not None and v == v else "" for v in gdf[c]]
    codes = col(OUTLINE_CODE_FIELDS)
    # a code read as a number (511425.0) is still the code
    codes = [c[:-2] if c.endswith(".0") and c[:-2].isdigit() else c for c in codes]
    return codes, col(OUTLINE_NAME_FIELDS)


def _areas_km2(geoms: np.ndarray, gk: str) -> np.ndarray:
    metric = gpd.GeoSeries(geoms, crs=STORED_CRS).to_crs(gk)
    return np.asarray(metric.area, dtype=float) / 1e6


def read_outline(path: str, feature: str | None = None, *, filename: str | None = None,
                 option: str = "--outline-feature") -> Outline:
    """A county outline file (any polygon file GDAL reads; EPSG:4490 when it has no CRS).

    A file of several polygon features (e.g. every county of a prefecture) is refused
    unless ``feature`` names the one to use, by its code or its name: their union would
    count every neighbouring county as a gap. The message lists the features (name, code,
    area in km²) and says how to choose (``option``: the CLI option or the form field).
    One feature of several parts (a MultiPolygon: a county with an exclave) is used as it
    is, and :attr:`Outline.note` lists its parts.
    """
    shown = filename or str(path)
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader error becomes a Chinese message
        raise BadParameter(f"无法读取县界文件“{shown}”：{exc}") from None
    if gdf.crs is None:
        gdf = gdf.set_crs(STORED_CRS)
    gdf = gdf.to_crs(STORED_CRS)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].reset_index(drop=True)
    types = set(gdf.geom_type.dropna())
    if not types or not types <= {"Polygon", "MultiPolygon"}:
        raise BadParameter(f"县界文件“{shown}”应只包含面要素"
                           + (f"（含 {'、'.join(sorted(types - {'Polygon', 'MultiPolygon'}))}）"
                              if types else "（文件中没有要素）"))
    return choose_outline(gdf, feature, shown, option=option)


def choose_outline(gdf: gpd.GeoDataFrame, feature: str | None, shown: str, *,
                   option: str = "--outline-feature") -> Outline:
    """The one feature of ``gdf`` (EPSG:4490 polygons) to use as the county outline; see
    :func:`read_outline`. Raises :class:`BadParameter` (Chinese, features listed)."""
    codes, names = _feature_texts(gdf)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    gk = metric_crs_of(gdf) if len(gdf) else "EPSG:4544"
    areas = _areas_km2(geoms, gk) if len(gdf) else np.array([])

    def described(k: int) -> str:
        who = "、".join(x for x in (names[k], codes[k]) if x) or f"第 {k + 1} 个要素"
        if names[k] and codes[k]:
            who = f"{names[k]}（{codes[k]}）"
        return f"{who}，{areas[k]:,.1f} 平方千米"

    def listing() -> str:
        return "；".join(described(k) for k in range(len(gdf)))

    wanted = text(feature)
    if wanted:
        hit = [k for k in range(len(gdf)) if wanted in (codes[k], names[k])]
        if not hit:
            raise BadParameter(f"参数 {option}（县界要素）“{wanted}”在县界文件“{shown}”中没有对应的要素"
                               f"（按代码或名称查找）。文件中的要素：{listing()}")
        if len(hit) > 1:
            raise BadParameter(f"参数 {option}（县界要素）“{wanted}”在县界文件“{shown}”中对应 "
                               f"{len(hit)} 个要素，无法确定用哪一个："
                               + "；".join(described(k) for k in hit) + "。请改用代码指定")
        k = hit[0]
    elif len(gdf) > 1:
        raise BadParameter(
            f"县界文件“{shown}”包含 {len(gdf)} 个面要素，无法确定用哪一个作为县界"
            "（把它们合并会把相邻县的范围都算作缝隙）。请用参数 "
            f"{option}（县界要素）按代码或名称指定一个：{listing()}")
    else:
        k = 0
    chosen = gdf.iloc[[k]].reset_index(drop=True)
    who = f"{names[k]}（{codes[k]}）" if names[k] and codes[k] else (names[k] or codes[k])
    label = f"{shown}：{who}" if who else shown
    parts = np.asarray(shapely.get_parts(geoms[k]), dtype=object)
    note, part_areas = None, ()
    if len(parts) > 1:
        part_areas = tuple(sorted((float(a) for a in _areas_km2(parts, gk)), reverse=True))
        note = (f"县界要素{('“' + (names[k] or codes[k]) + '”') if who else ''}由 "
                f"{len(parts)} 个不相连的部分组成（面积 "
                + "、".join(f"{a:,.2f}" for a in part_areas)
                + " 平方千米），作为一个县界使用：各部分都属于本县")
    return Outline(chosen, label, note, part_areas)


@dataclass(frozen=True)
class MergeParams:
    layer: str
    codes: tuple[str, ...]
    name: str
    code: str | None

    def form(self) -> dict:
        return {"layer": self.layer, "codes": ",".join(self.codes), "name": self.name,
                "code": self.code or ""}


def merge_params(codes=None, name=None, code=None, layer=None) -> MergeParams:
    layer = check_layer(layer, default="villages")
    if isinstance(codes, (list, tuple)):
        parts = [str(c) for c in codes]
    else:
        parts = str(codes or "").replace("，", ",").replace("、", ",").replace(" ", ",") \
            .split(",")
    parts = [p.strip() for p in parts if p.strip()]
    if len(set(parts)) < 2:
        raise BadParameter("参数 codes（要合并的单位代码）：请填写至少两个，用逗号分隔")
    name = (name or "").strip()
    if not name:
        raise BadParameter("参数 name（合并后的新名称）：请填写")
    if len(name) > 50:
        raise BadParameter("参数 name（合并后的新名称）：过长，不超过 50 个字")
    code = (code or "").strip() or None
    return MergeParams(layer, tuple(dict.fromkeys(parts)), name, code)


def run_merge(store: LayerStore, params: MergeParams) -> MergeResult:
    """Simulate the merge; nothing is written."""
    versions = store.current_versions()
    units = require_layer(store, params.layer)
    villages = None
    if params.layer == "townships" and "villages" in versions:
        villages = store.read("villages")
    facilities = {k: store.read(k) for k in FACILITY_LABELS if k in versions}
    markers = store.read("boundary_markers") if "boundary_markers" in versions else None
    kinds = [params.layer] + list(facilities) + (["villages"] if villages is not None else []) \
        + (["boundary_markers"] if markers is not None else [])
    return simulate_merge(units, list(params.codes), params.name, layer=params.layer,
                          new_code=params.code, villages=villages, facilities=facilities,
                          markers=markers, inputs=_inputs(store, kinds))


def apply_merge_to_store(store: LayerStore, params: MergeParams, *, actor=None):
    """Simulate again on the current data and write the result as a new layer version
    (and, in the same step, every other layer the merge changes: recoded villages,
    facilities' village codes, boundary markers' codes; see ``MergeResult.layers_to_write``).

    With ``actor`` (``services.accounts.Actor``: the web and the CLI pass one) the role is
    checked first (``merge_apply``: 界线审查人员 or 管理员), the versions record who wrote
    them and the audit trail gets a ``merge_apply`` row per layer written.

    Returns ``(result, versions)``: the new version of ``params.layer`` first.
    """
    if actor is not None:
        from geoservice.services.accounts import require

        require(actor, "merge_apply")
    result = run_merge(store, params)
    same = [c for c in result.name_check.get("conflicts", []) if c.get("reason") == "重名"]
    if same:
        # One place, one name (地名管理条例): a name already used in the same township (or
        # county) is not written; a homophone is only a warning.
        listed = "、".join(f"{c['name']}（{c['code']}）" for c in same)
        raise BadParameter(f"参数 name（合并后的新名称）“{result.new_name}”与 {listed} 重名，不能应用；"
                           "请换一个名称后再模拟")
    before = store.current_versions()
    versions = apply_merge(store, result, user=actor.name if actor else "")  # or StoreError
    if actor is not None:
        from geoservice.services import audit

        what = f"{'、'.join(result.codes)} 合并为 {result.new_code} {result.new_name}"
        for v in versions:
            old = before.get(v.kind)
            audit.record(store, actor, "merge_apply", layer=v.kind,
                         before=old.version if old else None, after=v.version,
                         params={"layer": params.layer, "codes": list(params.codes),
                                 "name": params.name, "code": result.new_code},
                         result=f"{what}，成为第 {v.version} 版")
    return result, versions


def apply_merge(store: LayerStore, result: MergeResult, *, note: str = "",
                user: str = "") -> list:
    """Write the layers a merge changes as new versions (old versions kept).

    A merge that changes several layers (recoded villages, facilities' ``village_code``,
    boundary markers' ``codes``) writes every layer in one step (``store.write_many``):
    either all the new versions become current or none does. Returns the new versions in
    the order of ``result.layers_to_write()``: ``result.layer``'s first.
    """
    source = f"合并模拟应用：{'、'.join(result.codes)} → {result.new_code} {result.new_name}"
    if note:
        source += f"（{note}）"
    items = result.layers_to_write()
    if len(items) == 1:
        return [store.write(result.layer, result.layer_after, source=source,
                            source_crs=STORED_CRS, user=user)]
    return store.write_many(items, source=source, source_crs=STORED_CRS, user=user)


def layer_label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind


def applied_layers(versions) -> list[dict]:
    """Each layer a merge wrote, by its own kind: kind, Chinese label, version, features."""
    return [{"kind": v.kind, "label": layer_label(v.kind), "version": v.version,
             "features": v.features} for v in versions]


def applied_text(versions) -> list[str]:
    """One Chinese line per layer written (the CLI and the page say the same)."""
    return [f"{a['label']}图层写入第 {a['version']} 版（{a['features']} 个要素），旧版本保留"
            for a in applied_layers(versions)]


def applied_dict(versions) -> dict | None:
    """The ``applied`` part of the merge JSON: the merged layer's new version, with
    ``villages`` (the villages' new version when a township merge recoded them, else None)
    and ``layers`` (every layer written, by its own kind and label)."""
    if not versions:
        return None
    out = versions[0].to_dict()
    villages = [v for v in versions[1:] if v.kind == "villages"]
    out["villages"] = villages[0].to_dict() if villages else None
    out["layers"] = applied_layers(versions)
    return out
