"""The home map: every loaded layer of a workspace, each one toggleable."""

from __future__ import annotations

import folium
import geopandas as gpd

from layers.schema import KINDS

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    TextGeoJsonPopup,
    TextGeoJsonTooltip,
    base_map,
    drawn_bounds,
    finish_map,
)
from .style import (
    COLORS,
    LEVEL_COLORS,
    ROAD_STYLES,
    display_frame,
    field_labels,
    to_geojson,
)
from .viewport import ViewSource, kind_viewport_layer, legend_note

# Drawing order: areas first, then lines, then points on top.
ORDER = ["exclusion_zones", "townships", "villages", "roads", "cemeteries", "candidates",
         "welfare_homes", "elderly_service_points", "boundary_markers", "place_labels"]
HIDDEN_AT_START = {"place_labels", "candidates", "exclusion_zones", "boundary_markers"}


def overview_map(layers: dict[str, gpd.GeoDataFrame], *, title: str,
                 notes: list[str] | None = None,
                 settings: MapSettings = DEFAULT_SETTINGS,
                 by_view: dict[str, ViewSource] | None = None) -> folium.Map:
    """Draw every given layer (stored CRS, EPSG:4490) on one map.

    Parameters
    ----------
    layers : kind name -> GeoDataFrame of that kind.
    title : legend title (plain text; escaped here).
    notes : lines under the legend (e.g. the 示例数据 note and inputs).
    settings : basemap, attribution and the GCJ-02 shift (see ``maps.base``).
    by_view : kind name -> where the features of a view come from, for layers too large
        to put into the page (``maps.viewport``); they are drawn once zoomed in.
    """
    by_view = {k: v for k, v in (by_view or {}).items() if k not in layers and v.features}
    order = ORDER + sorted(k for k in [*layers, *by_view] if k not in ORDER)
    present = [k for k in order if k in layers and len(layers[k])]
    drawn = {k: settings.frame(layers[k]) for k in present}
    m = base_map(drawn_bounds(*drawn.values()), settings)
    registry = []
    entries = []
    notes = list(notes or [])
    add_layers(m, order, drawn, by_view, settings, registry, entries, notes)
    return finish_map(m, title=title, entries=entries, notes=notes, registry=registry,
                      settings=settings)


def add_layers(m: folium.Map, order: list[str], drawn: dict[str, gpd.GeoDataFrame],
               by_view: dict, settings: MapSettings, registry: list, entries: list,
               notes: list) -> None:
    """The layers of ``order`` as on the home map: drawn inline (``drawn``: frames already
    as drawn) or by view (``by_view``), added to ``m``, ``registry``, the legend
    ``entries`` and ``notes``; kinds that are neither are skipped."""
    for kind in order:
        if kind in by_view:
            layer, entry = kind_viewport_layer(
                by_view[kind], shifted=settings.shifted, show=kind not in HIDDEN_AT_START,
                asset_prefix=settings.asset_prefix)
            notes.append(legend_note(by_view[kind]))
        elif kind in drawn:
            layer, entry = _layer(kind, drawn[kind])
        else:
            continue
        layer.add_to(m)
        registry.append((kind, layer))
        entries.extend(entry)


def _layer(kind: str, gdf: gpd.GeoDataFrame):
    lk = KINDS[kind]
    shown = display_frame(gdf, kind)
    fields, aliases = field_labels(shown, kind)
    color = COLORS.get(kind, "#525252")
    name = f"{lk.label}（{len(gdf)}）"
    tooltip_fields = [f for f in ("name", "code", "number") if f in fields][:2] or fields[:1]
    # text from data: made safe by to_geojson, shown as text by these (maps.base)
    tooltip = TextGeoJsonTooltip(
        fields=tooltip_fields, aliases=[KINDS[kind].field(f).label for f in tooltip_fields],
        sticky=True)
    popup = TextGeoJsonPopup(fields=fields, aliases=aliases, max_width=320)
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
    elif kind == "roads":
        style = {"color": color, "weight": 2, "opacity": 0.9}
        classes = lk.field("road_class").choices
        present = set(gdf["road_class"].dropna()) if "road_class" in gdf.columns else set()
        entries.extend((ROAD_STYLES[c][0], "line", f"{classes[c]}")
                       for c in classes if c in present)
    else:
        style = {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.5}

    def style_function(feature, style=style, kind=kind):
        s = dict(style)
        if kind == "roads":
            road = ROAD_STYLES.get(feature["properties"].get("_road_class"), ROAD_STYLES["other"])
            s.update(color=road[0], weight=road[1])
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
