"""The OGC API's HTML view in real headless Chromium: features drawn from the app's own
assets, nothing fetched from another host, no script errors."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from chromium import console_errors, requested_urls
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser


def test_a_page_of_villages_draws_on_the_map_offline(browser, demo_server):
    browser.get(demo_server.url + "/ogcapi/collections/villages/items?f=html&limit=20")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return !!(window.geoservice && window.geoservice.layers"
        " && window.geoservice.layers.features)"))
    drawn = browser.execute_script(
        "var n = 0; window.geoservice.layers.features.eachLayer(function () { n++; });"
        " return n;")
    assert drawn == 20
    rows = browser.execute_script(
        "return document.querySelectorAll('#ogc-features tr').length")
    assert rows == 21  # header + one row per feature
    hosts = {urlparse(u).hostname for u in requested_urls(browser) if u.startswith("http")}
    assert hosts <= {"127.0.0.1"}, hosts
    assert console_errors(browser) == []
