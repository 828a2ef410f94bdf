"""The road network check map: roads coloured by class (the legend gives each class's
default speed), parts not joined to the main network highlighted, dangling ends and
points far from any road marked."""

from __future__ import annotations

import folium
import geopandas as gpd

from layers.schema import ROAD_CLASSES

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    base_map,
    drawn_bounds,
    finish_map,
    geojson_layer,
)
from .style import ROAD_STYLES

# the one road style (maps.style): colour and weight by class
ROAD_COLORS = {k: v[0] for k, v in ROAD_STYLES.items()}
ROAD_WEIGHTS = {k: v[1] for k, v in ROAD_STYLES.items()}
OFF_MAIN = "#e7298a"    # parts not joined to the main network
DANGLE = "#e31a1c"
FAR = "#ff7f00"


def network_map(roads: gpd.GeoDataFrame, dangles: gpd.GeoDataFrame, far: gpd.GeoDataFrame,
                summary: dict, *, title: str, notes: list[str] | None = None,
                settings: MapSettings = DEFAULT_SETTINGS) -> folium.Map:
    """Draw a network check. ``roads`` carries ``name``, ``road_class``,
    ``road_class_label``, ``speed_kmh``, ``part`` (0: the main network) and
    ``part_label``; ``dangles`` and ``far`` are points with their ``note``; ``summary``
    gives ``speed_kmh`` (the default speed of each class) and the thresholds."""
    r = settings.frame(roads).copy()
    d = settings.frame(dangles).copy() if len(dangles) else dangles
    f = settings.frame(far).copy() if len(far) else far
    m = base_map(drawn_bounds(r, d if len(d) else None, f if len(f) else None), settings)
    entries: list[tuple[str, str, str]] = []
    registry = []
    off = r[r["part"] != 0] if len(r) else r
    if len(off):
        halo = geojson_layer(
            off[["name", "part_label", "geometry"]],
            name=f"未连入主网的道路（{off['part'].nunique()} 个部分）",
            style_function=lambda feat: {"color": OFF_MAIN, "weight": 10, "opacity": 0.45},
            tooltip=[("part_label", "连通部分"), ("name", "道路")])
        halo.add_to(m)
        registry.append(("off_main", halo))
        entries.append((OFF_MAIN, "line", "未连入主网的部分（粗线底色）"))
    r["_speed"] = r["speed_kmh"].map(lambda v: f"{v:g} km/h")
    r["_oneway"] = r["oneway"].map(lambda v: "是" if v else "否")
    r["_length"] = r["length_m"].map(lambda v: f"{v:,.0f} 米")
    road_layer = geojson_layer(
        r[["name", "road_class", "road_class_label", "_speed", "_oneway", "_length",
           "part_label", "geometry"]],
        name=f"道路（{summary.get('roads', len(r))} 条）",
        style_function=lambda feat: {
            "color": ROAD_COLORS.get(feat["properties"]["road_class"], "#bdbdbd"),
            "weight": ROAD_WEIGHTS.get(feat["properties"]["road_class"], 2), "opacity": 0.9},
        tooltip=[("name", "道路"), ("road_class_label", "等级"), ("_speed", "计算车速")],
        popup=[("name", "道路"), ("road_class_label", "等级"), ("_speed", "计算车速"),
               ("_oneway", "单行"), ("_length", "长度"), ("part_label", "连通部分")])
    road_layer.add_to(m)
    registry.append(("roads", road_layer))
    speeds = summary.get("speed_kmh", {})
    for cls, label in ROAD_CLASSES.items():
        speed = speeds.get(cls)
        text = f"{label}（默认 {speed:g} km/h）" if speed is not None else label
        entries.append((ROAD_COLORS[cls], "line", text))
    if len(d):
        d["_distance"] = d["distance_m"].map(lambda v: f"{v:.1f} 米")
        dangle_layer = geojson_layer(
            d[["road", "near_road", "_distance", "note", "geometry"]],
            name=f"悬挂线端（{len(d)}）",
            marker=folium.CircleMarker(radius=7, weight=3, fill=True),
            style_function=lambda feat: {"color": DANGLE, "fillColor": "#ffffff",
                                         "fillOpacity": 0.8, "weight": 3},
            tooltip=[("road", "道路"), ("near_road", "邻近道路"), ("_distance", "相距")],
            popup=[("note", "说明")])
        dangle_layer.add_to(m)
        registry.append(("dangles", dangle_layer))
        entries.append((DANGLE, "dot", f"悬挂线端（距另一条道路 {summary.get('dangle_m', 0):g} 米内未连接）"))
    if len(f):
        f["_snap"] = f["snap_m"].map(lambda v: f"{v:,.0f} 米")
        far_layer = geojson_layer(
            f[["layer_label", "name", "code", "_snap", "note", "geometry"]],
            name=f"离道路过远（{len(f)}）",
            marker=folium.CircleMarker(radius=6, weight=1, fill=True),
            style_function=lambda feat: {"color": "#222", "fillColor": FAR, "fillOpacity": 0.9,
                                         "weight": 1},
            tooltip=[("layer_label", "类别"), ("name", "名称"), ("_snap", "距道路")],
            popup=[("note", "说明")])
        far_layer.add_to(m)
        registry.append(("far", far_layer))
        entries.append((FAR, "dot", f"离最近道路超过 {summary.get('far_m', 0):g} 米的村/设施"))
    legend_notes = [f"连接容差 {summary.get('snap_tolerance_m', 0):g} 米：线端和共用节点在容差内视为连通，"
                    "相交而无共用节点的道路（立交、桥梁）不连通",
                    "车速：道路有设计时速时用设计时速，有通行时间时按通行时间，否则用等级默认车速"]
    legend_notes += list(notes or [])
    return finish_map(m, title=title, entries=entries, notes=legend_notes, registry=registry,
                      settings=settings)
