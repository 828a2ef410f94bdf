"""The words of the analyses: option values and their Chinese labels, in one place.

Services, reports, the CLI and the pages import these; a map gets them through the
result (a column or a summary key), never by importing this module. Imports nothing heavy
(the CLI builds its choices from here without loading geopandas).
"""

from __future__ import annotations

from layers.schema import KINDS

# Facility layers an analysis can run on.
FACILITY_LAYERS = ("welfare_homes", "elderly_service_points", "cemeteries")

# Coverage: weighting -> (the share compared with the target, its Chinese label)
WEIGHTINGS = {
    "villages": ("village_coverage", "村覆盖率"),
    "population": ("population_coverage", "人口覆盖率"),
    "elderly": ("elderly_coverage", "老年人口覆盖率"),
}

# Siting problems: value -> full label (forms, reports) and short label (titles, legends)
PROBLEMS = ("mclp", "target", "pmedian", "cemetery")
PROBLEM_LABELS = {
    "mclp": "最大覆盖（新增 K 处，覆盖人数最多）",
    "target": "目标覆盖（达到目标覆盖率所需最少新增）",
    "pmedian": "p-中位（新增 K 处，老年人加权距离最小）",
    "cemetery": "公墓选址（排除禁建区与村庄退让后最大覆盖）",
}
PROBLEM_SHORT = {"mclp": "最大覆盖", "target": "目标覆盖", "pmedian": "p-中位",
                 "cemetery": "公墓选址"}
# Siting: what a site's coverage is weighted by
WEIGHT_LABELS = {"elderly": "60岁以上人口", "population": "户籍人口", "villages": "村(社区)数"}
# Siting exclusion rules: a zone type (from the exclusion_zones layer) or the village setback
VILLAGE_SETBACK = "village_setback"
RULE_LABELS = {**dict(KINDS["exclusion_zones"].field("zone_type").choices or {}),
               VILLAGE_SETBACK: "村庄退让"}
