"""/boundaries?layer=villages on a generated 3,000-village workspace (test_province_map.py's)
in real headless Chromium while the review runs in the background: every village drawn and
clickable with a progress line, then, once the review finishes (held on an Event, no
sleeps), the page reloads itself with the findings and the lines."""

from __future__ import annotations

import threading

import pytest
from chromium import console_errors, start_chromium
from fixtures import LiveServer
from selenium.webdriver.support.ui import WebDriverWait
from test_province_map import HOSTILE, N, workspace  # noqa: F401 (fixture)
from test_province_review_pages import _click_village, _counts

import geoservice.web.boundary_lines as bl
from geoservice import create_app

pytestmark = pytest.mark.browser


def test_villages_clickable_before_the_review_then_findings(workspace, monkeypatch):  # noqa: F811
    gate = threading.Event()
    real = bl.run_boundaries

    def slow(store, params, *a, **kw):
        assert gate.wait(120)
        return real(store, params, *a, **kw)

    monkeypatch.setattr(bl, "run_boundaries", slow)
    app = create_app({"WORKSPACE": str(workspace), "ANONYMOUS_READ": 1,
                      "MAP_GEOMETRY_MIN_VERTICES": 10_000})
    try:
        with LiveServer(app) as live, start_chromium() as driver:
            driver.get(live.url + "/boundaries?layer=villages")
            WebDriverWait(driver, 60).until(lambda d: d.execute_script(
                "var b = window.geoservice && window.geoservice.bulk; "
                "return !!(b && b.villages && b.villages.state === 'ready')"))
            status = driver.find_element("id", "review-status").text
            assert "正在审查界线" in status, status
            assert not driver.find_elements("id", "findings-table")
            assert _counts(driver) == [N, N, N, N]
            text = _click_village(driver, HOSTILE)
            assert HOSTILE in text and driver.title != "pwned"
            found = driver.execute_script(
                "return window.geoservice.tools.search('测试村1234').map(function (e) "
                "{ return e.name; })")
            assert "测试村1234" in found
            gate.set()
            WebDriverWait(driver, 120).until(lambda d: d.find_elements("id", "findings-table"))
            WebDriverWait(driver, 120).until(lambda d: d.execute_script(
                "var b = window.geoservice && window.geoservice.bulk; return !!(b && "
                "b.boundary_lines && b.boundary_lines.state === 'ready' && "
                "window.geoservice.bulkPending === 0)"))
            assert not driver.find_elements("id", "review-status")
            assert _counts(driver) == [N, N, N, N]
            assert not [e for e in console_errors(driver) if "favicon" not in e["message"]]
    finally:
        gate.set()
