"""The PostGIS store on a real server (tests/pg.py): round trips of the demo county, the
table layout QGIS sees, atomic writes, schema migrations and what a person reads when the
database cannot be used."""

from __future__ import annotations

import secrets
import socket
import threading
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from pg import connect, database_name, database_url, new_database, temporary_database
from shapely.geometry import MultiPolygon, Point, Polygon

from layers import StoreError, open_store
from layers.demo import DEMO_WORKSPACE
from layers.store import postgis
from layers.store.postgis import PostgisStore


@pytest.fixture
def store(pg_url):
    s = open_store(pg_url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def demo():
    """The demo county, read from its committed GeoPackage (opened, never written)."""
    source = open_store(DEMO_WORKSPACE)
    return source, {kind: source.read(kind) for kind in source.current_versions()}


def rows(url: str, query: str, args=()) -> list[tuple]:
    with connect(url) as con:
        return con.execute(query, args).fetchall()


def assert_same_frame(got: gpd.GeoDataFrame, expected: gpd.GeoDataFrame) -> None:
    """Same columns in the same order, same dtypes, same values, same geometry bit for bit."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(expected.drop(columns="geometry")))
    assert got.crs.to_epsg() == 4490
    assert shapely.to_wkb(got.geometry.values).tolist() == \
        shapely.to_wkb(expected.geometry.values).tolist()


def test_open_store_opens_postgis_for_both_url_schemes(pg_url):
    for url in (pg_url, "postgres://" + pg_url.split("://", 1)[1]):
        s = open_store(url)
        assert isinstance(s, PostgisStore) and s.current_versions() == {}
        s.close()


# --- the demo county, there and back ---------------------------------------------------------

def test_every_demo_layer_round_trips_exactly(store, demo):
    source, frames = demo
    assert len(frames) >= 9
    for kind, frame in frames.items():
        v = store.write(kind, frame, source=f"{kind}.gpkg", source_crs="EPSG:4490", user="张三")
        assert (v.version, v.features, v.current) == (1, len(frame), True)
        assert_same_frame(store.read(kind), frame)
    codes = store.read("villages")["code"]
    assert codes.str.len().eq(12).all() and codes.tolist() == frames["villages"]["code"].tolist()


def test_every_demo_version_loads_with_its_record(store, demo):
    source, frames = demo
    for kind in frames:
        for v in source.versions(kind):
            store.load_version(kind, source.read(kind, version=v.version), v)
    assert {k: v.to_dict() for k, v in store.current_versions().items()} == {
        k: v.to_dict() for k, v in source.current_versions().items()}
    for kind, frame in frames.items():
        assert_same_frame(store.read(kind), frame)


def test_bbox_reads_what_meets_the_box_and_nothing_far(store, demo):
    villages = demo[1]["villages"]
    store.write("villages", villages, source="v", source_crs="EPSG:4490")
    minx, miny, maxx, maxy = villages.total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    got = store.read("villages", bbox=box)
    meets = set(villages.loc[villages.intersects(shapely.box(*box)), "code"])
    assert meets and meets <= set(got["code"]) and len(got) < len(villages)
    # a few more are allowed (their bounding box meets it), never one far away
    assert got.geometry.envelope.intersects(shapely.box(*box)).all()


def test_geometries_of_every_shape_round_trip(store):
    square = Polygon([(103.7, 29.8), (103.71, 29.8), (103.71, 29.81), (103.7, 29.8)])
    mixed = gpd.GeoDataFrame(
        {"name": ["面", "多面", "无"], "kind": ["公益性", "经营性", None],
         "capacity_graves": pd.array([1, None, 3], dtype="Int64")},
        geometry=[square, MultiPolygon([square, square.buffer(-0.001)]), None], crs="EPSG:4490")
    store.write("cemeteries", mixed, source="m", source_crs="EPSG:4490")
    got = store.read("cemeteries")
    assert got["name"].tolist() == ["面", "多面", "无"] and got["kind"].isna().tolist() == [
        False, False, True]
    assert got.geometry.iloc[2] is None
    assert shapely.to_wkb(got.geometry.values[:2]).tolist() == \
        shapely.to_wkb(mixed.geometry.values[:2]).tolist()
    z = gpd.GeoDataFrame({"name": ["高"]}, geometry=[Point(103.7, 29.8, 512.5)], crs="EPSG:4490")
    store.write("boundary_markers", z, source="z", source_crs="EPSG:4490")
    assert store.read("boundary_markers").geometry.iloc[0].z == 512.5
    flat_and_z = gpd.GeoDataFrame({"name": ["平", "高"]}, crs="EPSG:4490",
                                  geometry=[Point(103.7, 29.8), Point(103.8, 29.9, 7.0)])
    store.write("boundary_markers", flat_and_z, source="fz", source_crs="EPSG:4490")
    got = store.read("boundary_markers").geometry
    assert (got.iloc[0].has_z, got.iloc[1].has_z, got.iloc[1].z) == (False, True, 7.0)
    empty = gpd.GeoDataFrame({"name": pd.Series([], dtype="str")},
                             geometry=gpd.GeoSeries([], crs="EPSG:4490"))
    v = store.write("candidates", empty, source="e", source_crs="EPSG:4490")
    assert v.features == 0 and list(store.read("candidates").columns) == ["name", "geometry"]
    types = dict(rows(store_url(store), "SELECT f_table_name, type FROM geometry_columns"
                                        " WHERE f_table_schema = 'geoservice'"))
    assert types == {"cemeteries_v1": "GEOMETRY", "boundary_markers_v1": "POINT",
                     "boundary_markers_v2": "GEOMETRY", "candidates_v1": "GEOMETRY"}
    assert rows(store_url(store), "SELECT coord_dimension FROM geometry_columns"
                                  " WHERE f_table_name = 'boundary_markers_v1'") == [(3,)]


def store_url(store) -> str:
    return store._connections._url


def test_connections_the_server_dropped_are_replaced(store, pg_url, monkeypatch):
    store.write("welfare_homes", homes(3), source="a", source_crs="EPSG:4490")
    assert len(store.read("welfare_homes")) == 3  # its connection now waits in the store
    with connect(pg_url) as con:  # an administrator (or a restart) ends every session
        ended = con.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            " AND application_name = 'geoservice'").fetchone()[0]
    assert ended >= 1
    monkeypatch.setattr(postgis, "CHECK_IDLE_S", -1.0)  # as if it had waited long
    assert len(store.read("welfare_homes")) == 3
    assert store.write("welfare_homes", homes(4), source="b", source_crs="EPSG:4490").version == 2


# --- the layout QGIS and ArcGIS see ----------------------------------------------------------

def homes(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [f"敬老院{i}" for i in range(n)],
                             "beds": pd.array(range(n), dtype="Int64")},
                            geometry=[Point(103.7 + 0.01 * i, 29.8) for i in range(n)],
                            crs="EPSG:4490")


def test_layout_tables_per_version_and_a_current_view(store, pg_url):
    store.write("welfare_homes", homes(3), source="a", source_crs="EPSG:4490")
    store.write("welfare_homes", homes(5), source="b", source_crs="EPSG:4490")
    tables = {r[0] for r in rows(pg_url, "SELECT table_name FROM information_schema.tables"
                                         " WHERE table_schema = 'geoservice'")}
    assert tables == {"versions", "info", "users", "audit", "jobs", "secrets", "schema_migrations",
                      "welfare_homes_v1", "welfare_homes_v2"}
    columns = rows(pg_url, "SELECT column_name, data_type FROM information_schema.columns"
                           " WHERE table_schema = 'geoservice' AND table_name = 'welfare_homes_v2'"
                           " ORDER BY ordinal_position")
    assert columns == [("fid", "bigint"), ("name", "text"), ("beds", "bigint"),
                       ("geom", "USER-DEFINED")]
    indexes = [r[0] for r in rows(pg_url, "SELECT indexdef FROM pg_indexes"
                                          " WHERE tablename = 'welfare_homes_v2'")]
    assert any("USING gist (geom)" in d for d in indexes)
    # QGIS lists the view's geometry with its SRID and type
    assert rows(pg_url, "SELECT f_table_name, f_geometry_column, srid, type FROM geometry_columns"
                        " WHERE f_table_schema = 'current'") == [
        ("welfare_homes", "geom", 4490, "POINT")]
    assert rows(pg_url, "SELECT count(*), max(name) FROM current.welfare_homes") == [
        (5, "敬老院4")]
    assert rows(pg_url, "SELECT table_type FROM information_schema.tables"
                        " WHERE table_schema = 'current'") == [("VIEW",)]


def test_a_write_the_database_refuses_changes_nothing(store, pg_url):
    store.write("welfare_homes", homes(3), source="a", source_crs="EPSG:4490")
    before = store.current_versions()
    bad = homes(4).assign(name=["甲", "乙", "丙\x00丁", "戊"])  # PostgreSQL text holds no NUL
    with pytest.raises(StoreError, match="写入图层失败.*工作空间未改变"):
        store.write_many([("cemeteries", homes(2)), ("welfare_homes", bad)], source="b",
                         source_crs="EPSG:4490")
    assert store.current_versions() == before and store.versions("cemeteries") == []
    assert rows(pg_url, "SELECT count(*) FROM current.welfare_homes") == [(3,)]
    assert rows(pg_url, "SELECT to_regclass('geoservice.welfare_homes_v2'),"
                        " to_regclass('geoservice.cemeteries_v1'),"
                        " to_regclass('current.cemeteries')") == [(None, None, None)]
    assert store.write("welfare_homes", homes(4), source="c", source_crs="EPSG:4490").version == 2


def test_a_reader_of_the_view_never_sees_half_a_switch(store, pg_url):
    """QGIS reading ``current.<kind>`` while versions are written: always one whole version."""
    sizes = [3 + i for i in range(6)]
    store.write("welfare_homes", homes(2), source="0", source_crs="EPSG:4490")
    stop, seen, errors = threading.Event(), set(), []

    def qgis():
        with connect(pg_url) as con:
            while not stop.is_set():
                try:
                    n, distinct = con.execute(
                        "SELECT count(*), count(DISTINCT name) FROM current.welfare_homes"
                    ).fetchone()
                    seen.add(n)
                    if n != distinct:
                        errors.append(n)
                except psycopg.Error as exc:
                    errors.append(repr(exc))

    t = threading.Thread(target=qgis)
    t.start()
    try:
        for n in sizes:
            store.write("welfare_homes", homes(n), source=str(n), source_crs="EPSG:4490")
    finally:
        stop.set()
        t.join()
    assert errors == [] and seen and seen <= {2, *sizes}
    assert rows(pg_url, "SELECT count(*) FROM current.welfare_homes") == [(sizes[-1],)]


# --- schema migrations -----------------------------------------------------------------------

def test_migrations_apply_once_and_only_what_is_missing(pg_url, monkeypatch):
    first = open_store(pg_url)
    assert first.applied_migrations == [m[0] for m in postgis.MIGRATIONS]
    recorded = rows(pg_url, "SELECT version, name, applied FROM geoservice.schema_migrations")
    again = open_store(pg_url)
    assert again.applied_migrations == []
    assert rows(pg_url, "SELECT version, name, applied FROM geoservice.schema_migrations") == \
        recorded
    known = postgis.MIGRATIONS[-1][0]
    probe = (known + 1, "probe", "CREATE TABLE geoservice.probe (x integer);"
                                 " INSERT INTO geoservice.probe VALUES (7);")
    monkeypatch.setattr(postgis, "MIGRATIONS", [*postgis.MIGRATIONS, probe])
    upgraded = open_store(pg_url)
    assert upgraded.applied_migrations == [known + 1]
    assert rows(pg_url, "SELECT x FROM geoservice.probe") == [(7,)]
    assert open_store(pg_url).applied_migrations == []
    for s in (first, again, upgraded):
        s.close()


def test_concurrent_first_opens_create_the_schema_once(pg_url):
    opened, errors = [], []

    def open_it():
        try:
            opened.append(open_store(pg_url))
        except Exception as exc:  # any failure is a bug
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(opened) == 6
    assert sorted(m for s in opened for m in s.applied_migrations) == [
        m[0] for m in postgis.MIGRATIONS]
    assert rows(pg_url, "SELECT count(*) FROM geoservice.schema_migrations") == [
        (len(postgis.MIGRATIONS),)]
    for s in opened:
        s.close()


def test_a_schema_newer_than_the_code_is_refused(pg_url):
    open_store(pg_url).close()
    with connect(pg_url) as con:
        con.execute("INSERT INTO geoservice.schema_migrations (version, name)"
                    " VALUES (99, 'from the future')")
    with pytest.raises(StoreError) as exc:
        open_store(pg_url)
    text = str(exc.value)
    assert "第 99 版" in text and "升级本程序" in text and database_name(pg_url) in text


# --- what a person reads when the database cannot be used ------------------------------------

def with_user(url: str, user: str, password: str | None) -> str:
    parts = urlsplit(url)
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return parts._replace(netloc=f"{auth}@{parts.hostname}:{parts.port}").geturl()


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text and "psycopg" not in text
    return text


@contextmanager
def plain_role(pg_server: str):
    """The URL of a role that is not a superuser: the test server's own role when it is not
    one (CI's), else a temporary role with a password, dropped afterwards."""
    with connect(pg_server) as con:
        superuser = con.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                                ).fetchone()[0]
        if not superuser:
            yield pg_server
            return
        name, password = f"h1_plain_{secrets.token_hex(4)}", secrets.token_hex(12)
        con.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD \'{password}\'')
    try:
        yield with_user(pg_server, name, password)
    finally:
        with connect(pg_server) as con:
            con.execute(f'DROP ROLE "{name}"')


