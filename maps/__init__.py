"""Folium map builders: GeoDataFrames + summary in, folium.Map out; never saved here.

Every builder takes ``settings: MapSettings`` (``maps.base``): the basemap, its
attribution and the GCJ-02 shift, the same for every map.
"""

from .assets import use_local_assets
from .base import MapSettings, base_map
from .coverage import coverage_map
from .overview import overview_map
from .plans import compare_map, plan_map, side_by_side
from .render import MapParts, map_parts

__all__ = ["MapParts", "MapSettings", "base_map", "compare_map", "coverage_map", "map_parts",
           "overview_map", "plan_map", "side_by_side", "use_local_assets"]
