"""A PostgreSQL workspace that cannot be opened stops `python run.py` and every CLI command
with one Chinese line and exit code 1, never a traceback: the server down (a closed port),
a database that does not exist, a login the server refuses. Run as child processes, as
staff start them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from fixtures import ROOT, run_cli
from pg import database_url

from geoservice import create_app
from geoservice.config import DEMO_WORKSPACE
from layers import StoreError


def closed_port() -> int:
    """A local TCP port nobody listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workspaces(server: str) -> dict[str, tuple[str, str]]:
    """name -> (workspace URL, words its message must hold)."""
    parts = urlsplit(server)
    port = closed_port()
    return {
        "server down": (f"postgresql://geoservice@127.0.0.1:{port}/geoservice",
                        f"无法连接 PostgreSQL 服务器 127.0.0.1:{port}"),
        "no such database": (database_url(server, "h3_no_such_database"),
                             "上没有数据库“h3_no_such_database”"),
        "wrong login": (parts._replace(netloc=f"no_such_role_h3:wrong@{parts.hostname}:"
                                              f"{parts.port}").geturl(),
                        "拒绝了用户“no_such_role_h3”的登录"),
    }


CASES = ["server down", "no such database", "wrong login"]


def run_server(workspace: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "--port", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GEOSERVICE_WORKSPACE": workspace})


def one_chinese_line(text: str, prefix: str, words: str) -> None:
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith(prefix) and words in lines[0], lines[0]
    assert "psycopg" not in text and "wrong@" not in text  # no library words, no password


@pytest.mark.parametrize("case", CASES)
def test_run_py_says_why_it_cannot_start(case, pg_server):
    workspace, words = workspaces(pg_server)[case]
    r = run_server(workspace)
    assert r.returncode == 1, r.stderr[-2000:]
    one_chinese_line(r.stderr, "无法启动服务：", words)
    assert r.stdout == ""  # nothing served, no address printed


@pytest.mark.parametrize("case", CASES)
def test_cli_commands_say_why_they_cannot_open_the_workspace(case, pg_server):
    workspace, words = workspaces(pg_server)[case]
    for args, env in ((("layers",), {"GEOSERVICE_WORKSPACE": workspace}),
                      (("--workspace", workspace, "users", "list"), {}),
                      (("--workspace", workspace, "coverage", "--layer", "welfare_homes",
                        "--json"), {}),
                      (("workspace", "copy", workspace, "unused.gpkg"), {})):
        r = run_cli(*args, env=env)
        assert r.returncode == 1, (args, r.stderr[-2000:])
        one_chinese_line(r.stderr, "错误：", words)
        assert r.stdout == ""
    assert not (ROOT / "unused.gpkg").exists()


def test_create_app_raises_the_store_error_itself(pg_server):
    """The app factory lets the store's error through (run.py and the CLI print it)."""
    workspace, words = workspaces(pg_server)["no such database"]
    with pytest.raises(StoreError) as err:
        create_app({"WORKSPACE": workspace})
    assert words in str(err.value)


def test_a_busy_port_is_one_line_too(tmp_path):
    workspace = tmp_path / "qingshen.gpkg"  # a file: no warning about where the key lives
    shutil.copyfile(DEMO_WORKSPACE, workspace)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "run.py", "--port", str(port),
                            "--workspace", str(workspace)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    one_chinese_line(r.stderr, "无法启动服务：", f"无法在 127.0.0.1:{port} 上监听")
