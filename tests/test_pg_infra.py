"""The PostgreSQL test infrastructure works: tests/pg.py's fixtures and .ci/postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from pg import (
    ENV,
    PREFIX,
    SCRIPT,
    connect,
    database_name,
    database_url,
    drop_database,
    new_database,
    start_cluster,
    stop_cluster,
    temporary_database,
)

TESTS = Path(__file__).resolve().parent

# Relations of a database that no extension owns (PostGIS's spatial_ref_sys is the extension's)
USER_RELATIONS = """
    SELECT n.nspname || '.' || c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
    ORDER BY 1
"""


def database_exists(server_url: str, name: str) -> bool:
    with connect(server_url) as con:
        return con.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()[0] == 1


def user_relations(url: str) -> list[str]:
    with connect(url) as con:
        return [r[0] for r in con.execute(USER_RELATIONS)]


def test_pg_url_has_postgis(pg_url):
    with connect(pg_url) as con:
        version = con.execute("SELECT postgis_version()").fetchone()[0]
        assert version.split()[0].startswith("3.")
        # geometry works in CGCS2000, the stores' SRID
        srid, = con.execute(
            "SELECT ST_SRID(ST_SetSRID(ST_MakePoint(103.7, 29.8), 4490))").fetchone()
        assert srid == 4490
        assert con.execute("SELECT count(*) FROM spatial_ref_sys WHERE srid = 4490"
                           ).fetchone()[0] == 1


@pytest.mark.parametrize("run", [1, 2])
def test_each_pg_url_starts_empty(pg_url, run):
    """Run twice: if databases were reused or not dropped, the second run sees the first's."""
    assert database_name(pg_url).startswith(PREFIX)
    assert user_relations(pg_url) == []
    with connect(pg_url) as con:
        con.execute("CREATE SCHEMA geoservice")
        con.execute("CREATE TABLE geoservice.marker (run int)")
        con.execute("INSERT INTO geoservice.marker VALUES (%s)", (run,))
    assert user_relations(pg_url) == ["geoservice.marker"]


def test_two_databases_are_distinct(pg_server, pg_url):
    with connect(pg_url) as con:
        con.execute("CREATE TABLE only_in_first (x int)")
    other = new_database(pg_server)
    try:
        assert database_name(other) != database_name(pg_url)
        assert urlsplit(other).netloc == urlsplit(pg_url).netloc  # same server and role
        assert user_relations(other) == []
        assert user_relations(pg_url) == ["public.only_in_first"]
        with connect(other) as con:
            assert con.execute("SELECT current_database()").fetchone()[0] == database_name(other)
            con.execute("SELECT postgis_version()")
    finally:
        drop_database(other)
    assert not database_exists(pg_server, database_name(other))


def test_a_dropped_database_is_gone_even_with_connections_open(pg_server):
    with temporary_database(pg_server) as url:
        name = database_name(url)
        assert database_exists(pg_server, name)
        left_open = psycopg.connect(url)  # e.g. a store the test did not close
        left_open.execute("CREATE TABLE t (x int)")
    try:
        assert not database_exists(pg_server, name)
        with pytest.raises(psycopg.OperationalError, match="does not exist"):
            connect(url)
        with pytest.raises(psycopg.OperationalError):  # its connection was terminated
            left_open.execute("SELECT 1")
    finally:
        left_open.close()


def test_database_without_postgis(pg_server):
    with temporary_database(pg_server, postgis=False) as url, connect(url) as con:
        assert con.execute("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'"
                           ).fetchone()[0] == 0
        with pytest.raises(psycopg.errors.UndefinedFunction):
            con.execute("SELECT postgis_version()")


def test_pg_url_fixture_drops_its_database_after_the_test(pg_server, tmp_path):
    """A real pytest session using pg_url (leaving a connection open) against pg_server: the
    database is gone once that test is over."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from pg import pg_server, pg_template, pg_url  # noqa: F401
    """), encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent("""
        import psycopg
        from pg import database_name

        kept = []

        def test_uses_a_database(pg_url):
            con = psycopg.connect(pg_url)
            con.execute("CREATE TABLE t (x int)")
            kept.append(con)  # still open at teardown
            with open("name.txt", "w", encoding="utf-8") as f:
                f.write(database_name(pg_url))
    """), encoding="utf-8")
    env = dict(os.environ, **{ENV: pg_server})
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--rootdir", str(tmp_path), "test_inner.py"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    name = (tmp_path / "name.txt").read_text(encoding="utf-8")
    assert name.startswith(PREFIX)
    assert not database_exists(pg_server, name)


@pytest.mark.slow
def test_ci_postgres_script_starts_and_stops_a_private_cluster():
    """What .ci/run relies on: a cluster on 127.0.0.1 with a CREATEDB role (no superuser) that
    must give its password over TCP, PostGIS in the databases it creates; stop ends it."""
    folder = Path(tempfile.mkdtemp(prefix="geoservice-pg.", dir="/tmp"))
    try:
        url = start_cluster(folder)
        parts = urlsplit(url)
        assert parts.scheme == "postgresql" and parts.hostname == "127.0.0.1"
        assert parts.username == "geoservice_ci" and parts.password
        assert database_name(url) == "postgres"
        assert (folder / f".s.PGSQL.{parts.port}").exists()  # its socket is in the folder
        with connect(url) as con:
            superuser, createdb = con.execute(
                "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert (superuser, createdb) == (False, True)
            assert con.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        wrong = parts._replace(netloc=f"geoservice_ci:wrong@127.0.0.1:{parts.port}").geturl()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(wrong)
        with connect(url) as con:  # a plain CREATE DATABASE by the role has PostGIS
            con.execute("CREATE DATABASE plain")
        with connect(database_url(url, "plain")) as con:
            assert con.execute("SELECT postgis_version()").fetchone()[0].startswith("3.")
    finally:
        stop_cluster(folder)
    try:
        with pytest.raises(psycopg.OperationalError):
            connect(url)
        assert not (folder / "data" / "postmaster.pid").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_script_is_the_one_ci_runs():
    ci = (SCRIPT.parent / "run").read_text(encoding="utf-8")
    assert ".ci/postgres" in ci and ENV in ci
