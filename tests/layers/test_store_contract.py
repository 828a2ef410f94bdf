"""The read contract of ``LayerStore``, run against every store the registry can open.

A store that registers itself in ``layers.store`` must get a factory here: the test below
fails for a registered store kind this file does not know, so a new store cannot skip the
contract.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from layers import LayerNotFound, open_store
from layers.store import register_store, store_kinds


def _gpkg(tmp_path):
    return open_store(tmp_path / "contract.gpkg")


FACTORIES = {"gpkg": _gpkg}


@pytest.fixture(params=sorted(FACTORIES))
def store(request, tmp_path):
    return FACTORIES[request.param](tmp_path)


def test_every_registered_store_is_under_contract():
    assert set(store_kinds()) <= set(FACTORIES)


def homes() -> gpd.GeoDataFrame:
    """Welfare homes with missing values in an int and a bool field, in a metric CRS."""
    pts = gpd.GeoSeries([Point(103.70 + 0.01 * i, 29.80 + 0.01 * i) for i in range(6)],
                        crs="EPSG:4490").to_crs("EPSG:4544")
    return gpd.GeoDataFrame({
        "name": [f"敬老院{i}" for i in range(6)],
        "kind": ["township"] * 6,
        "beds": pd.array([10, None, 30, 40, None, 60], dtype="Int64"),
        "occupied_beds": pd.array([5, 6, None, 8, 9, 10], dtype="Int64"),
        "accepts_disabled": pd.array([True, None, False, True, False, None], dtype="boolean"),
        "village_code": ["051142510200"] * 6,
    }, geometry=pts)


def test_read_gives_cgcs2000_and_the_field_types(store):
    store.write("welfare_homes", homes(), source="t", source_crs="EPSG:4544")
    got = store.read("welfare_homes")
    assert got.crs.to_epsg() == 4490
    assert str(got["beds"].dtype) == "Int64" and got["beds"].isna().tolist() == [
        False, True, False, False, True, False]
    assert str(got["accepts_disabled"].dtype) == "boolean"
    assert got["accepts_disabled"].isna().sum() == 2
    assert got["village_code"].tolist() == ["051142510200"] * 6  # leading zero kept
    expected = homes().to_crs("EPSG:4490").geometry
    assert shapely.equals_exact(got.geometry.values, expected.values, tolerance=1e-9).all()


def test_bbox_returns_every_feature_that_intersects(store):
    store.write("welfare_homes", homes(), source="t", source_crs="EPSG:4544")
    full = store.read("welfare_homes")
    bbox = (103.715, 29.815, 103.735, 29.835)
    expected = set(full.loc[full.intersects(shapely.box(*bbox)), "name"])
    assert expected == {"敬老院2", "敬老院3"}
    assert expected <= set(store.read("welfare_homes", bbox=bbox)["name"])


def test_versions_by_number_and_missing_ones(store):
    first = store.write("welfare_homes", homes(), source="a", source_crs="EPSG:4544")
    second = store.write("welfare_homes", homes().head(2), source="b", source_crs="EPSG:4544")
    assert (first.version, second.version) == (1, 2)
    assert len(store.read("welfare_homes")) == 2
    assert len(store.read("welfare_homes", version=1)) == 6
    with pytest.raises(LayerNotFound):
        store.read("welfare_homes", version=3)
    with pytest.raises(LayerNotFound):
        store.read("cemeteries")


def test_a_version_never_shows_how_the_store_keeps_it(store):
    v = store.write("welfare_homes", homes(), source="a", source_crs="EPSG:4544")
    assert "table" not in v.to_dict()
    assert set(v.to_dict()) == {"kind", "version", "created", "source", "source_crs",
                                "features", "current", "user"}


def test_the_api_exposes_no_table_names(tiny_app):
    client = tiny_app.test_client()
    for url in ("/api/layers", "/api/layers/villages/versions"):
        body = client.get(url).get_data(as_text=True)
        assert '"table"' not in body and "villages_v1" not in body, url


def test_the_registry_opens_a_registered_store(tmp_path):
    """``open_store`` dispatches on the URL to whatever registered for it."""
    opened = []

    def opener(url):
        opened.append(url)
        return open_store(tmp_path / "behind.gpkg")

    import layers.store as registry

    before = list(registry._OPENERS)
    try:
        register_store("probe", lambda url: url.startswith("probe://"), opener)
        store = open_store("probe://county")
        assert opened == ["probe://county"] and store.current_versions() == {}
    finally:
        registry._OPENERS[:] = before
    assert "probe" not in store_kinds()


def test_a_version_records_who_wrote_it(store):
    v = store.write("welfare_homes", homes(), source="a", source_crs="EPSG:4544", user="张三")
    assert v.user == "张三" and store.versions("welfare_homes")[0].user == "张三"


def test_accounts_are_kept(store):
    assert store.users() == [] and store.user("张三") is None
    store.save_user({"name": "张三", "role": "planner", "password_hash": "h", "active": True,
                     "created": "2026-11-26T10:00:00+08:00"})
    store.save_user({**store.user("张三"), "role": "admin", "active": False})
    assert store.user("张三")["role"] == "admin" and store.user("张三")["active"] is False
    assert [u["name"] for u in store.users()] == ["张三"]


def test_the_audit_trail_is_append_only(store, tmp_path):
    import sqlite3

    first = store.append_audit({"time": "2026-11-26T10:00:00+08:00", "user": "张三",
                                "action": "import", "layer": "villages", "version_after": 2,
                                "params": {"file": "v.geojson"}, "result": "导入 58 个要素"})
    store.append_audit({"time": "2026-11-27T09:00:00+08:00", "user": "李四",
                        "action": "restore", "layer": "villages", "version_before": 2,
                        "version_after": 3})
    rows = store.audit_rows()
    assert [r["id"] for r in rows] == [first + 1, first]  # newest first
    assert rows[1]["params"] == {"file": "v.geojson"}
    assert [r["user"] for r in store.audit_rows(user="张三")] == ["张三"]
    assert [r["action"] for r in store.audit_rows(since="2026-11-27")] == ["restore"]
    assert [r["action"] for r in store.audit_rows(until="2026-11-26")] == ["import"]
    if hasattr(store, "path"):  # the database itself refuses to change history
        con = sqlite3.connect(store.path)
        for sql in ("UPDATE geoservice_audit SET user = 'x'", "DELETE FROM geoservice_audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
        con.close()
    assert len(store.audit_rows()) == 2


def test_job_records_are_kept(store):
    store.save_job({"id": "j1", "state": "running", "params": {"add": 3},
                    "created": "2026-11-26T10:00:00+08:00"})
    store.save_job({"id": "j1", "state": "done", "params": {"add": 3}, "result": b"xyz",
                    "created": "2026-11-26T10:00:00+08:00"})
    (job,) = store.job_records()
    assert job["state"] == "done" and job["result"] == b"xyz" and job["params"] == {"add": 3}
