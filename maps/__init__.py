"""Folium map builders: GeoDataFrames + summary in, folium.Map out; never saved here."""

from .assets import use_local_assets
from .coverage import coverage_map
from .overview import overview_map
from .render import MapParts, map_parts

__all__ = ["MapParts", "coverage_map", "map_parts", "overview_map", "use_local_assets"]
