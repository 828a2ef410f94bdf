"""Township and village boundary review: checks, boundary lines, merge simulation.

Framework-free: GeoDataFrames in (EPSG:4490), result dataclasses out; no Flask, no Folium,
no store (the boundaries service writes an applied merge).
"""

from geoservice.analysis.boundaries.checks import (
    LAYERS,
    SEVERITIES,
    TOLERANCE_LABELS,
    TYPES,
    BoundaryResult,
    Tolerances,
    review,
)
from geoservice.analysis.boundaries.lines import OUTER_NAME, derive_lines
from geoservice.analysis.boundaries.merge import MergeError, MergeResult, simulate_merge
from geoservice.analysis.boundaries.names import sound, standard_name

__all__ = [
    "LAYERS", "OUTER_NAME", "SEVERITIES", "TOLERANCE_LABELS", "TYPES", "BoundaryResult",
    "MergeError", "MergeResult", "Tolerances", "derive_lines", "review", "simulate_merge",
    "sound", "standard_name",
]
