"""Several server processes on one workspace: job status, results and cancels go through the
store, so any runner (any process, any app) answers for any job.

Services: two runners on two store objects of one workspace, on PostGIS (shared by itself)
and on a GeoPackage file told it is shared. Apps: two ``create_app`` instances on one
PostGIS database. Processes: two real ``python run.py`` on two ports.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from fixtures import ROOT, make_app

from geoservice.services import accounts
from geoservice.services.accounts import Actor
from geoservice.services.jobs import (
    INTERRUPTED_MESSAGE,
    REMOTE_CANCEL_MESSAGE,
    RUNNER_KEY,
    JobRunner,
    shared_workspace,
)
from geoservice.services.workspace_copy import copy_workspace
from layers import open_store

MCLP = {"layer": "elderly_service_points", "radius": 2000, "add": 2}
DEADLINE_S = 120


@pytest.fixture(params=["postgis", "gpkg"])
def workspace(request, tmp_path):
    """(open a new store object, shared flag to give the runners): one workspace."""
    if request.param == "postgis":
        url = request.getfixturevalue("pg_url")
        return lambda: open_store(url), None  # PostGIS: shared without being told
    path = tmp_path / "w.gpkg"
    open_store(path)
    return lambda: open_store(path), True


def runners(workspace, n=2, **kw) -> list[JobRunner]:
    opener, shared = workspace
    out = [JobRunner(store=opener(), shared=shared, **kw) for _ in range(n)]
    for r in out:
        assert r.shared
        r.poll_s = 0  # every cancel check reads the record: the tests need no waiting
    return out


def until(check, what: str, deadline_s: float = DEADLINE_S):
    """Poll ``check()`` until it returns something true, or fail after the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        threading.Event().wait(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_postgis_is_shared_and_a_geopackage_is_not_unless_told(pg_url, tiny_workspace):
    assert shared_workspace(open_store(pg_url))
    assert not shared_workspace(open_store(tiny_workspace))
    from geoservice.services.workspace import store_for

    assert shared_workspace(store_for(pg_url, cache_mb=16))  # through the layer cache
    assert not JobRunner(store=open_store(tiny_workspace)).shared


def test_any_runner_answers_for_a_job_another_runs(workspace):
    a, b = runners(workspace)
    inside, gate = threading.Event(), threading.Event()

    def work(progress, cancel):
        progress(0.25, "求解中")
        inside.set()
        assert gate.wait(60)
        return {"sites": ["甲", "乙"], "objective": 1234.5}

    job = a.submit(work, params={"layer": "welfare_homes", "add": "2"}, label="最大覆盖",
                   owner="规划甲")
    assert inside.wait(30)
    seen = b.get(job.id)
    assert seen is not job and seen.state == "running" and not seen.finished_state
    assert seen.params == {"layer": "welfare_homes", "add": "2"}  # the runner's mark hidden
    assert seen.label == "最大覆盖" and seen.owner == "规划甲" and seen.result is None
    assert seen.to_dict()["state_label"] == "计算中"
    assert b.get("no-such-job") is None
    gate.set()
    assert job.wait(30) and job.state == "done"
    done = b.get(job.id)
    assert done.state == "done" and done.progress == 1.0 and done.message == "计算完成"
    assert done.result == {"sites": ["甲", "乙"], "objective": 1234.5}
    assert done.wait(0)
    assert b.get(job.id) is done  # finished and unchanged: not read and unpickled again


def test_a_cancel_from_another_runner_stops_the_running_job(workspace):
    a, b = runners(workspace)
    inside, cancelled = threading.Event(), threading.Event()
    checks = []

    def work(progress, cancel):
        checks.append(cancel())  # nobody asked yet
        inside.set()
        assert cancelled.wait(60)  # until the other runner has answered the cancel
        checks.append(cancel())  # reads the record: cancelled
        return {"best": "至取消时找到的方案"}

    job = a.submit(work, label="选址", owner="规划甲")
    assert inside.wait(30)
    answer = b.cancel(job.id)
    assert answer.state == "cancelled" and answer.cancel_requested
    assert answer.message == REMOTE_CANCEL_MESSAGE
    record = {r["id"]: r for r in workspace[0]().job_records()}[job.id]
    assert record["state"] == "cancelled"  # in the store before the runner noticed
    cancelled.set()
    assert job.wait(30)
    assert checks == [False, True]
    assert job.state == "cancelled" and job.result == {"best": "至取消时找到的方案"}
    after = b.get(job.id)
    assert after.state == "cancelled" and after.result == {"best": "至取消时找到的方案"}
    assert after.message == "已取消：以下为取消时找到的最好方案（不保证最优）"


def test_a_queued_job_cancelled_elsewhere_never_runs(workspace):
    a, b = runners(workspace, max_running=1)
    gate, inside = threading.Event(), threading.Event()
    ran = []

    def blocker(progress, cancel):
        inside.set()
        assert gate.wait(60)
        return "blocker"

    first = a.submit(blocker)
    assert inside.wait(30)
    queued = a.submit(lambda p, c: ran.append(1) or "ran")
    assert b.get(queued.id).state == "queued"
    assert b.cancel(queued.id).state == "cancelled"
    # the queued job's thread reads its record while it waits for the slot
    assert queued.wait(30) and queued.state == "cancelled"
    assert queued.message == "已取消（尚未开始计算）" and ran == []
    assert first.state == "running"
    gate.set()
    assert first.wait(30) and first.state == "done" and ran == []


def test_a_finished_job_cancelled_elsewhere_stays_as_it_was(workspace):
    a, b = runners(workspace)
    job = a.submit(lambda p, c: "结果")
    assert job.wait(30) and job.state == "done"
    answer = b.cancel(job.id)
    assert answer.state == "done" and answer.result == "结果"
    assert {r["id"]: r["state"] for r in workspace[0]().job_records()}[job.id] == "done"


def record(job_id: str, state: str, seen: float | None) -> dict:
    params = {"add": "1"}
    if seen is not None:
        params[RUNNER_KEY] = {"id": "another-runner", "seen": seen}
    return {"id": job_id, "owner": "规划甲", "label": job_id, "state": state, "progress": 0.5,
            "message": "求解中", "error": None, "params": params,
            "created": f"2026-11-26T08:00:0{len(job_id) % 10}+08:00", "started": None,
            "finished": None, "result": None}


def test_a_runner_starting_leaves_live_jobs_alone_and_ends_dead_ones(workspace):
    store = workspace[0]()
    now = time.time()
    store.save_job(record("live", "running", now))  # renewed just now by its runner
    store.save_job(record("dead", "running", now - 3600))  # its runner stopped an hour ago
    store.save_job(record("oldcode", "queued", None))  # recorded before runners said who
    (runner,) = runners(workspace, n=1)
    states = {r["id"]: r["state"] for r in store.job_records()}
    assert states == {"live": "running", "dead": "interrupted", "oldcode": "interrupted"}
    assert runner.get("live").state == "running"
    dead = runner.get("dead")
    assert dead.state == "interrupted" and dead.message == INTERRUPTED_MESSAGE
    assert dead.params == {"add": "1"}

    # a record whose runner stops renewing it reads as interrupted once it is stale
    runner.stale_s = 0
    assert runner.get("live").state == "interrupted"
    assert {r["id"]: r["state"] for r in store.job_records()}["live"] == "interrupted"


def test_a_geopackage_not_shared_keeps_its_restart_behaviour(tiny_workspace):
    store = open_store(tiny_workspace)
    store.save_job(record("live", "running", time.time()))
    runner = JobRunner(store=open_store(tiny_workspace))
    assert not runner.shared
    assert runner.get("live").state == "interrupted"  # one process: a restart ends it
    store.save_job(record("later", "running", time.time()))
    assert runner.get("later") is None  # only its own jobs and those loaded at start


def test_a_runner_renews_its_unfinished_jobs(workspace):
    (a,) = runners(workspace, n=1)
    a.heartbeat_s = 0.05
    gate = threading.Event()
    job = a.submit(lambda p, c: gate.wait(60) and "ok")
    store = workspace[0]()

    def seen():
        r = {r["id"]: r for r in store.job_records()}.get(job.id)
        return r and r["params"][RUNNER_KEY]["seen"]

    first = until(seen, "the first record")
    assert until(lambda: (seen() or 0) > first, "a renewed record")
    assert {r["id"]: r for r in store.job_records()}[job.id]["params"][RUNNER_KEY]["id"] == a.id
    gate.set()
    assert job.wait(30) and job.state == "done"
    finished = {r["id"]: r for r in store.job_records()}[job.id]
    assert finished["state"] == "done" and RUNNER_KEY not in finished["params"]


# --- two apps on one PostGIS workspace ------------------------------------------------------

@pytest.fixture
def demo_postgis(pg_url, demo_workspace):
    """The demo county copied into a fresh PostGIS database (its URL)."""
    copy_workspace(open_store(demo_workspace), open_store(pg_url),
                   actor=Actor("测试（命令行）", "admin", "local", "cli"))
    return pg_url


def test_two_apps_on_one_database_answer_for_each_others_jobs(demo_postgis):
    app_a = make_app({"WORKSPACE": demo_postgis})
    app_b = make_app({"WORKSPACE": demo_postgis})
    a, b = app_a.test_client(), app_b.test_client()

    r = a.post("/api/siting/jobs", json=MCLP)
    assert r.status_code == 202
    job_id = r.get_json()["id"]
    body = until(lambda: (lambda j: j["state"] == "done" and j)(
        b.get(f"/api/siting/jobs/{job_id}").get_json()), "the job, seen from app B")
    assert body["id"] == job_id and body["progress"] == 1.0
    from_a = a.get(f"/api/siting/jobs/{job_id}").get_json()
    assert body["result"] == from_a["result"] and body["result"]["sites"]
    assert b.get(f"/siting/report.csv?job={job_id}").status_code == 200  # B has the result
    assert b.get("/api/siting/jobs/nope").status_code == 404

    # a cancel in app B stops a job running in app A
    runner_a = app_a.extensions["siting_jobs"]
    runner_a.poll_s = 0
    inside, answered = threading.Event(), threading.Event()

    def slow(progress, cancel):
        inside.set()
        assert answered.wait(60)
        return "stopped" if cancel() else "not told"

    job = runner_a.submit(slow, params={"layer": "elderly_service_points", "add": 3},
                          label="慢", owner="admin")
    assert inside.wait(30)
    r = b.post(f"/api/siting/jobs/{job.id}/cancel")
    assert r.status_code == 202 and r.get_json()["state"] == "cancelled"
    assert r.get_json()["cancel_requested"] is True
    answered.set()
    assert job.wait(30) and job.state == "cancelled" and job.result == "stopped"
    rows = open_store(demo_postgis).audit_rows(action="job_cancel")
    assert rows[0]["params"] == {"job": job.id}


# --- two real server processes ----------------------------------------------------------------

class Server:
    """``python run.py --port 0`` on a workspace, its address read from what it prints."""

    def __init__(self, workspace: str):
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "--port", "0"], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "GEOSERVICE_WORKSPACE": workspace})
        self.lines: list[str] = []
        found = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line)
                if "服务地址：" in line:
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(DEADLINE_S):
            self.stop()
            pytest.fail(f"run.py did not start: {''.join(self.lines)}{self.proc.stderr.read()}")
        m = re.search(r"http://[^/]+:(\d+)/", next(x for x in self.lines if "服务地址" in x))
        self.url = f"http://127.0.0.1:{m.group(1)}"

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM to the process this test started
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def call(url: str, token: str, method: str = "GET", body: dict | None = None):
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_two_server_processes_answer_for_each_others_jobs(demo_postgis):
    store = open_store(demo_postgis)
    accounts.add_user(store, "规划甲", "planner", "password-1")
    token = accounts.new_token(store, "规划甲")
    first, second = Server(demo_postgis), Server(demo_postgis)
    try:
        assert first.url != second.url
        status, started = call(f"{first.url}/api/siting/jobs", token, "POST", MCLP)
        assert status == 202, started
        job_id = started["id"]
        body = until(lambda: (lambda j: j[1]["state"] == "done" and j[1])(
            call(f"{second.url}/api/siting/jobs/{job_id}", token)), "the job, from process 2")
        assert body["label"] == started["label"] and body["result"]["sites"]
        status, from_first = call(f"{first.url}/api/siting/jobs/{job_id}", token)
        assert status == 200 and from_first["result"] == body["result"]
        status, answer = call(f"{second.url}/api/siting/jobs/{job_id}/cancel", token, "POST")
        assert status == 202 and answer["state"] == "done"  # finished: stays as it was
        assert call(f"{second.url}/api/siting/jobs/nope", token)[0] == 404
    finally:
        first.stop()
        second.stop()
    records = {r["id"]: r for r in store.job_records()}
    assert records[job_id]["state"] == "done" and records[job_id]["result"]
