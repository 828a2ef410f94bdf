"""A mid-size generated workspace (3,000 villages) in real headless Chromium: the coverage
and home pages draw every village from the geometry endpoint (maps/bulk.py,
maps/static/province.js), a click on one opens its popup with its name (as text), the
names are searchable, and the page stays small."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from chromium import console_errors, start_chromium
from fixtures import LiveServer
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from geoservice import create_app
from layers import open_store

pytestmark = pytest.mark.browser

N = 3000
BOX = (110.0, 31.0, 111.2, 31.8)  # lon/lat, in Hubei
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">${1}`{{7*7}}'
PAGE_LIMIT = 5_000_000


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """3,000 Voronoi villages (codes by township), their townships, 300 facilities."""
    path = tmp_path_factory.mktemp("province") / "mid.gpkg"
    rng = np.random.default_rng(5)
    xy = rng.uniform(BOX[:2], BOX[2:], (N, 2))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), ordered=True))
    cells = shapely.intersection(cells, shapely.box(*BOX))
    township = [f"420300{100 + i // 30:03d}" for i in range(N)]
    names = [f"测试村{i}" for i in range(N)]
    names[7] = HOSTILE
    pop = rng.integers(800, 4000, N)
    villages = gpd.GeoDataFrame({
        "code": [f"{t}{200 + i % 30:03d}" for i, t in enumerate(township)], "name": names,
        "township_code": township, "population": pop, "elderly_population": pop // 5,
    }, geometry=cells, crs=4490)
    towns = villages[["township_code", "geometry"]].dissolve(by="township_code").reset_index()
    towns = towns.rename(columns={"township_code": "code"})
    towns["name"] = "测试镇" + towns["code"].str[-3:]
    fxy = rng.uniform(BOX[:2], BOX[2:], (300, 2))
    facilities = gpd.GeoDataFrame({"name": [f"站点{i}" for i in range(300)],
                                   "level": "village_station", "beds": 10},
                                  geometry=shapely.points(fxy), crs=4490)
    store = open_store(path)
    for kind, gdf in (("villages", villages), ("townships", towns),
                      ("elderly_service_points", facilities)):
        store.write(kind, gdf, source="test", source_crs="EPSG:4490")
    store.set_info(title="省级规模测试")
    return path


@pytest.fixture(scope="module")
def server(workspace):
    # 3,000 villages (about 20,000 vertices) over a 10,000-vertex limit: drawn from the
    # geometry endpoint; the 100 townships are inlined
    app = create_app({"WORKSPACE": str(workspace), "ANONYMOUS_READ": 1,
                      "MAP_GEOMETRY_MIN_VERTICES": 10_000})
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def driver():
    with start_chromium() as d:
        yield d


LAYER = "window.geoservice.bulk.villages"


def _ready(d):
    return d.execute_script(
        f"return !!(window.geoservice && window.geoservice.bulk && {LAYER}"
        f" && {LAYER}.state === 'ready')")


def test_coverage_page_draws_every_village_and_clicks(driver, server):
    from urllib.request import urlopen

    url = server.url + "/coverage?layer=elderly_service_points&radius=3000"
    with urlopen(url, timeout=60) as page:
        assert page.status == 200 and len(page.read()) < PAGE_LIMIT
    driver.get(url)
    WebDriverWait(driver, 30).until(_ready)
    counts = driver.execute_script(f"""
        var g = {LAYER}, layers = g.getLayers(), drawn = 0;
        layers.forEach(function (l) {{ if (l._parts && l._parts.length) {{ drawn += 1; }} }});
        return [g.drawn, layers.length, drawn, g.options.total];""")
    assert counts == [N, N, N, N], counts
    # every village got its result joined by code (its colour and popup values)
    joined = driver.execute_script(f"""
        return {LAYER}.getLayers().filter(function (l) {{
            return l.feature.properties._covered === '是' || l.feature.properties._covered === '否';
        }}).length""")
    assert joined == N

    # a click on the village with the hostile name opens its popup, the name as text
    x, y = driver.execute_script(f"""
        var map = window.geoservice.map, l = {LAYER}.feature({HOSTILE!r});
        map.setView(l.getCenter(), 14, {{animate: false}});
        var p = map.latLngToContainerPoint(l.getCenter());
        return [p.x, p.y];""")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return !window.geoservice.map._animatingZoom"))
    container = driver.find_element(By.CSS_SELECTOR, ".folium-map")
    size = container.size
    ActionChains(driver).move_to_element_with_offset(
        container, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()
    popup = WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content"))
    text = popup[0].get_attribute("textContent")  # (rows may be clipped by the map's edge)
    assert HOSTILE in text and "是否覆盖" in text, text
    assert driver.title != "pwned"
    assert not driver.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content img")
    # zoomed in, the view's villages are refined (finer geometry swapped in)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(
        f"var g = {LAYER}; return Object.keys(g._level).some(function (k) "
        "{ return g._level[k] > g.bucket; })"))
    # the village names are in the map's search index
    found = driver.execute_script(
        "return window.geoservice.tools.search('测试村1234').map(function (e) "
        "{ return [e.name, e.layer]; })")
    assert ["测试村1234", "villages"] in found
    assert not [e for e in console_errors(driver) if "favicon" not in e["message"]]


def test_home_page_draws_every_village_and_township(driver, server):
    driver.get(server.url + "/")
    WebDriverWait(driver, 30).until(_ready)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return window.geoservice.bulkPending === 0"))
    drawn = driver.execute_script(
        "var b = window.geoservice.bulk; return [b.villages.drawn, "
        "b.townships ? b.townships.drawn : null]")
    assert drawn[0] == N
    assert drawn[1] is None or drawn[1] == N // 30
    assert driver.title != "pwned"


def test_compare_page_draws_every_village_on_both_maps(driver, server, workspace):
    """The plans comparison at this size: both linked maps draw all villages from the
    endpoint (two bulk layers of the same kind on one page do not get in each other's way)."""
    from geoservice.services import plans
    from geoservice.services.accounts import cli_actor

    store = open_store(workspace)
    if "对比" not in [p.name for p in plans.list_plans(store)]:
        plans.create_plan(store, cli_actor(), "对比", "elderly_service_points")
        plans.edit_sites(store, cli_actor(), "对比", [
            {"op": "add", "lon": 110.3 + 0.1 * i, "lat": 31.3, "name": f"新站{i}",
             "level": "village_station", "beds": "10"} for i in range(5)])
    driver.get(server.url + "/plans/compare?a=现状&b=对比&radius=3000")

    def drawn(d):
        return d.execute_script("""
            var maps = (window.geoservice || {}).compareMaps || [];
            if (maps.length < 2) { return null; }
            return maps.map(function (m) {
                var n = 0, covered = 0, ready = true;
                m.eachLayer(function (l) {
                    if (l.options && l.options.total && l.getLayers) {
                        if (l.state !== 'ready') { ready = false; }
                        l.getLayers().forEach(function (p) {
                            if (p._parts && p._parts.length) { n += 1; }
                        });
                    }
                });
                return ready ? n : -1;
            });""")
    WebDriverWait(driver, 30).until(lambda d: drawn(d) == [N, N])
    assert console_errors(driver) == []
