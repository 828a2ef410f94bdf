"""Turn a folium.Map into parts a page template embeds directly (no iframe)."""

from __future__ import annotations

from dataclasses import dataclass

import folium
from markupsafe import Markup

from .assets import external_links


class ExternalAssetError(RuntimeError):
    """A map would load a script or style from outside the app."""


@dataclass(frozen=True)
class MapParts:
    header: Markup  # <script>/<link>/<style> for the page head
    html: Markup  # the map's <div>
    script: Markup  # the <script> that builds the map


def map_parts(m: folium.Map) -> MapParts:
    """Render ``m`` and split it for a Jinja template; refuse any external asset."""
    fig = m.get_root()
    fig.render()
    header = fig.header.render()
    bad = external_links(header)
    if bad:
        raise ExternalAssetError(f"地图引用了外部资源：{bad}")
    return MapParts(Markup(header), Markup(fig.html.render()), Markup(fig.script.render()))
