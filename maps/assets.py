"""Map assets served by the app itself: intranets have no internet.

Leaflet and jQuery come from the pip packages ``XStatic-Leaflet`` and ``XStatic-jQuery``
(and the MarkerCluster plugin from ``XStatic-Leaflet-MarkerCluster``); the app serves
their folders under one URL prefix, and every map built here points Folium's
``default_js`` / ``default_css`` at those URLs instead of a CDN. Bootstrap and Font
Awesome, which Folium loads by default for its marker icons, are not used: our markers
are circle markers and our page styling is our own.
"""

from __future__ import annotations

import re
from pathlib import Path

import folium
import xstatic.pkg.jquery as xs_jquery
import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_markercluster

DEFAULT_PREFIX = "/assets"

# library name in the URL -> folder on disk
LIBRARIES: dict[str, Path] = {
    "leaflet": Path(xs_leaflet.BASE_DIR),
    "jquery": Path(xs_jquery.BASE_DIR),
    "leaflet-markercluster": Path(xs_markercluster.BASE_DIR),
    "geoservice": Path(__file__).resolve().parent / "static",
}

VERSIONS = {
    "leaflet": xs_leaflet.VERSION,
    "jquery": xs_jquery.VERSION,
    "leaflet-markercluster": xs_markercluster.VERSION,
}


def map_js(prefix: str = DEFAULT_PREFIX) -> list[tuple[str, str]]:
    return [
        ("leaflet", f"{prefix}/leaflet/leaflet.js"),
        ("jquery", f"{prefix}/jquery/jquery.min.js"),
        ("geoservice_tools_js", f"{prefix}/geoservice/tools.js"),  # maps/tools.py
    ]


def map_css(prefix: str = DEFAULT_PREFIX) -> list[tuple[str, str]]:
    return [
        ("leaflet_css", f"{prefix}/leaflet/leaflet.css"),
        ("geoservice_map_css", f"{prefix}/geoservice/map.css"),
        ("geoservice_tools_css", f"{prefix}/geoservice/tools.css"),
    ]


def use_local_assets(m: folium.Map, prefix: str = DEFAULT_PREFIX) -> folium.Map:
    """Point a map's scripts and styles at the app's own asset routes."""
    m.default_js = map_js(prefix)
    m.default_css = map_css(prefix)
    return m


_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def external_links(html: str) -> list[str]:
    """Script/style/link URLs in ``html`` that would leave the server (should be none)."""
    return [m.group(0) for m in _EXTERNAL.finditer(html)]


def resolve(library: str, filename: str) -> Path | None:
    """The file behind ``/assets/<library>/<filename>``, or None (no path escapes)."""
    base = LIBRARIES.get(library)
    if base is None:
        return None
    target = (base / filename).resolve()
    if base.resolve() not in target.parents or not target.is_file():
        return None
    return target
