"""`python -m geoservice users ...` and the first run, as a person runs them: accounts made,
changed and listed from the shell (never a hash or a password on screen), each change in the
audit trail under the operating-system user, API tokens that work against the web API, and
the first start of `python run.py` (the demo's admin password shown once, the hint elsewhere).
"""

from __future__ import annotations

import getpass
import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner
from fixtures import ROOT, run_cli

from geoservice import create_app
from geoservice.cli import main
from geoservice.services.accounts import (
    FIRST_ADMIN_COMMAND,
    authenticate,
    cli_actor,
    first_run,
    user_for_token,
)
from layers import open_store

PASSWORD = "correct-horse-42"
HASH_MARKS = ("scrypt:", "pbkdf2:", "password_hash", "token_hash")


def os_user() -> str:
    return cli_actor().name


def test_os_user_is_the_cli_actor():
    assert os_user() == f"{getpass.getuser()}（命令行）"


def run(*args, input_: str | None = None) -> subprocess.CompletedProcess:
    """``python -m geoservice ARGS`` in a child process; ``input_`` on its standard input."""
    if input_ is None:
        return run_cli(*args)
    return subprocess.run([sys.executable, "-m", "geoservice", *map(str, args)], cwd=ROOT,
                          input=input_, capture_output=True, text=True, timeout=180)


def add(ws, name, role, password=PASSWORD):
    return run("--workspace", ws, "users", "add", name, "--role", role, "--password-stdin",
               input_=password + "\n")


def user_changes(ws) -> list[dict]:
    return open_store(ws).audit_rows(action="user_change")


