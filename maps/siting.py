"""Siting map: the villages each new site newly covers, the existing facilities, the
suggested sites numbered by rank with their service circles, and the excluded candidates
greyed with the reason on hover. A legend states the travel cost, the radius in its unit,
the problem and the inputs; service circles are drawn for the straight line only."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from layers.schema import KINDS

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    TextTooltip,
    base_map,
    drawn_bounds,
    finish_map,
    geojson_layer,
)
from .coverage import cost_notes, cost_value, radius_text, snap_text
from .style import COLORS, shaded_villages
from .viewport import ViewSource, kind_viewport_layer, legend_note

COVERED_BEFORE = "#a1d99b"
NEWLY_COVERED = "#fd8d3c"
STILL_UNCOVERED = "#de2d26"
SITE_COLOR = "#6a3d9a"
EXCLUDED_COLOR = "#9e9e9e"
CANDIDATE_COLOR = "#2b8cbe"
ZONE_COLOR = "#969696"

_RANK_HTML = ('<div class="gs-rank" style="width:24px;height:24px;border-radius:12px;'
              'background:{color};color:#fff;border:2px solid #fff;box-shadow:0 0 3px #000;'
              'font:bold 13px/24px sans-serif;text-align:center">{rank}</div>')


def _points(gdf: gpd.GeoDataFrame, settings: MapSettings) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out["geometry"] = out.geometry.representative_point()
    return settings.frame(out)


def _plain(value):
    """A JSON-safe scalar for GeoJSON properties."""
    if value is None or (not isinstance(value, (str, list)) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def siting_map(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
               sites: gpd.GeoDataFrame, excluded: gpd.GeoDataFrame, summary: dict, *,
               layer: str, title: str, candidates: gpd.GeoDataFrame | None = None,
               townships: gpd.GeoDataFrame | None = None,
               exclusion_zones: gpd.GeoDataFrame | None = None,
               legend_notes: list[str] | None = None, notes: list[str] | None = None,
               settings: MapSettings = DEFAULT_SETTINGS,
               facilities_by_view: ViewSource | None = None,
               facility_where: dict[str, list] | None = None) -> folium.Map:
    """Draw a siting result.

    ``facilities_by_view``: the existing facility layer is too large for the page; it is
    drawn by view from that source once zoomed in (``maps.viewport``), keeping features
    matching ``facility_where``, and ``facilities`` is not drawn.

    ``villages`` carries ``covered_before``, ``covered_after`` and ``new_site_rank``;
    ``sites`` ``rank``, ``name``, ``lon``, ``lat``, ``marginal_elderly``; ``excluded``
    ``name``, ``reason``, ``rule`` and its Chinese ``rule_label`` (the result carries it);
    ``summary`` gives ``radius_m`` (in ``radius_unit``: ``m`` or ``min``) and ``cost``
    (named in the legend, maps.coverage.cost_notes); a ``snap_m`` column of ``villages``
    (road network) shows as 到道路距离; exclusion zone types are named by the layer schema.
    Text from data is plain text; ``maps.base`` makes it safe where it is shown.
    ``legend_notes`` are plain-text lines (problem, K, solver ...) put under the legend.
    ``settings``: basemap and GCJ-02 shift (``maps.base``); ``lon``/``lat`` of the sites
    are CGCS2000 and shifted like every geometry.
    """
    v = settings.frame(villages).copy()
    m = base_map(drawn_bounds(v), settings)
    registry: list[tuple[str, folium.map.Layer]] = []
    entries: list[tuple[str, str, str]] = []
    radius_m = float(summary["radius_m"])
    radius = radius_text(summary)
    circle = (summary.get("cost") or {}).get("kind", "straight") == "straight"

    if townships is not None and len(townships):
        t = settings.frame(townships)
        tl = geojson_layer(
            gpd.GeoDataFrame({"name": t["name"]}, geometry=t.geometry.values, crs=4326),
            name="乡镇界", style_function=lambda f: {"color": COLORS["townships"], "weight": 2.5,
                                                    "fill": False},
            interactive=False)
        tl.add_to(m)
        registry.append(("townships", tl))
        entries.append((COLORS["townships"], "line", "乡镇界"))

    if exclusion_zones is not None and len(exclusion_zones):
        z = settings.frame(exclusion_zones)
        labels = KINDS["exclusion_zones"].field("zone_type").choices or {}
        zf = gpd.GeoDataFrame({
            "_type": [labels.get(k, k) for k in z["zone_type"]],
            "name": z["name"] if "name" in z.columns else "",
        }, geometry=z.geometry.values, crs=4326)
        zl = geojson_layer(
            zf, name=f"禁建区（{len(zf)}）",
            style_function=lambda f: {"color": ZONE_COLOR, "weight": 1, "fillColor": ZONE_COLOR,
                                      "fillOpacity": 0.25, "dashArray": "4"},
            tooltip=[("_type", "禁建区类型"), ("name", "名称")])
        zl.add_to(m)
        registry.append(("zones", zl))
        entries.append((ZONE_COLOR, "fill", "禁建区"))

    before = v["covered_before"].astype(bool).to_numpy()
    after = v["covered_after"].astype(bool).to_numpy()
    v["_fill"] = np.where(before, COVERED_BEFORE, np.where(after, NEWLY_COVERED, STILL_UNCOVERED))
    v["_status"] = np.where(before, "新增前已覆盖",
                            np.where(after, "新增后覆盖", "仍未覆盖"))
    rank = pd.to_numeric(v["new_site_rank"], errors="coerce").astype(float).to_numpy()
    v["_rank"] = [("" if not np.isfinite(r) else f"第 {int(r)} 号") for r in rank]
    v["_new"] = np.where(~before & after, 1, 0)
    v["_nearest"] = v["nearest_m_after"].map(lambda d: cost_value(d, summary))
    snap = [("_snap", "到道路距离")] if "snap_m" in v.columns else []
    if snap:
        v["_snap"] = v["snap_m"].map(snap_text)
    vf = gpd.GeoDataFrame({
        "code": v["code"], "name": v["name"],
        "elderly_population": [_plain(x) for x in v["elderly_population"]],
        "_fill": v["_fill"], "_status": v["_status"], "_rank": v["_rank"], "_new": v["_new"],
        "_nearest": v["_nearest"], **{k: v[k] for k, _ in snap},
    }, geometry=v.geometry.values, crs=4326)
    village_layer = shaded_villages(
        vf, name=f"村(社区)（新增覆盖 {int(vf['_new'].sum())} 个）",
        tooltip=[("name", "村(社区)"), ("_status", "覆盖"), ("_rank", "覆盖它的新站")],
        popup=[("name", "名称"), ("code", "代码"), ("elderly_population", "60岁以上人口"),
               ("_status", "覆盖"), ("_rank", "覆盖它的新站"), ("_nearest", "新增后到最近设施"),
               *snap])
    village_layer.add_to(m)
    registry.append(("villages", village_layer))
    entries += [(COVERED_BEFORE, "fill", "新增前已覆盖的村(社区)"),
                (NEWLY_COVERED, "fill", "新增站点新覆盖的村(社区)"),
                (STILL_UNCOVERED, "fill", "仍未覆盖的村(社区)")]

    color = COLORS.get(layer, "#d7301f")
    label = KINDS[layer].label
    if facilities_by_view is not None:
        fac_layer, _ = kind_viewport_layer(
            facilities_by_view, shifted=settings.shifted, asset_prefix=settings.asset_prefix,
            where=facility_where, color_by=None, radius_by=None,
            name=f"现有{label}（{facilities_by_view.features:,}，按视野加载）",
            style={"color": "#222", "fillColor": color, "fillOpacity": 0.9, "weight": 1,
                   "radius": 6})
        notes = [legend_note(facilities_by_view), *(notes or [])]
    elif len(facilities):
        f = _points(facilities, settings)
        ff = gpd.GeoDataFrame({"name": f["name"]}, geometry=f.geometry.values, crs=4326)
        fac_layer = geojson_layer(
            ff, name=f"现有{label}（{len(ff)}）",
            marker=folium.CircleMarker(radius=6, weight=1, fill=True),
            style_function=lambda feat: {"color": "#222", "fillColor": color,
                                         "fillOpacity": 0.9, "weight": 1, "radius": 6},
            tooltip=[("name", f"现有{label}")])
    else:
        fac_layer = folium.FeatureGroup(name=f"现有{label}（0）")
    fac_layer.add_to(m)
    registry.append(("facilities", fac_layer))
    entries.append((color, "dot", f"现有{label}"))

    if candidates is not None and len(candidates):
        c = candidates
        if "eligible" in c.columns:
            c = c[c["eligible"].astype(bool)]
        if "chosen" in c.columns:
            c = c[~c["chosen"].astype(bool)]
        if len(c):
            c = _points(c, settings)
            cf = gpd.GeoDataFrame({"name": c["name"]}, geometry=c.geometry.values, crs=4326)
            cand_layer = geojson_layer(
                cf, name=f"未选中的候选点（{len(cf)}）", show=False,
                marker=folium.CircleMarker(radius=3, weight=1, fill=True),
                style_function=lambda feat: {"color": CANDIDATE_COLOR, "fillColor": "#fff",
                                             "fillOpacity": 1, "weight": 1, "radius": 3},
                tooltip=[("name", "候选点")])
            cand_layer.add_to(m)
            registry.append(("candidates", cand_layer))
            entries.append((CANDIDATE_COLOR, "dot", "未选中的候选点（可在图层中打开）"))

    ex_group: folium.map.Layer
    if excluded is not None and len(excluded):
        e = _points(excluded, settings)
        ef = gpd.GeoDataFrame({
            "name": e["name"],
            "_rule": e["rule_label"] if "rule_label" in e.columns else e["rule"],
            "_reason": e["reason"],
        }, geometry=e.geometry.values, crs=4326)
        ex_group = geojson_layer(
            ef, name=f"排除的候选点（{len(ef)}）",
            marker=folium.CircleMarker(radius=6, weight=1, fill=True),
            style_function=lambda feat: {"color": "#616161", "fillColor": EXCLUDED_COLOR,
                                         "fillOpacity": 0.8, "weight": 1, "radius": 6},
            tooltip=[("name", "排除的候选点"), ("_reason", "原因")],
            tooltip_options={"sticky": False, "class_name": "gs-excluded-tip"})
        ex_group.add_to(m)
        registry.append(("excluded", ex_group))
        entries.append((EXCLUDED_COLOR, "dot", "排除的候选点（悬停查看原因）"))

    circles = folium.FeatureGroup(name=f"新站服务半径 {radius}")
    markers = folium.FeatureGroup(name=f"建议新增站点（{len(sites)}）")
    site_points: list[dict] = []  # the sites for the search box (maps.tools)
    if len(sites):
        for i, row in enumerate(sites.sort_values("rank").itertuples()):
            lon, lat = settings.point(row.lon, row.lat)
            site_points.append({"name": row.name, "kind": "sites", "layer": "sites",
                                "index": i, "lon": lon, "lat": lat, "code": int(row.rank)})
            if circle:
                folium.Circle(location=[lat, lon], radius=radius_m, color=SITE_COLOR, weight=2,
                              dash_array="6", fill=True, fill_opacity=0.04,
                              interactive=False).add_to(circles)
            gain = _plain(getattr(row, "marginal_elderly", None))
            gain_text = "" if gain is None else f"；新增覆盖老年人口 {float(gain):,.0f}"
            if bool(getattr(row, "no_gain", False)):
                gain_text += "（不再增加，可不建）"
            tip = f"第 {int(row.rank)} 号：{row.name}{gain_text}"
            folium.Marker(
                location=[lat, lon],
                icon=folium.DivIcon(html=_RANK_HTML.format(color=SITE_COLOR, rank=int(row.rank)),
                                    icon_size=(24, 24), icon_anchor=(12, 12),
                                    class_name="gs-rank-icon"),
                tooltip=TextTooltip(tip),
            ).add_to(markers)
    if circle:
        circles.add_to(m)
        registry.append(("circles", circles))
    markers.add_to(m)
    registry.append(("sites", markers))
    entries.append((SITE_COLOR, "dot", "建议新增站点（数字为序号）"))
    if circle:
        entries.append((SITE_COLOR, "line", f"新站服务半径 {radius}"))

    return finish_map(m, title=title, entries=entries,
                      notes=list(legend_notes or []) + cost_notes(summary) + list(notes or []),
                      registry=registry,
                      settings=settings, names={"facilities": layer}, points=site_points)
