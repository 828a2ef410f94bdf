"""The analyses' own errors: plain exceptions with Chinese messages, no HTTP, no Flask.

The service tier maps them to HTTP status and to what a person reads in one place
(``geoservice.errors.http_status``). Each subclasses ``ValueError`` where the cause is a
bad input, so code that only knows Python's built-ins still reads them sensibly.
"""

from __future__ import annotations


class AnalysisError(Exception):
    """Anything an analysis refuses or cannot finish; the message is for a person."""


class InvalidInput(AnalysisError, ValueError):
    """An option or an input layer the analysis cannot work with (a bad value, a missing
    column, an empty layer). ``name`` is the option or field at fault, when there is one."""

    def __init__(self, message: str, *, name: str | None = None):
        super().__init__(message)
        self.name = name


class Cancelled(AnalysisError):
    """A long analysis stopped because its caller asked it to."""
