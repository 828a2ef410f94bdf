"""Large layers are never put into a page whole: the home and analysis maps load them by
view (maps/viewport.py); small layers are still inlined."""

from __future__ import annotations

import json
import re
import shutil

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fixtures import make_app  # create_app with an admin signed in (API token)

from geoservice.config import DEMO_WORKSPACE
from layers import open_store

BIG = 100_000
MB = 1_000_000


def big_points(kind: str, n: int, *, seed: int = 7) -> gpd.GeoDataFrame:
    """``n`` points of ``kind`` spread over the demo county (EPSG:4490)."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(103.71, 103.95, n), rng.uniform(29.73, 29.89, n)
    names = [f"大图层{i}号" for i in range(n)]
    if kind == "place_labels":
        data = {"name": names, "source": "amap", "crs": "gcj02"}
    else:
        data = {"name": names, "level": np.where(np.arange(n) % 2, "group_point",
                                                 "village_station"), "beds": 5}
    return gpd.GeoDataFrame(data, geometry=shapely.points(x, y), crs=4490)


@pytest.fixture(scope="module")
def big_workspace(tmp_path_factory):
    """The demo county with 100,000 elderly service points and 100,000 place labels."""
    path = tmp_path_factory.mktemp("big") / "big.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    store = open_store(path)
    for kind in ("elderly_service_points", "place_labels"):
        store.write(kind, big_points(kind, BIG), source="test", source_crs="EPSG:4490")
    return path


@pytest.fixture(scope="module")
def big_client(big_workspace):
    return make_app({"WORKSPACE": str(big_workspace)}).test_client()


def _in(text: str, html: str) -> bool:
    """Whether ``text`` is in the page as written or as escaped JSON (GeoJSON is embedded
    with ``\\uXXXX`` escapes)."""
    return text in html or json.dumps(text)[1:-1] in html


def _viewports(html: str) -> dict[str, str]:
    """The options of every by-view layer in a page, by kind."""
    return {m.group(1): m.group(0) for m in
            re.finditer(r'L\.geoserviceViewport\(\{[^;]*?"kind": "([a-z_]+)"[^;]*\);', html)}


def test_home_page_loads_large_layers_by_view(big_client):
    r = big_client.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert len(r.data) < 2 * MB
    assert not _in("大图层", html)  # no feature of either big layer is in the page
    views = _viewports(html)
    assert set(views) == {"elderly_service_points", "place_labels"}
    assert '"total": 100000' in views["place_labels"]
    assert "/api/layers/elderly_service_points?version=2" in views["elderly_service_points"]
    assert "/assets/geoservice/viewport.js" in html
    # the legend says how many there are and from which zoom they show
    assert "共 100,000 个要素" in html
    # the small layers are still in the page, with their features
    villages = open_store(DEMO_WORKSPACE).read("villages")
    assert _in(villages["name"].iloc[0], html)


def test_small_layers_are_inlined(demo_app):
    html = demo_app.test_client().get("/").get_data(as_text=True)
    assert "L.geoserviceViewport" not in html
    labels = open_store(DEMO_WORKSPACE).read("place_labels")
    assert _in(labels["name"].iloc[0], html)


def test_the_threshold_is_a_setting(demo_workspace):
    app = make_app({"WORKSPACE": str(demo_workspace), "MAP_INLINE_MAX_FEATURES": 45,
                      "MAP_VIEWPORT_MIN_ZOOM": 12})
    html = app.test_client().get("/").get_data(as_text=True)
    views = _viewports(html)
    # 58 villages and 57 labels are over 45; 40 service points are not
    assert {"villages", "place_labels"} <= set(views)
    assert "elderly_service_points" not in views
    assert '"minZoom": 12' in views["villages"]


def test_viewport_script_is_served(demo_app):
    r = demo_app.test_client().get("/assets/geoservice/viewport.js")
    assert r.status_code == 200
    assert b"geoserviceViewport" in r.data and b"textContent" in r.data


def test_api_serves_one_view_of_the_large_layer(big_client, big_workspace):
    bbox = (103.80, 29.80, 103.82, 29.81)
    r = big_client.get("/api/layers/elderly_service_points?version=2&limit=10000&bbox="
                       + ",".join(map(str, bbox)))
    assert r.status_code == 200
    body = r.get_json()
    expected = open_store(big_workspace).read("elderly_service_points", bbox=bbox)
    assert body["numberMatched"] == len(expected) > 0
    assert body["numberReturned"] == len(body["features"]) == len(expected)


def test_coverage_page_draws_large_facility_layer_by_view(big_client):
    r = big_client.get("/coverage?layer=elderly_service_points&level=group_point")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert len(r.data) < 2 * MB
    assert not _in("大图层", html)
    view = _viewports(html)["elderly_service_points"]
    assert '"circleM": ' in view and '"circleM": null' not in view  # service circles by view
    assert '"where": {"level": ["group_point"]}' in view  # the level the analysis used
    # the analysis result the page must show is inline: the villages with their coverage
    villages = open_store(DEMO_WORKSPACE).read("villages")
    assert _in(villages["name"].iloc[-1], html) and _in("是否覆盖", html)


def test_siting_page_draws_large_layers_by_view(big_client):
    r = big_client.get("/siting")
    assert r.status_code == 200
    assert len(r.data) < 2 * MB
    html = r.get_data(as_text=True)
    assert not _in("大图层", html)
    assert "elderly_service_points" in _viewports(html)


def test_boundaries_page_is_not_affected(big_client):
    r = big_client.get("/boundaries")
    assert r.status_code == 200 and len(r.data) < 2 * MB


def test_placenames_page_draws_large_label_layer_by_view(demo_workspace):
    app = make_app({"WORKSPACE": str(demo_workspace), "MAP_INLINE_MAX_FEATURES": 20})
    r = app.test_client().get("/placenames")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "place_labels" in _viewports(html)
    assert "全部地图标注" in html
