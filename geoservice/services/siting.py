"""Siting suggestions, run against a workspace: shared by the CLI, the JSON API and the page.

Parameters arrive as text (shell, query string, form or JSON body), are checked here with
Chinese messages naming the parameter, the layers are read from the store, the analysis
(:func:`geoservice.analysis.siting.siting`) runs, and the result carries its inputs (layer
versions, parameters, date) for every map and report made from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import geopandas as gpd
import pandas as pd

from geoservice.analysis.coverage import filter_facilities
from geoservice.analysis.settings import coverage_defaults, siting_defaults
from geoservice.analysis.vocabulary import PROBLEM_LABELS, PROBLEM_SHORT, WEIGHT_LABELS
from geoservice.errors import BadParameter
from geoservice.services.costs import CostParams, cost_source, radius_for
from geoservice.services.costs import cost_params as read_cost_params
from geoservice.services.demand import (
    DemandParams,
    ProjectionTable,
    apply_demand,
    demand_params,
)
from geoservice.services.params import (
    bounded,
    choice,
    facility_layer,
    facility_level,
    number,
    plain,
    provenance,
    share,
    text,
)
from geoservice.services.plans import plan_input, plan_name, with_plan, year_demand
from geoservice.services.workspace import require_layer
from layers import KINDS, LayerStore
from layers.schema import POINT

# PROBLEM_LABELS, PROBLEM_SHORT and WEIGHT_LABELS are the vocabulary's, re-exported here
# for callers that still import them from the service.
__all__ = ["PROBLEM_LABELS", "PROBLEM_SHORT", "WEIGHT_LABELS", "SitingParams", "SitingRun",
           "accept_sites", "check_demand", "params_from_mapping", "planned_rows", "point_layer_kinds",
           "precheck_siting", "run_siting", "siting_params", "siting_time_limit_default"]

MAX_ADD = 500
MAX_TIME_LIMIT_S = 3600.0
TRUE_WORDS = {"1", "true", "yes", "on", "y", "是"}
FALSE_WORDS = {"", "0", "false", "no", "off", "n", "否"}


def point_layer_kinds() -> list[str]:
    """Layer kinds whose features are points: what ``candidates`` may name."""
    return [k for k, v in KINDS.items() if v.geometry == POINT]


def siting_time_limit_default() -> float:
    """The default MILP time limit (seconds) from defaults.toml ``[siting]``."""
    return float(siting_defaults()["time_limit_s"])


@dataclass(frozen=True)
class SitingParams:
    layer: str
    radius_m: float
    level: str | None
    problem: str
    add: int | None
    target: float | None
    weight: str
    capacitated: bool
    candidates: str | None
    time_limit_s: float | None
    radius_given: bool = True
    # the target year's demand (services.demand); no year = the villages as they are
    demand: DemandParams | None = None
    # on top of plan X: its sites count as existing and are never proposed again
    plan: str | None = None
    # how travel is measured (services.costs); the radius is in its unit
    cost: CostParams = CostParams()
    # green field: plan as if no facility existed yet
    ignore_existing: bool = False

    def query(self) -> dict:
        """The parameters as text, for URLs and forms (round trip through siting_params)."""
        q: dict = {"layer": self.layer, "radius": plain(self.radius_m), "problem": self.problem,
                   "weight": self.weight}
        if self.level:
            q["level"] = self.level
        if self.add is not None:
            q["add"] = self.add
        if self.target is not None:
            q["target"] = plain(self.target)
        if self.capacitated:
            q["capacitated"] = 1
        if self.candidates:
            q["candidates"] = self.candidates
        if self.time_limit_s is not None:
            q["time_limit"] = plain(self.time_limit_s)
        if self.demand is not None:
            q.update(self.demand.query())
        if self.plan:
            q["plan"] = self.plan
        q.update(self.cost.query())
        if self.ignore_existing:
            q["ignore_existing"] = 1
        return q

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)
             if f.name not in ("demand", "cost")}
        d["radius_m"] = plain(self.radius_m)
        d["cost"] = self.cost.spec.to_dict()
        if self.demand is not None:
            d["demand"] = self.demand.query()
        return d

    def options(self):
        """The analysis' :class:`~geoservice.analysis.siting.SitingOptions` (the other
        options from defaults.toml)."""
        from geoservice.analysis.siting import SitingOptions  # the solver: loaded when used

        return SitingOptions.build(problem=self.problem, radius_m=self.radius_m, add=self.add,
                                   target=self.target, weight=self.weight,
                                   capacitated=self.capacitated,
                                   time_limit_s=self.time_limit_s)


def _bool(value, name: str, label: str) -> bool:
    if isinstance(value, bool):
        return value
    word = text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadParameter(f"参数 {name}（{label}）“{value}”应为 是/否（true/false）")


def siting_params(layer=None, radius=None, level=None, problem=None, add=None, target=None,
                  weight=None, capacitated=None, candidates=None,
                  time_limit=None, year=None, growth=None,
                  projection: ProjectionTable | None = None, plan=None, *,
                  cost=None, network=None, cost_field=None, cost_unit=None,
                  matrix_path=None, matrix_name=None,
                  ignore_existing=None, limits=None) -> SitingParams:
    """Check siting parameters given as text; defaults come from defaults.toml.
    ``year`` with ``growth`` or ``projection``: the target year's elderly population.
    ``plan``: a plan's name; its sites count as existing facilities and are not proposed
    again, its target year is the default ``year``. ``cost`` … ``matrix_path``: how travel
    is measured (:func:`geoservice.services.costs.cost_params`; the radius is in its unit);
    ``ignore_existing``: plan as if no facility existed yet (green field)."""
    layer = facility_layer(layer)
    level = facility_level(layer, level)
    costp = read_cost_params(cost, network, cost_field, cost_unit, matrix_path, matrix_name,
                             limits)
    radius_m, radius_given = radius_for(radius, layer, level, costp.unit)
    # A form sends the prefilled default back: that is still the default.
    d = coverage_defaults(layer, level)
    radius_given = radius_given and radius_m != d["radius_m" if costp.unit == "m" else
                                                  "radius_min"]

    add_v = number(add, "add", "新增设施数")
    if add_v is not None and (not add_v.is_integer() or not 1 <= add_v <= MAX_ADD):
        raise BadParameter(f"参数 add（新增设施数）应为 1 到 {MAX_ADD} 之间的整数，而不是“{add}”")
    target_v = share(target, "target", "目标覆盖率", allow_zero=False)

    problem = choice(problem, "problem", "选址问题", PROBLEM_SHORT,
                     default="target" if target_v is not None else "mclp")
    if problem == "target":
        if target_v is None:
            raise BadParameter("参数 target（目标覆盖率）必填：目标覆盖问题需要给出目标，如 0.6 或 60")
        if add_v is not None:
            raise BadParameter("参数 add（新增设施数）与目标覆盖问题不能同时给出：目标覆盖求最少新增数")
    else:
        if add_v is None:
            raise BadParameter(f"参数 add（新增设施数）必填：{PROBLEM_SHORT[problem]}问题需要给出"
                               "新增设施数 K")
        if target_v is not None:
            raise BadParameter(f"参数 target（目标覆盖率）只用于目标覆盖问题（problem=target），"
                               f"{PROBLEM_SHORT[problem]}问题请只给 add")
    if problem == "cemetery" and layer != "cemeteries":
        raise BadParameter("公墓选址（problem=cemetery）的设施图层 layer 应为 cemeteries（公墓）")

    weight = choice(weight, "weight", "覆盖对象", WEIGHT_LABELS, default="elderly")
    cap = _bool(capacitated, "capacitated", "按床位容量约束")
    if cap and problem != "pmedian":
        raise BadParameter("参数 capacitated（按床位容量约束）只用于 p-中位问题（problem=pmedian）")

    cand = text(candidates) or None
    if cand in ("villages", "village_centres", "none"):
        cand = None  # explicit "village centres"
    if cand is not None:
        kinds = point_layer_kinds()
        if cand not in kinds:
            allowed = "、".join(f"{k}（{KINDS[k].label}）" for k in kinds)
            raise BadParameter(f"参数 candidates（候选点图层）“{cand}”无效：应为点图层 {allowed}，"
                               "或留空（以各村中心为候选点）")

    limit = bounded(time_limit, "time_limit", "求解时限", 0, MAX_TIME_LIMIT_S, unit="秒",
                    low_open=True)
    if limit is None:
        limit = siting_time_limit_default()
    demand = demand_params(year, growth, projection)
    green = _bool(ignore_existing, "ignore_existing", "不考虑现有设施") if ignore_existing \
        is not None else False
    if green and text(plan):
        raise BadParameter("参数 ignore_existing（不考虑现有设施）与 plan（规划方案）不能同时给出："
                           "在方案之上选址需要计入现有设施和方案站点")
    return SitingParams(layer, radius_m, level, problem,
                        int(add_v) if add_v is not None else None, target_v, weight, cap, cand,
                        limit, radius_given, demand if demand.active else None,
                        plan_name(plan) if text(plan) else None, costp, green)


def params_from_mapping(data, projection: ProjectionTable | None = None, *,
                        matrix_path=None, matrix_name=None, limits=None) -> SitingParams:
    """``siting_params`` from a dict-like (query args, form, JSON body); accepts the
    CLI spellings too (``time_limit_s``, ``radius_m``)."""
    def get(*names):
        for n in names:
            if n in data and data[n] is not None:
                return data[n]
        return None

    known = {"layer", "radius", "radius_m", "level", "problem", "add", "k", "target", "weight",
             "capacitated", "candidates", "time_limit", "time_limit_s", "job", "ranks",
             "scenario", "note", "accept", "year", "growth", "plan", "cost", "network",
             "cost_field", "cost_unit", "ignore_existing"}
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        raise BadParameter(f"未知参数：{'、'.join(unknown)}")
    return siting_params(get("layer"), get("radius", "radius_m"), get("level"), get("problem"),
                         get("add", "k"), get("target"), get("weight"), get("capacitated"),
                         get("candidates"), get("time_limit", "time_limit_s"), get("year"),
                         get("growth"), projection, get("plan"), cost=get("cost"),
                         network=get("network"), cost_field=get("cost_field"),
                         cost_unit=get("cost_unit"), matrix_path=matrix_path,
                         matrix_name=matrix_name, ignore_existing=get("ignore_existing"),
                         limits=limits)


@dataclass
class _Inputs:
    villages: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame | None
    zones: gpd.GeoDataFrame | None
    demand: dict | None
    plan: object | None  # services.plans.PlanInput

    def __iter__(self):  # villages, facilities, candidates, zones, demand
        return iter((self.villages, self.facilities, self.candidates, self.zones, self.demand))


def _read_inputs(store: LayerStore, params: SitingParams, versions=None) -> _Inputs:
    """villages (with the target year's elderly population when a year is asked for, or
    the plan's target year), existing facilities (filtered by level; with the plan's
    sites), candidates (or None), the exclusion zones (cemetery only, or None), the
    ``summary["demand"]`` entry (or None) and the plan (or None) from the store."""
    versions = store.current_versions() if versions is None else versions
    villages = require_layer(store, "villages")
    plan = (plan_input(store, params.plan, params.layer, params.level, versions)
            if params.plan else None)
    demand = None
    wanted = year_demand(params.demand, plan)
    if wanted is not None:
        townships = store.read("townships") if "townships" in versions else None
        villages, demand = apply_demand(villages, wanted, townships)
        if params.demand is None:
            demand["from_plan"] = plan.plan.name
    facilities_all = require_layer(store, params.layer)
    facilities = filter_facilities(facilities_all, params.layer, params.level)
    if params.ignore_existing:
        facilities = facilities.iloc[0:0]
    if plan is not None:
        facilities = with_plan(facilities, plan.counted)
    candidates = None
    if params.candidates:
        candidates = require_layer(store, params.candidates, "（候选点）")
        if not len(candidates):
            raise BadParameter(f"候选点图层“{KINDS[params.candidates].label}”没有要素")
    zones = None
    if params.problem == "cemetery" and "exclusion_zones" in versions:
        zones = store.read("exclusion_zones")
    return _Inputs(villages, facilities, candidates, zones, demand, plan)


def check_demand(store: LayerStore, params: SitingParams) -> None:
    """Refuse at once a target-year demand the run would refuse (a projection table's bad
    rows, codes the workspace does not have): before anything is recorded."""
    if params.demand is not None:
        versions = store.current_versions()
        townships = store.read("townships") if "townships" in versions else None
        apply_demand(require_layer(store, "villages"), params.demand, townships)


def precheck_siting(store: LayerStore, params: SitingParams) -> dict:
    """Refuse at once what the solve would refuse (missing or empty layers, K larger than
    the candidates left after the exclusions, too few beds): called before a background
    job starts, so the caller gets a Chinese 400/404 instead of a job that fails later.
    Cheap: reads the layers and filters the candidates, builds no model."""
    from geoservice.analysis.siting import precheck

    got = _read_inputs(store, params)
    versions = store.current_versions()
    cost, _ = cost_source(store, params.cost, versions)
    return precheck(got.villages, got.facilities, got.candidates, options=params.options(),
                    exclusion_zones=got.zones,
                    taken=got.plan.sites if got.plan is not None else None,
                    cost=cost)


@dataclass
class SitingRun:
    """What a page or report needs beyond the analysis result: the inputs drawn."""

    params: SitingParams
    result: object  # geoservice.analysis.siting.SitingResult
    facilities: gpd.GeoDataFrame  # the existing facilities used (filtered by level)
    townships: gpd.GeoDataFrame | None
    exclusion_zones: gpd.GeoDataFrame | None

    @property
    def summary(self) -> dict:
        return self.result.summary

    def to_dict(self) -> dict:
        return self.result.to_dict()


def run_siting(store: LayerStore, params: SitingParams, *, progress=None,
               cancel=None) -> SitingRun:
    """Read the layers, run the analysis, put the inputs in ``result.summary['inputs']``."""
    from geoservice.analysis.siting import siting  # the solver: loaded when used

    versions = store.current_versions()
    got = _read_inputs(store, params, versions)
    villages, facilities, candidates, zones, demand = got
    townships = store.read("townships") if "townships" in versions else None
    info = store.info()
    used = ["villages", params.layer]
    if params.candidates:
        used.append(params.candidates)
    if zones is not None:
        used.append("exclusion_zones")
    inputs = {
        "workspace": info.get("title", ""),
        "demo": info.get("demo") == "1",
        "layer": params.layer,
        "level": params.level,
        "candidates_layer": params.candidates,
        "layer_versions": {k: versions[k].version for k in used if k in versions},
        "radius_from": provenance(params.radius_given),
        "parameters": params.to_dict(),
        "date": dt.date.today().isoformat(),
        "analysed_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if params.problem == "cemetery" and zones is None:
        inputs["exclusion_note"] = "工作空间中没有禁建区图层，只按村庄退让距离排除候选点"
    if got.plan is not None:
        inputs["plan"] = got.plan.provenance()
    if params.ignore_existing:
        inputs["ignore_existing"] = "不考虑现有设施（按尚无任何设施规划，便于与现状布局比较）"
    cost, cost_versions = cost_source(store, params.cost, versions)
    inputs["layer_versions"].update(cost_versions)
    result = siting(villages, facilities, candidates, options=params.options(),
                    exclusion_zones=zones, progress=progress, cancel=cancel,
                    taken=got.plan.sites if got.plan is not None else None,
                    cost=cost)
    result.summary["ignore_existing"] = params.ignore_existing
    result.summary["inputs"] = {**(result.summary.get("inputs") or {}), **inputs}
    if demand is not None:
        result.summary["demand"] = demand
    if not params.radius_given:
        result.summary.setdefault(
            "radius_source", coverage_defaults(params.layer, params.level)[
                "radius_source" if params.cost.unit == "m" else "radius_min_source"])
    return SitingRun(params, result, facilities, townships, zones)


def planned_rows(run: SitingRun, ranks: list[int], *, scenario: str,
                 note: str = "") -> gpd.GeoDataFrame:
    """Chosen sites of ``run`` as ``planned_sites`` rows (points, EPSG:4490)."""
    sites = run.result.sites
    if not len(sites):
        raise BadParameter("本次结果没有建议站点，无可接受的站点")
    have = {int(r) for r in sites["rank"]}
    bad = [r for r in ranks if r not in have]
    if not ranks:
        raise BadParameter("参数 ranks（接受的站点序号）不能为空：请至少勾选一个建议站点")
    if bad:
        raise BadParameter(f"参数 ranks（接受的站点序号）无效：{bad}，本次结果的序号为 1 到 {len(sites)}")
    chosen = sites[sites["rank"].astype(int).isin(ranks)].sort_values("rank")
    p = run.params
    rows = gpd.GeoDataFrame({
        "name": chosen["name"].astype(str).to_numpy(),
        "facility_layer": p.layer,
        "level": p.level,
        "rank": chosen["rank"].astype(int).to_numpy(),
        "scenario": scenario,
        "note": note or f"{PROBLEM_SHORT[p.problem]}选址建议，服务半径 {p.radius_m:,.0f} "
                        f"{'米' if p.cost.unit == 'm' else '分钟'}，"
                        f"{run.summary.get('inputs', {}).get('date', '')}",
        "beds": pd.array([None] * len(chosen), dtype="Int64"),
    }, geometry=gpd.points_from_xy(chosen["lon"].astype(float), chosen["lat"].astype(float)),
        crs="EPSG:4490")
    return rows


def accept_sites(store: LayerStore, run: SitingRun, ranks: list[int], *, scenario: str,
                 note: str = "", actor=None):
    """Add chosen sites of ``run`` to plan ``scenario`` (created as a draft of the run's
    facility layer, target year the run's, when missing) as a new planned_sites version.

    The plan's other sites are kept; a site the plan already has (same position) is not
    added twice; an approved plan refuses (409); the real facility layers are never
    touched. Returns (LayerVersion, added count, skipped count).

    ``actor`` (``services.accounts.Actor``; the web and the CLI pass one, default the CLI's
    OS user): the role is checked (``accept_plan``: 规划人员 or 管理员), the version records
    who wrote it and the audit trail gets an ``accept_plan`` row naming the plan.
    """
    from geoservice.services import plans
    from geoservice.services.accounts import cli_actor, require

    actor = actor if actor is not None else cli_actor()
    require(actor, "accept_plan")
    name = plans.plan_name(scenario, "scenario")
    if len(text(note)) > 200:
        raise BadParameter("参数 note（备注）不能超过 200 个字")
    new = planned_rows(run, ranks, scenario=name, note=text(note))
    demand = run.summary.get("demand") or {}
    plan = plans.ensure_plan(store, actor, name, run.params.layer,
                             target_year=demand.get("year"))
    return plans.add_rows(
        store, actor, plan, new, source=f"选址建议（{PROBLEM_SHORT[run.params.problem]}）接受",
        params={**{("based_on_plan" if k == "plan" else k): v
                   for k, v in run.params.query().items()},
                "ranks": list(ranks), "scenario": name},
        result="新增 {added} 处")


def current_version(store: LayerStore, kind: str) -> int | None:
    v = store.current_versions().get(kind)
    return v.version if v else None
