"""A real cross-site form post, in headless Chromium: a page served on another 127.0.0.1
port submits a merge "apply" form to the service while the browser is logged in (the
session cookie goes along: another port is the same site). The service refuses it for
want of a CSRF token and nothing changes; the same form from the service's own page works."""

from __future__ import annotations

import html

import pytest
from chromium import log_in
from fixtures import LiveServer
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from layers import open_store

pytestmark = pytest.mark.browser
FIELDS = {"layer": "villages", "codes": "511425102201,511425102208", "name": "汉阳村",
          "apply": "1"}


def _attacker(target: str, extra: dict) -> Flask:
    app = Flask("attacker")
    inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                     for k, v in {**FIELDS, **extra}.items())

    @app.get("/")
    def page():
        return (f'<!doctype html><meta charset="utf-8"><title>抽奖</title>'
                f'<form id="f" method="post" action="{html.escape(target)}">{inputs}</form>'
                '<script>document.getElementById("f").submit();</script>')

    return app


@pytest.mark.parametrize("extra", [{}, {"csrf_token": "forged-token"}], ids=["none", "forged"])
def test_cross_site_form_post_is_refused(browser, demo_server, demo_workspace, extra):
    store = open_store(demo_workspace)
    before = {k: v.version for k, v in store.current_versions().items()}
    log_in(browser, demo_server, "界线审查员", "boundary")
    with LiveServer(_attacker(demo_server.url + "/boundaries/merge", extra)) as evil:
        assert evil.url != demo_server.url
        browser.get(evil.url + "/")
        WebDriverWait(browser, 30).until(
            lambda d: d.current_url.startswith(demo_server.url + "/boundaries/merge"))
        WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
        text = browser.find_element(By.TAG_NAME, "body").text
    assert "出错了（400）" in text and "CSRF" in text
    assert {k: v.version for k, v in store.current_versions().items()} == before
    assert store.audit_rows(action="merge_apply") == []
    # still logged in, and the service's own form (with its token) does apply
    browser.get(demo_server.url + "/boundaries/merge?" + "&".join(
        f"{k}={v}" for k, v in FIELDS.items() if k != "apply"))
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "apply"))
    browser.find_element(By.ID, "apply").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "merge-applied"))
    assert store.current_versions()["villages"].version == before["villages"] + 1
    assert store.audit_rows(action="merge_apply")[0]["user"] == "界线审查员"
