"""Place-name map: villages outlined, labels coloured by finding, the official name beside
each wrong label (a permanent tooltip), missing villages marked at their centre."""

from __future__ import annotations

import folium
import geopandas as gpd

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    TextTooltip,
    as_text,
    base_map,
    drawn_bounds,
    finish_map,
    geojson_layer,
    safe_text,
)
from .bulk import BulkLayer, GeometrySource, frame_bounds, join_table
from .viewport import ViewSource, kind_viewport_layer, legend_note

# finding type -> (colour, Chinese label); "ok" for labels without a problem
STATUS_COLORS = {
    "ok": ("#31a354", "标注无问题"),
    "wrong_name": ("#de2d26", "名称错误"),
    "former_name": ("#ff7f00", "使用旧名"),
    "misplaced": ("#984ea3", "位置偏差"),
    "unknown_label": ("#636363", "无对应村(社区)"),
    "duplicate_label": ("#377eb8", "重复标注"),
    "missing": ("#e7298a", "缺失标注（村中心）"),
}
VIEW_LABEL_COLOR = "#bdbdbd"  # every stored label, drawn by view when the layer is large
VILLAGE_PROBLEM_FILL = "#fdd0a2"  # a village with a problem, on a bulk village layer


def placenames_map(villages: gpd.GeoDataFrame, labels: gpd.GeoDataFrame,
                   missing: gpd.GeoDataFrame, summary: dict, *, title: str,
                   notes: list[str] | None = None,
                   settings: MapSettings = DEFAULT_SETTINGS,
                   labels_by_view: ViewSource | None = None,
                   villages_source: GeometrySource | None = None) -> folium.Map:
    """``villages`` (code, name, problems), ``labels`` (label_id, name, status,
    official_name, distance_m) and ``missing`` (code, official_name; points), stored CRS.
    ``settings``: basemap and GCJ-02 shift (``maps.base``).
    ``labels_by_view``: the stored label layer is too large for the page; all its labels
    are drawn by view from that source once zoomed in (``maps.viewport``), under
    ``labels`` (then only the labels the page must show, e.g. those with a problem).
    ``villages_source``: the village polygons are drawn from the geometry endpoint
    (``maps.bulk``: every village, simplified by zoom), each village's problems joined by
    code, instead of being put into the page."""
    lab = settings.frame(labels).copy()
    tooltip = [("name", "村(社区)"), ("code", "代码"), ("problems", "问题")]
    if villages_source is not None:
        vb = frame_bounds(villages, settings)
        lb = drawn_bounds(lab, default=vb) if len(lab) else vb
        m = base_map((min(vb[0], lb[0]), min(vb[1], lb[1]), max(vb[2], lb[2]),
                      max(vb[3], lb[3])), settings)
        # the villages with a problem, joined by code: the problems' text once (a
        # village's index into it; shown by the script as text, never as HTML)
        problems = villages[["code", "problems"]].copy()
        problems["problems"] = problems["problems"].map(as_text)
        problems = problems[problems["problems"] != ""]
        texts = sorted(set(problems["problems"]))
        problems["_pi"] = problems["problems"].map({t: i for i, t in enumerate(texts)})
        village_layer = BulkLayer(
            villages_source, name=f"村(社区)（{len(villages):,}）", shifted=settings.shifted,
            style={"color": "#666", "weight": 1, "fillColor": "#ffffff", "fillOpacity": 0.15},
            props=["name", "code"], join=join_table(problems, ["_pi"]),
            fill=("_pi", dict.fromkeys(range(len(texts)), VILLAGE_PROBLEM_FILL)),
            choices={"_pi": dict(enumerate(texts))},
            tooltip=[*tooltip[:2], ("_pi", "问题")], popup=[*tooltip[:2], ("_pi", "问题")],
            search=("villages", "villages"), asset_prefix=settings.asset_prefix)
    else:
        v = settings.frame(villages)[["code", "name", "problems", "geometry"]].copy()
        m = base_map(drawn_bounds(v, lab, default=(103.0, 29.0, 105.0, 31.0)), settings)
        village_layer = geojson_layer(
            v, name=f"村(社区)（{len(v)}）",
            style_function=lambda f: {"color": "#666", "weight": 1, "fillColor": "#ffffff",
                                      "fillOpacity": 0.15},
            tooltip=tooltip, tooltip_options={"sticky": True})
    village_layer.add_to(m)

    lab["c_color"] = lab["status"].map(lambda s: STATUS_COLORS.get(s, STATUS_COLORS["ok"])[0])
    lab["c_status"] = lab["status"].map(lambda s: STATUS_COLORS.get(s, STATUS_COLORS["ok"])[1])
    lab["c_name"] = lab["name"].map(as_text)
    lab["c_official"] = lab["official_name"].map(as_text)
    lab["c_dist"] = [_distance_text(s, d) for s, d in zip(lab["status"], lab["distance_m"],
                                                          strict=True)]
    registry = [("villages", village_layer)]
    extra_entries, view_notes = [], []
    if labels_by_view is not None:
        all_labels, _ = kind_viewport_layer(
            labels_by_view, shifted=settings.shifted, asset_prefix=settings.asset_prefix,
            name=f"全部地图标注（{labels_by_view.features:,}，按视野加载）",
            style={"color": "#222", "fillColor": VIEW_LABEL_COLOR, "fillOpacity": 0.8,
                   "weight": 1, "radius": 4})
        all_labels.add_to(m)
        registry.append(("all_labels", all_labels))
        extra_entries.append((VIEW_LABEL_COLOR, "dot", "全部地图标注（放大后按视野显示，不按核查结果着色）"))
        view_notes.append(legend_note(labels_by_view))
    label_layer = folium.FeatureGroup(name=f"地图标注（{len(lab)}）")
    for row in lab.itertuples():
        marker = folium.CircleMarker(
            location=[row.geometry.y, row.geometry.x], radius=6, weight=1, color="#222",
            fill=True, fill_color=row.c_color, fill_opacity=0.95)
        body = f"{row.c_name}（{row.c_status}）"
        if row.status in ("wrong_name", "former_name") and row.c_official:
            # the official name beside the wrong label, always shown
            TextTooltip(f"{row.c_name} → {row.c_official}", permanent=True,
                        direction="right", class_name="gs-official").add_to(marker)
        else:
            TextTooltip(body + (f"，{row.c_dist}" if row.c_dist else "")).add_to(marker)
        marker.options["labelId"] = int(row.label_id)
        marker.options["status"] = safe_text(row.status)
        marker.add_to(label_layer)
    label_layer.add_to(m)

    miss = settings.frame(missing)
    miss_layer = folium.FeatureGroup(name=f"缺失标注（{len(miss)}）")
    color = STATUS_COLORS["missing"][0]
    for row in miss.itertuples():
        marker = folium.CircleMarker(location=[row.geometry.y, row.geometry.x], radius=7,
                                     weight=2, color=color, fill=False, dash_array="3")
        TextTooltip(f"{as_text(row.official_name)}：缺失标注").add_to(marker)
        marker.options["code"] = safe_text(row.code)
        marker.add_to(miss_layer)
    miss_layer.add_to(m)

    entries = [(c, "dot", label) for c, label in STATUS_COLORS.values()] + extra_entries
    legend_notes = [f"位置容差：{summary['tolerance_m']:,.0f} 米；搜索半径：{summary['search_radius_m']:,.0f} 米；"
                    f"近似名称阈值：{summary['fuzzy_threshold']:g}",
                    "标注已由原始坐标系换算为 CGCS2000"] + view_notes + list(notes or [])
    if summary.get("crs_message"):
        # a whole label set read in the wrong system (summary["crs_suspect"]): said first
        legend_notes.insert(0, f"坐标系疑似有误：{summary['crs_message']}")
    return finish_map(m, title=title, entries=entries, notes=legend_notes,
                      registry=[*registry, ("labels", label_layer),
                                ("missing", miss_layer)], settings=settings)


def _distance_text(status: str, d) -> str:
    """What the distance of a label means, only where it says something."""
    if d is None or d != d:
        return ""
    if status == "misplaced":
        return f"在村界外 {d:,.0f} 米"
    if status == "duplicate_label":
        return f"距保留的标注 {d:,.0f} 米"
    return ""