def test_connection_refused_names_host_and_port(pg_server):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = with_user(pg_server, "geoservice", "h1-secret-pw").replace(
        f":{urlsplit(pg_server).port}/", f":{port}/")
    with pytest.raises(StoreError) as exc:
        open_store(url)
    text = one_line(exc)
    assert f"127.0.0.1:{port}" in text and "连接被拒绝" in text and "h1-secret-pw" not in text


def test_an_unknown_host_is_named():
    with pytest.raises(StoreError) as exc:
        open_store("postgresql://gis:h1-secret-pw@no-such-host.invalid:5433/county")
    text = one_line(exc)
    assert "no-such-host.invalid:5433" in text and "找不到主机" in text
    assert "h1-secret-pw" not in text


def test_wrong_credentials_name_the_user(pg_server):
    user = f"h1_nobody_{secrets.token_hex(3)}"
    with pytest.raises(StoreError) as exc:
        open_store(with_user(pg_server, user, "h1-wrong-pw"))
    text = one_line(exc)
    assert f"用户“{user}”" in text and "用户名或密码错误" in text and "h1-wrong-pw" not in text


def test_a_missing_database_is_named_with_how_to_create_it(pg_server):
    name = f"h1_missing_{secrets.token_hex(3)}"
    with pytest.raises(StoreError) as exc:
        open_store(database_url(pg_server, name))
    text = one_line(exc)
    assert f"没有数据库“{name}”" in text and f"createdb -O {urlsplit(pg_server).username} {name}" \
        in text and (urlsplit(pg_server).password or "\x00") not in text


