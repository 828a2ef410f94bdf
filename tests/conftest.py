"""Shared fixtures: real workspaces (tiny and demo county), the app, a live server."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import LiveServer, build_tiny_workspace, make_app  # noqa: E402
from pg import pg_server, pg_template, pg_url  # noqa: E402, F401  (PostgreSQL: tests/pg.py)

from geoservice.config import DEMO_WORKSPACE  # noqa: E402


@pytest.fixture(scope="session")
def county():
    """The second county (竹山县, tests/second_county.py), built once: tests must not change
    its frames (the defect injectors return new ones)."""
    import second_county

    return second_county.build()


@pytest.fixture(scope="session")
def county_workspace_master(county, tmp_path_factory) -> Path:
    """The second county imported through the real import path, once per session."""
    import second_county

    return second_county.build_workspace(county, tmp_path_factory.mktemp("zhushan"))


@pytest.fixture
def county_workspace(county_workspace_master, tmp_path) -> Path:
    """A private copy of the second county's workspace: tests may change it."""
    path = tmp_path / "zhushan.gpkg"
    shutil.copyfile(county_workspace_master, path)
    return path


# --- which store the workspaces are on ------------------------------------------------------
# ``store_kind`` is "gpkg" here; tests/web/conftest.py makes it ("gpkg", "postgis") so that the
# web and API tests run on both stores. A PostGIS workspace is a database cloned from a master
# database holding the same content as the GeoPackage one (made once per session).

@pytest.fixture(scope="module")
def store_kind() -> str:
    return "gpkg"


_PG_MASTERS: dict[str, str] = {}  # GeoPackage master path -> its PostGIS master database URL


def _pg_copy(request, gpkg: Path) -> str:
    """A new PostGIS database holding what the GeoPackage ``gpkg`` holds, dropped when the
    requesting fixture's scope ends; its URL."""
    import pg

    from layers.store import open_store

    server = request.getfixturevalue("pg_server")
    master = _PG_MASTERS.get(str(gpkg))
    if master is None:
        master = pg.new_database(server)
        target = open_store(master)
        pg.copy_store(open_store(gpkg), target)
        target.close()  # nobody may be connected to a database being cloned
        _PG_MASTERS[str(gpkg)] = master
    url = pg.new_database(server, template=master)
    request.addfinalizer(lambda: pg.drop_database(url, server))
    return url


def _workspace(request, store_kind: str, master: Path, folder: Path, name: str) -> Path | str:
    if store_kind == "postgis":
        return _pg_copy(request, master)
    path = folder / name
    shutil.copyfile(master, path)
    return path


@pytest.fixture(scope="session")
def tiny_workspace_master(tmp_path_factory) -> Path:
    return build_tiny_workspace(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_workspace(request, store_kind, tiny_workspace_master, tmp_path) -> Path | str:
    """A private copy of the tiny workspace: tests may change it (a GeoPackage path, or a
    PostGIS URL when ``store_kind`` is "postgis")."""
    return _workspace(request, store_kind, tiny_workspace_master, tmp_path, "tiny.gpkg")


@pytest.fixture
def demo_workspace(request, store_kind, tmp_path) -> Path | str:
    """A private copy of the committed demo county workspace (path or PostGIS URL)."""
    return _workspace(request, store_kind, DEMO_WORKSPACE, tmp_path, "qingshen.gpkg")


@pytest.fixture(scope="module")
def module_demo_workspace(request, store_kind, tmp_path_factory) -> Path | str:
    """A copy of the demo county shared by the tests of one module (read-mostly modules
    that build their app once)."""
    return _workspace(request, store_kind, DEMO_WORKSPACE, tmp_path_factory.mktemp("demo"),
                      "qingshen.gpkg")


@pytest.fixture
def demo_app(demo_workspace):
    """The app on the demo county; its test clients act as an admin account (API token):
    ``app.test_client(token=None)`` is anonymous, ``token=`` another account."""
    return make_app({"WORKSPACE": str(demo_workspace)})


@pytest.fixture
def tiny_app(tiny_workspace):
    """The app on the tiny county (ANONYMOUS_READ off by default: not a demo workspace);
    its test clients act as an admin account, like ``demo_app``'s."""
    return make_app({"WORKSPACE": str(tiny_workspace)})


@pytest.fixture
def demo_server(demo_app):
    with LiveServer(demo_app) as server:
        yield server
