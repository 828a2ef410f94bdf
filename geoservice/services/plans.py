"""Plans (规划方案): named sets of new facility sites that people manage, and the
analyses run "with a plan" (today's facilities plus the plan's sites).

A plan has a name, a facility layer, a target year, a status (草稿 / 已提交 / 已批准) and a
note, kept in the workspace's info table (key ``plan:<name>``, JSON); its sites are the rows
of the ``planned_sites`` layer whose ``scenario`` is the plan's name. Every change to the
sites (accepted from a siting run, placed, moved, edited, removed, restored) writes a new
version of ``planned_sites`` and an audit row naming the plan, so a plan's history is who
changed what and when, and any earlier state can be restored (undo). An approved plan is
read-only: every change is refused (409) until an administrator reopens it.

Plans named in ``planned_sites`` rows but never registered (sites accepted before plans
existed, or imported as a file) are listed as drafts of the facility layer their rows name.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geoservice.analysis.coverage import filter_facilities
from geoservice.analysis.vocabulary import (
    FACILITY_LAYERS,
    PLAN_STATUS,
    TODAY,
    TODAY_ALIASES,
    level_choices,
    level_field,
    level_label,
)
from geoservice.errors import BadParameter, Conflict, NotFound
from geoservice.services import audit
from geoservice.services.accounts import Actor, require
from geoservice.services.params import number, text
from layers import KINDS, LayerNotFound, LayerStore, LayerVersion
from layers.crs import STORED_CRS

INFO_PREFIX = "plan:"
KIND = "planned_sites"
MAX_NAME = 60
MAX_NOTE = 200
# Names the pages' addresses use (/plans/compare, /plans/compare.xlsx)
RESERVED = ("compare", "compare.xlsx")
# The columns of a planned_sites row, in order (the schema's fields)
COLUMNS = [f.name for f in KINDS[KIND].fields]
# One writer of planned_sites at a time in this process (read, change, write); across
# processes a client's ``base`` version catches a plan changed meanwhile.
_WRITE = threading.Lock()


@dataclass
class Plan:
    name: str
    layer: str
    target_year: int | None = None
    status: str = "draft"
    note: str = ""
    created_by: str = ""
    created_at: str = ""
    updated_by: str = ""
    updated_at: str = ""
    registered: bool = True  # False: only named by planned_sites rows

    @property
    def status_label(self) -> str:
        return PLAN_STATUS.get(self.status, self.status)

    @property
    def read_only(self) -> bool:
        return self.status == "approved"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status_label"] = self.status_label
        d["layer_label"] = KINDS[self.layer].label
        d["read_only"] = self.read_only
        return d

    def record(self) -> str:
        d = asdict(self)
        d.pop("registered")
        return json.dumps(d, ensure_ascii=False)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def plan_name(value, param: str = "plan") -> str:
    """A plan's name as given: trimmed, 1-60 characters, not the word for today.
    ``param``: the parameter's name in the messages."""
    name = text(value)
    what = f"参数 {param}（规划方案名称）"
    if not name:
        raise BadParameter(f"{what}不能为空")
    if len(name) > MAX_NAME:
        raise BadParameter(f"{what}不能超过 {MAX_NAME} 个字")
    if name in TODAY_ALIASES:
        raise BadParameter(f"“{name}”表示现状（不含任何方案），不能用作规划方案名称")
    if name.lower() in RESERVED:
        raise BadParameter(f"“{name}”是保留的名称（页面地址用），不能用作规划方案名称")
    if any(ord(c) < 32 for c in name) or any(c in name for c in "/\\"):
        raise BadParameter(f"{what}不能含有控制字符或斜杠（/、\\）")
    return name


def _year(value) -> int | None:
    from geoservice.services.demand import demand_defaults

    raw = text(value)
    if not raw:
        return None
    d = demand_defaults()
    low, high = d["base_year"], d["base_year"] + d["max_years"]
    if not raw.isdigit() or len(raw) != 4 or not low <= int(raw) <= high:
        raise BadParameter(f"参数 target_year（目标年份）“{raw}”应为 {low} 到 {high} 之间的四位年份")
    return int(raw)


def _status(value) -> str:
    raw = text(value)
    for k, label in PLAN_STATUS.items():
        if raw in (k, label):
            return k
    allowed = "、".join(f"{k}（{v}）" for k, v in PLAN_STATUS.items())
    raise BadParameter(f"参数 status（方案状态）“{raw}”无效，可用：{allowed}")


# --- reading -------------------------------------------------------------------------------

def _records(store: LayerStore) -> dict[str, Plan]:
    out = {}
    for key, value in store.info().items():
        if not key.startswith(INFO_PREFIX) or not value:
            continue
        try:
            d = json.loads(value)
        except ValueError:
            continue
        d.pop("registered", None)
        fields = {k: d[k] for k in Plan.__dataclass_fields__ if k in d}
        if fields.get("layer") in FACILITY_LAYERS and fields.get("name"):
            out[fields["name"]] = Plan(**fields)
    return out


