"""One call per analysis, shared by the CLI, the JSON API and the pages.

Parameters arrive as text (from a query string or the shell), are checked here with
Chinese messages, the workspace layers are read, the analysis runs, and the result
carries its inputs (layer versions, radius, date) for any map or report made from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoservice.analysis.coverage import CoverageResult, care_layers, coverage, metre_centres
from geoservice.analysis.vocabulary import FCA_METHODS, WEIGHTINGS
from geoservice.services.costs import (
    CostParams,
    cost_source,
    cutoffs_param,
    radius_for,
)
from geoservice.services.costs import (
    cost_params as read_cost_params,
)
from geoservice.services.demand import (
    DemandParams,
    ProjectionTable,
    apply_demand,
    demand_params,
)
from geoservice.services.params import (
    MAX_RADIUS_M,
    choice,
    facility_layer,
    facility_level,
    plain,
    provenance,
    share,
    text,
)
from geoservice.services.plans import plan_input, plan_name, with_plan, year_demand
from geoservice.services.workspace import require_layer
from layers import LayerStore

__all__ = ["MAX_RADIUS_M", "CoverageParams", "coverage_params", "run_coverage"]


@dataclass(frozen=True)
class CoverageParams:
    layer: str
    radius_m: float
    level: str | None
    weighting: str
    target: float | None
    radius_given: bool = True
    # the target year's demand (services.demand); no year = the villages as they are
    demand: DemandParams | None = None
    # "with plan X": today's facilities plus the plan's sites (services.plans)
    plan: str | None = None
    # how travel is measured (services.costs); the radius is in its unit
    cost: CostParams = CostParams()
    method: str = "g2sfca"
    cutoffs: tuple[float, ...] = ()

    def query(self) -> dict:
        q = {"layer": self.layer, "radius": plain(self.radius_m), "weighting": self.weighting}
        if self.level:
            q["level"] = self.level
        if self.target is not None:
            q["target"] = plain(self.target)
        if self.demand is not None:
            q.update(self.demand.query())
        if self.plan:
            q["plan"] = self.plan
        q.update(self.cost.query())
        if self.method != "g2sfca":
            q["method"] = self.method
        if self.cutoffs:
            q["cutoffs"] = ",".join(str(plain(c)) for c in self.cutoffs)
        return q


def coverage_params(layer=None, radius=None, level=None, weighting=None,
                    target=None, year=None, growth=None,
                    projection: ProjectionTable | None = None, plan=None, *,
                    cost=None, network=None, cost_field=None, cost_unit=None,
                    matrix_path=None, matrix_name=None, method=None,
                    cutoffs=None, limits=None) -> CoverageParams:
    """Check coverage parameters given as text; defaults come from defaults.toml.
    ``year`` with ``growth`` or ``projection`` (a table read by
    :func:`geoservice.services.demand.read_projection`): the target year's demand.
    ``plan``: a plan's name (its sites count as facilities; its target year is the
    default ``year``). ``cost`` … ``matrix_path``: how travel is measured
    (:func:`geoservice.services.costs.cost_params`; the radius and ``cutoffs`` are then in
    its unit); ``method``: the accessibility method (``g2sfca`` by default)."""
    layer = facility_layer(layer)
    level = facility_level(layer, level)
    costp = read_cost_params(cost, network, cost_field, cost_unit, matrix_path, matrix_name,
                             limits)
    radius_m, radius_given = radius_for(radius, layer, level, costp.unit)
    method_v = choice(method, "method", "可达性方法", FCA_METHODS, default="g2sfca")
    cutoffs_v = cutoffs_param(cutoffs, costp.unit)
    weighting = choice(weighting, "weighting", "加权方式",
                       {k: v[1] for k, v in WEIGHTINGS.items()}, default="villages")
    target_v = share(target, "target", "目标覆盖率")
    demand = demand_params(year, growth, projection)
    plan_v = plan_name(plan) if text(plan) else None
    return CoverageParams(layer, radius_m, level, weighting, target_v, radius_given,
                          demand if demand.active else None, plan_v, costp, method_v,
                          cutoffs_v)


def run_coverage(store: LayerStore, params: CoverageParams) -> CoverageResult:
    versions = store.current_versions()  # one metadata query; the reads name the version
    villages = require_layer(store, "villages", versions=versions)
    facilities = require_layer(store, params.layer, versions=versions)
    townships = (store.read("townships", version=versions["townships"].version)
                 if "townships" in versions else None)
    plan = None
    if params.plan:
        plan = plan_input(store, params.plan, params.layer, params.level, versions)
        # every level: coverage() keeps the level analysed, the beds of all elderly-care
        # facilities count every level (as they do for today's facilities)
        facilities = with_plan(facilities, plan.rows)
    demand = None
    wanted = year_demand(params.demand, plan)
    if wanted is not None:
        # the analysis takes a villages frame: a copy with the target year's elderly
        villages, demand = apply_demand(villages, wanted, townships)
        if params.demand is None:
            demand["from_plan"] = plan.plan.name
    # Beds per 1,000 elderly as the plans count them: every elderly-care layer the
    # workspace has (all levels), not only the one analysed.
    care = None
    if params.layer in care_layers():
        care = {k: (facilities if k == params.layer else
                    store.read(k, version=versions[k].version))
                for k in care_layers() if k == params.layer or k in versions}
    info = store.info()
    inputs = {
        "workspace": info.get("title", ""),
        "demo": info.get("demo") == "1",
        "layer_versions": {k: versions[k].version for k in
                           ("villages", params.layer, "townships") if k in versions},
        # Where the radius came from: the one key every page, map and report reads (the
        # defaults-file source is the analysis' summary["radius_source"]).
        "radius_from": provenance(params.radius_given),
    }
    if plan is not None:
        inputs["plan"] = plan.provenance()
    if care is not None:
        # the layers whose beds count in the beds per 1,000 elderly, and their versions
        inputs["care_layer_versions"] = {k: versions[k].version for k in care}
    cost, cost_versions = cost_source(store, params.cost, versions)
    inputs["layer_versions"].update(cost_versions)
    # the villages' metre centres once per villages version, where the store keeps layers
    derived = getattr(store, "derived", None)
    centres = (derived("villages", versions["villages"].version, "metre_centres",
                       lambda: metre_centres(villages)) if derived is not None else None)
    result = coverage(villages, facilities, layer=params.layer, radius_m=params.radius_m,
                      level=params.level, townships=townships, target=params.target,
                      weighting=params.weighting, care_facilities=care, inputs=inputs,
                      centres=centres, cost=cost,
                      method=params.method, cutoffs=params.cutoffs)
    if demand is not None:
        result.summary["demand"] = demand
    return result