def test_no_users_says_how_to_create_the_first_admin(tiny_workspace):
    r = run("--workspace", tiny_workspace, "users", "list")
    assert r.returncode == 0, r.stderr
    assert FIRST_ADMIN_COMMAND in r.stdout and "管理员" in r.stdout
    assert FIRST_ADMIN_COMMAND == "python -m geoservice users add 名字 --role admin"
    r = run("--workspace", tiny_workspace, "users", "list", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    assert FIRST_ADMIN_COMMAND in r.stderr


def test_add_list_disable_enable_passwd_role_all_audited(tiny_workspace):
    ws = tiny_workspace
    r = add(ws, "王丽", "planner")
    assert r.returncode == 0, r.stderr
    assert "已新建用户“王丽”（规划人员）" in r.stdout
    store = open_store(ws)
    assert authenticate(store, "王丽", PASSWORD)["role"] == "planner"

    r = run("--workspace", ws, "users", "list", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert row["name"] == "王丽" and row["role"] == "planner" and row["role_label"] == "规划人员"
    assert row["active"] is True and row["has_token"] is False
    r2 = run("--workspace", ws, "users", "list")
    assert "王丽" in r2.stdout and "规划人员" in r2.stdout and "启用" in r2.stdout

    assert run("--workspace", ws, "users", "disable", "王丽").returncode == 0
    assert authenticate(open_store(ws), "王丽", PASSWORD) is None
    r3 = run("--workspace", ws, "users", "list")
    assert "已停用" in r3.stdout
    assert run("--workspace", ws, "users", "enable", "王丽").returncode == 0
    assert authenticate(open_store(ws), "王丽", PASSWORD) is not None

    new_password = "another-secret-7"
    r4 = run("--workspace", ws, "users", "passwd", "王丽", "--password-stdin",
             input_=new_password + "\n")
    assert r4.returncode == 0, r4.stderr
    assert authenticate(open_store(ws), "王丽", PASSWORD) is None
    assert authenticate(open_store(ws), "王丽", new_password) is not None

    r5 = run("--workspace", ws, "users", "role", "王丽", "boundary")
    assert r5.returncode == 0, r5.stderr
    assert "界线审查人员" in r5.stdout
    assert open_store(ws).user("王丽")["role"] == "boundary"

    # Never a hash, never a password, on any screen.
    for out in (r, r2, r3, r4, r5):
        text = out.stdout + out.stderr
        assert not any(m in text for m in HASH_MARKS), text
        assert PASSWORD not in text and new_password not in text

    rows = user_changes(ws)[::-1]  # oldest first
    assert [r["params"]["change"] for r in rows] == ["add", "disable", "enable", "password",
                                                      "role"]
    for row in rows:
        assert row["user"] == os_user() and row["address"] == "local"
        assert row["params"]["user"] == "王丽" and row["result"]
    assert rows[0]["params"]["role"] == "planner"
    assert rows[-1]["params"] == {"user": "王丽", "change": "role", "role_before": "planner",
                                  "role": "boundary"}
    trail = json.dumps(open_store(ws).audit_rows(), ensure_ascii=False)
    assert PASSWORD not in trail and new_password not in trail
    assert not any(m in trail for m in ("scrypt:", "pbkdf2:"))


def test_refused_changes_say_why_and_change_nothing(tiny_workspace):
    ws = tiny_workspace
    r = add(ws, "短密码", "viewer", password="short")
    assert r.returncode == 1 and "至少 8 个字符" in r.stderr
    r = add(ws, "某人", "superuser")
    assert r.returncode == 2 and "superuser" in r.stderr and "可选值" in r.stderr
    assert add(ws, "王丽", "viewer").returncode == 0
    r = add(ws, "王丽", "admin")
    assert r.returncode == 1 and "已存在" in r.stderr
    r = run("--workspace", ws, "users", "disable", "王五")
    assert r.returncode == 1 and "用户“王五”不存在" in r.stderr
    r = run("--workspace", ws, "users", "token", "王五")
    assert r.returncode == 1 and "不存在" in r.stderr
    assert [u["name"] for u in open_store(ws).users()] == ["王丽"]
    assert open_store(ws).user("王丽")["role"] == "viewer"
    assert len(user_changes(ws)) == 1  # only the one successful add


def test_add_asks_twice_without_echo(tiny_workspace):
    """Without --password-stdin the password is asked twice and never shown."""
    runner = CliRunner()
    r = runner.invoke(main, ["--workspace", str(tiny_workspace), "users", "add", "李强",
                             "--role", "boundary"],
                      input=f"{PASSWORD}\ndifferent-one\n{PASSWORD}\n{PASSWORD}\n",
                      prog_name="python -m geoservice")
    assert r.exit_code == 0, r.output
    assert "再输入一次密码" in r.output and "两次输入的值不一致" in r.output
    assert PASSWORD not in r.output
    assert authenticate(open_store(tiny_workspace), "李强", PASSWORD)["role"] == "boundary"


def test_token_is_shown_once_and_works_against_the_api(tiny_workspace):
    ws = tiny_workspace
    assert add(ws, "王丽", "planner").returncode == 0
    r = run("--workspace", ws, "users", "token", "王丽")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert len(token) >= 32 and "\n" not in token
    assert "只显示这一次" in r.stderr and "Authorization: Bearer" in r.stderr
    store = open_store(ws)
    assert user_for_token(store, token)["name"] == "王丽"
    assert token not in json.dumps(store.users(), ensure_ascii=False)  # only a digest kept
    r = run("--workspace", ws, "users", "list", "--json")
    assert token not in r.stdout and json.loads(r.stdout)[0]["has_token"] is True
    (row,) = [x for x in user_changes(ws) if x["params"]["change"] == "token"]
    assert row["user"] == os_user() and token not in json.dumps(row, ensure_ascii=False)

    # The tiny workspace is not the demo: reading the API needs an account.
    client = create_app({"WORKSPACE": str(ws)}).test_client()
    assert client.get("/api/layers/villages").status_code == 401
    ok = client.get("/api/layers/villages", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.get_data(as_text=True)[:500]
    assert client.get("/api/layers/villages",
                      headers={"Authorization": f"Bearer {token}x"}).status_code == 401

    # A new token replaces the old one; a disabled account's token stops working.
    second = run("--workspace", ws, "users", "token", "王丽").stdout.strip()
    assert second != token
    assert client.get("/api/layers/villages",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/api/layers/villages",
                      headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert run("--workspace", ws, "users", "disable", "王丽").returncode == 0
    assert client.get("/api/layers/villages",
                      headers={"Authorization": f"Bearer {second}"}).status_code == 401


# --- first run ------------------------------------------------------------------------------


def test_first_run_on_a_real_workspace_gives_the_hint_and_creates_nothing(tiny_workspace):
    store = open_store(tiny_workspace)
    message = first_run(store)
    assert FIRST_ADMIN_COMMAND in message
    assert store.users() == [] and store.audit_rows() == []
    assert add(tiny_workspace, "站长", "admin").returncode == 0
    assert first_run(open_store(tiny_workspace)) is None


def test_first_run_on_the_demo_creates_admin_once(demo_workspace):
    store = open_store(demo_workspace)
    assert store.info()["demo"] == "1" and store.users() == []
    message = first_run(store)
    password = message.split("密码 ", 1)[1].split()[0]
    assert "用户名 admin" in message and "只显示这一次" in message
    assert authenticate(store, "admin", password)["role"] == "admin"
    (row,) = store.audit_rows(action="user_change")
    assert row["user"] == os_user() and row["params"]["user"] == "admin"
    assert password not in json.dumps(row, ensure_ascii=False)
    assert first_run(store) is None  # the next start finds the account
    assert len(store.users()) == 1


def start_run_py(workspace, deadline_s: float = 90) -> list[str]:
    """Start ``python run.py --port 0`` on ``workspace``, read its lines up to the one with
    the server's address (bounded wait), stop it; the lines read."""
    proc = subprocess.Popen([sys.executable, "run.py", "--port", "0", "--workspace",
                             str(workspace)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)],
                              daemon=True)
    reader.start()
    seen: list[str] = []
    end = time.monotonic() + deadline_s
    try:
        while True:
            line = lines.get(timeout=max(0.1, end - time.monotonic()))
            if line is None:
                break
            seen.append(line.rstrip("\n"))
            if line.startswith("服务地址"):
                break
    except queue.Empty:
        pass
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert any(x.startswith("服务地址") for x in seen), "\n".join(seen)
    return seen


def test_run_py_first_start_of_the_demo_prints_the_password_once(demo_workspace):
    first = "\n".join(start_run_py(demo_workspace))
    assert "用户名 admin，密码 " in first
    password = first.split("密码 ", 1)[1].split()[0]
    assert authenticate(open_store(demo_workspace), "admin", password) is not None
    second = "\n".join(start_run_py(demo_workspace))
    assert password not in second and "密码" not in second
    assert FIRST_ADMIN_COMMAND not in second


def test_run_py_on_a_real_workspace_without_users_prints_the_hint(tiny_workspace):
    out = "\n".join(start_run_py(tiny_workspace))
    assert FIRST_ADMIN_COMMAND in out
    assert open_store(tiny_workspace).users() == []


@pytest.mark.parametrize("args", [("users", "--help"), ("users", "add", "--help"),
                                  ("users", "list"), ("audit", "--help"),
                                  ("restore", "--help")], ids=" ".join)
def test_help_and_users_list_import_nothing_heavy(args, tiny_workspace):
    from test_cli_startup import HEAVY, imported

    r, modules = imported("--workspace", tiny_workspace, *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not modules & HEAVY, sorted(modules & HEAVY)