def all_sites(store: LayerStore, version: int | None = None) -> gpd.GeoDataFrame:
    """Every plan's sites (the planned_sites layer, empty when there is none), with a
    ``site_id`` on every row (rows that came without one are numbered after the largest)."""
    try:
        gdf = store.read(KIND, version=version)
    except LayerNotFound:
        if version is not None:
            raise NotFound(f"“{KINDS[KIND].label}”图层没有第 {version} 版") from None
        gdf = gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in COLUMNS},
                               geometry=gpd.GeoSeries([], crs=STORED_CRS), crs=STORED_CRS)
    gdf = gdf.reindex(columns=COLUMNS + ["geometry"]).copy()
    ids = pd.to_numeric(gdf["site_id"], errors="coerce")
    missing = ids.isna().to_numpy()
    if missing.any():
        start = int(ids.max()) if ids.notna().any() else 0
        ids[missing] = np.arange(start + 1, start + 1 + int(missing.sum()))
    gdf["site_id"] = pd.array(ids.astype("int64"), dtype="Int64")
    for c in ("rank", "beds"):
        gdf[c] = pd.array(pd.to_numeric(gdf[c], errors="coerce"), dtype="Int64")
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs=STORED_CRS)


def list_plans(store: LayerStore) -> list[Plan]:
    """Every plan, by name: the registered ones and those only named by planned_sites rows."""
    plans = _records(store)
    sites = all_sites(store)
    for name, group in sites.groupby(sites["scenario"].astype(str), sort=True):
        if name not in plans:
            layers = [x for x in group["facility_layer"].dropna().astype(str) if x in FACILITY_LAYERS]
            plans[name] = Plan(name=name, layer=layers[0] if layers else FACILITY_LAYERS[1],
                               registered=False)
    return sorted(plans.values(), key=lambda p: p.name)


def get_plan(store: LayerStore, name) -> Plan:
    """The plan called ``name``; NotFound (404) naming the plans there are."""
    name = text(name)
    for plan in list_plans(store):
        if plan.name == name:
            return plan
    known = "、".join(p.name for p in list_plans(store)) or "（尚无方案）"
    raise NotFound(f"没有名为“{name}”的规划方案；现有方案：{known}")


def plan_sites(store: LayerStore, name: str, version: int | None = None) -> gpd.GeoDataFrame:
    """The sites of plan ``name`` (at planned_sites ``version``, default current)."""
    sites = all_sites(store, version)
    return sites[sites["scenario"].astype(str) == name].copy()


def site_table(plan: Plan, sites: gpd.GeoDataFrame) -> list[dict]:
    """A plan's sites as plain rows (lon/lat, level label): JSON, pages, the CLI."""
    out = []
    for row, g in zip(sites.itertuples(), sites.geometry, strict=True):
        level = None if pd.isna(row.level) else str(row.level)
        out.append({
            "site_id": int(row.site_id), "name": "" if pd.isna(row.name) else str(row.name),
            "level": level, "level_label": level_label(plan.layer, level) if level else "",
            "beds": None if pd.isna(row.beds) else int(row.beds),
            "rank": None if pd.isna(row.rank) else int(row.rank),
            "note": "" if pd.isna(row.note) else str(row.note),
            "lon": round(float(g.x), 7), "lat": round(float(g.y), 7),
        })
    return out


def plan_dict(store: LayerStore, plan: Plan) -> dict:
    """A plan with its sites, their beds and the planned_sites version they are at."""
    sites = plan_sites(store, plan.name)
    rows = site_table(plan, sites)
    v = store.current_versions().get(KIND)
    return {**plan.to_dict(), "sites": rows, "site_count": len(rows),
            "beds": int(sum(r["beds"] or 0 for r in rows)),
            "version": v.version if v else None,
            "levels": level_choices(plan.layer)}


# --- changing a plan -------------------------------------------------------------------------

def _save(store: LayerStore, plan: Plan) -> None:
    store.set_info(**{INFO_PREFIX + plan.name: plan.record()})


def _writable(plan: Plan) -> None:
    if plan.read_only:
        raise Conflict(f"规划方案“{plan.name}”已批准，只读：不能修改；如需修改，请管理员先将其状态改回“已提交”")


def create_plan(store: LayerStore, actor: Actor | None, name, layer, *, target_year=None,
                note="") -> Plan:
    """A new draft plan (refused when the name is taken)."""
    require(actor, "plan_change")
    name = plan_name(name)
    layer = text(layer) or "elderly_service_points"
    if layer not in FACILITY_LAYERS:
        raise BadParameter(f"参数 layer（设施图层）“{layer}”无效，可用："
                           + "、".join(f"{k}（{KINDS[k].label}）" for k in FACILITY_LAYERS))
    if any(p.name == name for p in list_plans(store)):
        raise Conflict(f"规划方案“{name}”已存在")
    note = text(note)
    if len(note) > MAX_NOTE:
        raise BadParameter(f"参数 note（备注）不能超过 {MAX_NOTE} 个字")
    now = _now()
    plan = Plan(name=name, layer=layer, target_year=_year(target_year), note=note,
                created_by=actor.name, created_at=now, updated_by=actor.name, updated_at=now)
    _save(store, plan)
    audit.record(store, actor, "plan_create", layer=KIND, params={"plan": name, "layer": layer},
                 result=f"新建规划方案“{name}”（{KINDS[layer].label}）")
    return plan


