"""Regenerate the README pictures: python docs/make_screenshots.py (needs chromium)."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

from chromium import CHROMIUM_FLAGS  # noqa: E402  (tests/browser/chromium.py)
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

from geoservice import create_app  # noqa: E402
from geoservice.config import DEMO_WORKSPACE  # noqa: E402

PAGES = {
    "home.png": "/",
    "coverage.png": "/coverage?layer=elderly_service_points&radius=2000",
    # The siting page starts a job: the form is submitted and the finished result shown.
    "siting.png": "/siting?layer=elderly_service_points&problem=mclp&add=3&radius=2000",
    "boundaries.png": "/boundaries?layer=townships",
    "placenames.png": "/placenames",
    # road travel: 20 minutes by road, the service areas along roads; the network check
    "coverage-road.png": "/coverage?layer=welfare_homes&cost=network&cost_field=time&radius=20",
    "network.png": "/network",
}


def tools_pictures(driver, base: str, out: Path) -> None:
    """The map tools (maps/tools.py): search by pinyin initials, names by zoom, measuring."""
    from selenium.webdriver.common.action_chains import ActionChains

    def load(path):
        driver.get(base + path)
        for _ in range(60):
            if driver.execute_script("return !!(window.geoservice && window.geoservice.map"
                                     " && window.geoservice.map.gsTools)"):
                return
            time.sleep(0.25)

    load(PAGES["coverage.png"])
    box = driver.find_element("css selector", ".gs-search-input")
    box.send_keys("fy")
    time.sleep(0.5)
    driver.save_screenshot(str(out / "tools-search.png"))
    box.send_keys("\n")
    time.sleep(1)
    driver.save_screenshot(str(out / "tools-names.png"))
    load(PAGES["coverage.png"])
    driver.find_element("css selector", ".gs-tool-area").click()
    container = driver.find_element("css selector", ".folium-map")
    for dx, dy in [(-150, -120), (120, -90), (160, 110), (-90, 140)]:
        ActionChains(driver).move_to_element_with_offset(container, dx, dy).click().perform()
    ActionChains(driver).move_to_element_with_offset(container, 40, 20).perform()
    time.sleep(0.5)
    driver.save_screenshot(str(out / "tools-measure.png"))
    for name in ("tools-search.png", "tools-names.png", "tools-measure.png"):
        print(out / name)


def main() -> None:
    """All pictures; ``python docs/make_screenshots.py tools``: only the map tools';
    ``python docs/make_screenshots.py coverage-road.png …``: only those pages."""
    import threading

    from werkzeug.serving import make_server

    tmp = Path(tempfile.mkdtemp())
    ws = tmp / "demo.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, ws)
    app = create_app({"WORKSPACE": str(ws)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp / 'profile'}")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    try:
        if sys.argv[1:] == ["tools"]:
            tools_pictures(driver, f"http://127.0.0.1:{server.server_port}", out)
            return
        only = [a for a in sys.argv[1:] if a in PAGES]
        for name, path in PAGES.items():
            if only and name not in only:
                continue
            driver.get(f"http://127.0.0.1:{server.server_port}{path}")
            time.sleep(1.5)
            if name == "siting.png":
                driver.find_element("id", "start").click()
                for _ in range(60):
                    time.sleep(0.5)
                    if "job=" in driver.current_url and driver.find_elements(
                            "css selector", ".leaflet-container"):
                        break
                time.sleep(2)
            driver.save_screenshot(str(out / name))
            print(out / name)
        if only:
            return
        tools_pictures(driver, f"http://127.0.0.1:{server.server_port}", out)
    finally:
        driver.quit()
        server.shutdown()


if __name__ == "__main__":
    main()
