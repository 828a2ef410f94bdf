"""Pages people look at: the home map of the workspace."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from geoservice.services.workspace import current_layers, workspace_info
from geoservice.web.common import workspace_store
from maps import map_parts, overview_map

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    store = workspace_store()
    info = workspace_info(store)
    cfg = current_app.config
    m = overview_map(current_layers(store), title=info["title"], notes=info["notes"],
                     basemap_url=cfg["BASEMAP_URL"], attribution=cfg["BASEMAP_ATTRIBUTION"],
                     basemap_crs=cfg["BASEMAP_CRS"])
    return render_template("index.html", info=info, map=map_parts(m),
                           basemap=cfg["BASEMAP_URL"])