def update_plan(store: LayerStore, actor: Actor | None, name, *, status=None, note=None,
                target_year=None) -> Plan:
    """Change a plan's status, note or target year. An approved plan only changes status,
    and only by an administrator (reopening it)."""
    require(actor, "plan_change")
    plan = get_plan(store, name)
    changes = {}
    if status is not None and text(status):
        new = _status(status)
        if new != plan.status:
            if plan.status == "approved" and actor.role != "admin":
                raise Conflict(f"规划方案“{plan.name}”已批准，只读；只有管理员可以改回其他状态")
            if new == "approved":
                require(actor, "plan_approve")
            changes["status"] = new
    if note is not None:
        _writable(plan)
        note = text(note)
        if len(note) > MAX_NOTE:
            raise BadParameter(f"参数 note（备注）不能超过 {MAX_NOTE} 个字")
        if note != plan.note:
            changes["note"] = note
    if target_year is not None:
        _writable(plan)
        year = _year(target_year)
        if year != plan.target_year:
            changes["target_year"] = year
    if plan.read_only and set(changes) - {"status"}:
        _writable(plan)
    if not changes:
        return plan
    before = {k: getattr(plan, k) for k in changes}
    for k, v in changes.items():
        setattr(plan, k, v)
    plan.updated_by, plan.updated_at = actor.name, _now()
    if not plan.created_at:
        plan.created_by, plan.created_at = actor.name, plan.updated_at
    plan.registered = True
    _save(store, plan)
    what = "，".join(f"{_FIELD_LABELS[k]}：{_shown(k, before[k])} → {_shown(k, v)}"
                    for k, v in changes.items())
    audit.record(store, actor, "plan_update", layer=KIND, params={"plan": plan.name, **changes},
                 result=f"规划方案“{plan.name}”{what}")
    return plan


_FIELD_LABELS = {"status": "状态", "note": "备注", "target_year": "目标年份"}


def _shown(key, value) -> str:
    if key == "status":
        return PLAN_STATUS.get(value, str(value))
    return "（空）" if value in (None, "") else str(value)


def ensure_plan(store: LayerStore, actor: Actor, name: str, layer: str, *,
                target_year=None) -> Plan:
    """Plan ``name`` (created as a draft of ``layer`` when missing), checked writable and
    of ``layer``."""
    try:
        plan = get_plan(store, name)
    except NotFound:
        return create_plan(store, actor, name, layer, target_year=target_year)
    _writable(plan)
    if plan.layer != layer:
        raise BadParameter(f"规划方案“{plan.name}”是“{KINDS[plan.layer].label}”方案，"
                           f"不能加入“{KINDS[layer].label}”的站点")
    return plan


def check_target(store: LayerStore, name, layer: str) -> str:
    """Refuse at once (before a siting run) a plan sites cannot be added to: a bad name,
    an approved plan, a plan of another layer. A missing plan is fine (it will be
    created). Returns the checked name."""
    name = plan_name(name)
    try:
        plan = get_plan(store, name)
    except NotFound:
        return name
    _writable(plan)
    if plan.layer != layer:
        raise BadParameter(f"规划方案“{plan.name}”是“{KINDS[plan.layer].label}”方案，"
                           f"不能加入“{KINDS[layer].label}”的站点")
    return name


def _write(store: LayerStore, actor: Actor, plan: Plan, new_rows: gpd.GeoDataFrame, *,
           source: str, action: str, result: str, params: dict,
           base: int | None = None) -> LayerVersion:
    """Replace plan ``plan``'s rows of planned_sites by ``new_rows`` (other plans' rows
    kept) as one new version, audited. ``base``: the planned_sites version the client saw;
    refused (409) when the plan's sites changed since."""
    with _WRITE:
        current = store.current_versions().get(KIND)
        now_v = current.version if current else None
        everything = all_sites(store)
        if base is not None and now_v is not None and base != now_v:
            then = plan_sites(store, plan.name, version=base)
            mine = everything[everything["scenario"].astype(str) == plan.name]
            if not _same_sites(then, mine):
                raise Conflict(f"规划方案“{plan.name}”在您打开后已被修改（现为第 {now_v} 版），"
                               "请刷新后再改")
        others = everything[everything["scenario"].astype(str) != plan.name]
        rows = new_rows.reindex(columns=COLUMNS + ["geometry"]).copy()
        rows["scenario"] = plan.name
        rows["facility_layer"] = plan.layer
        both = pd.concat([others, rows], ignore_index=True)
        for c in ("rank", "beds", "site_id"):
            both[c] = pd.array(pd.to_numeric(both[c], errors="coerce"), dtype="Int64")
        for c in ("name", "facility_layer", "level", "scenario", "note"):
            both[c] = both[c].astype(object).where(both[c].notna(), None)
        gdf = gpd.GeoDataFrame(both, geometry="geometry", crs=STORED_CRS)
        version = store.write(KIND, gdf, source=source, source_crs=STORED_CRS, user=actor.name)
    plan.updated_by, plan.updated_at = actor.name, _now()
    if not plan.created_at:  # a plan only named by older rows: registered from now on
        plan.created_by, plan.created_at, plan.registered = actor.name, plan.updated_at, True
    _save(store, plan)
    audit.record(store, actor, action, layer=KIND, before=now_v, after=version.version,
                 params={**params, "plan": plan.name},
                 result=f"规划方案“{plan.name}”{result}，成为第 {version.version} 版")
    return version


def _same_sites(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, *, ids: bool = True) -> bool:
    def key(g):
        g = g.to_crs(STORED_CRS) if g.crs is not None else g
        return sorted((int(r.site_id) if ids else 0, str(r.name), str(r.level),
                       str(int(r.beds)) if pd.notna(r.beds) else "",
                       round(p.x, 7), round(p.y, 7))
                      for r, p in zip(g.itertuples(), g.geometry, strict=True))
    return key(a) == key(b)


