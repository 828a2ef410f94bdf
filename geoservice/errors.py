"""The service's error tree and the one place errors become HTTP status codes.

Analyses raise ``geoservice.analysis.errors`` (no HTTP there); layers raise
``layers.errors``; the service tier adds ``BadParameter`` and ``NotFound``. ``http_status``
maps all of them; the web tier's one handler turns them into a Chinese page or JSON, the
CLI into a Chinese message and a non-zero exit.
"""

from __future__ import annotations

from geoservice.analysis.errors import AnalysisError, Cancelled, InvalidInput
from layers.errors import LayerError, LayerNotFound, Problem, StoreError, ValidationError

__all__ = ["AnalysisError", "BadParameter", "Cancelled", "GeoserviceError", "InvalidInput",
           "LayerError", "LayerNotFound", "NotFound", "Problem", "StoreError",
           "ValidationError", "http_status", "is_readable"]


class GeoserviceError(Exception):
    """An error whose message a person can read (Chinese) and that knows its HTTP status."""

    status = 500


class BadParameter(GeoserviceError):
    status = 400


class NotFound(GeoserviceError):
    status = 404


# (error class, HTTP status), most specific first
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (ValidationError, 400),
    (LayerNotFound, 404),
    (StoreError, 500),
    (InvalidInput, 400),
    (Cancelled, 409),
    (AnalysisError, 422),
)


def http_status(exc: BaseException) -> int:
    if isinstance(exc, GeoserviceError):
        return exc.status
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def is_readable(exc: BaseException) -> bool:
    """Whether the message was written for a person (Chinese), so it may be shown as is."""
    return isinstance(exc, (GeoserviceError, LayerError, AnalysisError))
