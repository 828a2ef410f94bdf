"""Jobs survive a restart: a runner records its jobs in the workspace; a new runner over
the same workspace shows finished results and the unfinished jobs as 已中断, which run
again with their parameters (services and the siting page)."""

from __future__ import annotations

import threading

from geoservice import create_app
from geoservice.services import accounts
from geoservice.services.jobs import INTERRUPTED_MESSAGE, JobRunner
from geoservice.services.siting import run_siting, siting_params
from layers import open_store

PARAMS = {"layer": "elderly_service_points", "add": "1", "radius": "1500"}


def _solve(store):
    params = siting_params(layer="elderly_service_points", add=1, radius=1500)

    def work(progress, cancel):
        return run_siting(store, params, progress=progress, cancel=cancel)

    return params, work


def test_a_new_runner_shows_finished_results_and_interrupted_jobs(tiny_workspace):
    store = open_store(tiny_workspace)
    gate = threading.Event()
    first = JobRunner(max_running=1, store=store)
    params, work = _solve(store)
    done = first.submit(work, params=params.query(), label="选址", owner="规划丙")
    assert done.wait(120) and done.state == "done"

    def blocked(progress, cancel):
        progress(0.4, "求解中")
        assert gate.wait(60)
        return "late"

    running = first.submit(blocked, params={"add": "2"}, label="运行中", owner="规划丙")
    queued = first.submit(blocked, params={"add": "3"}, label="排队", owner="规划丙")
    try:
        records = {r["id"]: r for r in store.job_records()}
        assert records[done.id]["state"] == "done" and records[done.id]["result"]
        assert records[done.id]["params"] == params.query()
        assert records[done.id]["owner"] == "规划丙"
        assert records[queued.id]["state"] == "queued"
        assert records[running.id]["state"] in ("queued", "running")

        # The service restarts (the old threads are gone as far as the workspace knows).
        second = JobRunner(max_running=1, store=store)
        again = second.get(done.id)
        assert again.state == "done" and again.result is not None
        assert again.result.to_dict() == done.result.to_dict()  # the whole result
        assert again.to_dict()["state_label"] == "已完成"
        for job, p in ((running, {"add": "2"}), (queued, {"add": "3"})):
            lost = second.get(job.id)
            assert lost.state == "interrupted" and lost.message == INTERRUPTED_MESSAGE
            assert lost.to_dict()["state_label"] == "已中断" and lost.params == p
            assert lost.result is None and lost.wait(0)
        records = {r["id"]: r for r in store.job_records()}
        assert records[queued.id]["state"] == "interrupted"

        # Run an interrupted one again with its parameters.
        lost = second.get(queued.id)
        rerun = second.submit(lambda p, c: dict(lost.params), params=lost.params,
                              label=lost.label, owner=lost.owner)
        assert rerun.wait(10) and rerun.state == "done" and rerun.result == {"add": "3"}
        assert {r["id"]: r["state"] for r in store.job_records()}[rerun.id] == "done"
    finally:
        gate.set()
        running.wait(30)
        queued.wait(30)


def test_a_runner_without_a_store_records_nothing(tiny_workspace):
    store = open_store(tiny_workspace)
    job = JobRunner().submit(lambda p, c: 1)
    assert job.wait(10) and job.state == "done"
    assert store.job_records() == []


def test_siting_page_after_a_restart(tiny_workspace):
    store = open_store(tiny_workspace)
    accounts.add_user(store, "规划丙", "planner", "password-123")
    token = {"Authorization": f"Bearer {accounts.new_token(store, '规划丙')}"}
    app = create_app({"WORKSPACE": str(tiny_workspace)})
    client = app.test_client()
    r = client.post("/api/siting/jobs", json=PARAMS, headers=token)
    assert r.status_code == 202, r.get_json()
    done_id = r.get_json()["id"]
    assert app.extensions["siting_jobs"].get(done_id).wait(120)
    # a job that was running when the service stopped
    store.save_job({"id": "cafe00000001", "owner": "规划丙", "label": "养老 · 中断",
                    "state": "running", "progress": 0.3, "message": "求解中",
                    "params": {**PARAMS, "add": "2"}, "created": "2026-01-01T08:00:00+08:00",
                    "started": "2026-01-01T08:00:01+08:00"})

    restarted = create_app({"WORKSPACE": str(tiny_workspace)})
    client = restarted.test_client()
    html = client.get(f"/siting?job={done_id}", headers=token).get_data(as_text=True)
    assert 'id="sites-table"' in html and 'id="download-xlsx"' in html
    r = client.get(f"/siting/report.xlsx?job={done_id}", headers=token)
    assert r.status_code == 200 and r.data[:2] == b"PK"
    status = client.get(f"/api/siting/jobs/{done_id}", headers=token).get_json()
    assert status["state"] == "done" and status["result"]["sites"]

    r = client.get("/api/siting/jobs/cafe00000001", headers=token)
    assert r.get_json()["state"] == "interrupted" and r.get_json()["state_label"] == "已中断"
    html = client.get("/siting?job=cafe00000001", headers=token).get_data(as_text=True)
    assert "已中断" in html and INTERRUPTED_MESSAGE in html
    assert 'id="rerun-form"' in html and "重新运行" in html
    assert 'name="add" value="2"' in html
    # 重新运行: the form posts the job's parameters to /siting
    r = client.post("/siting", data={**PARAMS, "add": "2"}, headers=token)
    assert r.status_code == 303 and "job=" in r.headers["Location"]
    new_id = r.headers["Location"].split("job=")[1]
    job = restarted.extensions["siting_jobs"].get(new_id)
    assert job.wait(120) and job.state == "done", job.error
    assert str(job.params["add"]) == "2"
