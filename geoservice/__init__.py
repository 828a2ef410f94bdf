"""The planning service for county civil-affairs offices: analyses, web app and CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app for one workspace.

    ``config`` keys are documented in ``geoservice.config.SETTINGS``; anything not given
    comes from the environment or the defaults. The app holds no global state: tests
    build one per fixture.
    """
    from flask import Flask

    from geoservice import config as config_mod
    from geoservice.services.workspace import store_for
    from geoservice.web import register

    settings = config_mod.load(config)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_UPLOAD_MB"] * 1024 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["geoservice"] = {
        "store": store_for(settings["WORKSPACE"], cache_mb=settings["LAYER_CACHE_MB"])}
    register(app)
    return app
