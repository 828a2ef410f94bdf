"""The planning service for county civil-affairs offices: analyses, web app and CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def held_logs(*, drop_on_readable_error: bool = True,
              readable: Callable[[Exception], bool] | None = None) -> Iterator[None]:
    """Hold back the log records of a start (opening the workspace) or of a CLI command.

    A workspace that cannot be opened (PostgreSQL down, a wrong password, no such database,
    no PostGIS) raises an error whose Chinese message says it all; the store's own log
    lines (libpq's English) would only bury that one line. So the records propagated to
    the root logger meanwhile are kept, and shown afterwards unless the block ends with an
    error written for a person (``geoservice.errors.is_readable``, or ``readable``) and
    ``drop_on_readable_error``. On success or any other error they are shown as they would
    have been, in order.
    """
    root = logging.getLogger()
    held: list[logging.LogRecord] = []

    class _Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record)

    handlers = root.handlers[:]
    root.handlers[:] = [_Hold()]
    show = True
    try:
        yield
    except Exception as exc:
        from geoservice.errors import is_readable

        show = not (drop_on_readable_error and (readable or is_readable)(exc))
        raise
    finally:
        root.handlers[:] = handlers
        if show:
            for record in held:
                for handler in handlers or [logging.lastResort]:
                    if handler is not None and record.levelno >= handler.level:
                        handler.handle(record)
