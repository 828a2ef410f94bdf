"""What every view shares: the app's one store (opened once in ``create_app``)."""

from __future__ import annotations

from flask import current_app

from layers import LayerStore

EXTENSION = "geoservice"


def workspace_store() -> LayerStore:
    """The workspace store of this app, opened once when the app was built."""
    return current_app.extensions[EXTENSION]["store"]
