"""One call per analysis, shared by the CLI, the JSON API and the pages.

Parameters arrive as text (from a query string or the shell), are checked here with
Chinese messages, the workspace layers are read, the analysis runs, and the result
carries its inputs (layer versions, radius, date) for any map or report made from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoservice.analysis.coverage import CoverageResult, coverage
from geoservice.analysis.settings import coverage_defaults
from geoservice.analysis.vocabulary import FACILITY_LAYERS, WEIGHTINGS
from geoservice.errors import BadParameter, NotFound
from geoservice.services.params import number, plain
from layers import KINDS, LayerNotFound, LayerStore

MAX_RADIUS_M = 200_000


@dataclass(frozen=True)
class CoverageParams:
    layer: str
    radius_m: float
    level: str | None
    weighting: str
    target: float | None
    radius_given: bool = True

    def query(self) -> dict:
        q = {"layer": self.layer, "radius": plain(self.radius_m), "weighting": self.weighting}
        if self.level:
            q["level"] = self.level
        if self.target is not None:
            q["target"] = plain(self.target)
        return q


def coverage_params(layer=None, radius=None, level=None, weighting=None,
                    target=None) -> CoverageParams:
    """Check coverage parameters given as text; defaults come from defaults.toml."""
    layer = (layer or "elderly_service_points").strip()
    if layer not in FACILITY_LAYERS:
        names = "、".join(f"{k}（{KINDS[k].label}）" for k in FACILITY_LAYERS)
        raise BadParameter(f"参数 layer“{layer}”无效：可选 {names}")
    level = (level or "").strip() or None
    if level is not None:
        field = "level" if layer == "elderly_service_points" else "kind"
        choices = KINDS[layer].field(field).choices or {}
        if level not in choices:
            by_label = {v: k for k, v in choices.items()}
            if level in by_label:
                level = by_label[level]
            else:
                allowed = "、".join(f"{k}（{v}）" for k, v in choices.items())
                raise BadParameter(f"参数 level“{level}”无效：{KINDS[layer].label}可选 {allowed}")
    radius_m = number(radius, "radius", "服务半径，米")
    radius_given = radius_m is not None
    if radius_m is None:
        radius_m = coverage_defaults(layer, level)["radius_m"]
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise BadParameter(f"服务半径应在 0 到 {MAX_RADIUS_M} 米之间，而不是 {radius_m:g}")
    weighting = (weighting or "villages").strip()
    if weighting not in WEIGHTINGS:
        allowed = "、".join(f"{k}（{v[1]}）" for k, v in WEIGHTINGS.items())
        raise BadParameter(f"参数 weighting“{weighting}”无效：可选 {allowed}")
    target_v = number(target, "target", "目标覆盖率")
    if target_v is not None:
        if target_v > 1:
            target_v = target_v / 100.0  # 60 means 60%
        if not 0 <= target_v <= 1:
            raise BadParameter("目标覆盖率应在 0 到 1（或 0 到 100%）之间")
    return CoverageParams(layer, radius_m, level, weighting, target_v, radius_given)


def _require(store: LayerStore, kind: str):
    try:
        return store.read(kind)
    except LayerNotFound:
        raise NotFound(f"工作空间中没有“{KINDS[kind].label}”图层，请先导入") from None


def run_coverage(store: LayerStore, params: CoverageParams) -> CoverageResult:
    versions = store.current_versions()
    villages = _require(store, "villages")
    facilities = _require(store, params.layer)
    townships = store.read("townships") if "townships" in versions else None
    info = store.info()
    inputs = {
        "workspace": info.get("title", ""),
        "demo": info.get("demo") == "1",
        "layer_versions": {k: versions[k].version for k in
                           ("villages", params.layer, "townships") if k in versions},
        "radius_from": "本次指定" if params.radius_given else "默认值",
    }
    return coverage(villages, facilities, layer=params.layer, radius_m=params.radius_m,
                    level=params.level, townships=townships, target=params.target,
                    weighting=params.weighting, inputs=inputs)
