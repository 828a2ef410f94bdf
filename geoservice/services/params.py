"""Parameters arriving as text (query strings, forms, the shell), checked with Chinese messages.

The one place where the service tier parses and checks a parameter, shared by every
analysis' service module, with one wording: each message names the parameter and its
Chinese label, ``参数 radius（服务半径）…``. Analyses still guard their own inputs (raising
``InvalidInput``), but a value that arrives as text is checked here first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from geoservice.analysis.settings import coverage_defaults
from geoservice.analysis.vocabulary import FACILITY_LAYERS, level_choices, level_value
from geoservice.errors import BadParameter
from layers.schema import KINDS

# Largest service radius any analysis accepts (metres).
MAX_RADIUS_M = 200_000


def text(value) -> str:
    """``value`` as stripped text; "" for None."""
    return "" if value is None else str(value).strip()


def _named(name: str, label: str, unit: str = "") -> str:
    return f"参数 {name}（{label}，{unit}）" if unit else f"参数 {name}（{label}）"


def number(value, name: str, label: str, *, percent: bool = False,
           unit: str = "") -> float | None:
    """``value`` as a finite float; None when empty. ``percent`` accepts a trailing ``%``
    (the number is returned as written, the caller decides what a percentage means)."""
    raw = text(value)
    if raw == "":
        return None
    if percent and raw.endswith("%"):
        raw = raw[:-1].strip()
    try:
        x = float(raw)
    except ValueError:
        raise BadParameter(f"{_named(name, label, unit)}“{value}”不是数字") from None
    if not math.isfinite(x):
        raise BadParameter(f"{_named(name, label, unit)}“{value}”不是有限的数字")
    return x


def whole_number(value: str | None, name: str, *, default: int | None, lowest: int,
                 highest: int) -> int | None:
    """A whole number in ``[lowest, highest]`` given as text (paging, versions); ``default``
    when not given."""
    if value is None or value == "":
        return default
    if not re.fullmatch(r"[0-9]{1,12}", value.strip()) or not lowest <= int(value) <= highest:
        raise BadParameter(f"参数 {name}“{value}”应为 {lowest} 到 {highest} 之间的整数")
    return int(value)


def within(x: float, name: str, label: str, low: float, high: float, *, unit: str = "",
           low_open: bool = False) -> float:
    """``x`` when ``low <= x <= high`` (``low < x`` with ``low_open``), else BadParameter."""
    if (low < x if low_open else low <= x) and x <= high:
        return x
    span = f"{low:g} 到 {high:g}" + (f" {unit}" if unit else " ")
    raise BadParameter(f"{_named(name, label)}应在 {span}之间，而不是 {x:g}")


def bounded(value, name: str, label: str, low: float, high: float, *, unit: str = "",
            low_open: bool = False) -> float | None:
    """A number given as text, checked against ``[low, high]``; None when empty."""
    x = number(value, name, label, unit=unit)
    if x is None:
        return None
    return within(x, name, label, low, high, unit=unit, low_open=low_open)


def share(value, name: str, label: str, *, allow_zero: bool = True) -> float | None:
    """A share given as 0-1, as a percentage above 1 (60 means 60%) or with ``%``."""
    x = number(value, name, label, percent=True)
    if x is None:
        return None
    if text(value).endswith("%") or x > 1:
        x = x / 100.0
    if not ((0 <= x) if allow_zero else (0 < x)) or x > 1:
        raise BadParameter(f"{_named(name, label)}应在 0 到 1（或 0 到 100%）之间，而不是“{value}”")
    return x


def choice(value, name: str, label: str, choices: Mapping[str, str], *,
           default: str | None = None, context: str = "") -> str | None:
    """One of ``choices`` (value -> Chinese label); ``default`` when empty."""
    v = text(value) or default
    if v is None or v in choices:
        return v
    allowed = "、".join(f"{k}（{lab}）" for k, lab in choices.items())
    raise BadParameter(f"{_named(name, label)}“{v}”无效：{context}可选 {allowed}")


def facility_layer(value, default: str = "elderly_service_points") -> str:
    """The ``layer`` parameter: a facility layer an analysis can run on."""
    return choice(value, "layer", "设施图层", {k: KINDS[k].label for k in FACILITY_LAYERS},
                  default=default)


def facility_level(layer: str, value) -> str | None:
    """The ``level`` parameter of a facility layer: a stored value or its Chinese label."""
    given = text(value)
    if not given:
        return None
    level = level_value(layer, given)
    if level is None:
        choice(given, "level", "层级/类型", level_choices(layer), context=KINDS[layer].label)
    return level


def facility_radius(value, layer: str, level: str | None) -> tuple[float, bool]:
    """The ``radius`` parameter (metres) and whether it was given; the default of the layer
    and level (defaults.toml) when empty."""
    radius_m = number(value, "radius", "服务半径", unit="米")
    given = radius_m is not None
    if radius_m is None:
        radius_m = coverage_defaults(layer, level)["radius_m"]
    within(radius_m, "radius", "服务半径", 0, MAX_RADIUS_M, unit="米", low_open=True)
    return float(radius_m), given


# Where a figure came from, the same two words on every map, report, page and JSON result.
GIVEN = "本次指定"
DEFAULT = "默认值"


def provenance(given: bool) -> str:
    """``GIVEN`` when the user gave the value in this request, else ``DEFAULT``."""
    return GIVEN if given else DEFAULT


def plain(x: float):
    """A number for a query string or JSON: 2000 rather than 2000.0."""
    return int(x) if float(x).is_integer() else x
