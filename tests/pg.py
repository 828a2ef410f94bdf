"""PostgreSQL/PostGIS for the tests: a server, and a fresh PostGIS database per test.

The server is the one named by ``GEOSERVICE_TEST_POSTGRES`` (a ``postgresql://`` URL of a role
that may CREATE DATABASE; ``.ci/run`` sets it to its throwaway cluster), or, when it is unset, a
throwaway cluster this module starts itself with ``.ci/postgres`` (Debian's ``postgresql`` and
``postgresql-<major>-postgis-3`` must be installed) and stops at the end of the session. Without
either the PostgreSQL tests fail with a message saying what to install: they are never skipped.

Fixtures (exposed by ``tests/conftest.py``):

* ``pg_server`` (session): the server URL (its database is a maintenance one: do not write in it);
* ``pg_template`` (session): the name of a database with the ``postgis`` extension, created once,
  that every test database is cloned from (``CREATE DATABASE ... TEMPLATE``: fast);
* ``pg_url`` (function): the URL of a fresh, empty database with PostGIS, dropped afterwards
  (its connections terminated first, so a store left open does not keep it alive).

For session- or module-scoped databases: ``new_database(pg_server)`` and
``drop_database(url)``, or ``with temporary_database(pg_server) as url``. Databases a test forgot
to drop are dropped when the session ends. ``new_database(pg_server, postgis=False)`` gives a
database without the extension (from ``template0``), to test what a store says about that.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote, unquote, urlsplit

import psycopg
import pytest
from psycopg import sql

ENV = "GEOSERVICE_TEST_POSTGRES"
SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "postgres"
PREFIX = "geoservice_test_"
CONNECT_TIMEOUT = 15  # seconds; a server that does not answer fails the test, never hangs it

MISSING = (
    "没有可用的 PostgreSQL/PostGIS 测试服务器：请运行 bash .ci/run（与 CI 相同），"
    "或安装 Debian 软件包 postgresql 和 postgresql-15-postgis-3（主版本与服务器一致），"
    f"或设置环境变量 {ENV}=postgresql://用户:密码@主机:端口/postgres（可建库、可用 PostGIS 的角色）。\n"
    "No PostgreSQL/PostGIS server for the tests: run bash .ci/run (as CI does), "
    "or install Debian's postgresql and postgresql-15-postgis-3 (the server's major version), "
    f"or set {ENV}=postgresql://user:password@host:port/postgres (a role that may create "
    "databases, with PostGIS available)."
)

# server URL -> name of its PostGIS template database (made once per session)
_templates: dict[str, str] = {}
# database URL -> server URL, for every database made here and not dropped yet
_created: dict[str, str] = {}


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def connect(url: str, **kwargs) -> psycopg.Connection:
    """A psycopg connection to ``url`` (autocommit, as CREATE/DROP DATABASE need)."""
    kwargs.setdefault("autocommit", True)
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
    return psycopg.connect(url, **kwargs)


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name`` (same role, host and options)."""
    parts = urlsplit(server_url)
    return parts._replace(path="/" + quote(name, safe="")).geturl()


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


def _check_url(url: str) -> None:
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        _fail(f"{ENV} 应为 postgresql://用户:密码@主机:端口/数据库：{url!r}\n"
              f"{ENV} must be a postgresql://user:password@host:port/dbname URL: {url!r}")


def _unique_name(kind: str = "") -> str:
    return f"{PREFIX}{kind}{os.getpid()}_{secrets.token_hex(4)}"


def postgis_template(server_url: str) -> str:
    """The name of a database on ``server_url`` with the ``postgis`` extension, made on first
    use and kept for the session (nobody connects to it, so it can be cloned)."""
    if server_url in _templates:
        return _templates[server_url]
    name = _unique_name("tpl_")
    with connect(server_url) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        # IF NOT EXISTS: a server whose template1 has PostGIS (the .ci/postgres cluster) needs
        # no privilege here; elsewhere the role must be allowed to create the extension
        with connect(database_url(server_url, name)) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        _drop(server_url, name)
        _fail(f"测试服务器上无法建立 PostGIS 扩展（需要超级用户，或由管理员在 template1 中先建立）：{exc}\n"
              f"Cannot create the postgis extension on the test server (needs a superuser, or "
              f"an administrator creating it in template1 first): {exc}")
    _templates[server_url] = name
    return name


def new_database(server_url: str, name: str | None = None, *, postgis: bool = True,
                 template: str | None = None) -> str:
    """Create an empty database on ``server_url`` and return its URL.

    With ``postgis`` (the default) it is a clone of the session's PostGIS template; without,
    a clone of ``template0`` (no extension at all); ``template``: a clone of that database
    instead (its URL or name; nobody may be connected to it). Drop it with
    :func:`drop_database`; the session drops what is left.
    """
    if template is not None:
        template = database_name(template) if "://" in template else template
    else:
        template = postgis_template(server_url) if postgis else "template0"
    name = name or _unique_name()
    with connect(server_url) as con:
        con.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))
    url = database_url(server_url, name)
    _created[url] = server_url
    return url


