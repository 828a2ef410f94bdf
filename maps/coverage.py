"""Coverage map: villages shaded covered/uncovered or by access class, facilities sized
by beds, their service circles (straight-line distance only), and a legend that states the
travel cost (straight line, road network with its default speeds, OD matrix), the radius
in its unit and the target."""

from __future__ import annotations

import folium
import geopandas as gpd
import mapclassify
import numpy as np

from layers.schema import KINDS, ROAD_CLASSES

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    finish_map,
    geojson_layer,
)
from .bulk import BulkLayer, GeometrySource, join_table, village_map
from .service_areas import add_service_areas
from .style import COLORS, shaded_villages
from .viewport import ViewSource, kind_viewport_layer, legend_note

COVERED = "#31a354"
UNCOVERED = "#de2d26"
ACCESS_COLORS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"]
NO_ACCESS = "#d9d9d9"
PLAN_COLOR = COLORS["planned_sites"]  # a plan's sites (facilities with a plan_site_id)


def access_classes(values: np.ndarray, k: int = 5) -> tuple[np.ndarray, list[str]]:
    """Class index per value (-1 for no access) and a label per class (quantiles)."""
    values = np.asarray(values, dtype=float)
    positive = values > 0
    classes = np.full(len(values), -1)
    labels: list[str] = []
    if positive.sum() == 0:
        return classes, labels
    uniq = np.unique(values[positive])
    k = int(min(k, len(uniq)))
    if k <= 1:
        classes[positive] = 0
        return classes, [f"{uniq[0]:.2f}"]
    scheme = mapclassify.Quantiles(values[positive], k=k)
    classes[positive] = scheme.yb
    lower = values[positive].min()
    for upper in scheme.bins:
        labels.append(f"{lower:.2f} – {upper:.2f}")
        lower = upper
    return classes, labels


def unit_word(summary: dict) -> str:
    """米 or 分钟: the unit of the radius and of every cost in the result."""
    return "分钟" if summary.get("radius_unit") == "min" else "米"


def cost_value(value, summary: dict) -> str:
    """A village's least cost for a popup: ``1,234 米`` or ``12.5 分钟``; empty without a
    facility, 不可达 when none is reachable (road network, OD matrix)."""
    if value is None or value != value:
        return ""
    value = float(value)
    if value == np.inf:
        return "不可达"
    return f"{value:,.0f} 米" if unit_word(summary) == "米" else f"{value:,.1f} 分钟"


def snap_text(value) -> str:
    """Metres from a village centre (or facility) to the road it joins the network at."""
    if value is None or value != value:
        return ""
    return f"{float(value):,.0f} 米"


def radius_text(summary: dict) -> str:
    """``2,000 米`` / ``15 分钟``."""
    r = float(summary["radius_m"])
    return f"{r:,.0f} 米" if unit_word(summary) == "米" else f"{r:,g} 分钟"


def cost_notes(summary: dict) -> list[str]:
    """The legend lines naming the travel cost (``summary["cost"]``): its label; on a road
    network the default speed of each road class (``speed_kmh``, named by
    ``speed_labels`` or the roads layer's classes) and how far villages are from their road;
    for any cost but the straight line, why no circle is drawn."""
    cost = summary.get("cost") or {}
    if not cost:
        return []
    lines = [f"出行成本：{cost.get('label') or cost.get('kind_label', '')}"]
    if cost.get("kind") == "network":
        speeds = cost.get("speed_kmh") or {}
        names = cost.get("speed_labels") or ROAD_CLASSES
        if speeds:
            lines.append("道路默认时速（千米/小时，图层未给时速或通行时间时采用）：" + "、".join(
                f"{names.get(k, k)} {float(v):g}" for k, v in speeds.items()))
        mean, top = cost.get("village_snap_m_mean"), cost.get("village_snap_m_max")
        if mean is not None and top is not None:
            walk = cost.get("access_speed_kmh")
            lines.append(f"村中心沿最近道路接入：平均 {float(mean):,.0f} 米，最远 {float(top):,.0f} 米"
                         + (f"（按 {float(walk):g} 千米/小时计时）"
                            if walk and cost.get("field") == "time" else ""))
    if cost.get("kind") not in (None, "straight"):
        lines.append("沿道路网或 OD 矩阵的可达范围不是圆，地图不画服务半径圆")
    lines += [str(x) for x in summary.get("cost_notes", [])]  # e.g. why no service area
    return lines


