"""Real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium."""

from __future__ import annotations

import pytest
from chromium import start_chromium


@pytest.fixture
def browser():
    """A fresh headless Chromium; fails (never skips) when Chromium is not installed."""
    with start_chromium() as driver:
        yield driver
