"""Travel cost parameters (``cost``, ``network``, ``cost_field``, ``cost_matrix``,
``cost_unit``) checked from text, and the cost source an analysis runs on: straight line,
the workspace's road network (its graph kept per roads version) or an uploaded OD matrix.
Shared by coverage and siting, the CLI, the API and the pages (docs/network.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geoservice.analysis.cost import STRAIGHT, STRAIGHT_SOURCE, CostSource, CostSpec
from geoservice.analysis.settings import coverage_defaults
from geoservice.analysis.vocabulary import COST_FIELDS, COST_UNITS, COSTS
from geoservice.errors import BadParameter
from geoservice.services.params import MAX_RADIUS_M, choice, number, text, within
from layers.schema import KINDS, LINE

# Largest radius in minutes any analysis accepts
MAX_RADIUS_MIN = 600


def network_kinds() -> dict[str, str]:
    """The line layer kinds a network can be built from (kind -> Chinese label)."""
    return {k: v.label for k, v in KINDS.items() if v.geometry == LINE}


@dataclass(frozen=True)
class CostParams:
    spec: CostSpec = STRAIGHT
    table: object | None = None     # the OD matrix read (analysis.odmatrix.ODTable)

    @property
    def unit(self) -> str:
        return self.spec.unit

    @property
    def straight(self) -> bool:
        return self.spec.straight

    def query(self) -> dict:
        """The parameters for a link (an OD matrix cannot travel in a link: its kind only)."""
        s = self.spec
        if s.straight:
            return {}
        q = {"cost": s.kind}
        if s.kind == "network":
            q["network"] = s.network
            q["cost_field"] = s.field
        else:
            q["cost_unit"] = s.unit
        return q


def cost_params(cost=None, network=None, cost_field=None, cost_unit=None,
                matrix_path: str | Path | None = None,
                matrix_name: str | None = None, limits=None) -> CostParams:
    """Check the cost parameters given as text. ``matrix_path``: the OD matrix file (CSV or
    XLSX) read and checked here, with its name as the user knows it (``matrix_name``), within
    the import ``limits`` (``layers.readers.ImportLimits``; the defaults when None)."""
    given_matrix = matrix_path is not None
    kind = choice(cost, "cost", "出行成本", COSTS,
                  default="matrix" if given_matrix else "straight")
    field_ = text(cost_field)
    unit = text(cost_unit)
    if kind == "straight":
        if field_:
            raise BadParameter("参数 cost_field（道路成本）只用于 cost=network（沿道路网）")
        if given_matrix:
            raise BadParameter("给了 OD 矩阵文件（cost_matrix）时参数 cost 应为 matrix（OD 矩阵）")
        return CostParams()
    if kind == "network":
        if given_matrix:
            raise BadParameter("给了 OD 矩阵文件（cost_matrix）时参数 cost 应为 matrix（OD 矩阵）")
        net = choice(network, "network", "道路网图层", network_kinds(), default="roads")
        field_ = choice(field_, "cost_field", "道路成本", {
            k: f"{v}（{'米' if k == 'length' else '分钟'}）" for k, v in COST_FIELDS.items()},
            default="length")
        return CostParams(CostSpec(kind="network", field=field_, network=net,
                                   unit="m" if field_ == "length" else "min"))
    # matrix
    if not given_matrix:
        raise BadParameter("参数 cost_matrix（OD 矩阵文件）必填：cost=matrix 时请给出 CSV 或 XLSX 文件"
                           "（列：村代码、设施/候选点名称、成本）")
    if not unit:
        raise BadParameter("参数 cost_unit（OD 矩阵的成本单位）必填：m（米）或 min（分钟）")
    unit = choice(unit, "cost_unit", "OD 矩阵的成本单位", COST_UNITS)
    from geoservice.analysis.odmatrix import read_od_matrix

    name = matrix_name or Path(matrix_path).name
    table = read_od_matrix(matrix_path, name, unit=unit, limits=limits)
    return CostParams(CostSpec(kind="matrix", unit=unit, matrix_name=name), table)


def radius_for(value, layer: str, level: str | None, unit: str) -> tuple[float, bool]:
    """The ``radius`` parameter in the cost's unit (metres or minutes) and whether it was
    given; the layer's default for that unit (defaults.toml) when empty."""
    label_unit = COST_UNITS[unit]
    x = number(value, "radius", "服务半径", unit=label_unit)
    given = x is not None
    if x is None:
        d = coverage_defaults(layer, level)
        x = d["radius_m"] if unit == "m" else d["radius_min"]
    within(x, "radius", "服务半径", 0, MAX_RADIUS_M if unit == "m" else MAX_RADIUS_MIN,
           unit=label_unit, low_open=True)
    return float(x), given


def cutoffs_param(value, unit: str) -> tuple[float, ...]:
    """``cutoffs``: several radii at once, e.g. ``15,30,45`` (the cost's unit)."""
    raw = text(value).replace("，", ",").replace("、", ",")
    if not raw:
        return ()
    out = []
    for part in raw.split(","):
        x = number(part, "cutoffs", "多个服务半径", unit=COST_UNITS[unit])
        if x is None:
            continue
        within(x, "cutoffs", "多个服务半径", 0, MAX_RADIUS_M if unit == "m" else MAX_RADIUS_MIN,
               unit=COST_UNITS[unit], low_open=True)
        out.append(float(x))
    if len(out) > 10:
        raise BadParameter("参数 cutoffs（多个服务半径）最多 10 个")
    return tuple(out)


def cost_source(store, params: CostParams, versions: dict) -> tuple[CostSource, dict]:
    """The cost source of ``params`` on ``store`` and the versions it used
    (the roads layer's); straight line needs nothing."""
    spec = params.spec
    if spec.straight:
        return STRAIGHT_SOURCE, {}
    if spec.kind == "matrix":
        from geoservice.analysis.odmatrix import MatrixSource

        return MatrixSource(params.table, spec, other_names=_known_names(store, versions)), {}
    from geoservice.analysis.network import NetworkSource
    from geoservice.services.workspace import require_layer

    kind = spec.network
    roads = require_layer(store, kind, versions=versions)
    version = versions[kind].version
    return (NetworkSource(lambda crs: road_graph(store, kind, roads, version, crs), spec),
            {kind: version})


def road_graph(store, kind: str, roads, version: int, crs: str):
    """The graph of ``roads`` (layer ``kind`` at ``version``) in the metric ``crs``, built
    once and kept with that version where the store keeps layers (the analyses' road
    costs, the network check and the service areas share it)."""
    from geoservice.analysis.network import build_graph

    derived = getattr(store, "derived", None)
    if derived is None:
        return build_graph(roads, crs)
    return derived(kind, version, f"graph:{crs}", lambda: build_graph(roads, crs))


def _known_names(store, versions: dict) -> list[str]:
    """Every destination name the workspace knows: the names of its point layers (facilities
    of every level, candidates, the sites of every plan) and the village codes
    (village-centre candidates). A matrix row naming one of them that a run does not use is
    left out, not refused."""
    out: list[str] = []
    for kind, meta in versions.items():
        k = KINDS.get(kind)
        if k is None:
            continue
        if kind == "villages":
            out += store.read(kind, version=meta.version)["code"].astype(str).tolist()
        elif "Point" in k.geometry and "name" in k.field_names:
            frame = store.read(kind, version=meta.version)
            if "name" in frame.columns:
                out += frame["name"].dropna().astype(str).tolist()
    return out