def guard_layer(store: LayerStore, new: gpd.GeoDataFrame) -> None:
    """Refuse (409) a whole new planned_sites layer (an import, a version restored) that
    would change the sites of an approved plan."""
    approved = [p for p in list_plans(store) if p.read_only]
    if not approved:
        return
    rows = new.reindex(columns=COLUMNS + ["geometry"])
    rows = gpd.GeoDataFrame(rows, geometry="geometry", crs=new.crs or STORED_CRS)
    for plan in approved:
        mine = rows[rows["scenario"].astype(str) == plan.name]
        if not _same_sites(plan_sites(store, plan.name), mine, ids=False):
            raise Conflict(f"这样会改变已批准（只读）的规划方案“{plan.name}”的站点，已拒绝；"
                           "如需修改，请管理员先将其状态改回“已提交”")


def next_site_id(store: LayerStore) -> int:
    ids = all_sites(store)["site_id"]
    return int(ids.max()) + 1 if len(ids) else 1


def add_rows(store: LayerStore, actor: Actor, plan: Plan, rows: gpd.GeoDataFrame, *,
             source: str, params: dict, result: str) -> tuple[LayerVersion, int, int]:
    """Add ``rows`` (planned_sites columns) to ``plan``; a row at the position of a site
    the plan already has is skipped. Returns (version, added, skipped)."""
    _writable(plan)
    mine = plan_sites(store, plan.name)
    seen = {(round(g.x, 6), round(g.y, 6)) for g in mine.geometry}
    keep = np.array([(round(g.x, 6), round(g.y, 6)) not in seen for g in rows.geometry],
                    dtype=bool)
    skipped = int((~keep).sum())
    rows = rows[keep].copy()
    if not len(rows):
        raise BadParameter(f"所选站点已在规划方案“{plan.name}”中，未重复添加")
    first = next_site_id(store)
    rows["site_id"] = np.arange(first, first + len(rows))
    new = pd.concat([mine, rows], ignore_index=True)
    version = _write(store, actor, plan, new, source=source, action="accept_plan",
                     params=params, result=result.format(added=len(rows))
                     + (f"，{skipped} 处已在方案中" if skipped else ""))
    return version, len(rows), skipped


# --- hand edits: place, move, edit, remove; restore (undo) ----------------------------------

def _site_level(plan: Plan, value) -> str | None:
    raw = text(value)
    if not raw:
        return None
    choices = level_choices(plan.layer)
    for k, label in choices.items():
        if raw in (k, label):
            return k
    allowed = "、".join(f"{k}（{v}）" for k, v in choices.items())
    raise BadParameter(f"层级/类型“{raw}”无效，{KINDS[plan.layer].label}可用：{allowed}")


def _lonlat(op: dict, i: int) -> tuple[float, float]:
    lon = number(op.get("lon"), "lon", f"第 {i} 项修改的经度")
    lat = number(op.get("lat"), "lat", f"第 {i} 项修改的纬度")
    if lon is None or lat is None:
        raise BadParameter(f"第 {i} 项修改缺少经纬度（lon、lat）")
    if not (70 <= lon <= 140 and 0 <= lat <= 60):
        raise BadParameter(f"第 {i} 项修改的经纬度（{lon}, {lat}）不在中国范围内")
    return float(lon), float(lat)


def _beds(value, i: int) -> int | None:
    raw = text(value)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > 100000:
        raise BadParameter(f"第 {i} 项修改的床位数“{raw}”应为 0 到 100000 之间的整数")
    return int(raw)


