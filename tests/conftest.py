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


@pytest.fixture(scope="session")
def tiny_workspace_master(tmp_path_factory) -> Path:
    return build_tiny_workspace(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_workspace(tiny_workspace_master, tmp_path) -> Path:
    """A private copy of the tiny workspace: tests may change it."""
    path = tmp_path / "tiny.gpkg"
    shutil.copyfile(tiny_workspace_master, path)
    return path


@pytest.fixture
def demo_workspace(tmp_path) -> Path:
    """A private copy of the committed demo county workspace."""
    path = tmp_path / "qingshen.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    return path


@pytest.fixture(scope="module")
def module_demo_workspace(tmp_path_factory) -> Path:
    """A copy of the demo county shared by the tests of one module (read-mostly modules
    that build their app once)."""
    path = tmp_path_factory.mktemp("demo") / "qingshen.gpkg"
    shutil.copyfile(DEMO_WORKSPACE, path)
    return path


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
