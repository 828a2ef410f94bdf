"""Place-name check (issue 6): map labels against the official village roster.

- :mod:`.names` standard names (committee suffixes, normalisation, rare characters)
- :mod:`.romanize` GB/T 16159 roman spelling
- :mod:`.match` matching labels to villages by name and place, near-linearly
- :mod:`.check` findings and the result
"""

from geoservice.analysis.placenames.check import (
           FINDING_TYPES,
           PlacenamesResult,
           check_placenames,
)
from geoservice.analysis.placenames.names import normalize, standard_name
from geoservice.analysis.placenames.romanize import Romanizer

__all__ = ["FINDING_TYPES", "PlacenamesResult", "Romanizer", "check_placenames", "normalize",
           "standard_name"]
