"""Boundary review maps: units, findings coloured by severity, boundary lines labelled
with their length; and the before/after map of a merge simulation."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    as_text,
    base_map,
    drawn_bounds,
    finish_map,
    geojson_layer,
    safe_text,
)
from .bulk import BulkLayer, GeometrySource, frame_bounds
from .lines import LinesLayer, LinesSource
from .style import COLORS

SEVERITY_COLORS = {"error": "#d7301f", "warning": "#fd8d3c", "info": "#3182bd"}
SEVERITY_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}
SHARED_COLOR = "#4a3b8f"
OUTER_COLOR = "#111111"


def _bounds(settings: MapSettings, *frames) -> tuple:
    return drawn_bounds(*(settings.frame(f) for f in frames if f is not None and len(f)))


def _units_layer(units: gpd.GeoDataFrame, name: str, color: str,
                 settings: MapSettings) -> folium.GeoJson:
    u = gpd.GeoDataFrame({"name": units["name"], "code": units["code"]},
                         geometry=settings.frame(units).geometry.values, crs=4326)
    return geojson_layer(
        u, name=name,
        style_function=lambda f: {"color": color, "weight": 1, "fillColor": color,
                                  "fillOpacity": 0.08},
        tooltip=[("name", "名称"), ("code", "代码")], tooltip_options={"sticky": True},
    )


def boundaries_map(units: gpd.GeoDataFrame, findings: gpd.GeoDataFrame,
                   lines: gpd.GeoDataFrame, summary: dict, *, title: str,
                   type_labels: dict[str, str], notes: list[str] | None = None,
                   settings: MapSettings = DEFAULT_SETTINGS,
                   units_source: GeometrySource | None = None,
                   lines_source: LinesSource | None = None,
                   findings_source: LinesSource | None = None) -> folium.Map:
    """Draw a boundary review.

    ``findings`` carries ``type``, ``severity``, ``message`` (plain text) and
    a geometry (None for findings without a place); each map feature gets property ``fid``
    = the finding's ``row`` (the page's table row: one per group of identical findings)
    or, without that column, its row position; the page's table uses it to zoom (a
    multi-point finding is drawn as one marker per point, all with its fid). ``lines`` carries
    ``kind``, ``name_a``, ``name_b``, ``length_km``. ``summary["tolerances"]`` goes in the
    legend. ``settings``: basemap and GCJ-02 shift (``maps.base``).

    At province scale: ``units_source`` draws the units from the geometry endpoint
    (``maps.bulk``: every unit, simplified by zoom) instead of putting them into the page;
    ``lines_source`` draws the lines from the lines endpoint (``maps.lines``: every line,
    simplified by zoom, length labels of the view's long lines once zoomed in) instead;
    ``findings_source``: the outlines of the findings given as points with a ``bbox``
    column (``"w,s,e,n"``, the table row zooms there) are drawn from that endpoint.
    """
    layer_color = COLORS.get(summary.get("layer", "townships"), "#4a3b8f")
    units_name = f"{summary.get('layer_label', '单位')}（{len(units)}）"
    if units_source is not None:
        ub = frame_bounds(units, settings)
        fb = _bounds(settings, findings) if len(findings) else ub
        m = base_map((min(ub[0], fb[0]), min(ub[1], fb[1]), max(ub[2], fb[2]),
                      max(ub[3], fb[3])), settings)
        units_layer = BulkLayer(
            units_source, name=units_name, shifted=settings.shifted,
            style={"color": layer_color, "weight": 1, "fillColor": layer_color,
                   "fillOpacity": 0.08},
            props=["name", "code"], tooltip=[("name", "名称"), ("code", "代码")],
            popup=[("name", "名称"), ("code", "代码")],
            search=("units", summary.get("layer", "townships")),
            asset_prefix=settings.asset_prefix)
    else:
        m = base_map(_bounds(settings, units, findings), settings)
        units_layer = _units_layer(units, units_name, layer_color, settings)
    units_layer.add_to(m)

    if lines_source is not None:
        return _finish_province(m, units_layer, findings, lines, summary, title=title,
                                type_labels=type_labels, notes=notes, settings=settings,
                                lines_source=lines_source, layer_color=layer_color,
                                findings_source=findings_source)
    ln = settings.frame(lines)
    kind = ln["kind"].to_numpy().astype(object)
    if summary.get("layer") == "villages" and len(ln):
        # A shared village line between villages of two townships is a township line.
        a = ln["code_a"].astype(str).str[:9].to_numpy()
        b = ln["code_b"].astype(str).str[:9].to_numpy()
        kind = np.where((kind == "shared") & (a != b), "township", kind)
    lgdf = gpd.GeoDataFrame({
        "kind": kind,
        "label": [f"{as_text(a)}—{as_text(b)}" for a, b in
                  zip(ln["name_a"], ln["name_b"], strict=True)],
        "length": [f"{km:,.2f} 千米" for km in ln["length_km"]],
    }, geometry=ln.geometry.values, crs=4326)
    lines_layer = geojson_layer(
        lgdf, name=f"界线（{len(lgdf)}）",
        style_function=lambda f: {
            "color": OUTER_COLOR if f["properties"]["kind"] == "outer" else SHARED_COLOR,
            "weight": {"shared": 3, "township": 5}.get(f["properties"]["kind"], 2),
            "dashArray": "6 4" if f["properties"]["kind"] == "outer" else None},
        tooltip=[("label", "界线"), ("length", "长度")],
    )
    lines_layer.add_to(m)
    labels = folium.FeatureGroup(name="界线长度标注")
    # the middle of each stored line, then shifted like every drawn geometry
    mids = gpd.GeoSeries(shapely.line_interpolate_point(
        np.asarray(lines.geometry.array, dtype=object), 0.5, normalized=True),
        index=lines.index, crs=lines.crs)
    mids = settings.frame(gpd.GeoDataFrame(geometry=mids)).geometry if len(ln) else []
    for mid, length, km, kind in zip(mids, lgdf["length"], ln["length_km"], lgdf["kind"],
                                     strict=True):
        if mid is None or mid.is_empty:
            continue
        cls = "gs-line-label" + (" gs-line-outer" if kind == "outer" else "")
        # data-km lets the page show only the labels of lines long enough at the zoom.
        folium.Marker([mid.y, mid.x], icon=folium.DivIcon(
            html=f'<div class="{cls}" data-km="{float(km):.3f}">{safe_text(length)}</div>',
            icon_size=(80, 16),
            icon_anchor=(40, 8), class_name="gs-line-label-icon")).add_to(labels)
    labels.add_to(m)

    findings_layer = _findings_layer(findings, type_labels, settings)
    findings_layer.add_to(m)
    entries, legend_notes = _legend(summary, (lgdf["kind"] == "township").any(), layer_color,
                                    notes)
    return finish_map(m, title=title, entries=entries, notes=legend_notes,
                      registry=[("units", units_layer), ("lines", lines_layer),
                                ("labels", labels), ("findings", findings_layer)],
                      settings=settings, names={"units": summary.get("layer", "townships")},
                      declutter=["labels"])


LINE_STYLES = {
    "shared": {"color": SHARED_COLOR, "weight": 3},
    "township": {"color": SHARED_COLOR, "weight": 5},
    "outer": {"color": OUTER_COLOR, "weight": 2, "dashArray": "6 4"},
}


def _finish_province(m, units_layer, findings, lines, summary, *, title, type_labels, notes,
                     settings, lines_source, layer_color,
                     findings_source=None) -> folium.Map:
    """The lines from the lines endpoint (``maps.lines``), findings and legend."""
    kind = lines["kind"].to_numpy().astype(object)
    township = False
    if summary.get("layer") == "villages" and len(lines):
        a = lines["code_a"].astype(str).str[:9].to_numpy()
        b = lines["code_b"].astype(str).str[:9].to_numpy()
        township = bool(((kind == "shared") & (a != b)).any())
    labels = folium.FeatureGroup(name="界线长度标注（放大后显示）")
    labels.add_to(m)
    lines_layer = LinesLayer(lines_source, labels, name=f"界线（{lines_source.features:,}）",
                             styles=LINE_STYLES, shifted=settings.shifted,
                             renderer_of=(units_layer.source.kind
                                          if isinstance(units_layer, BulkLayer) else None),
                             asset_prefix=settings.asset_prefix)
    lines_layer.add_to(m)
    if findings_source is not None:
        LinesLayer(findings_source, None, name=f"问题范围（{findings_source.features:,}）",
                   styles={s: {"color": c, "weight": 2} for s, c in SEVERITY_COLORS.items()},
                   shifted=settings.shifted, key="finding_outlines",
                   renderer_of=(units_layer.source.kind
                                if isinstance(units_layer, BulkLayer) else None),
                   tooltip=[("label", "问题")], asset_prefix=settings.asset_prefix).add_to(m)
    findings_layer = _findings_layer(findings, type_labels, settings)
    findings_layer.add_to(m)
    entries, legend_notes = _legend(summary, township, layer_color, notes)
    legend_notes.insert(0, f"界线共 {lines_source.features:,} 条，全部显示，按缩放级别简化；"
                           "长度标注放大后显示")
    return finish_map(m, title=title, entries=entries, notes=legend_notes,
                      registry=[("units", units_layer), ("lines", lines_layer),
                                ("labels", labels), ("findings", findings_layer)],
                      settings=settings, declutter=["labels"])


def _findings_layer(findings, type_labels, settings):
    f = findings.copy()
    f["fid"] = f["row"].to_numpy() if "row" in f.columns else np.arange(len(f))
    f = f[f.geometry.notna() & ~f.geometry.is_empty]
    fgdf = gpd.GeoDataFrame({
        "fid": f["fid"].to_numpy(), "type": f["type"].to_numpy(),
        "severity": f["severity"].to_numpy(),
        "label": [type_labels.get(t, t) for t in f["type"]],
        "message": f["message"].to_numpy(),
        **({"bbox": f["bbox"].to_numpy()} if "bbox" in f.columns else {}),
    }, geometry=settings.frame(f).geometry.values, crs=4326)
    # Leaflet cannot bind a tooltip to a multi-point's marker group: one marker per point,
    # all carrying the finding's fid.
    multi = fgdf.geom_type == "MultiPoint"
    if multi.any():
        fgdf = pd.concat([fgdf[~multi], fgdf[multi].explode(index_parts=False)],
                         ignore_index=True)
    findings_layer = geojson_layer(
        fgdf, name=f"问题（{len(findings)}）",
        marker=folium.CircleMarker(radius=7, weight=2, fill=True),
        style_function=lambda feat: {
            "color": SEVERITY_COLORS.get(feat["properties"]["severity"], "#d7301f"),
            "fillColor": SEVERITY_COLORS.get(feat["properties"]["severity"], "#d7301f"),
            "weight": 2, "fillOpacity": 0.6},
        highlight_function=lambda feat: {"weight": 4},
        tooltip=[("label", "问题"), ("message", "说明")],
    )
    return findings_layer


def _legend(summary, township: bool, layer_color, notes):
    tol = summary.get("tolerances", {})
    entries = [(SEVERITY_COLORS[s], "fill", f"问题：{label}") for s, label in
               SEVERITY_LABELS.items()]
    if township:
        entries.append((SHARED_COLOR, "line", "乡镇界（跨乡镇的村界线，粗线）"))
    entries += [(SHARED_COLOR, "line", "共有界线（标注长度）"),
                (OUTER_COLOR, "line", "外界线（县界，虚线）"),
                (layer_color, "fill", summary.get("layer_label", "单位"))]
    legend_notes = [
        f"面积容差 {tol.get('area_m2', 0):g} 平方米；狭长宽度 {tol.get('sliver_width_m', 0):g} 米",
        f"界桩容差 {tol.get('marker_distance_m', 0):g} 米；捕捉容差 {tol.get('snap_m', 0):g} 米；"
        f"村面积合计容差 {tol.get('area_sum_rel', 0):.2%}",
    ] + list(notes or [])
    return entries, legend_notes


def merge_map(units: gpd.GeoDataFrame, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame, *,
              title: str, notes: list[str] | None = None,
              settings: MapSettings = DEFAULT_SETTINGS) -> folium.Map:
    """Before (the merged units, dashed red) and after (the dissolved unit, filled green)
    over the other units of the layer. ``settings``: basemap and GCJ-02 shift."""
    m = base_map(_bounds(settings, before), settings)
    # searchable and named by zoom as villages (12-digit codes) or townships
    kind = ("villages" if units["code"].astype(str).str.len().eq(12).any() else "townships")
    others = units[~units["code"].isin(before["code"])]
    context = _units_layer(others, "其他单位", "#999999", settings)
    context.add_to(m)
    after_layer = _units_layer(after, "合并后", "#31a354", settings)
    after_layer.add_to(m)
    b = gpd.GeoDataFrame({"name": before["name"], "code": before["code"]},
                         geometry=settings.frame(before).geometry.values, crs=4326)
    before_layer = geojson_layer(
        b, name="合并前",
        style_function=lambda f: {"color": "#de2d26", "weight": 2, "dashArray": "6 4",
                                  "fillOpacity": 0.0},
        tooltip=[("name", "合并前"), ("code", "代码")],
    )
    before_layer.add_to(m)
    return finish_map(m, title=title,
                      entries=[("#de2d26", "line", "合并前各单位（虚线）"),
                               ("#31a354", "fill", "合并后"), ("#999999", "fill", "其他单位")],
                      notes=list(notes or []),
                      registry=[("context", context), ("before", before_layer),
                                ("after", after_layer)], settings=settings,
                      names={"context": kind, "before": kind, "after": kind})
