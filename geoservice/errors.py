"""The service's error tree; one Flask handler turns each into a Chinese page or JSON."""

from __future__ import annotations

from layers.errors import LayerError, LayerNotFound, Problem, StoreError, ValidationError

__all__ = ["BadParameter", "GeoserviceError", "LayerError", "LayerNotFound", "NotFound",
           "Problem", "StoreError", "ValidationError", "http_status"]


class GeoserviceError(Exception):
    """An error whose message a person can read (Chinese) and that knows its HTTP status."""

    status = 500


class BadParameter(GeoserviceError):
    status = 400


class NotFound(GeoserviceError):
    status = 404


def http_status(exc: Exception) -> int:
    if isinstance(exc, GeoserviceError):
        return exc.status
    if isinstance(exc, ValidationError):
        return 400
    if isinstance(exc, LayerNotFound):
        return 404
    if isinstance(exc, StoreError):
        return 500
    return 500
