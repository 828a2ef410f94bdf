"""What every map shares: the settings of the office's basemap and the empty base map.

Every map builder takes one ``settings: MapSettings`` (keyword-only; the default is no
basemap, layers in CGCS2000) and draws all of its geometry through it:

- ``settings.frame(gdf)`` gives a layer as drawn (lon/lat, shifted into GCJ-02 when the
  basemap is a GCJ-02 one), ``settings.point(lon, lat)`` does the same for a bare point;
- ``base_map(bounds, settings)`` is the empty map: the app's own assets, the scale bar and,
  when a tile URL is set, the basemap with its attribution;
- ``finish_map`` adds what closes every map: the layer switcher, the legend with its notes
  (the 示例数据 note among them) and ``window.geoservice`` for page scripts.

This package never imports ``geoservice``: the web tier builds the settings from its
configuration and hands them in.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np

from layers.crs import GCJ02, from_stored, wgs_to_gcj

from .assets import DEFAULT_PREFIX, use_local_assets
from .style import LayerRegistry, MetricScale, legend

CGCS2000 = "cgcs2000"
BASEMAP_CRS = (CGCS2000, GCJ02)
CHINA_BOUNDS = (73.0, 18.0, 135.0, 54.0)  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class MapSettings:
    """How maps are drawn for this office.

    basemap_url : XYZ tile template; empty for no basemap (plain background, no tiles
        requested at all).
    attribution : the basemap's attribution (``底图`` when empty).
    basemap_crs : ``cgcs2000`` (天地图 and most intranet tiles) or ``gcj02`` (高德 and
        the like); on a GCJ-02 basemap every drawn geometry is shifted into GCJ-02 so that
        it sits right on the tiles. Stored data and figures are never shifted.
    asset_prefix : URL prefix under which the app serves Leaflet and our map styles.
    """

    basemap_url: str = ""
    attribution: str = ""
    basemap_crs: str = CGCS2000
    asset_prefix: str = DEFAULT_PREFIX

    def __post_init__(self):
        if self.basemap_crs not in BASEMAP_CRS:
            raise ValueError(f"底图坐标系只能是 cgcs2000 或 gcj02，而不是“{self.basemap_crs}”")

    @property
    def shifted(self) -> bool:
        """Whether drawn geometry is shifted into GCJ-02."""
        return self.basemap_crs == GCJ02

    def frame(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``gdf`` (any CRS) as drawn on the map: lon/lat, labelled EPSG:4326.

        On a GCJ-02 basemap the coordinates are GCJ-02 (which has no EPSG code); they
        still carry EPSG:4326 so that Folium takes them as they are.
        """
        if len(gdf) == 0 and gdf.crs is None:
            return gdf
        if not self.shifted:
            return gdf.to_crs(4326)
        return from_stored(gdf, GCJ02).set_crs(4326, allow_override=True)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """A CGCS2000 lon/lat point as drawn on the map."""
        if not self.shifted:
            return float(lon), float(lat)
        x, y = wgs_to_gcj(np.array([lon], dtype=float), np.array([lat], dtype=float))
        return float(x[0]), float(y[0])


DEFAULT_SETTINGS = MapSettings()


def drawn_bounds(*frames: gpd.GeoDataFrame | None, default=CHINA_BOUNDS) -> tuple:
    """Bounds (min lon, min lat, max lon, max lat) of frames already passed through
    ``MapSettings.frame``; ``default`` when none has a finite extent."""
    boxes = [np.asarray(f.total_bounds, dtype=float) for f in frames
             if f is not None and len(f)]
    boxes = [b for b in boxes if np.all(np.isfinite(b))]
    if not boxes:
        return tuple(default)
    b = np.array(boxes)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
            float(b[:, 3].max()))


def base_map(bounds, settings: MapSettings = DEFAULT_SETTINGS) -> folium.Map:
    """An empty map fitted to ``bounds`` (min lon, min lat, max lon, max lat, as drawn).

    With no ``settings.basemap_url`` no tiles are requested at all: the layers draw on a
    plain background, which is what an office without a tile server sees.
    """
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=False, zoom_control=True)
    use_local_assets(m, settings.asset_prefix)
    MetricScale().add_to(m)
    if settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr=settings.attribution or "底图",
                         name="底图", overlay=False, control=True).add_to(m)
    minx, miny, maxx, maxy = bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def finish_map(m: folium.Map, *, title: str, entries: list[tuple[str, str, str]],
               notes: list[str], registry: list[tuple[str, folium.map.Layer]]) -> folium.Map:
    """The layer switcher, the legend (``title``, ``entries``, ``notes`` as plain text)
    and ``window.geoservice`` (the map and the ``registry`` layers by key)."""
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    legend(title, entries, list(notes)).add_to(m)
    LayerRegistry(registry).add_to(m)
    return m
