"""Log in on /login, import a file on /upload, see its row on /audit and restore the previous
version from the 版本历史 page, in headless Chromium."""

from __future__ import annotations

import pytest
from fixtures import LiveServer
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from geoservice import create_app
from geoservice.services import accounts
from layers import open_store

pytestmark = pytest.mark.browser
USER, PASSWORD = "界线审查甲", "secret-pass-42"


def _features(store, version=None):
    gdf = store.read("villages", version=version).sort_values("code").reset_index(drop=True)
    return gdf


def test_login_import_audit_and_restore(tiny_workspace, tmp_path, browser):
    store = open_store(tiny_workspace)
    accounts.add_user(store, USER, "boundary", PASSWORD)
    # the file to import: version 1 without its first village
    edited = store.read("villages", version=1).iloc[1:]
    path = tmp_path / "villages_edited.geojson"
    edited.to_file(path, driver="GeoJSON")
    app = create_app({"WORKSPACE": str(tiny_workspace), "ANONYMOUS_READ": 0})
    wait = WebDriverWait(browser, 60)
    with LiveServer(app) as server:
        browser.get(server.url + "/upload")  # anonymous: sent to the login page
        wait.until(lambda d: "/login" in d.current_url)
        browser.find_element(By.ID, "username").send_keys(USER)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()
        wait.until(lambda d: d.current_url.rstrip("?").endswith("/upload"))

        # the click returns before the next page is parsed: wait for its form
        kind = wait.until(lambda d: d.find_elements(By.NAME, "kind"))[0]
        Select(kind).select_by_value("villages")
        browser.find_element(By.NAME, "file").send_keys(str(path))
        browser.find_element(By.CSS_SELECTOR, "form.gs-form button[type=submit]").click()
        ok = wait.until(lambda d: d.find_elements(By.ID, "import-ok"))[0]
        assert "第 2 版" in ok.text and "共 3 个要素" in ok.text
        assert store.current_versions()["villages"].version == 2

        browser.get(server.url + "/audit?layer=villages")
        rows = wait.until(lambda d: d.find_elements(
            By.CSS_SELECTOR, '#audit-table tr[data-action="import"]'))
        assert len(rows) == 1
        text = rows[0].text
        assert USER in text and "导入图层" in text and "villages_edited.geojson" in text
        assert "1 → 2" in text

        browser.get(server.url + "/layers/villages/history")
        wait.until(lambda d: d.find_elements(By.ID, "version-2"))
        assert "当前版本" in browser.find_element(By.ID, "version-2").text
        browser.find_element(By.ID, "restore-1").click()
        note = wait.until(lambda d: d.find_elements(By.ID, "restored-note"))[0]
        assert "第 3 版" in note.text
        assert "当前版本" in browser.find_element(By.ID, "version-3").text

        browser.get(server.url + "/audit?action=restore")
        rows = wait.until(lambda d: d.find_elements(
            By.CSS_SELECTOR, '#audit-table tr[data-action="restore"]'))
        assert len(rows) == 1 and USER in rows[0].text and "2 → 3" in rows[0].text

    old, now = _features(store, 1), _features(store)
    assert store.current_versions()["villages"].version == 3
    assert now.drop(columns="geometry").equals(old.drop(columns="geometry"))
    assert all(a.equals_exact(b, 1e-9) for a, b in zip(old.geometry, now.geometry, strict=True))
