"""Parameters arriving as text (query strings, forms, the shell), checked with Chinese messages.

Shared by every analysis' service module so that a bad number reads the same everywhere.
"""

from __future__ import annotations

import math

from geoservice.errors import BadParameter


def number(value, name: str, label: str, *, percent: bool = False) -> float | None:
    """``value`` as a finite float; None when empty. ``percent`` accepts a trailing ``%``
    (the number is returned as written, the caller decides what a percentage means)."""
    text = "" if value is None else str(value).strip()
    if text == "":
        return None
    if percent and text.endswith("%"):
        text = text[:-1].strip()
    try:
        x = float(text)
    except ValueError:
        raise BadParameter(f"参数 {name}（{label}）“{value}”不是数字") from None
    if not math.isfinite(x):
        raise BadParameter(f"参数 {name}（{label}）“{value}”不是有限的数字")
    return x


# Where a figure came from, the same two words on every map, report, page and JSON result.
GIVEN = "本次指定"
DEFAULT = "默认值"


def provenance(given: bool) -> str:
    """``GIVEN`` when the user gave the value in this request, else ``DEFAULT``."""
    return GIVEN if given else DEFAULT


def plain(x: float):
    """A number for a query string or JSON: 2000 rather than 2000.0."""
    return int(x) if float(x).is_integer() else x
