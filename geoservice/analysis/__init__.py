"""The analyses: plain functions, GeoDataFrames in, a result (GeoDataFrames + summary) out.

No Flask and no Folium in here.
"""

from .coverage import CoverageResult, coverage, g2sfca, gaussian_weight, village_centres

__all__ = ["CoverageResult", "coverage", "g2sfca", "gaussian_weight", "village_centres"]
