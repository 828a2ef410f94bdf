"""The read contract of ``LayerStore``, run against every store the registry can open.

A store that registers itself in ``layers.store`` must get a factory here: the test below
fails for a registered store kind this file does not know, so a new store cannot skip the
contract.
"""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from shapely.geometry import Point

from layers import LayerNotFound, StoreError, open_store
from layers.store import LayerVersion, register_store, store_kinds


def _gpkg(request, tmp_path):
    return open_store(tmp_path / "contract.gpkg")


def _postgis(request, tmp_path):
    """A PostGIS store in a fresh database (``pg_url``: tests/pg.py)."""
    store = open_store(request.getfixturevalue("pg_url"))
    request.addfinalizer(store.close)
    return store


FACTORIES = {"gpkg": _gpkg, "postgis": _postgis}


@pytest.fixture(params=sorted(FACTORIES))
def store(request, tmp_path):
    return FACTORIES[request.param](request, tmp_path)


def refuses_to_change_audit_rows(store) -> None:
    """The database itself (not only the store's API) refuses to change history."""
    if hasattr(store, "path"):  # GeoPackage
        con = sqlite3.connect(store.path)
        for sql in ("UPDATE geoservice_audit SET user = 'x'", "DELETE FROM geoservice_audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
        con.close()
        return
    from pg import connect  # PostGIS: a connection of its own, as another client would

    with connect(store._connections._url) as con:
        for sql in ('UPDATE geoservice.audit SET "user" = \'x\'', "DELETE FROM geoservice.audit",
                    "TRUNCATE geoservice.audit"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                con.execute(sql)


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
    refuses_to_change_audit_rows(store)
    assert len(store.audit_rows()) == 2


def test_job_records_are_kept(store):
    store.save_job({"id": "j1", "state": "running", "params": {"add": 3},
                    "created": "2026-11-26T10:00:00+08:00"})
    store.save_job({"id": "j1", "state": "done", "params": {"add": 3}, "result": b"xyz",
                    "created": "2026-11-26T10:00:00+08:00"})
    (job,) = store.job_records()
    assert job["state"] == "done" and job["result"] == b"xyz" and job["params"] == {"add": 3}


def test_audit_filters_and_their_order(store):
    rows = [("2026-11-26T10:00:00+08:00", "张三", "import", "villages"),
            ("2026-11-26T23:59:59+08:00", "李四", "restore", "welfare_homes"),
            ("2026-11-27T00:00:00+08:00", "张三", "accept", "welfare_homes"),
            ("2026-11-28T08:00:00+08:00", "王五", "import", None)]
    ids = [store.append_audit({"time": t, "user": u, "action": a, "layer": la})
           for t, u, a, la in rows]
    assert ids == sorted(ids) and len(set(ids)) == 4

    def actions(**filters):
        return [r["action"] for r in store.audit_rows(**filters)]

    assert actions() == ["import", "accept", "restore", "import"]
    assert actions(action="import") == ["import", "import"]
    assert actions(layer="welfare_homes") == ["accept", "restore"]
    assert actions(since="2026-11-26", until="2026-11-26") == ["restore", "import"]
    assert actions(until="2026-11-27T00:00:00+08:00") == ["accept", "restore", "import"]
    assert actions(users=["王五"], layers=["villages"]) == ["import", "import"]
    assert actions(users=[], layers=[]) == []
    assert actions(users=["张三"], action="accept") == ["accept"]


def test_info_is_kept(store):
    store.set_info(county="青神县", code="511425")
    store.set_info(county="竹山县")
    assert store.info() == {"county": "竹山县", "code": "511425"}


def test_write_many_is_all_or_nothing(store):
    first = store.write("welfare_homes", homes(), source="a", source_crs="EPSG:4544")
    no_crs = homes().set_crs(None, allow_override=True)  # cannot be put in EPSG:4490
    with pytest.raises(StoreError, match="工作空间未改变"):
        store.write_many([("welfare_homes", homes().head(1)), ("cemeteries", no_crs)],
                         source="b", source_crs="EPSG:4544")
    assert store.current_versions() == {"welfare_homes": first}
    assert store.versions("cemeteries") == [] and len(store.read("welfare_homes")) == 6
    both = store.write_many([("cemeteries", homes().head(3)), ("welfare_homes", homes().head(1))],
                            source="c", source_crs="EPSG:4544", user="张三")
    assert [(v.kind, v.version, v.features) for v in both] == [
        ("cemeteries", 1, 3), ("welfare_homes", 2, 1)]
    assert {k: v.version for k, v in store.current_versions().items()} == {
        "cemeteries": 1, "welfare_homes": 2}
    with pytest.raises(StoreError, match="重复"):
        store.write_many([("cemeteries", homes()), ("cemeteries", homes())], source="d",
                         source_crs="EPSG:4544")


def test_extra_columns_of_the_file_are_kept(store):
    long_name = "备注" * 30  # longer than a PostgreSQL identifier (63 bytes)
    gdf = homes().assign(**{"联系电话": ["028-0012"] * 6, long_name: ["甲"] * 6,
                            "score": [1.5, None, 2.25, 3.0, None, 0.1],
                            "rooms": pd.array([1, 2, 3, 4, 5, 6], dtype="int64")})
    store.write("welfare_homes", gdf, source="a", source_crs="EPSG:4544")
    got = store.read("welfare_homes")
    assert list(got.columns) == [c for c in gdf.columns if c != "geometry"] + ["geometry"]
    assert got["联系电话"].tolist() == ["028-0012"] * 6 and got[long_name].tolist() == ["甲"] * 6
    assert got["score"].isna().tolist() == [False, True, False, False, True, False]
    assert got["score"].dropna().tolist() == [1.5, 2.25, 3.0, 0.1]
    assert got["rooms"].tolist() == [1, 2, 3, 4, 5, 6]


def test_a_version_loaded_keeps_its_number_and_record(store):
    old = LayerVersion("welfare_homes", 3, "2025-01-02T03:04:05+08:00", "old.xlsx",
                       "EPSG:4545", 999, False, user="李四")
    now = LayerVersion("welfare_homes", 7, "2026-02-03T04:05:06+08:00", "new.geojson",
                       "EPSG:4490", 999, True, user="张三")
    store.load_version("welfare_homes", homes(), now)
    store.load_version("welfare_homes", homes().head(2), old)  # older, not current
    got = store.versions("welfare_homes")
    assert [v.to_dict() for v in got] == [
        {**old.to_dict(), "features": 2}, {**now.to_dict(), "features": 6}]
    assert store.current_versions()["welfare_homes"].version == 7
    assert len(store.read("welfare_homes")) == 6 and len(store.read("welfare_homes", version=3)) == 2
    with pytest.raises(StoreError, match="第 3 版"):
        store.load_version("welfare_homes", homes(), old)
    assert [v.version for v in store.versions("welfare_homes")] == [3, 7]
    # the next import numbers after the highest version loaded
    assert store.write("welfare_homes", homes(), source="x", source_crs="EPSG:4544").version == 8


def test_audit_rows_loaded_keep_id_and_time(store):
    rows = [{"id": 5, "time": "2025-01-01T09:00:00+08:00", "user": "张三", "address": "10.0.0.1",
             "action": "import", "layer": "villages", "version_before": None,
             "version_after": 1, "params": {"file": "村.geojson"}, "result": "导入 58 个要素"},
            {"id": 9, "time": "2025-01-02T09:00:00+08:00", "user": "李四", "address": None,
             "action": "restore", "layer": "villages", "version_before": 1,
             "version_after": 2, "params": {}, "result": None}]
    store.load_audit(rows)
    assert store.audit_rows() == rows[::-1]
    with pytest.raises(StoreError, match="编号为 9"):
        store.load_audit([{**rows[0], "id": 10}, rows[1]])
    assert [r["id"] for r in store.audit_rows()] == [9, 5]  # all or nothing
    assert store.append_audit({"time": "2026-01-01T00:00:00+08:00", "user": "王五",
                               "action": "x"}) == 10
    refuses_to_change_audit_rows(store)


def test_one_job_record_reads_as_in_the_list(store):
    """``job_record(id)`` gives what ``job_records()`` lists for that id; None for no job."""
    for n, state in enumerate(("done", "running")):
        store.save_job({"id": f"j{n}", "owner": "甲", "label": "选址", "state": state,
                        "progress": 0.5 * n, "message": "", "error": None,
                        "params": {"k": n}, "created": f"2026-11-26T10:0{n}:00",
                        "started": None, "finished": None,
                        "result": b"\x00\x01" if state == "done" else None})
    listed = {r["id"]: r for r in store.job_records()}
    assert store.job_record("j0") == listed["j0"] and store.job_record("j1") == listed["j1"]
    assert store.job_record("j0")["result"] == b"\x00\x01"
    assert store.job_record("nope") is None


def test_a_finished_job_record_is_never_set_back_to_unfinished(store):
    """A cancel written by one server process stays, whatever another process's heartbeat
    of the same job writes after it; finished states may still follow each other."""
    base = {"id": "j", "owner": "甲", "label": "选址", "progress": 0.2, "message": "",
            "error": None, "params": {}, "created": "2026-11-26T10:00:00", "started": None,
            "finished": None, "result": None}
    store.save_job({**base, "state": "running"})
    store.save_job({**base, "state": "running", "progress": 0.4})
    assert store.job_record("j")["progress"] == 0.4  # an unfinished record is updated
    store.save_job({**base, "state": "cancelled", "message": "已取消"})
    store.save_job({**base, "state": "running", "progress": 0.9})  # a late heartbeat
    kept = store.job_record("j")
    assert (kept["state"], kept["message"], kept["progress"]) == ("cancelled", "已取消", 0.2)
    store.save_job({**base, "state": "interrupted"})  # finished to finished: written
    assert store.job_record("j")["state"] == "interrupted"
