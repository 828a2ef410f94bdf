"""Pages people look at: the home map of the workspace."""

from __future__ import annotations

from flask import Blueprint, render_template

from geoservice.services.workspace import current_layers, workspace_info
from geoservice.web.common import map_settings, workspace_store
from maps import map_parts, overview_map

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    store = workspace_store()
    info = workspace_info(store)
    settings = map_settings()
    m = overview_map(current_layers(store), title=info["title"], notes=info["notes"],
                     settings=settings)
    return render_template("index.html", info=info, map=map_parts(m),
                           basemap=settings.basemap_url)
