"""Boundary review and merge simulation against a workspace: parameters checked here, and
the one place an applied merge is written to the store.

Shared by the CLI, the JSON API and the pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd

from geoservice.analysis.boundaries import LAYERS, TOLERANCE_LABELS, Tolerances, review
from geoservice.analysis.boundaries.merge import FACILITY_LABELS, MergeResult, simulate_merge
from geoservice.errors import BadParameter
from geoservice.services.params import choice, number, plain, provenance, within
from geoservice.services.workspace import require_layer
from layers import LayerStore
from layers.crs import STORED_CRS

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
                   outline: gpd.GeoDataFrame | None = None, outline_name: str | None = None):
    """Review the workspace's ``params.layer`` (with townships and markers when loaded)."""
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
    if outline is not None:
        inputs["outline"] = outline_name or "县界文件"
    county = inputs.get("county_code")
    county = county if county and len(county) == 6 and county.isdigit() else None
    return review(units, layer=params.layer, townships=townships, outline=outline,
                  markers=markers, tolerances=params.tolerances, county_code=county,
                  inputs=inputs)


def read_outline(path: str) -> gpd.GeoDataFrame:
    """A county outline file (any polygon file GDAL reads; EPSG:4490 when it has no CRS)."""
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader error becomes a Chinese message
        raise BadParameter(f"无法读取县界文件“{path}”：{exc}") from None
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4490")
    types = set(gdf.geom_type.dropna())
    if not types or not types <= {"Polygon", "MultiPolygon"}:
        raise BadParameter(f"县界文件“{path}”应只包含面要素")
    return gdf


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
    kinds = [params.layer] + list(facilities) + (["villages"] if villages is not None else [])
    return simulate_merge(units, list(params.codes), params.name, layer=params.layer,
                          new_code=params.code, villages=villages, facilities=facilities,
                          inputs=_inputs(store, kinds))


def apply_merge_to_store(store: LayerStore, params: MergeParams, *, actor=None):
    """Simulate again on the current data and write the result as a new layer version
    (a township merge also writes the recoded villages, in the same step).

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

    A township merge with recoded villages (or a merge that moves facilities'
    ``village_code``) writes every layer in one step (``store.write_many``): either all the
    new versions become current or none does. Returns the new versions, ``result.layer``'s
    first (then ``villages`` if written).
    """
    source = f"合并模拟应用：{'、'.join(result.codes)} → {result.new_code} {result.new_name}"
    if note:
        source += f"（{note}）"
    items = result.layers_to_write()
    if len(items) == 1:
        return [store.write(result.layer, result.layer_after, source=source,
                            source_crs=STORED_CRS, user=user)]
    return store.write_many(items, source=source, source_crs=STORED_CRS, user=user)


def applied_dict(versions) -> dict | None:
    """The ``applied`` part of the merge JSON: the new layer version(s)."""
    if not versions:
        return None
    out = versions[0].to_dict()
    out["villages"] = versions[1].to_dict() if len(versions) > 1 else None
    return out