def edit_sites(store: LayerStore, actor: Actor | None, name, ops, *,
               base=None) -> tuple[LayerVersion, dict]:
    """Apply hand edits to plan ``name`` as one new version. ``ops``: a list of
    ``{"op": "add", "lon", "lat", "name", "level", "beds"}``,
    ``{"op": "move", "site_id", "lon", "lat"}``, ``{"op": "edit", "site_id", "name"?,
    "level"?, "beds"?}``, ``{"op": "remove", "site_id"}``. All or nothing: one bad item
    refuses the whole list (naming the item) and nothing is written. ``base``: the
    planned_sites version the client saw (409 if the plan changed since)."""
    require(actor, "plan_change")
    plan = get_plan(store, name)
    _writable(plan)
    if not isinstance(ops, list) or not ops:
        raise BadParameter("参数 ops（修改列表）应为非空列表")
    if len(ops) > 1000:
        raise BadParameter("参数 ops（修改列表）一次最多 1000 项")
    base_v = None
    if base not in (None, ""):
        base_v = int(number(base, "base", "打开时的版本号"))
    sites = plan_sites(store, plan.name).reset_index(drop=True)
    next_id = next_site_id(store)
    counts = {"add": 0, "move": 0, "edit": 0, "remove": 0}
    for i, op in enumerate(ops, start=1):
        if not isinstance(op, dict):
            raise BadParameter(f"第 {i} 项修改应为对象")
        kind = text(op.get("op"))
        if kind not in counts:
            raise BadParameter(f"第 {i} 项修改的 op“{kind}”无效，可用：add、move、edit、remove")
        unknown = set(op) - {"op", "site_id", "lon", "lat", "name", "level", "beds", "note"}
        if unknown:
            raise BadParameter(f"第 {i} 项修改有未知字段：{'、'.join(sorted(unknown))}")
        if kind == "add":
            lon, lat = _lonlat(op, i)
            site_name = text(op.get("name")) or f"新增站点{next_id}"
            if len(site_name) > MAX_NAME:
                raise BadParameter(f"第 {i} 项修改的名称不能超过 {MAX_NAME} 个字")
            row = gpd.GeoDataFrame({
                "name": [site_name], "level": [_site_level(plan, op.get("level"))],
                "rank": pd.array([None], dtype="Int64"),
                "note": [text(op.get("note")) or "在地图上手工添加"],
                "beds": pd.array([_beds(op.get("beds"), i)], dtype="Int64"),
                "site_id": [next_id]},
                geometry=gpd.points_from_xy([lon], [lat]), crs=STORED_CRS)
            sites = pd.concat([sites, row], ignore_index=True)
            next_id += 1
        else:
            sid = number(op.get("site_id"), "site_id", f"第 {i} 项修改的站点编号")
            hit = np.flatnonzero(sites["site_id"].astype("Int64").to_numpy() == sid) \
                if sid is not None else []
            if not len(hit):
                raise BadParameter(f"第 {i} 项修改：规划方案“{plan.name}”中没有编号为 "
                                   f"{op.get('site_id')} 的站点")
            j = int(hit[0])
            if kind == "remove":
                sites = sites.drop(index=sites.index[j]).reset_index(drop=True)
            elif kind == "move":
                lon, lat = _lonlat(op, i)
                sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=STORED_CRS)
                geoms = sites.geometry.array.copy()
                geoms[j] = gpd.points_from_xy([lon], [lat])[0]
                sites = sites.set_geometry(gpd.GeoSeries(geoms, crs=STORED_CRS,
                                                         index=sites.index))
            else:
                if "name" in op:
                    nm = text(op.get("name"))
                    if not nm or len(nm) > MAX_NAME:
                        raise BadParameter(f"第 {i} 项修改的名称应为 1 到 {MAX_NAME} 个字")
                    sites.loc[sites.index[j], "name"] = nm
                if "level" in op:
                    sites.loc[sites.index[j], "level"] = _site_level(plan, op.get("level"))
                if "beds" in op:
                    sites["beds"] = pd.array(sites["beds"], dtype="Int64")
                    sites.loc[sites.index[j], "beds"] = _beds(op.get("beds"), i)
                if "note" in op:
                    sites.loc[sites.index[j], "note"] = text(op.get("note"))[:MAX_NOTE]
        counts[kind] += 1
    sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=STORED_CRS)
    words = {"add": "添加", "move": "移动", "edit": "修改", "remove": "删除"}
    said = "、".join(f"{words[k]} {n} 处" for k, n in counts.items() if n)
    version = _write(store, actor, plan, sites, source=f"规划方案“{plan.name}”手工编辑",
                     action="plan_edit", params={"ops": counts}, result=said, base=base_v)
    return version, counts


def restore_plan(store: LayerStore, actor: Actor | None, name, version) -> LayerVersion:
    """Plan ``name``'s sites as they were in planned_sites ``version`` (undo), written as a
    new version; the other plans' sites are not touched."""
    require(actor, "plan_change")
    plan = get_plan(store, name)
    _writable(plan)
    v = number(version, "version", "要恢复的版本号")
    if v is None:
        raise BadParameter("参数 version（要恢复的版本号）不能为空")
    then = plan_sites(store, plan.name, version=int(v))
    return _write(store, actor, plan, then, source=f"规划方案“{plan.name}”恢复到第 {int(v)} 版",
                  action="plan_restore", params={"version": int(v)},
                  result=f"站点恢复为第 {int(v)} 版时的 {len(then)} 处")


def plan_history(store: LayerStore, name) -> list[dict]:
    """The audit rows of plan ``name``, newest first: each change with who, when, the
    planned_sites versions before and after (the ``before`` one restores it)."""
    plan = get_plan(store, name)
    rows = [r for r in store.audit_rows(layer=KIND)
            if (r.get("params") or {}).get("plan", (r.get("params") or {}).get("scenario"))
            == plan.name]
    for r in rows:
        r["action_label"] = audit.ACTIONS.get(r["action"], r["action"])
    return rows


def undo_last(store: LayerStore, actor: Actor | None, name) -> LayerVersion:
    """Undo the last change of plan ``name``'s sites: its sites as they were before it
    (none, when the change was the first version of planned_sites), as a new version."""
    require(actor, "plan_change")
    plan = get_plan(store, name)
    _writable(plan)
    for row in plan_history(store, name):
        if row["action"] in ("accept_plan", "plan_edit", "plan_restore") \
                and row.get("version_after") is not None:
            before = row.get("version_before")
            if before is not None:
                return restore_plan(store, actor, name, before)
            empty = all_sites(store).iloc[0:0]
            return _write(store, actor, plan, empty, source=f"规划方案“{plan.name}”撤销",
                          action="plan_restore", params={"version": None},
                          result="撤销第一次修改：站点清空")
    raise BadParameter(f"规划方案“{plan.name}”还没有可撤销的站点修改")


# --- analyses with a plan ----------------------------------------------------------------------

