"""Plan maps (规划方案): the plan page's map and the two maps of a comparison.

- ``plan_map``: the workspace's townships and villages, today's facilities of the plan's
  layer, and an empty ``sites`` layer the page script fills with the plan's sites (as
  draggable markers when the plan may be edited; ``web/static/plans.js``), so that the
  markers follow every edit without reloading the page.
- ``compare_map``: one side of a comparison: villages coloured covered/uncovered for that
  side, today's facilities, the side's plan sites highlighted with their service circles;
  the map registers itself as ``window.geoservice.compareMaps[index]`` (and its layers as
  ``compareLayers[index]``) so that the page can link the two maps' pan and zoom.
- ``side_by_side``: the parts of several maps for one page (each script and style asset
  in the head once).

Text from data reaches the maps only through ``maps.base`` (``geojson_layer`` and the
legend); the page script puts a site's name into the page as a text node only. This
module never imports ``geoservice``.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
from branca.element import MacroElement
from folium.template import Template
from markupsafe import Markup

from layers.schema import KINDS

from .base import (
    DEFAULT_SETTINGS,
    MapSettings,
    base_map,
    drawn_bounds,
    finish_map,
    geojson_layer,
)
from .bulk import BulkLayer, GeometrySource, join_table, village_map
from .coverage import COVERED, UNCOVERED
from .overview import add_layers
from .render import MapParts, map_parts
from .style import COLORS, shaded_villages
from .viewport import ViewSource, kind_viewport_layer, legend_note

SITE_COLOR = COLORS["planned_sites"]
SITE_LABEL = "规划方案站点"


def _points(gdf: gpd.GeoDataFrame, settings: MapSettings) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out["geometry"] = out.geometry.representative_point()
    return settings.frame(out)


def plan_map(layers: dict[str, gpd.GeoDataFrame], *, plan_layer: str,
             sites: gpd.GeoDataFrame | None = None, title: str,
             notes: list[str] | None = None, settings: MapSettings = DEFAULT_SETTINGS,
             by_view: dict[str, ViewSource] | None = None) -> folium.Map:
    """The map of a plan's page.

    ``layers``: kind -> frame (stored CRS) of what is drawn under the plan: townships,
    villages and the plan's facility layer ``plan_layer`` (today's facilities);
    ``by_view``: those too large for the page (``maps.viewport``). ``sites``: the plan's
    sites (points), only used to fit the view when there are no villages; the sites
    themselves are drawn by the page script into the empty ``sites`` layer (registered in
    ``window.geoservice.layers``).
    """
    by_view = {k: v for k, v in (by_view or {}).items() if k not in layers and v.features}
    drawn = {k: settings.frame(f) for k, f in layers.items() if f is not None and len(f)}
    fit = [drawn.get("villages"), drawn.get("townships")]
    if not any(f is not None for f in fit):
        fit = [*drawn.values(), settings.frame(sites) if sites is not None and len(sites) else None]
    m = base_map(drawn_bounds(*fit), settings)
    registry: list = []
    entries: list = []
    notes = list(notes or [])
    # townships, villages and the plan's facility layer as on the home map
    order = ["townships", "villages", *[k for k in [*layers, *by_view]
                                        if k not in ("townships", "villages")]]
    add_layers(m, order, drawn, by_view, settings, registry, entries, notes)
    group = folium.FeatureGroup(name=f"{SITE_LABEL}（{KINDS[plan_layer].label}）")
    group.add_to(m)
    registry.append(("sites", group))
    entries.append((SITE_COLOR, "dot", SITE_LABEL))
    return finish_map(m, title=title, entries=entries, notes=notes, registry=registry,
                      settings=settings)


class CompareSlot(MacroElement):
    """Registers its map as ``window.geoservice.compareMaps[index]`` and the map's layers
    as ``window.geoservice.compareLayers[index]`` (the page links the maps)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        window.geoservice = window.geoservice || {};
        window.geoservice.compareMaps = window.geoservice.compareMaps || [];
        window.geoservice.compareLayers = window.geoservice.compareLayers || [];
        window.geoservice.compareMaps[{{ this.index }}] = {{ this._parent.get_name() }};
        window.geoservice.compareLayers[{{ this.index }}] = {
        {%- for key, layer in this.layers %}
            {{ key|tojson }}: {{ layer.get_name() }},
        {%- endfor %}
        };
        {% endmacro %}
    """)

    def __init__(self, index: int, layers: list[tuple[str, folium.map.Layer]]):
        super().__init__()
        self._name = "CompareSlot"
        self.index = int(index)
        self.layers = layers


def compare_map(villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None,
                sites: gpd.GeoDataFrame, *, layer: str, radius_m: float, title: str,
                index: int, notes: list[str] | None = None,
                settings: MapSettings = DEFAULT_SETTINGS,
                facilities_by_view: ViewSource | None = None,
                facility_where: dict[str, list] | None = None,
                villages_source: GeometrySource | None = None,
                circles: bool = True) -> folium.Map:
    """One side of a comparison.

    ``circles``: draw the sites' service circles (straight-line distance only: a radius
    along roads or in minutes is not a circle, and the legend says so instead).

    ``villages_source``: the village layer is too heavy for the page (a province): every
    village is drawn from that source (``maps.bulk``), this side's result joined by code.

    ``villages``: the side's coverage result (``code``, ``name``, ``covered``,
    ``elderly_population``; plain text); ``facilities``: today's facilities of ``layer``
    (``name``; not drawn when ``facilities_by_view`` gives the large layer's source, with
    ``facility_where`` as on the coverage map); ``sites``: the side's plan sites
    (``name``, ``level_label``, ``beds``; points), drawn on top with their service
    circles of ``radius_m``. ``index``: 0 or 1, the slot of ``window.geoservice.compareMaps``.
    """
    v, m = village_map(villages, villages_source, settings)
    entries: list[tuple[str, str, str]] = [(COVERED, "fill", "已覆盖村(社区)"),
                                           (UNCOVERED, "fill", "未覆盖村(社区)")]
    covered = v["covered"].astype(bool).to_numpy()
    v["_fill"] = np.where(covered, COVERED, UNCOVERED)
    v["_covered"] = np.where(covered, "是", "否")
    name = f"村(社区)覆盖（{int(covered.sum())}/{len(v)}）"
    tooltip = [("name", "村(社区)"), ("_covered", "是否覆盖")]
    popup = [("name", "名称"), ("code", "代码"), ("elderly_population", "60岁以上人口"),
             ("_covered", "是否覆盖")]
    if villages_source is not None:
        fills = [COVERED, UNCOVERED]
        v["_f"] = np.where(covered, 0, 1)
        village_layer = BulkLayer(
            villages_source, name=name, shifted=settings.shifted,
            style={"color": "#555", "weight": 1, "fillOpacity": 0.55},
            props=["name", "code"], fill=("_f", dict(enumerate(fills))),
            join=join_table(v, ["_f", "_covered", "elderly_population"]),
            tooltip=tooltip, popup=popup, search=("villages", "villages"),
            asset_prefix=settings.asset_prefix)
    else:
        village_layer = shaded_villages(
            v[["code", "name", "_fill", "_covered", "elderly_population", "geometry"]],
            name=name, tooltip=tooltip, popup=popup)
    village_layer.add_to(m)
    registry: list[tuple[str, folium.map.Layer]] = [("villages", village_layer)]
    notes = list(notes or [])
    color = COLORS[layer]
    label = KINDS[layer].label
    if facilities_by_view is not None:
        fac_layer, _ = kind_viewport_layer(
            facilities_by_view, shifted=settings.shifted, asset_prefix=settings.asset_prefix,
            where=facility_where,
            style={"color": "#222", "fillColor": color, "fillOpacity": 0.9, "weight": 1,
                   "radius": 4}, color_by=None)
        fac_layer.add_to(m)
        registry.append(("facilities", fac_layer))
        notes.append(legend_note(facilities_by_view))
        entries.append((color, "dot", f"现有{label}"))
    elif facilities is not None and len(facilities):
        f = _points(facilities, settings)
        fac_layer = geojson_layer(
            f[["name", "geometry"]], name=f"现有{label}（{len(f)}）",
            marker=folium.CircleMarker(radius=4, weight=1, fill=True),
            style_function=lambda feat: {"color": "#222", "fillColor": color,
                                         "fillOpacity": 0.9, "weight": 1, "radius": 4},
            tooltip=[("name", "现有设施")])
        fac_layer.add_to(m)
        registry.append(("facilities", fac_layer))
        entries.append((color, "dot", f"现有{label}"))
    if len(sites):
        s = _points(sites, settings)
        if circles:
            ring = folium.FeatureGroup(name=f"方案站点服务半径 {radius_m:,.0f} 米")
            for geom in s.geometry:
                folium.Circle(location=[geom.y, geom.x], radius=float(radius_m),
                              color=SITE_COLOR, weight=1, dash_array="4", fill=True,
                              fill_opacity=0.06, interactive=False).add_to(ring)
            ring.add_to(m)
            registry.append(("circles", ring))
        s = s.copy()
        s["_beds"] = s["beds"].map(lambda b: "" if b is None or b != b else f"{int(b):,}")
        site_layer = geojson_layer(
            s[["name", "level_label", "_beds", "geometry"]],
            name=f"{SITE_LABEL}（{len(s)}）",
            marker=folium.CircleMarker(radius=7, weight=2, fill=True),
            style_function=lambda feat: {"color": "#fff", "fillColor": SITE_COLOR,
                                         "fillOpacity": 1, "weight": 2, "radius": 7},
            tooltip=[("name", "方案站点"), ("level_label", "层级/类型"), ("_beds", "床位数")])
        site_layer.add_to(m)
        registry.append(("sites", site_layer))
        entries.append((SITE_COLOR, "dot", SITE_LABEL))
        if circles:
            entries.append((SITE_COLOR, "line", f"方案站点服务半径 {radius_m:,.0f} 米"))
        else:
            notes = [*(notes or []), "沿道路网或 OD 矩阵的可达范围不是圆，地图不画方案站点的服务半径圆"]
    CompareSlot(index, registry).add_to(m)
    return finish_map(m, title=title, entries=entries, notes=notes, registry=registry,
                      settings=settings)


@dataclass(frozen=True)
class SideBySide:
    header: Markup  # every map's head elements, each script and stylesheet once
    html: list[Markup]  # each map's <div> (with its legend)
    script: Markup  # the scripts that build the maps, in order


def side_by_side(*maps: folium.Map) -> SideBySide:
    """The parts of several maps shown on one page: a script or stylesheet the maps share
    (Leaflet, our styles) is loaded once; each map keeps its own size style and script."""
    parts: list[MapParts] = [map_parts(m) for m in maps]
    seen: set[str] = set()
    head: list[str] = []
    for p in parts:
        for line in str(p.header).splitlines():
            key = line.strip()
            if key.startswith(("<script src=", "<link ")) and key.endswith(">"):
                if key in seen:
                    continue
                seen.add(key)
            head.append(line)
    return SideBySide(Markup("\n".join(head)), [p.html for p in parts],
                      Markup("\n".join(str(p.script) for p in parts)))
