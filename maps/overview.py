"""The home map: every loaded layer of a workspace, each one toggleable."""

from __future__ import annotations

import folium
import geopandas as gpd

from layers.crs import from_stored
from layers.schema import KINDS

from .assets import DEFAULT_PREFIX, use_local_assets
from .style import (
    COLORS,
    LEVEL_COLORS,
    LayerRegistry,
    MetricScale,
    display_frame,
    field_labels,
    legend,
    to_geojson,
)

# Drawing order: areas first, then lines, then points on top.
ORDER = ["exclusion_zones", "townships", "villages", "cemeteries", "candidates",
         "welfare_homes", "elderly_service_points", "boundary_markers", "place_labels"]
HIDDEN_AT_START = {"place_labels", "candidates", "exclusion_zones", "boundary_markers"}


def base_map(bounds, *, basemap_url: str = "", attribution: str = "",
             asset_prefix: str = DEFAULT_PREFIX) -> folium.Map:
    """An empty map fitted to ``bounds`` (min lon, min lat, max lon, max lat).

    With no ``basemap_url`` no tiles are requested at all: the layers draw on a plain
    background, which is what an office without a tile server sees.
    """
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=False, zoom_control=True)
    use_local_assets(m, asset_prefix)
    MetricScale().add_to(m)
    if basemap_url:
        folium.TileLayer(tiles=basemap_url, attr=attribution or "底图", name="底图",
                         overlay=False, control=True).add_to(m)
    minx, miny, maxx, maxy = bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def overview_map(layers: dict[str, gpd.GeoDataFrame], *, title: str,
                 notes: list[str] | None = None, basemap_url: str = "",
                 attribution: str = "", basemap_crs: str = "cgcs2000",
                 asset_prefix: str = DEFAULT_PREFIX) -> folium.Map:
    """Draw every given layer (stored CRS, EPSG:4490) on one map.

    Parameters
    ----------
    layers : kind name -> GeoDataFrame of that kind.
    title : legend title (plain text; escaped here).
    notes : lines under the legend (e.g. the 示例数据 note and inputs).
    basemap_url, attribution : XYZ tile template; empty for no basemap.
    basemap_crs : ``cgcs2000`` or ``gcj02``; on a GCJ-02 basemap the layers are shifted
        into GCJ-02 so that they sit right on it.
    """
    order = ORDER + sorted(k for k in layers if k not in ORDER)
    present = [k for k in order if k in layers and len(layers[k])]
    if present:
        frames = [layers[k].to_crs(4326) for k in present]
        bounds = gpd.GeoSeries(
            [f.union_all().envelope for f in frames], crs=4326).total_bounds
    else:
        bounds = (73.0, 18.0, 135.0, 54.0)
    m = base_map(bounds, basemap_url=basemap_url, attribution=attribution,
                 asset_prefix=asset_prefix)
    registry = []
    entries = []
    for kind in present:
        gdf = layers[kind]
        if basemap_crs == "gcj02":
            gdf = from_stored(gdf, "gcj02").set_crs(4326, allow_override=True)
        layer, entry = _layer(kind, gdf)
        layer.add_to(m)
        registry.append((kind, layer))
        entries.extend(entry)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    legend(title, entries, notes or []).add_to(m)
    LayerRegistry(registry).add_to(m)
    return m


def _layer(kind: str, gdf: gpd.GeoDataFrame):
    lk = KINDS[kind]
    shown = display_frame(gdf, kind)
    fields, aliases = field_labels(shown, kind)
    color = COLORS.get(kind, "#525252")
    name = f"{lk.label}（{len(gdf)}）"
    tooltip_fields = [f for f in ("name", "code", "number") if f in fields][:2] or fields[:1]
    tooltip = folium.GeoJsonTooltip(
        fields=tooltip_fields, aliases=[KINDS[kind].field(f).label for f in tooltip_fields],
        sticky=True)
    popup = folium.GeoJsonPopup(fields=fields, aliases=aliases, max_width=320)
    show = kind not in HIDDEN_AT_START
    is_point = set(gdf.geom_type.unique()) <= {"Point", "MultiPoint"}
    entries = []
    if kind == "townships":
        style = {"color": color, "weight": 3, "fill": False, "fillOpacity": 0}
        entries.append((color, "line", lk.label))
    elif kind == "villages":
        style = {"color": color, "weight": 1, "fillColor": "#a6cee3", "fillOpacity": 0.35}
        entries.append((color, "fill", lk.label))
    elif kind == "exclusion_zones":
        style = {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.3,
                 "dashArray": "4"}
        entries.append((color, "fill", lk.label))
    else:
        style = {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.5}

    def style_function(feature, style=style, kind=kind):
        s = dict(style)
        if kind == "elderly_service_points":
            level_color = LEVEL_COLORS.get(feature["properties"].get("_level"), color)
            s.update(color=level_color, fillColor=level_color)
        if is_point:
            beds = feature["properties"].get("_beds") or 0
            s["radius"] = 4 + min(int(beds), 200) ** 0.5 if kind != "place_labels" else 4
            s["fillOpacity"] = 0.8
        return s

    marker = folium.CircleMarker(radius=6, weight=1, fill=True) if is_point or kind == "cemeteries" else None
    if is_point:
        if kind == "elderly_service_points":
            for level, label in lk.field("level").choices.items():
                entries.append((LEVEL_COLORS[level], "dot", label))
        else:
            entries.append((color, "dot", lk.label))
    elif kind == "cemeteries":
        entries.append((color, "fill", lk.label))
    layer = folium.GeoJson(
        to_geojson(shown), name=name, style_function=style_function, tooltip=tooltip,
        popup=popup, marker=marker, show=show, zoom_on_click=False,
        highlight_function=(lambda f: {"weight": 3}) if not is_point else None,
    )
    return layer, entries