@dataclass
class PlanInput:
    """What an analysis "with plan X" adds: the plan, its sites (all of them), the same as
    facility rows (``rows``: every level, for the beds of all elderly-care facilities), the
    ones the analysis counts (``counted``: its level only), the planned_sites version."""

    plan: Plan
    sites: gpd.GeoDataFrame
    rows: gpd.GeoDataFrame
    counted: gpd.GeoDataFrame
    version: int | None

    def provenance(self) -> dict:
        d = {"name": self.plan.name, "status": self.plan.status,
             "status_label": self.plan.status_label, "target_year": self.plan.target_year,
             "planned_sites_version": self.version, "sites": int(len(self.sites)),
             "sites_counted": int(len(self.counted)),
             "beds": int(pd.to_numeric(self.sites["beds"], errors="coerce")
                         .where(self.sites["site_id"].isin(self.counted["plan_site_id"]))
                         .fillna(0).sum())}
        if len(self.counted) < len(self.sites):
            d["note"] = (f"方案中 {len(self.sites) - len(self.counted)} 处站点的层级/类型与所选层级不同"
                         "（或未填写），未计入")
        return d


def plan_input(store: LayerStore, name, layer: str, level: str | None,
               versions: dict | None = None) -> PlanInput:
    """Plan ``name`` for an analysis of ``layer`` (refused when the plan is of another layer)."""
    plan = get_plan(store, name)
    if plan.layer != layer:
        raise BadParameter(f"规划方案“{plan.name}”是“{KINDS[plan.layer].label}”方案，"
                           f"不能用于“{KINDS[layer].label}”的分析；请选择 layer={plan.layer}")
    versions = store.current_versions() if versions is None else versions
    v = versions.get(KIND)
    sites = plan_sites(store, plan.name, version=v.version if v else None)
    as_facilities = facility_rows(sites, layer)
    counted = filter_facilities(as_facilities, layer, level)
    return PlanInput(plan, sites, as_facilities, counted, v.version if v else None)


