"""Serves Leaflet, jQuery and our own map styles from installed packages, with caching."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file

from maps.assets import DEFAULT_PREFIX, resolve

bp = Blueprint("assets", __name__, url_prefix=DEFAULT_PREFIX)


@bp.get("/<library>/<path:filename>")
def asset(library: str, filename: str):
    path = resolve(library, filename)
    if path is None:
        abort(404)
    return send_file(path, max_age=current_app.config["ASSET_MAX_AGE"], conditional=True)
