"""Coverage map: villages shaded covered/uncovered or by access class, facilities sized
by beds, their service circles, and a legend that states the radius and the target."""

from __future__ import annotations

import folium
import geopandas as gpd
import mapclassify
import numpy as np

from layers.schema import KINDS

from .base import DEFAULT_SETTINGS, MapSettings, base_map, drawn_bounds, finish_map
from .style import COLORS, escape_text

COVERED = "#31a354"
UNCOVERED = "#de2d26"
ACCESS_COLORS = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"]
NO_ACCESS = "#d9d9d9"


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
                 settings: MapSettings = DEFAULT_SETTINGS) -> folium.Map:
    """Draw a coverage result.

    ``villages`` carries ``covered`` and ``access_per_1000`` columns (and escaped display
    columns ``name``, ``code``); ``facilities`` carries ``name`` and ``supply``;
    ``summary`` gives ``radius_m`` and the target. ``shading`` is ``covered`` or ``access``.
    ``settings``: basemap and GCJ-02 shift (``maps.base``).
    """
    v = settings.frame(villages).copy()
    m = base_map(drawn_bounds(v), settings)
    entries: list[tuple[str, str, str]] = []
    if shading == "access":
        classes, labels = access_classes(v["access_per_1000"].to_numpy())
        palette = ACCESS_COLORS[-len(labels):] if labels else []
        v["_fill"] = [palette[c] if c >= 0 else NO_ACCESS for c in classes]
        entries.append((NO_ACCESS, "fill", "无可达床位"))
        entries.extend((palette[i], "fill", f"可达性 {lab}（床位/千名老年人）")
                       for i, lab in enumerate(labels))
    else:
        v["_fill"] = np.where(v["covered"], COVERED, UNCOVERED)
        entries.append((COVERED, "fill", "已覆盖村(社区)"))
        entries.append((UNCOVERED, "fill", "未覆盖村(社区)"))
    v["name"], v["code"] = v["name"].map(escape_text), v["code"].map(escape_text)
    v["_covered"] = np.where(v["covered"], "是", "否")
    v["_nearest"] = v["nearest_m"].map(lambda d: "" if d != d else f"{d:,.0f} 米")
    v["_access"] = v["access_per_1000"].map(lambda a: f"{a:.2f}")

    village_layer = folium.GeoJson(
        v[["code", "name", "_fill", "_covered", "_nearest", "_access", "elderly_population",
           "geometry"]].__geo_interface__,
        name=f"村(社区)覆盖（{int(v['covered'].sum())}/{len(v)}）",
        style_function=lambda f: {"color": "#555", "weight": 1, "fillOpacity": 0.55,
                                  "fillColor": f["properties"]["_fill"]},
        highlight_function=lambda f: {"weight": 3},
        tooltip=folium.GeoJsonTooltip(["name", "_covered", "_nearest"],
                                      aliases=["村(社区)", "是否覆盖", "最近设施"], sticky=True),
        popup=folium.GeoJsonPopup(
            ["name", "code", "elderly_population", "_covered", "_nearest", "_access"],
            aliases=["名称", "代码", "60岁以上人口", "是否覆盖", "到最近设施", "可达性(床位/千名老年人)"]),
    )
    village_layer.add_to(m)

    layer_kind = summary["layer"]
    color = COLORS[layer_kind]
    radius_m = float(summary["radius_m"])
    f = facilities.copy()
    f["geometry"] = f.geometry.representative_point()
    f = settings.frame(f)
    circles = folium.FeatureGroup(name=f"服务半径 {radius_m:,.0f} 米")
    for geom in f.geometry:
        folium.Circle(location=[geom.y, geom.x], radius=radius_m, color=color, weight=1,
                      fill=True, fill_opacity=0.05, interactive=False).add_to(circles)
    circles.add_to(m)
    f["name"] = f["name"].map(escape_text)
    f["_supply"] = f["supply"].map(lambda s: f"{s:,.0f}")
    supply_label = "剩余墓穴数" if layer_kind == "cemeteries" else "床位数"
    fac_layer = folium.GeoJson(
        f[["name", "_supply", "supply", "geometry"]].__geo_interface__,
        name=f"{KINDS[layer_kind].label}（{len(f)}）",
        marker=folium.CircleMarker(radius=5, weight=1, fill=True),
        style_function=lambda feat: {
            "color": "#222", "fillColor": color, "fillOpacity": 0.9, "weight": 1,
            "radius": 4 + min(float(feat["properties"]["supply"] or 0), 400) ** 0.5 / 1.5},
        tooltip=folium.GeoJsonTooltip(["name", "_supply"], aliases=["设施", supply_label]),
    )
    fac_layer.add_to(m)
    entries.append((color, "dot", f"{KINDS[layer_kind].label}（大小表示{supply_label}）"))
    entries.append((color, "line", f"服务半径 {radius_m:,.0f} 米"))
    legend_notes = [f"服务半径：{radius_m:,.0f} 米（{summary.get('inputs', {}).get('radius_from', '')}）".replace(
        "（）", ""), f"目标：{summary['target']:.0%}"] + list(notes or [])
    return finish_map(m, title=title, entries=entries, notes=legend_notes,
                      registry=[("villages", village_layer), ("facilities", fac_layer),
                                ("circles", circles)])