def facility_rows(sites: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """A plan's sites as rows of facility layer ``layer``: name, the level (or kind) field,
    beds (a cemetery plan's ``beds`` are its graves: ``capacity_graves``); no village code
    (placed by position); ``plan_site_id`` keeps the site's number."""
    amount = pd.array(pd.to_numeric(sites["beds"], errors="coerce"), dtype="Int64")
    return gpd.GeoDataFrame({
        "name": sites["name"].astype(object).to_numpy(),
        level_field(layer): sites["level"].astype(object).to_numpy(),
        ("capacity_graves" if layer == "cemeteries" else "beds"): amount,
        "plan_site_id": sites["site_id"].astype("Int64").to_numpy(),
    }, geometry=sites.geometry.to_numpy(), crs=STORED_CRS)


def with_plan(facilities: gpd.GeoDataFrame, counted: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Today's ``facilities`` followed by a plan's sites (already as facility rows): the
    layer an analysis "with the plan" runs on."""
    if not len(counted):
        return facilities
    fac = facilities.to_crs(STORED_CRS) if facilities.crs is not None else facilities
    both = pd.concat([fac, counted.reindex(columns=[c for c in counted.columns])],
                     ignore_index=True)
    return gpd.GeoDataFrame(both, geometry="geometry", crs=STORED_CRS)


def year_demand(demand, plan: PlanInput | None):
    """The demand an analysis uses: the one asked for, else the plan's target year (with
    the default growth of defaults.toml), else None (the villages as they are)."""
    if demand is not None or plan is None or not plan.plan.target_year:
        return demand
    from geoservice.services.demand import demand_params

    return demand_params(str(plan.plan.target_year))


def is_today(value) -> bool:
    return text(value) in TODAY_ALIASES


__all__ = ["TODAY", "Plan", "PlanInput", "add_rows", "all_sites", "create_plan", "edit_sites",
           "ensure_plan", "facility_rows", "get_plan", "is_today", "list_plans", "plan_dict",
           "plan_history", "plan_input", "plan_name", "plan_sites", "restore_plan",
           "site_table", "undo_last", "update_plan", "with_plan"]


# --- comparing two plans (or a plan with today) ----------------------------------------------

# County and township measures of a comparison: key -> (Chinese label, kind). Kinds: "share"
# (0-1), "count", "rate" (per 1,000), "bool", "m" (metres); "higher" says which way is better.
MEASURES = {
    "village_coverage": ("村覆盖率", "share", True),
    "population_coverage": ("人口覆盖率", "share", True),
    "elderly_coverage": ("老年人口覆盖率", "share", True),
    "presence_coverage": ("村级设施覆盖率", "share", True),
    "covered_villages": ("覆盖村数", "count", True),
    "covered_elderly": ("覆盖老年人口", "count", True),
    "uncovered_elderly": ("未覆盖老年人口", "count", False),
    "facilities": ("设施数（含方案站点）", "count", None),
    "plan_sites": ("方案站点数", "count", None),
    "plan_beds": ("方案站点床位数", "count", None),
    "care_beds": ("养老床位数（全部养老设施）", "count", True),
    "care_beds_per_1000_elderly": ("每千名老年人养老床位", "rate", True),
    "mean_nearest_m": ("老人到最近设施的平均距离（米）", "m", False),
    "mean_access_per_1000": ("G2SFCA 可达性（每千名老人床位，老人加权平均）", "rate", True),
    "meets_target": ("覆盖率达到目标", "bool", True),
    "meets_beds_target": ("床位达到目标", "bool", True),
}
TOWNSHIP_MEASURES = ("village_coverage", "population_coverage", "elderly_coverage",
                     "covered_villages", "uncovered_elderly", "facilities", "plan_sites",
                     "plan_beds", "care_beds", "care_beds_per_1000_elderly", "meets_target",
                     "meets_beds_target")
GRAVE_MEASURES = ("care_beds", "care_beds_per_1000_elderly", "meets_beds_target",
                  "mean_access_per_1000")


def _side(store: LayerStore, value) -> Plan | None:
    if is_today(value):
        return None
    if not text(value):
        raise BadParameter("参数 a、b（要比较的两个规划方案）不能为空；与现状比较时写“现状”")
    return get_plan(store, value)


def _num(x):
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _weighted(values: np.ndarray, weights: np.ndarray) -> float | None:
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return None
    return float((values[ok] * weights[ok]).sum() / weights[ok].sum())


def _sites_by_township(villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per township code: the plan's sites (by the village polygon each lies in) and beds."""
    import shapely

    if not len(sites) or not len(villages):
        return pd.DataFrame({"plan_sites": [], "plan_beds": []})
    v = villages.to_crs(STORED_CRS)
    geoms = np.asarray(v.geometry.array, dtype=object)
    tree = shapely.STRtree(geoms)
    pts = np.asarray(sites.to_crs(STORED_CRS).geometry.array, dtype=object)
    s_idx, v_idx = tree.query(pts, predicate="intersects")
    owner = np.full(len(pts), -1)
    owner[s_idx[::-1]] = v_idx[::-1]
    codes = v["township_code"].astype(object).to_numpy()
    town = [codes[o] if o >= 0 else None for o in owner]
    beds = pd.to_numeric(sites["beds"], errors="coerce").fillna(0).to_numpy(dtype=float)
    df = pd.DataFrame({"township": town, "beds": beds}).dropna(subset=["township"])
    g = df.groupby("township")
    return pd.DataFrame({"plan_sites": g.size(), "plan_beds": g["beds"].sum()})


def counted_sites(plan: PlanInput | None) -> gpd.GeoDataFrame:
    """The plan's sites an analysis counted (all of them unless a level left some out)."""
    if plan is None:
        return gpd.GeoDataFrame({"beds": []}, geometry=[], crs=STORED_CRS)
    return plan.sites[plan.sites["site_id"].isin(plan.counted["plan_site_id"])]


def _county(result, plan: PlanInput | None) -> dict:
    s = result.summary
    v = result.villages
    eld = pd.to_numeric(v["elderly_population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    nearest = pd.to_numeric(v["nearest_m"], errors="coerce").to_numpy(dtype=float)
    access = pd.to_numeric(v["access_per_1000"], errors="coerce").to_numpy(dtype=float)
    out = {k: _num(s.get(k)) for k in MEASURES if k in s}
    out["uncovered_elderly"] = _num(s.get("elderly_population", 0)) - _num(s.get("covered_elderly", 0))
    out["plan_sites"] = float(plan.provenance()["sites_counted"]) if plan else 0.0
    out["plan_beds"] = float(plan.provenance()["beds"]) if plan else 0.0
    out["mean_nearest_m"] = _weighted(nearest, eld)
    out["mean_access_per_1000"] = _weighted(access, eld)
    for k in ("meets_target", "meets_beds_target"):
        out[k] = None if s.get(k) is None else bool(s.get(k))
    if s.get("layer") == "cemeteries":
        for k in GRAVE_MEASURES:
            out.pop(k, None)
    return out


def _townships(result, plan: PlanInput | None) -> dict[str, dict]:
    t = result.townships
    per = _sites_by_township(result.villages, counted_sites(plan))
    out = {}
    for row in t.to_dict(orient="records"):
        code = str(row["code"])
        d = {k: _num(row.get(k)) for k in TOWNSHIP_MEASURES if k in row}
        d["uncovered_elderly"] = (_num(row.get("elderly_population")) or 0) - \
            (_num(row.get("covered_elderly")) or 0)
        d["plan_sites"] = float(per["plan_sites"].get(code, 0)) if len(per) else 0.0
        d["plan_beds"] = float(per["plan_beds"].get(code, 0)) if len(per) else 0.0
        for k in ("meets_target", "meets_beds_target"):
            if k in row:
                d[k] = None if row[k] is None or row[k] != row[k] else bool(row[k])
        if result.summary.get("layer") == "cemeteries":
            for k in GRAVE_MEASURES:
                d.pop(k, None)
        out[code] = {"name": row.get("name"), **d}
    return out


def _diff(a: dict, b: dict) -> dict:
    out = {}
    for k in [k for k in MEASURES if k in a or k in b]:
        if k == "name" or MEASURES.get(k, ("", "", None))[1] == "bool":
            continue
        x, y = a.get(k), b.get(k)
        out[k] = None if x is None or y is None else y - x
    return out


def _changed_villages(ra, rb) -> tuple[list[dict], list[dict]]:
    va = ra.villages.set_index(ra.villages["code"].astype(str))
    vb = rb.villages.set_index(rb.villages["code"].astype(str))
    ca = va["covered"].astype(bool)
    cb = vb["covered"].reindex(va.index).fillna(False).astype(bool)

    def rows(mask):
        sel = va[mask.to_numpy()]
        return [{"code": str(c), "name": str(r["name"]),
                 "township_code": None if pd.isna(r["township_code"]) else str(r["township_code"]),
                 "elderly_population": _num(r["elderly_population"])}
                for c, r in zip(sel.index, sel.to_dict(orient="records"), strict=True)]
    return rows(~ca & cb), rows(ca & ~cb)


def _nearest_label(cost: dict | None) -> tuple[str, str]:
    """The label and kind of the mean nearest-facility measure in the cost's unit: metres
    (``m``) along a straight line or the roads, minutes (``min``) of travel time."""
    cost = cost or {}
    unit = cost.get("unit") or "m"
    word = "分钟" if unit == "min" else "米"
    if cost.get("kind", "straight") == "straight":
        return f"老人到最近设施的平均距离（{word}）", "m"
    return f"老人到最近设施的平均出行成本：{cost.get('label') or word}", unit


def compare_plans(store: LayerStore, a, b, **params) -> dict:
    """Plans ``a`` and ``b`` (names; "现状"/"today" for today's facilities) side by side:
    each is exactly the coverage run "with the plan" (:func:`run_coverage` with
    ``plan=``), on the same parameters, the same travel cost and the same demand: the year
    given, else the later of the plans' target years (with the default growth), else the
    current data. Keywords: ``radius``, ``level``, ``weighting``, ``target``, ``year``,
    ``growth``, ``projection`` and the cost ones of ``coverage_params`` (``cost``,
    ``network``, ``cost_field``, ``cost_unit``, ``matrix_path``, ``matrix_name``,
    ``limits``). Returns the JSON shape of ``plans compare --json`` and
    ``/api/plans/compare``."""
    return compare_plan_results(store, a, b, **params)[0]


def compare_plan_results(store: LayerStore, a, b, *, radius=None, level=None, weighting=None,
                         target=None, year=None, growth=None, projection=None, cost=None,
                         network=None, cost_field=None, cost_unit=None, matrix_path=None,
                         matrix_name=None, limits=None) -> tuple[dict, tuple]:
    """:func:`compare_plans` and the two coverage results it compared (A's, B's): the
    comparison page draws its maps from them."""
    from dataclasses import replace

    from geoservice.services.coverage import coverage_params, run_coverage

    pa, pb = _side(store, a), _side(store, b)
    layers = {p.layer for p in (pa, pb) if p is not None}
    if len(layers) > 1:
        raise BadParameter(f"两个方案的设施图层不同（{KINDS[pa.layer].label}、{KINDS[pb.layer].label}），"
                           "无法比较")
    layer = layers.pop() if layers else "elderly_service_points"
    years = [p.target_year for p in (pa, pb) if p is not None and p.target_year]
    year_from = "given" if text(year) else ("plans" if years else "current")
    if not text(year) and years:
        year = str(max(years))
    # one reading of the parameters (an OD matrix is read and checked once) for both sides
    base = coverage_params(layer, radius, level, weighting, target, year, growth, projection,
                           cost=cost, network=network, cost_field=cost_field,
                           cost_unit=cost_unit, matrix_path=matrix_path,
                           matrix_name=matrix_name, limits=limits)
    pins = {key: (plan_input(store, plan.name, layer, base.level) if plan is not None else None)
            for key, plan in (("a", pa), ("b", pb))}
    runs, sides = [], {}
    for key, plan in (("a", pa), ("b", pb)):
        params = replace(base, plan=plan_name(plan.name) if plan else None)
        pin = pins[key]
        result = run_coverage(store, params)
        runs.append((result, pin))
        sides[key] = {
            "name": plan.name if plan else TODAY,
            "plan": plan.to_dict() if plan else None,
            "summary": result.summary,
            "county": _county(result, pin),
            "sites": site_table(plan, pin.sites) if plan else [],
        }
    (ra, pia), (rb, pib) = runs
    ta, tb = _townships(ra, pia), _townships(rb, pib)
    townships = []
    for code in list(ta) + [c for c in tb if c not in ta]:
        x, y = ta.get(code, {}), tb.get(code, {})
        townships.append({"code": code, "name": x.get("name") or y.get("name"),
                          "a": {k: v for k, v in x.items() if k != "name"},
                          "b": {k: v for k, v in y.items() if k != "name"},
                          "diff": _diff(x, y)})
    newly, lost = _changed_villages(ra, rb)
    cost_used = ra.summary.get("cost") or {"kind": "straight", "unit": "m"}
    measures = {k: {"label": v[0], "kind": v[1], "higher_is_better": v[2]}
                for k, v in MEASURES.items()
                if k in sides["a"]["county"] or k in sides["b"]["county"]}
    if "mean_nearest_m" in measures:
        label, kind = _nearest_label(cost_used)
        measures["mean_nearest_m"].update(label=label, kind=kind)
    return {
        "a": sides["a"], "b": sides["b"],
        "diff": _diff(sides["a"]["county"], sides["b"]["county"]),
        "measures": measures,
        # the travel cost both sides ran on (summary["cost"]) and the unit of every distance
        # figure (the radius, the mean nearest-facility cost): "m" or "min"
        "cost": cost_used,
        "unit": ra.summary.get("radius_unit") or cost_used.get("unit") or "m",
        "townships": townships,
        "newly_covered": newly, "no_longer_covered": lost,
        "parameters": {**base.query(), "year_from": year_from},
    }, (ra, rb)
