"""Helpers for reading what headless Chromium did."""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager

# The flags our CI uses: no background traffic, no sandbox (root), no GPU.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage", "--window-size=1400,900",
]


def requested_urls(driver) -> list[str]:
    """Every URL the page asked the network for, from Chromium's performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


@contextmanager
def start_chromium(*, init_script: str | None = None, flags: tuple[str, ...] = ()):
    """A fresh headless Chromium (Debian's chromium + chromium-driver) with a private
    profile, browser and network logs; ``init_script`` runs before any page script;
    ``flags``: more command-line flags (e.g. ``--host-resolver-rules=…`` to cut it off
    the network). Fails (never skips) when Chromium is not installed."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    assert binary and driver_path, (
        "找不到 chromium / chromedriver：请安装 Debian 软件包 chromium 和 chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in [*CHROMIUM_FLAGS, *flags]:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="gs-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    if init_script:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": init_script})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def log_in(driver, server, name: str = "browser-admin", role: str = "admin") -> None:
    """Log ``driver`` in through the real /login page of ``server`` (a ``LiveServer``) as
    account ``name`` (created with ``role`` when missing)."""
    from fixtures import PASSWORD, add_account
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    add_account(server.app, name, role)
    driver.get(server.url + "/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)
    assert driver.find_elements(By.ID, "account-name"), "登录失败"
