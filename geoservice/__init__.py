"""The planning service for county civil-affairs offices: analyses, web app and CLI."""

from __future__ import annotations

from flask import Flask

from . import config as config_mod


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app for one workspace.

    ``config`` keys are documented in ``geoservice.config.SETTINGS``; anything not given
    comes from the environment or the defaults. The app holds no global state: tests
    build one per fixture.
    """
    from .web import register

    settings = config_mod.load(config)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_UPLOAD_MB"] * 1024 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    register(app)
    return app
