"""Analysis defaults from ``defaults.toml``: the one settings file for radii and targets."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


@functools.cache
def load_defaults() -> dict:
    with DEFAULTS_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _lookup(table: dict, layer: str, level: str | None):
    if level and f"{layer}.{level}" in table:
        return table[f"{layer}.{level}"], f"{layer}.{level}"
    return table.get(layer), layer


def coverage_defaults(layer: str, level: str | None = None) -> dict:
    """Default radius, coverage target and beds target for a layer (and level)."""
    cov = load_defaults()["coverage"]
    radius, radius_key = _lookup(cov["radius_m"], layer, level)
    minutes, minutes_key = _lookup(cov.get("radius_min", {}), layer, level)
    target, _ = _lookup(cov["target"], layer, level)
    target = target or {"value": 0.6, "metric": "village_coverage", "source": "默认值"}
    return {
        "radius_m": float(radius) if radius is not None else None,
        "radius_source": f"{DEFAULTS_FILE.name} [coverage.radius_m] {radius_key}",
        "radius_min": float(minutes) if minutes is not None else None,
        "radius_min_source": f"{DEFAULTS_FILE.name} [coverage.radius_min] {minutes_key}",
        "target": float(target["value"]),
        "target_metric": target["metric"],
        "target_source": target["source"],
        "beds_per_1000": float(cov["beds"]["per_1000_elderly"]),
        "beds_source": cov["beds"]["source"],
    }


def siting_defaults() -> dict:
    """Defaults of the siting analysis (``[siting]`` in defaults.toml), a fresh copy."""
    sit = dict(load_defaults()["siting"])
    sit["setbacks_m"] = {k: float(v) for k, v in sit.get("setbacks_m", {}).items()}
    return sit


def demand_defaults() -> dict:
    """Base year, default annual growth of the elderly population and the widest span of
    years of a target-year projection (``[demand]`` in defaults.toml)."""
    d = load_defaults()["demand"]
    return {
        "base_year": int(d["base_year"]),
        "annual_growth": float(d["annual_growth"]),
        "max_years": int(d["max_years"]),
        "source": f"{DEFAULTS_FILE.name} [demand]（{d.get('source', '')}）",
    }


# Where the boundary review's default tolerances come from (shown with every tolerance).
BOUNDARIES_SOURCE = f"{DEFAULTS_FILE.name} [boundaries]"


def boundaries_defaults() -> dict:
    """Tolerances of the boundary review (``[boundaries]`` in defaults.toml), a fresh copy."""
    return {k: float(v) for k, v in load_defaults()["boundaries"].items()}


def placenames_defaults() -> dict:
    """Tolerance, search radius, fuzzy threshold, generics and suffixes of the place-name check."""
    p = load_defaults()["placenames"]
    return {
        "misplaced_tolerance_m": float(p["misplaced_tolerance_m"]),
        "search_radius_m": float(p["search_radius_m"]),
        "fuzzy_threshold": float(p["fuzzy_threshold"]),
        "fuzzy_neighbours": int(p["fuzzy_neighbours"]),
        "valid_generics": tuple(p["valid_generics"]),
        "committee_suffixes": tuple((str(s), str(g)) for s, g in p["committee_suffixes"]),
        "source": f"defaults.toml [placenames]（{p.get('source', '')}）",
    }


def fca_defaults() -> dict:
    """The enhanced 2SFCA zone breaks (shares of the catchment) and weights."""
    f = load_defaults()["coverage"]["fca"]
    breaks = tuple(float(b) for b in f["e2sfca_breaks"])
    weights = tuple(float(w) for w in f["e2sfca_weights"])
    three = {k: tuple(float(x) for x in f[k]) for k in ("three_sfca_breaks", "three_sfca_weights")
             if k in f}
    return {"e2sfca_breaks": breaks, "e2sfca_weights": weights, **three,
            "source": f"{DEFAULTS_FILE.name} [coverage.fca]（{f.get('source', '')}）"}


def network_defaults() -> dict:
    """Road network defaults (``[network]``): snapping tolerance, access speed, check
    thresholds and the default speed of each road class (km/h)."""
    n = load_defaults()["network"]
    return {
        "snap_tolerance_m": float(n["snap_tolerance_m"]),
        "access_speed_kmh": float(n["access_speed_kmh"]),
        "check_far_m": float(n["check_far_m"]),
        "dangle_m": float(n["dangle_m"]),
        "speed_kmh": {k: float(v) for k, v in n["speed_kmh"].items()},
        "source": f"{DEFAULTS_FILE.name} [network]（{n.get('source', '')}）",
    }
