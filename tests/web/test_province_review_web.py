"""/boundaries and /placenames at province scale: the units and villages drawn from the
geometry endpoint (maps/bulk.py), the boundary lines and polygonal findings from
/api/boundaries/lines.geo and /findings.geo (geoservice/web/boundary_lines.py, maps/lines.py),
the tables capped; at county scale the pages are as before. The demo county with low
limits stands in for a province (tests/browser/test_province_review_pages.py draws a
generated 3,000-village workspace in Chromium)."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pytest
import shapely
from fixtures import make_app

from geoservice.services.boundaries import boundary_params, run_boundaries
from layers import open_store

# The demo county's villages (about 5,600 vertices) and their lines count as heavy.
PROVINCE = {"MAP_GEOMETRY_MIN_VERTICES": 1000, "MAP_INLINE_MAX_FEATURES": 50}


@pytest.fixture(scope="module")
def app(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace), **PROVINCE})


@pytest.fixture(scope="module")
def county_app(module_demo_workspace):
    return make_app({"WORKSPACE": str(module_demo_workspace)})


@pytest.fixture(scope="module")
def review(module_demo_workspace):
    return run_boundaries(open_store(module_demo_workspace), boundary_params("villages"))


def decode_lines(body: dict) -> list:
    ox, oy = body["origin"]
    step = body["scale"]
    out = []
    for parts in body["lines"]:
        lines = []
        for flat in parts:
            q = np.cumsum(np.asarray(flat, dtype=np.int64).reshape(-1, 2), axis=0)
            lines.append(shapely.LineString(np.column_stack([ox + q[:, 0] * step,
                                                             oy + q[:, 1] * step])))
        out.append(shapely.MultiLineString(lines) if len(lines) > 1 else lines[0])
    return out


def test_boundaries_page_draws_units_and_lines_from_the_api(app, review):
    html = app.test_client().get("/boundaries?layer=villages").data.decode()
    assert "L.geoserviceBulk(" in html and "L.geoserviceLines(" in html
    assert "/assets/geoservice/lines.js" in html and "/api/layers/villages/geometry" in html
    assert "/api/boundaries/lines.geo?layer=villages" in html
    assert not re.search(r'className.{0,4}gs-line-label-icon', html)  # no inline labels
    n = len(review.boundary_lines)
    assert f"界线（{n}" in html
    rows = re.search(r'<table class="gs-table" id="lines-table">(.*?)</table>', html, re.S)
    assert rows.group(1).count("<tr>") - 1 == min(n, 500)  # (the header row)


def test_lines_endpoint_every_line_simplified(app, review):
    c = app.test_client()
    lines = review.boundary_lines
    for zoom in (8, 16):
        r = c.get(f"/api/boundaries/lines.geo?layer=villages&zoom={zoom}")
        assert r.status_code == 200 and r.mimetype == "application/json"
        body = json.loads(r.data)
        assert body["total"] == body["numberMatched"] == len(lines)
        assert body["ids"] == list(range(len(lines)))
        assert [round(k, 3) for k in lines["length_km"]] == body["km"]
        assert set(body["kind"]) <= {"outer", "shared", "township"}
        assert len(body["mids"]) == len(body["label"]) == len(lines)
        drawn = decode_lines(body)
        tol = 360.0 / (256 * 2 ** body["zoom"]) * 2
        stored = lines.to_crs(4490).geometry.values
        for i in range(0, len(lines), max(1, len(lines) // 40)):
            assert drawn[i].hausdorff_distance(stored[i]) <= tol, i
    # a view: only the lines meeting the box
    b = lines.to_crs(4490).total_bounds
    box = [b[0], b[1], (b[0] + b[2]) / 2, (b[1] + b[3]) / 2]
    r = c.get("/api/boundaries/lines.geo?layer=villages&zoom=14&bbox="
              + ",".join(f"{v:.6f}" for v in box))
    body = json.loads(r.data)
    hits = shapely.intersects(lines.to_crs(4490).envelope.values, shapely.box(*box))
    assert 0 < len(body["ids"]) < len(lines)
    assert sorted(body["ids"]) == np.flatnonzero(hits).tolist()
    gz = c.get("/api/boundaries/lines.geo?layer=villages&zoom=8",
               headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(gz.data))["total"] == len(lines)


def test_lines_endpoint_bad_parameters_in_chinese(app):
    c = app.test_client()
    r = c.get("/api/boundaries/lines.geo?layer=villages&zoom=abc")
    assert r.status_code == 400 and "zoom" in r.get_json()["error"]
    r = c.get("/api/boundaries/lines.geo?layer=rivers")
    assert r.status_code == 400 and "审查图层" in r.get_json()["error"]


def test_findings_endpoint_outlines_of_polygonal_findings(app, review):
    body = json.loads(app.test_client().get(
        "/api/boundaries/findings.geo?layer=villages&zoom=12").data)
    kinds = shapely.get_type_id(np.asarray(review.findings.geometry.values, dtype=object))
    polygonal = np.flatnonzero((kinds == 3) | (kinds == 6)).tolist()
    assert body["fid"] == polygonal and body["total"] == len(polygonal)
    assert set(body["kind"]) <= {"error", "warning", "info"}


def test_placenames_page_draws_villages_from_the_api(app, module_demo_workspace):
    html = app.test_client().get("/placenames").data.decode()
    assert "L.geoserviceBulk(" in html and "/api/layers/villages/geometry" in html
    villages = open_store(module_demo_workspace).read("villages")
    opts = json.loads(re.search(r"L\.geoserviceBulk\((\{.*?\})\);", html, re.S).group(1))
    assert opts["total"] == len(villages) and opts["kind"] == "villages"
    assert opts["join"]["fields"] == ["_pi"]
    assert {row[0] for row in opts["join"]["rows"]} <= set(villages["code"])
    # every village is in the endpoint's answer (all drawn, joined by code)
    body = json.loads(app.test_client().get(opts["url"] + "&zoom=8&props=name,code").data)
    assert sorted(body["properties"]["code"]) == sorted(villages["code"])


def test_county_pages_unchanged(county_app):
    c = county_app.test_client()
    html = c.get("/boundaries?layer=villages").data.decode()
    assert "L.geoserviceLines(" not in html
    assert re.search(r'className.{0,4}gs-line-label-icon', html)
    html = c.get("/placenames").data.decode()
    assert "L.geoserviceBulk(" not in html

