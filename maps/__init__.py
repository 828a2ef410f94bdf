"""Folium map builders: GeoDataFrames + summary in, folium.Map out; never saved here.

Every builder takes ``settings: MapSettings`` (``maps.base``): the basemap, its
attribution and the GCJ-02 shift, the same for every map.
"""

from .assets import use_local_assets
from .base import MapSettings, base_map
from .coverage import coverage_map
from .overview import overview_map
from .render import MapParts, map_parts

__all__ = ["MapParts", "MapSettings", "base_map", "coverage_map", "map_parts", "overview_map",
           "use_local_assets"]
