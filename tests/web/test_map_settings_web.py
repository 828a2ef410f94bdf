"""The basemap settings (GEOSERVICE_BASEMAP_URL, _ATTRIBUTION, _CRS) reach every map page
the app serves, not only the home map."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from fixtures import make_app  # create_app with an admin signed in (API token)

from layers.crs import wgs_to_gcj

URL = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
ATTRIBUTION = "内网底图"
PAGES = ["/", "/coverage", "/coverage?shading=access", "/siting", "/boundaries",
         "/boundaries?layer=villages", "/placenames",
         "/boundaries/merge?layer=townships&codes=511425102,511425108&name=甲乙镇"]


@pytest.fixture
def basemap_app(demo_workspace, monkeypatch):
    monkeypatch.setenv("GEOSERVICE_BASEMAP_URL", URL)
    monkeypatch.setenv("GEOSERVICE_BASEMAP_ATTRIBUTION", ATTRIBUTION)
    return make_app({"WORKSPACE": str(demo_workspace)})


def _assert_basemap(html: str, where: str):
    assert 'class="folium-map"' in html, where
    assert "L.tileLayer" in html and URL in html, where
    assert json.dumps(ATTRIBUTION) in html, where


def test_every_map_page_has_the_configured_basemap(basemap_app, demo_workspace, monkeypatch):
    client = basemap_app.test_client()
    for url in PAGES:
        r = client.get(url)
        assert r.status_code == 200, url
        _assert_basemap(r.get_data(as_text=True), url)
    monkeypatch.delenv("GEOSERVICE_BASEMAP_URL")
    plain = make_app({"WORKSPACE": str(demo_workspace)}).test_client()
    for url in PAGES:
        assert "L.tileLayer" not in plain.get(url).get_data(as_text=True), url


def test_siting_result_map_has_the_configured_basemap(basemap_app):
    client = basemap_app.test_client()
    r = client.post("/siting", data={"layer": "elderly_service_points", "problem": "mclp",
                                     "add": "2"})
    assert r.status_code == 303
    page = r.headers["Location"]
    deadline = time.monotonic() + 120
    while True:
        html = client.get(page).get_data(as_text=True)
        if 'id="siting-summary"' in html:
            break
        assert time.monotonic() < deadline, "siting job did not finish"
        time.sleep(0.3)
    _assert_basemap(html, "siting result")
    assert "建议新增站点" in html


def _geojson_coords(html: str) -> np.ndarray:
    """Every polygon vertex of the map's GeoJSON layers, in order."""
    pairs = re.findall(r"\[(1\d\d\.\d+), (\d\d\.\d+)\]", html)
    return np.array([(float(x), float(y)) for x, y in pairs])


def test_gcj02_basemap_shifts_the_analysis_maps_and_the_table_targets(demo_workspace):
    plain = make_app({"WORKSPACE": str(demo_workspace)}).test_client()
    gcj = make_app({"WORKSPACE": str(demo_workspace), "BASEMAP_CRS": "gcj02"}).test_client()
    for url in ("/coverage", "/boundaries", "/placenames"):
        a = _geojson_coords(plain.get(url).get_data(as_text=True))
        b = _geojson_coords(gcj.get(url).get_data(as_text=True))
        assert len(a) > 100 and a.shape == b.shape, url
        ex, ey = wgs_to_gcj(a[:, 0], a[:, 1])
        assert np.abs(b - np.column_stack([ex, ey])).max() < 1e-6, url
        assert np.hypot(*(b - a).T).min() > 1e-3, url

    # a click on a place-name row centres the map where the map draws the place
    def rows(client):
        html = client.get("/placenames").get_data(as_text=True)
        return np.array([(float(lon), float(lat)) for lat, lon in re.findall(
            r'data-lat="([0-9.]+)" data-lon="([0-9.]+)"', html)])

    a, b = rows(plain), rows(gcj)
    assert len(a) and a.shape == b.shape
    ex, ey = wgs_to_gcj(a[:, 0], a[:, 1])
    assert np.abs(b - np.column_stack([ex, ey])).max() < 1e-6