def test_postgis_missing_and_not_creatable_says_who_can(pg_server):
    with plain_role(pg_server) as role_url, temporary_database(pg_server, postgis=False) as url:
        name = database_name(url)
        with pytest.raises(StoreError) as exc:
            open_store(database_url(role_url, name))
        text = one_line(exc)
        assert f"数据库“{name}”中没有 PostGIS 扩展" in text and "CREATE EXTENSION postgis;" in text
        assert "超级用户" in text and f"用户“{urlsplit(role_url).username}”" in text
        assert rows(url, "SELECT count(*) FROM pg_extension WHERE extname = 'postgis'") == [(0,)]
        assert rows(url, "SELECT to_regnamespace('geoservice')") == [(None,)]


def test_no_privilege_to_create_the_schema(pg_server):
    with plain_role(pg_server) as role_url:
        url = new_database(pg_server)
        try:
            name, role = database_name(url), urlsplit(role_url).username
            with connect(url) as con:  # the owner may take CREATE from itself, too
                con.execute(f'REVOKE CREATE ON DATABASE "{name}" FROM "{role}"')
            with pytest.raises(StoreError) as exc:
                open_store(database_url(role_url, name))
            text = one_line(exc)
            assert f"用户“{role}”无权在数据库“{name}”中建立" in text
            assert f'GRANT CREATE ON DATABASE "{name}" TO "{role}"' in text
            assert rows(url, "SELECT to_regnamespace('geoservice')") == [(None,)]
            # once someone allowed creates the schema, the plain role works in it
            with connect(url) as con:
                con.execute(f'GRANT CREATE ON DATABASE "{name}" TO "{role}"')
            s = open_store(database_url(role_url, name))
            s.write("welfare_homes", homes(2), source="a", source_crs="EPSG:4490")
            assert len(s.read("welfare_homes")) == 2
            s.close()
        finally:
            from pg import drop_database

            drop_database(url, pg_server)