def _drop(server_url: str, name: str, deadline_s: float = 30.0) -> None:
    # WITH (FORCE) terminates the database's connections first (a store or pool left open
    # in the test), then drops it. A server process of another role on the database (an
    # autovacuum worker on a server whose autovacuum is on) cannot be terminated by the test
    # role: try again until it has left, up to ``deadline_s``.
    import time

    end = time.monotonic() + deadline_s
    while True:
        try:
            with connect(server_url) as con:
                con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def drop_database(url: str, server_url: str | None = None) -> None:
    """Drop the database at ``url`` (made by :func:`new_database`), closing its connections."""
    server = server_url or _created.get(url) or database_url(url, "postgres")
    _drop(server, database_name(url))
    _created.pop(url, None)


@contextmanager
def temporary_database(server_url: str, *, postgis: bool = True) -> Iterator[str]:
    """A new database's URL for the ``with`` block, dropped at its end (what ``pg_url`` is)."""
    url = new_database(server_url, postgis=postgis)
    try:
        yield url
    finally:
        drop_database(url, server_url)


def copy_store(source, target) -> None:
    """Everything ``source`` (a LayerStore) holds written into the empty ``target`` as it is:
    info, every version with its number and record, users, audit rows with their ids, jobs;
    no audit row of its own (a test workspace on PostGIS equal to its GeoPackage original)."""
    from layers.schema import KINDS

    info = source.info()
    if info:
        target.set_info(**info)
    for kind in KINDS:
        for meta in source.versions(kind):
            target.load_version(kind, source.read(kind, version=meta.version), meta)
    for record in source.users():
        target.save_user(record)
    rows = sorted(source.audit_rows(), key=lambda r: r["id"])
    if rows:
        target.load_audit(rows)
    for record in source.job_records():
        target.save_job(record)


def cleanup(server_url: str) -> None:
    """Drop every database made on ``server_url`` this session, templates last."""
    for url, server in list(_created.items()):
        if server == server_url:
            drop_database(url, server_url)
    template = _templates.pop(server_url, None)
    if template is not None:
        _drop(server_url, template)


def start_cluster(folder: Path) -> str:
    """Start a throwaway cluster in ``folder`` with ``.ci/postgres``; return its URL."""
    env = dict(os.environ, PYTHON=sys.executable)
    try:
        r = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True,
                           text=True, env=env, timeout=300)
    except FileNotFoundError:  # no bash (Windows without Git Bash)
        _fail(MISSING)
    if r.returncode == 3:  # not installed: the script's own words only when they say more
        detail = "" if "not found" in r.stderr else "\n" + r.stderr.strip()
        _fail(MISSING + detail)
    if r.returncode != 0 or not r.stdout.strip():
        _fail(f"无法启动临时 PostgreSQL（.ci/postgres start）/ "
              f"starting a throwaway PostgreSQL failed:\n{r.stderr.strip()}")
    return r.stdout.strip().splitlines()[-1]


def stop_cluster(folder: Path) -> None:
    subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=300)


def _check_server(url: str) -> None:
    try:
        with connect(url) as con:
            con.execute("SELECT 1")
    except psycopg.Error as exc:
        _fail(f"无法连接测试用 PostgreSQL 服务器（{ENV} 或临时集群）：{exc}\n"
              f"Cannot connect to the test PostgreSQL server ({ENV} or the throwaway "
              f"cluster): {exc}")


def _cluster_folder() -> Path:
    # under /tmp (when there is one): the unprivileged server user must reach it, and its
    # socket path must be short; pytest's own temporary folders are neither
    base = "/tmp" if os.path.isdir("/tmp") else None
    return Path(tempfile.mkdtemp(prefix="geoservice-pg.", dir=base))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The test PostgreSQL server's URL: ``GEOSERVICE_TEST_POSTGRES``, or a throwaway cluster."""
    url = os.environ.get(ENV, "").strip()
    folder = None
    if url:
        _check_url(url)
    else:
        if not SCRIPT.is_file():
            _fail(MISSING)
        folder = _cluster_folder()
        try:
            url = start_cluster(folder)
        except BaseException:
            stop_cluster(folder)
            shutil.rmtree(folder, ignore_errors=True)
            raise
    try:
        _check_server(url)
        yield url
    finally:
        try:
            if folder is None:
                cleanup(url)
            else:  # the whole cluster goes
                _templates.pop(url, None)
                for db in [u for u, s in _created.items() if s == url]:
                    _created.pop(db)
        finally:
            if folder is not None:
                stop_cluster(folder)
                shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server) -> str:
    """The session's PostGIS template database (on ``pg_server``)."""
    return postgis_template(pg_server)


@pytest.fixture
def pg_url(pg_server, pg_template) -> Iterator[str]:
    """A fresh, empty PostGIS database for one test, dropped afterwards."""
    with temporary_database(pg_server) as url:
        yield url
