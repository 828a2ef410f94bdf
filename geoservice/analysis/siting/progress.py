"""Progress reports and the cancel flag of one siting run."""

from __future__ import annotations

import time

from geoservice.analysis.errors import Cancelled


class Progress:
    """Monotone, throttled progress reports; ``cancel`` polled through ``cancelled()``."""

    def __init__(self, progress=None, cancel=None):
        self.fn, self.cancel_fn = progress, cancel
        self.last = -1.0
        self.last_t = 0.0

    def __call__(self, fraction: float, message: str, *, force: bool = True) -> None:
        if self.fn is None:
            return
        fraction = float(min(1.0, max(fraction, self.last, 0.0)))
        now = time.monotonic()
        if not force and now - self.last_t < 0.2:
            return
        self.last, self.last_t = fraction, now
        self.fn(fraction, message)

    def cancelled(self) -> bool:
        return bool(self.cancel_fn is not None and self.cancel_fn())

    def stop_if_cancelled(self) -> None:
        """Before any plan exists there is nothing to return: stop with ``Cancelled``."""
        if self.cancelled():
            raise Cancelled("已取消")
