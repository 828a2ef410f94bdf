"""The network check page and API on the demo county (both stores), and the service areas
drawn on a map."""

from __future__ import annotations

import pytest
from fixtures import make_app

from geoservice.web import network as network_web


def _app(workspace):
    app = make_app({"WORKSPACE": str(workspace)})
    if "network" not in app.blueprints:  # until the registry lists the network check
        app.register_blueprint(network_web.bp)
    return app


@pytest.fixture(scope="module")
def app(module_demo_workspace):
    return _app(module_demo_workspace)


def test_api_check_on_the_demo(app):
    r = app.test_client().get("/api/network/check")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    s = body["summary"]
    assert s["roads"] > 0 and s["villages"] == 58 and s["network"] == "roads"
    # every village is counted in exactly one part
    assert sum(p["villages"] for p in body["parts"]) == 58
    assert body["parts"][0]["label"] == "主网"
    assert s["far_m"] == 1000 and s["dangle_m"] == 20


def test_api_thresholds_and_bad_parameter(app):
    client = app.test_client()
    far0 = client.get("/api/network/check?far=0").get_json()
    # every village and facility off the road line by more than 0 m is listed
    assert far0["summary"]["far_m"] == 0
    assert far0["summary"]["far"] == len(far0["far"]) > 0
    bad = client.get("/api/network/check?far=abc")
    assert bad.status_code == 400 and "far" in bad.get_json()["error"]
    bad = client.get("/api/network/check?network=villages")
    assert bad.status_code == 400


def test_page_has_map_legend_and_tables(app):
    r = app.test_client().get("/network?far=0")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    for part in ("道路网检查", 'id="parts-table"', 'id="dangles-table"', 'id="far-table"',
                 "国道（默认 60 km/h）", "主网", 'id="network-speeds"'):
        assert part in html, part
    assert "离道路过远" in html


def test_page_keeps_its_form_on_a_bad_parameter(app):
    r = app.test_client().get("/network?dangle=-3")
    assert r.status_code == 400
    assert 'id="param-error"' in r.get_data(as_text=True)


def test_service_areas_on_a_map():
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import LineString

    from geoservice.analysis.network import build_graph
    from geoservice.analysis.service_area import service_areas
    from maps.base import base_map
    from maps.render import map_parts
    from maps.service_areas import add_service_areas

    gk = "EPSG:4544"
    roads = gpd.GeoDataFrame({"road_class": ["county"]},
                             geometry=[LineString([(380_000, 3_300_000), (383_000, 3_300_000)])],
                             crs=gk)
    sa = service_areas(build_graph(roads, gk), np.array([(381_000.0, 3_300_000.0)]),
                       ["<b>站</b>"], 500, buffer_m=100)
    m = base_map((103.7, 29.8, 103.8, 29.9))
    registry, entries = add_service_areas(m, sa.areas, sa.merged, "沿道路 500 米服务范围")
    assert [k for k, _ in registry] == ["service_area", "service_areas"]
    assert entries[0][2].startswith("沿道路 500 米服务范围")
    script = str(map_parts(m).script)
    # the facility's name reaches the page only as inert text
    assert "<b>" not in script and '"name": "\\u0026lt;b\\u0026gt;' in script
    # 1000 m of road, 100 m either side, round ends drawn as a 16-gon (4 segments a
    # quarter circle): 0.2 km² + 0.01 km² x 8 sin(pi/8)
    assert sa.merged.iloc[0]["area_km2"] == pytest.approx(0.2 + 0.01 * 8 * np.sin(np.pi / 8),
                                                          rel=1e-3)
