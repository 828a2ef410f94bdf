"""Division code rules (DOMAIN.md "Division codes"; roster README for 400-599).

12 digits = 6 county + 3 township + 3 village. Township segment: 001-099 街道, 100-199 镇,
200-399 乡, 400-599 other township-level units. Village segment: 001-199 居委会/社区,
200-399 村委会, 400-499 units like residents' committees, 500-599 like village committees.
"""

from __future__ import annotations

# kind -> allowed (low, high) segment ranges, with the Chinese name of the range
TOWNSHIP_RANGES = {
    "subdistrict": ((1, 99), "街道 001-099"),
    "town": ((100, 199), "镇 100-199"),
    "township": ((200, 399), "乡 200-399"),
    "other": ((400, 599), "其他乡级单位 400-599"),
}
VILLAGE_RANGES = {
    "community": ((1, 199), "居委会/社区 001-199"),
    "village": ((200, 399), "村委会 200-399"),
    "community_like": ((400, 499), "类似居委会 400-499"),
    "village_like": ((500, 599), "类似村委会 500-599"),
}
# Which ranges a name's suffix allows (a 社区 may also sit in 400-499 etc.).
VILLAGE_KIND_RANGES = {"community": ("community", "community_like"),
                       "village": ("village", "village_like")}
TOWNSHIP_KIND_RANGES = {"subdistrict": ("subdistrict",), "town": ("town",),
                        "township": ("township",)}


def is_code(text, digits: int) -> bool:
    return isinstance(text, str) and len(text) == digits and text.isascii() and text.isdigit()


def segment_range(segment: int, ranges: dict) -> str | None:
    """The range key a segment number falls in, or None (e.g. 000 or 600+)."""
    for key, ((low, high), _) in ranges.items():
        if low <= segment <= high:
            return key
    return None


def suggest_code(prefix: str, used: set[str], low: int, high: int) -> str | None:
    """The lowest free ``prefix`` + 3-digit code in [low, high], or None when full."""
    for n in range(low, high + 1):
        code = f"{prefix}{n:03d}"
        if code not in used:
            return code
    return None
