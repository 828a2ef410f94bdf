"""/boundaries at province scale when the review is not cached: the page comes at once with
the units drawn in bulk and a progress line, the review runs in a background thread (one per
parameters and versions), /api/boundaries/status says where it is, and once it is done the
page has its findings and lines; a failed review is shown in Chinese. The demo county with
low limits stands in for a province; the review is held on an Event (no sleeps)."""

from __future__ import annotations

import threading

import pytest
from fixtures import make_app

import geoservice.web.boundary_lines as bl

PROVINCE = {"MAP_GEOMETRY_MIN_VERTICES": 1000, "MAP_INLINE_MAX_FEATURES": 50}


@pytest.fixture
def held(monkeypatch):
    """run_boundaries waits on the returned Event before reviewing; counts its calls."""
    gate, calls = threading.Event(), []
    real = bl.run_boundaries

    def slow(store, params, *a, **kw):
        calls.append(params.layer)
        assert gate.wait(60)
        return real(store, params, *a, **kw)

    monkeypatch.setattr(bl, "run_boundaries", slow)
    return gate, calls


def _job(app):
    from geoservice.services.boundaries import boundary_params
    from geoservice.web.common import workspace_store

    with app.app_context():
        return bl.review_job(workspace_store(), boundary_params("villages"), start=False)


def test_pending_page_then_full_page(module_demo_workspace, held):
    gate, calls = held
    app = make_app({"WORKSPACE": str(module_demo_workspace), **PROVINCE})
    c = app.test_client()
    r = c.get("/boundaries?layer=villages")
    html = r.data.decode()
    assert r.status_code == 200
    assert "正在审查界线……（约需 1 秒）" in html
    assert "L.geoserviceBulk(" in html and "/api/layers/villages/geometry" in html
    assert 'id="findings-table"' not in html and "L.geoserviceLines(" not in html
    assert "/api/boundaries/status?layer=villages" in html
    # a second request and the status join the same computation
    assert "正在审查界线" in c.get("/boundaries?layer=villages").data.decode()
    s = c.get("/api/boundaries/status?layer=villages").get_json()
    assert s["state"] == "running" and "正在审查界线" in s["message"]
    gate.set()
    assert _job(app).wait(60)
    assert calls == ["villages"]
    assert c.get("/api/boundaries/status?layer=villages").get_json()["state"] == "done"
    html = c.get("/boundaries?layer=villages").data.decode()
    assert 'id="findings-table"' in html and "L.geoserviceLines(" in html
    assert "正在审查界线" not in html
    assert calls == ["villages"]


def test_failed_review_shown_in_chinese(module_demo_workspace, monkeypatch):
    def broken(store, params, *a, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(bl, "run_boundaries", broken)
    app = make_app({"WORKSPACE": str(module_demo_workspace), **PROVINCE})
    c = app.test_client()
    s = c.get("/api/boundaries/status?layer=villages").get_json()
    assert s["state"] in ("running", "failed")
    assert _job(app).wait(60)
    s = c.get("/api/boundaries/status?layer=villages").get_json()
    assert s == {"state": "failed", "message": s["message"]} and "界线审查失败" in s["message"]
    r = c.get("/boundaries?layer=villages")
    assert r.status_code == 500
    html = r.data.decode()
    assert "界线审查失败：内部错误（RuntimeError）" in html and "L.geoserviceBulk(" in html
    assert 'id="findings-table"' not in html


def test_county_page_unchanged(module_demo_workspace, held):
    gate, calls = held
    gate.set()
    app = make_app({"WORKSPACE": str(module_demo_workspace)})
    html = app.test_client().get("/boundaries?layer=villages").data.decode()
    assert 'id="findings-table"' in html and "正在审查界线" not in html
    assert "L.geoserviceBulk(" not in html and "api/boundaries/status" not in html
