"""The words of the analyses: option values and their Chinese labels, in one place.

Services, reports, the CLI and the pages import these; a map gets them through the
result (a column or a summary key), never by importing this module. Imports nothing heavy
(the CLI builds its choices from here without loading geopandas).
"""

from __future__ import annotations

from layers.schema import KINDS

# Facility layers an analysis can run on.
FACILITY_LAYERS = ("welfare_homes", "elderly_service_points", "cemeteries")

# The one rule of facility levels: which field of each facility layer is its level (service
# points) or kind (homes, cemeteries). Values and Chinese labels come from the layer schema.
LEVEL_FIELDS = {"welfare_homes": "kind", "elderly_service_points": "level", "cemeteries": "kind"}
ALL_LEVELS = "全部"


def level_field(layer: str) -> str:
    """The field of ``layer`` that a level filters on: ``level`` or ``kind``."""
    return LEVEL_FIELDS[layer]


def level_choices(layer: str) -> dict[str, str]:
    """The levels (or kinds) of a facility layer: stored value -> Chinese label."""
    return dict(KINDS[layer].field(LEVEL_FIELDS[layer]).choices or {})


def level_value(layer: str, text: str) -> str | None:
    """The stored level for ``text`` (a stored value or its Chinese label); None if neither."""
    choices = level_choices(layer)
    if text in choices:
        return text
    return {label: value for value, label in choices.items()}.get(text)


def level_label(layer: str, level: str | None) -> str:
    """The Chinese name of a level; ``ALL_LEVELS`` when no level was chosen."""
    if not level:
        return ALL_LEVELS
    return level_choices(layer).get(level, level)


# Coverage: weighting -> (the share compared with the target, its Chinese label)
WEIGHTINGS = {
    "villages": ("village_coverage", "村覆盖率"),
    "population": ("population_coverage", "人口覆盖率"),
    "elderly": ("elderly_coverage", "老年人口覆盖率"),
}

# Travel cost (docs/network.md): how "distance" is measured, what a road cost counts, units
COSTS = {"straight": "直线距离", "network": "道路网", "matrix": "OD 矩阵"}
COST_FIELDS = {"length": "道路里程", "time": "通行时间"}
COST_UNITS = {"m": "米", "min": "分钟"}
# Accessibility methods of the coverage analysis (docs/coverage.md "可达性方法")
FCA_METHODS = {
    "g2sfca": "高斯两步移动搜索法（G2SFCA，Dai 2010）",
    "2sfca": "两步移动搜索法（2SFCA，Luo & Wang 2003）",
    "e2sfca": "增强两步移动搜索法（E2SFCA，Luo & Qi 2009）",
    "3sfca": "三步移动搜索法（3SFCA，Wan 等 2012）",
}
FCA_SHORT = {"g2sfca": "G2SFCA", "2sfca": "2SFCA", "e2sfca": "E2SFCA", "3sfca": "3SFCA"}

# Siting problems: value -> full label (forms, reports) and short label (titles, legends,
# the result's ``problem_label``, messages)
PROBLEMS = ("mclp", "target", "pmedian", "cemetery")
PROBLEM_LABELS = {
    "mclp": "最大覆盖（新增 K 处，覆盖人数最多）",
    "target": "目标覆盖（达到目标覆盖率所需最少新增）",
    "pmedian": "p-中位（新增 K 处，老年人加权距离最小）",
    "cemetery": "公墓选址（排除禁建区与村庄退让后最大覆盖）",
}
PROBLEM_SHORT = {"mclp": "最大覆盖", "target": "目标覆盖", "pmedian": "p-中位",
                 "cemetery": "公墓选址"}
# Siting: what a site's coverage is weighted by. The label names the option (forms, reports,
# the CLI); the noun is the same thing inside a sentence ("老年人口覆盖率由 …", the result's
# ``weight_label``); the unit is who travels ("老人到最近设施的平均距离").
WEIGHTS = ("elderly", "population", "villages")
WEIGHT_LABELS = {"elderly": "60岁以上人口", "population": "户籍人口", "villages": "村(社区)数"}
WEIGHT_NOUNS = {"elderly": "老年人口", "population": "人口", "villages": "村数"}
WEIGHT_UNITS = {"elderly": "老人", "population": "居民", "villages": "村"}
# Siting exclusion rules: a zone type (from the exclusion_zones layer) or the village setback
ZONE_LABELS = dict(KINDS["exclusion_zones"].field("zone_type").choices or {})
VILLAGE_SETBACK = "village_setback"
# Siting on top of a plan: a candidate where the plan already has a site
PLANNED = "planned"
RULE_LABELS = {**ZONE_LABELS, VILLAGE_SETBACK: "村庄退让距离", PLANNED: "已在规划方案中"}

# Plans (规划方案): status value -> Chinese label, in the order a plan goes through them;
# an approved plan is read-only.
PLAN_STATUS = {"draft": "草稿", "submitted": "已提交", "approved": "已批准"}
# The other side of a comparison when it is no plan: today's facilities only
TODAY = "现状"
TODAY_ALIASES = ("现状", "today")


def rule_label(rule) -> str:
    """Chinese name of an exclusion rule (a zone type or the village setback)."""
    return RULE_LABELS.get(rule, "" if rule is None else str(rule))
