"""Coverage map: villages shaded covered/uncovered or by access class, facilities sized
by beds, their service circles, and a legend that states the radius and the target."""

from __future__ import annotations

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd

from layers.schema import KINDS

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    base_map,
    drawn_bounds,
    finish_map,
    geojson_layer,
)
from .bulk import BulkLayer, GeometrySource, frame_bounds, join_table
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


def coverage_map(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, summary: dict, *,
                 shading: str = "covered", title: str, notes: list[str] | None = None,
                 settings: MapSettings = DEFAULT_SETTINGS,
                 facilities_by_view: ViewSource | None = None,
                 facility_where: dict[str, list] | None = None,
                 villages_source: GeometrySource | None = None,
                 townships: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Draw a coverage result.

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
    ``summary`` gives ``radius_m`` and the target. ``shading`` is ``covered`` or ``access``.
    ``settings``: basemap and GCJ-02 shift (``maps.base``).
    """
    if villages_source is not None:  # geometry from the endpoint: the values only
        v = pd.DataFrame(villages.drop(columns=villages.geometry.name)).copy()
        m = base_map(frame_bounds(villages, settings), settings)
    else:
        v = settings.frame(villages).copy()
        m = base_map(drawn_bounds(v), settings)
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
    v["_nearest"] = v["nearest_m"].map(lambda d: "" if d != d else f"{d:,.0f} 米")
    v["_access"] = v["access_per_1000"].map(lambda a: f"{a:.2f}")

    village_tooltip = [("name", "村(社区)"), ("_covered", "是否覆盖"), ("_nearest", "最近设施")]
    village_popup = [("name", "名称"), ("code", "代码"), ("elderly_population", "60岁以上人口"),
                     ("_covered", "是否覆盖"), ("_nearest", "到最近设施"),
                     ("_access", f"可达性({unit}/千名老年人)")]
    village_name = f"村(社区)覆盖（{int(v['covered'].sum())}/{len(v)}）"
    if villages_source is not None:
        fills = sorted(set(v["_fill"]))
        v["_f"] = v["_fill"].map({c: i for i, c in enumerate(fills)})
        village_layer = BulkLayer(
            villages_source, name=village_name, shifted=settings.shifted,
            style={"color": "#555", "weight": 1, "fillOpacity": 0.55},
            props=["name", "code"], fill=("_f", dict(enumerate(fills))),
            join=join_table(v, ["_f", "_covered", "_nearest", "_access", "elderly_population"]),
            tooltip=village_tooltip, popup=village_popup, search=("villages", "villages"),
            asset_prefix=settings.asset_prefix)
    else:
        village_layer = shaded_villages(
            v[["code", "name", "_fill", "_covered", "_nearest", "_access", "elderly_population",
               "geometry"]],
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
    supply_label = "剩余墓穴数" if layer_kind == "cemeteries" else "床位数"
    if facilities_by_view is not None:
        fac_view, _ = kind_viewport_layer(
            facilities_by_view, shifted=settings.shifted, asset_prefix=settings.asset_prefix,
            circle_m=radius_m, where=facility_where,
            style={"color": "#222", "fillColor": color, "fillOpacity": 0.9, "weight": 1,
                   "radius": 5},
            color_by=None)
        fac_view.add_to(m)
        entries.append((color, "dot", KINDS[layer_kind].label))
        entries.append((color, "line", f"服务半径 {radius_m:,.0f} 米"))
        legend_notes = [f"服务半径：{radius_m:,.0f} 米（{summary.get('inputs', {}).get('radius_from', '')}）"
                        .replace("（）", ""), f"目标：{summary['target']:.0%}",
                        legend_note(facilities_by_view)] + list(notes or [])
        return finish_map(m, title=title, entries=entries, notes=legend_notes,
                          registry=[("villages", village_layer), ("facilities", fac_view),
                                    *towns],
                          settings=settings)
    f = facilities.copy()
    f["geometry"] = f.geometry.representative_point()
    f = settings.frame(f)
    # A plan's sites (analysis "with a plan"): the rows with a ``plan_site_id``, drawn
    # apart (outlined in the plan colour, dashed circles) from today's facilities.
    planned = (f["plan_site_id"].notna().to_numpy() if "plan_site_id" in f.columns
               else np.zeros(len(f), dtype=bool))
    circles = folium.FeatureGroup(name=f"服务半径 {radius_m:,.0f} 米")
    for geom, is_plan in zip(f.geometry, planned, strict=True):
        folium.Circle(location=[geom.y, geom.x], radius=radius_m,
                      color=PLAN_COLOR if is_plan else color, weight=1,
                      dash_array="4" if is_plan else None,
                      fill=True, fill_opacity=0.05, interactive=False).add_to(circles)
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
    fac_layer = geojson_layer(
        f[["name", "_supply", "supply", "geometry"]],
        name=f"{KINDS[layer_kind].label}（{len(f)}）",
        marker=folium.CircleMarker(radius=5, weight=1, fill=True),
        style_function=lambda feat: {
            "color": "#222", "fillColor": color, "fillOpacity": 0.9, "weight": 1,
            "radius": 4 + min(float(feat["properties"]["supply"] or 0), 400) ** 0.5 / 1.5},
        tooltip=[("name", "设施"), ("_supply", supply_label)],
    )
    fac_layer.add_to(m)
    entries.append((color, "dot", f"{KINDS[layer_kind].label}（大小表示{supply_label}）"))
    for _, layer in registry_extra:
        layer.add_to(m)
        entries.append((PLAN_COLOR, "dot", "规划方案站点（紫色描边）"))
    entries.append((color, "line", f"服务半径 {radius_m:,.0f} 米"))
    legend_notes = [f"服务半径：{radius_m:,.0f} 米（{summary.get('inputs', {}).get('radius_from', '')}）".replace(
        "（）", ""), f"目标：{summary['target']:.0%}"] + list(notes or [])
    return finish_map(m, title=title, entries=entries, notes=legend_notes,
                      registry=[("villages", village_layer), ("facilities", fac_layer),
                                ("circles", circles), *registry_extra, *towns],
                      settings=settings, names={"facilities": layer_kind})