def coverage_map(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, summary: dict, *,
                 shading: str = "covered", title: str, notes: list[str] | None = None,
                 settings: MapSettings = DEFAULT_SETTINGS,
                 facilities_by_view: ViewSource | None = None,
                 facility_where: dict[str, list] | None = None,
                 villages_source: GeometrySource | None = None,
                 townships: gpd.GeoDataFrame | None = None,
                 service_areas: tuple | None = None) -> folium.Map:
    """Draw a coverage result.

    ``service_areas``: (per facility, merged, label) of a run on the road network: the
    area reachable within the radius along roads (``maps.service_areas``), drawn instead
    of circles.

    ``townships`` (code, name, polygons): their outlines, named and searchable, so that a
    row of the township table can be located on the map (not with ``villages_source``).

    ``villages_source``: the village layer is too heavy to put into the page (a
    province); every village is drawn from that source, simplified by zoom
    (``maps.bulk``), its result (colour, popup values) joined by code from a compact table.

    ``facilities_by_view``: the facility layer is too large to put into the page; its
    points and service circles are drawn by view from that source once zoomed in
    (``maps.viewport``), keeping only features matching ``facility_where`` (e.g. the level
    the analysis used); ``facilities`` is then not drawn.

    ``villages`` carries ``covered`` and ``access_per_1000`` columns (and plain-text
    ``name``, ``code``); ``facilities`` carries ``name`` and ``supply``;
    ``summary`` gives ``radius_m`` (in ``radius_unit``: ``m`` or ``min``), ``cost``
    (named in the legend; service circles only for the straight line) and the target;
    a ``snap_m`` column (road network) is shown in the popups as 到道路距离.
    ``shading`` is ``covered`` or ``access``.
    ``settings``: basemap and GCJ-02 shift (``maps.base``).
    """
    v, m = village_map(villages, villages_source, settings)
    entries: list[tuple[str, str, str]] = []
    unit = "剩余墓穴" if summary["layer"] == "cemeteries" else "床位"
    if shading == "access":
        classes, labels = access_classes(v["access_per_1000"].to_numpy())
        palette = ACCESS_COLORS[-len(labels):] if labels else []
        v["_fill"] = [palette[c] if c >= 0 else NO_ACCESS for c in classes]
        entries.append((NO_ACCESS, "fill", f"无可达{unit}"))
        entries.extend((palette[i], "fill", f"可达性 {lab}（{unit}/千名老年人）")
                       for i, lab in enumerate(labels))
    else:
        v["_fill"] = np.where(v["covered"], COVERED, UNCOVERED)
        entries.append((COVERED, "fill", "已覆盖村(社区)"))
        entries.append((UNCOVERED, "fill", "未覆盖村(社区)"))
    v["_covered"] = np.where(v["covered"], "是", "否")
    v["_nearest"] = v["nearest_m"].map(lambda d: cost_value(d, summary))
    v["_access"] = v["access_per_1000"].map(lambda a: f"{a:.2f}")
    snapped = "snap_m" in v.columns
    extra = ["_snap"] if snapped else []
    if snapped:
        v["_snap"] = v["snap_m"].map(snap_text)

    village_tooltip = [("name", "村(社区)"), ("_covered", "是否覆盖"), ("_nearest", "最近设施")]
    village_popup = [("name", "名称"), ("code", "代码"), ("elderly_population", "60岁以上人口"),
                     ("_covered", "是否覆盖"), ("_nearest", "到最近设施"),
                     *([("_snap", "到道路距离")] if snapped else []),
                     ("_access", f"可达性({unit}/千名老年人)")]
    village_name = f"村(社区)覆盖（{int(v['covered'].sum())}/{len(v)}）"
    if villages_source is not None:
        fills = sorted(set(v["_fill"]))
        v["_f"] = v["_fill"].map({c: i for i, c in enumerate(fills)})
        village_layer = BulkLayer(
            villages_source, name=village_name, shifted=settings.shifted,
            style={"color": "#555", "weight": 1, "fillOpacity": 0.55},
            props=["name", "code"], fill=("_f", dict(enumerate(fills))),
            join=join_table(v, ["_f", "_covered", "_nearest", "_access", "elderly_population",
                                *extra]),
            tooltip=village_tooltip, popup=village_popup, search=("villages", "villages"),
            asset_prefix=settings.asset_prefix)
    else:
        village_layer = shaded_villages(
            v[["code", "name", "_fill", "_covered", "_nearest", "_access", "elderly_population",
               *extra, "geometry"]],
            name=village_name, tooltip=village_tooltip, popup=village_popup)
    village_layer.add_to(m)
    towns = []
    if townships is not None and len(townships) and villages_source is None:
        t = settings.frame(townships)
        t = t[[c for c in ("code", "name") if c in t.columns] + [t.geometry.name]]
        town_layer = geojson_layer(
            t, name=f"乡镇(街道)界（{len(t)}）",
            style_function=lambda f: {"color": "#333333", "weight": 2, "fill": False},
            tooltip=[("name", "乡镇(街道)"), ("code", "代码")],
            popup=[("name", "乡镇(街道)"), ("code", "代码")])
        town_layer.add_to(m)
        entries.append(("#333333", "line", "乡镇(街道)界"))
        towns = [("townships", town_layer)]

    layer_kind = summary["layer"]
    color = COLORS[layer_kind]
    radius_m = float(summary["radius_m"])
    # a circle is the reach of the straight line only (a radius in metres)
    circle = (summary.get("cost") or {}).get("kind", "straight") == "straight"
    radius = radius_text(summary)
    areas_reg, areas_entries = (add_service_areas(m, *service_areas, settings=settings)
                                if service_areas is not None else ([], []))
    entries.extend(areas_entries)
    head_notes = [f"服务半径：{radius}（{summary.get('inputs', {}).get('radius_from', '')}）"
                  .replace("（）", ""), *cost_notes(summary), f"目标：{summary['target']:.0%}"]
    supply_label = "剩余墓穴数" if layer_kind == "cemeteries" else "床位数"
    if facilities_by_view is not None:
        fac_view, _ = kind_viewport_layer(
            facilities_by_view, shifted=settings.shifted, asset_prefix=settings.asset_prefix,
            circle_m=radius_m if circle else None, where=facility_where,
            style={"color": "#222", "fillColor": color, "fillOpacity": 0.9, "weight": 1,
                   "radius": 5},
            color_by=None)
        fac_view.add_to(m)
        entries.append((color, "dot", KINDS[layer_kind].label))
        if circle:
            entries.append((color, "line", f"服务半径 {radius}"))
        legend_notes = [*head_notes, legend_note(facilities_by_view)] + list(notes or [])
        return finish_map(m, title=title, entries=entries, notes=legend_notes,
                          registry=[("villages", village_layer), ("facilities", fac_view),
                                    *areas_reg, *towns],
                          settings=settings)
    f = facilities.copy()
    f["geometry"] = f.geometry.representative_point()
    f = settings.frame(f)
    # A plan's sites (analysis "with a plan"): the rows with a ``plan_site_id``, drawn
    # apart (outlined in the plan colour, dashed circles) from today's facilities.
    planned = (f["plan_site_id"].notna().to_numpy() if "plan_site_id" in f.columns
               else np.zeros(len(f), dtype=bool))
    circles = folium.FeatureGroup(name=f"服务半径 {radius}")
    for geom, is_plan in zip(f.geometry, planned, strict=True) if circle else ():
        folium.Circle(location=[geom.y, geom.x], radius=radius_m,
                      color=PLAN_COLOR if is_plan else color, weight=1,
                      dash_array="4" if is_plan else None,
                      fill=True, fill_opacity=0.05, interactive=False).add_to(circles)
    if circle:
        circles.add_to(m)
    registry_extra = []
    if planned.any():
        p = f[planned].copy()
        p["_supply"] = p["supply"].map(lambda s: f"{s:,.0f}")
        plan_layer = geojson_layer(
            p[["name", "_supply", "supply", "geometry"]],
            name=f"规划方案站点（{len(p)}）",
            marker=folium.CircleMarker(radius=6, weight=2, fill=True),
            style_function=lambda feat: {
                "color": PLAN_COLOR, "fillColor": color, "fillOpacity": 0.9, "weight": 3,
                "radius": 5 + min(float(feat["properties"]["supply"] or 0), 400) ** 0.5 / 1.5},
            tooltip=[("name", "规划方案站点"), ("_supply", supply_label)],
        )
        registry_extra.append(("plan_sites", plan_layer))
        f = f[~planned].copy()
    f["_supply"] = f["supply"].map(lambda s: f"{s:,.0f}")
    fac_snap = []
    if "snap_m" in f.columns:
        f["_snap"] = f["snap_m"].map(snap_text)
        fac_snap = [("_snap", "到道路距离")]
    fac_layer = geojson_layer(
        f[["name", "_supply", "supply", *(k for k, _ in fac_snap), "geometry"]],
        name=f"{KINDS[layer_kind].label}（{len(f)}）",
        marker=folium.CircleMarker(radius=5, weight=1, fill=True),
        style_function=lambda feat: {
            "color": "#222", "fillColor": color, "fillOpacity": 0.9, "weight": 1,
            "radius": 4 + min(float(feat["properties"]["supply"] or 0), 400) ** 0.5 / 1.5},
        tooltip=[("name", "设施"), ("_supply", supply_label), *fac_snap],
    )
    fac_layer.add_to(m)
    entries.append((color, "dot", f"{KINDS[layer_kind].label}（大小表示{supply_label}）"))
    for _, layer in registry_extra:
        layer.add_to(m)
        entries.append((PLAN_COLOR, "dot", "规划方案站点（紫色描边）"))
    if circle:
        entries.append((color, "line", f"服务半径 {radius}"))
    legend_notes = head_notes + list(notes or [])
    return finish_map(m, title=title, entries=entries, notes=legend_notes,
                      registry=[("villages", village_layer), ("facilities", fac_layer),
                                *([("circles", circles)] if circle else []),
                                *areas_reg, *registry_extra, *towns],
                      settings=settings, names={"facilities": layer_kind})
