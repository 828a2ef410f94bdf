"""The service's error tree and the one place errors become HTTP status codes.

Analyses raise ``geoservice.analysis.errors`` (no HTTP there); layers raise
``layers.errors``; the service tier adds ``BadParameter`` and ``NotFound``. ``http_status``
maps all of them; the web tier's one handler turns them into a Chinese page or JSON, the
CLI into a Chinese message and a non-zero exit.
"""

from __future__ import annotations

import errno

from geoservice.analysis.errors import AnalysisError, Cancelled, InvalidInput
from layers.errors import LayerError, LayerNotFound, Problem, StoreError, ValidationError

__all__ = ["AnalysisError", "BadParameter", "Cancelled", "Conflict", "GeoserviceError",
           "InvalidInput", "LayerError", "LayerNotFound", "NotFound", "Problem", "StoreError",
           "TooManyRequests", "ValidationError", "http_status", "is_readable", "message_for"]


class GeoserviceError(Exception):
    """An error whose message a person can read (Chinese) and that knows its HTTP status."""

    status = 500


class BadParameter(GeoserviceError):
    status = 400


class NotFound(GeoserviceError):
    status = 404


class Conflict(GeoserviceError):
    """The request contradicts the state of what it changes (an approved plan, a plan
    changed by someone else since the client read it)."""

    status = 409


class TooManyRequests(GeoserviceError):
    """A bounded queue is full: try again when earlier work has finished."""

    status = 429


# (error class, HTTP status), most specific first
_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (ValidationError, 400),
    (LayerNotFound, 404),
    (StoreError, 500),
    (InvalidInput, 400),
    (Cancelled, 409),
    (AnalysisError, 422),
)


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def http_status(exc: BaseException) -> int:
    if isinstance(exc, GeoserviceError):
        return exc.status
    if _disk_full(exc):
        return 507
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def message_for(exc: BaseException) -> str:
    """What a person reads about ``exc``: its own Chinese message when it was written for a
    person, the cause when it is a known condition (disk full), else a generic line (the
    details go to the log, never a path, SQL or a library's English to the client)."""
    if is_readable(exc):
        return str(exc).split("\n")[0]
    if _disk_full(exc):
        return "服务器磁盘空间不足，本次操作没有保存任何内容"
    return "服务器内部错误"


def is_readable(exc: BaseException) -> bool:
    """Whether the message was written for a person (Chinese), so it may be shown as is."""
    return isinstance(exc, (GeoserviceError, LayerError, AnalysisError))
