"""Siting through the API (synchronous and jobs), the page, accept, the downloads.

Everything runs the real analysis on the demo county (58 villages) or the tiny workspace.
"""

from __future__ import annotations

import io
import json
import re
import threading

import pandas as pd
import pytest
from fixtures import make_app  # create_app with an admin signed in (API token)
from openpyxl import load_workbook

from geoservice.analysis.siting import siting
from layers import open_store

MCLP = {"layer": "elderly_service_points", "radius": 2000, "add": 3}


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def _wait(client, job_id, timeout=60):
    """The job's JSON once it has finished (the runner signals the end: no polling)."""
    job = client.application.extensions["siting_jobs"].get(job_id)
    assert job is not None and job.wait(timeout), f"job {job_id} did not finish"
    return client.get(f"/api/siting/jobs/{job_id}").get_json()


def _has_cemetery_inputs(workspace) -> None:
    """The demo county carries candidates and exclusion zones (the cemetery tests use them)."""
    present = open_store(workspace).current_versions()
    assert {"candidates", "exclusion_zones"} <= set(present)


# --- the JSON API runs the function -------------------------------------------------

def test_api_matches_the_function(client, demo_workspace):
    r = client.post("/api/siting", json=MCLP)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    s = open_store(demo_workspace)
    direct = siting(s.read("villages"), s.read("elderly_service_points"), problem="mclp",
                    radius_m=2000, add=3)
    for key in ("problem", "radius_m", "added", "covered_elderly_before",
                "covered_elderly_after", "elderly_coverage_before", "elderly_coverage_after",
                "objective", "optimal"):
        assert body["summary"][key] == direct.summary[key], key
    assert body["summary"]["covered_elderly_after"] > body["summary"]["covered_elderly_before"]
    assert [x["candidate"] for x in body["sites"]] == list(direct.sites["candidate"])
    assert [x["rank"] for x in body["sites"]] == [1, 2, 3]
    gains = [x["marginal_elderly"] for x in body["sites"]]
    assert gains == sorted(gains, reverse=True) and gains[0] > 0
    inputs = body["summary"]["inputs"]
    assert inputs["layer_versions"] == {"villages": 1, "elderly_service_points": 1}
    assert inputs["demo"] is True and inputs["date"] and inputs["parameters"]["add"] == 3
    assert body["excluded"] == [] and len(body["villages"]) == 58


def test_form_body_and_json_body_give_the_same_result(client):
    a = client.post("/api/siting", json={**MCLP, "problem": "mclp"}).get_json()
    b = client.post("/api/siting", data={k: str(v) for k, v in MCLP.items()}).get_json()
    assert a["sites"] == b["sites"]
    strip = ("solve_seconds", "inputs")
    assert {k: v for k, v in a["summary"].items() if k not in strip} == \
        {k: v for k, v in b["summary"].items() if k not in strip}


def test_target_problem_is_the_default_with_a_target(client):
    body = client.post("/api/siting", json={"layer": "welfare_homes", "radius": 8000,
                                            "target": "80%", "weight": "villages"}).get_json()
    s = body["summary"]
    assert s["problem"] == "target" and s["target"] == 0.8
    # The demo's welfare homes within 8 km already reach every village: nothing to add.
    assert s["target_reached"] is True and s["added"] == 0 and body["sites"] == []
    assert s["village_coverage_before"] == s["village_coverage_after"] == 1.0
    assert s["message"] == "现有设施已达到目标：村数覆盖率 100.0% ≥ 80%，无需新建"
    assert s["solver_status"] == "未求解" and s["optimal"] is True


@pytest.mark.parametrize("data, words", [
    ({"add": 0}, "add"), ({"add": "abc"}, "不是数字"), ({"add": 2.5}, "整数"),
    ({"problem": "lscp", "add": 1}, "problem"), ({"layer": "hospitals", "add": 1}, "layer"),
    ({"target": 150}, "目标覆盖率"), ({"problem": "target"}, "target"),
    ({"problem": "mclp"}, "add"), ({"add": 2, "problem": "mclp", "target": 0.5}, "target"),
    ({"problem": "cemetery", "add": 2}, "cemeteries"), ({"add": 2, "capacitated": "1"}, "capacitated"),
    ({"add": 1, "radius": -5}, "服务半径"), ({"add": 1, "weight": "cars"}, "weight"),
    ({"add": 1, "candidates": "townships"}, "candidates"), ({"add": 1, "time_limit": 0}, "time_limit"),
    ({"add": 1, "level": "county"}, "level"), ({"add": 1, "colour": "red"}, "未知参数"),
])
def test_bad_parameters_are_chinese_400s_and_change_nothing(client, demo_workspace, data, words):
    before = open_store(demo_workspace).current_versions()
    for r in (client.post("/api/siting", json=data), client.post("/api/siting/jobs", json=data)):
        assert r.status_code == 400
        msg = r.get_json()["error"]
        assert words in msg and any("\u4e00" <= ch <= "\u9fff" for ch in msg)
    assert open_store(demo_workspace).current_versions() == before


def test_more_sites_than_candidates_is_a_400(client):
    r = client.post("/api/siting", json={**MCLP, "add": 400})
    assert r.status_code == 400 and "add" in r.get_json()["error"]


def test_missing_layers_are_404(tiny_app):
    c = tiny_app.test_client()
    r = c.post("/api/siting", json={"layer": "cemeteries", "add": 1})
    assert r.status_code == 404 and "公墓" in r.get_json()["error"]
    r = c.post("/api/siting/jobs", json={"layer": "welfare_homes", "add": 1,
                                         "candidates": "candidates"})
    assert r.status_code == 404 and "备选站点" in r.get_json()["error"]


def test_json_body_must_be_an_object(client):
    r = client.post("/api/siting", json=[1, 2])
    assert r.status_code == 400 and "JSON" in r.get_json()["error"]


# --- jobs -----------------------------------------------------------------------------

def test_job_runs_in_background_and_returns_the_same_result(client):
    r = client.post("/api/siting/jobs", json=MCLP)
    assert r.status_code == 202
    started = r.get_json()
    assert started["state"] in ("queued", "running", "done")
    assert r.headers["Location"].endswith(f"/api/siting/jobs/{started['id']}")
    done = _wait(client, started["id"])
    assert done["state"] == "done" and done["progress"] == 1.0 and done["message"] == "计算完成"
    sync = client.post("/api/siting", json=MCLP).get_json()
    assert done["result"]["sites"] == sync["sites"]
    assert done["result"]["summary"]["objective"] == sync["summary"]["objective"]
    assert done["report_xlsx"].endswith(f"job={started['id']}")


def test_progress_messages_are_reported(demo_app):
    """The real solve reports Chinese progress through the runner (seen by the poller)."""
    seen = []
    runner = demo_app.extensions["siting_jobs"]
    from geoservice.services.siting import run_siting, siting_params
    from geoservice.services.workspace import store_for

    params = siting_params(**{k: str(v) for k, v in MCLP.items()})

    def work(progress, cancel):
        def spy(f, m=""):
            seen.append((f, m))
            progress(f, m)
        return run_siting(store_for(demo_app.config["WORKSPACE"]), params, progress=spy,
                          cancel=cancel)

    job = runner.submit(work, params=params.query())
    assert job.wait(60) and job.state == "done"
    assert len(seen) >= 2 and all(0 <= f <= 1 for f, _ in seen)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in m) for _, m in seen)


def test_cancel_a_queued_job_and_a_running_job(demo_workspace):
    app = make_app({"WORKSPACE": str(demo_workspace), "SITING_MAX_RUNNING": 1})
    c = app.test_client()
    runner = app.extensions["siting_jobs"]
    gate, inside = threading.Event(), threading.Event()

    def blocker(progress, cancel):
        inside.set()
        progress(0.5, "占用计算槽")
        assert gate.wait(10)
        return None

    first = runner.submit(blocker, label="blocker")
    assert inside.wait(10)
    queued = c.post("/api/siting/jobs", json=MCLP).get_json()
    assert c.get(f"/api/siting/jobs/{queued['id']}").get_json()["state"] == "queued"
    r = c.delete(f"/api/siting/jobs/{queued['id']}")
    assert r.status_code == 202 and r.get_json()["cancel_requested"] is True
    gate.set()
    body = _wait(c, queued["id"])
    assert body["state"] == "cancelled" and "取消" in body["message"] and "result" not in body
    assert first.wait(10) and first.state == "done"

    # A running job: the real solve is held at its first progress report until the cancel
    # request has been answered; its next check stops it before any plan exists.
    from geoservice.services.siting import run_siting, siting_params

    reached, go = threading.Event(), threading.Event()
    messages = []

    def hold(fraction, message=""):
        messages.append(message)
        if not reached.is_set():
            reached.set()
            assert go.wait(10)

    params = siting_params(**{k: str(v) for k, v in MCLP.items()})
    store = open_store(demo_workspace)
    running = runner.submit(lambda progress, cancel: run_siting(store, params, progress=hold,
                                                                 cancel=cancel))
    assert reached.wait(10)
    r = c.post(f"/api/siting/jobs/{running.id}/cancel")
    assert r.status_code == 202 and r.get_json()["state"] == "running"
    go.set()
    body = _wait(c, running.id)
    assert body["state"] == "cancelled" and body["message"] == "已取消，取消前尚未找到可行解"
    assert "result" not in body and body["error"] is None
    assert messages == ["读取村、设施和候选点"]  # stopped before the coverage, never solved


def test_unknown_job_is_404(client):
    for r in (client.get("/api/siting/jobs/nope"), client.delete("/api/siting/jobs/nope"),
              client.get("/siting?job=nope")):
        assert r.status_code == 404
    assert "不存在" in client.get("/api/siting/jobs/nope").get_json()["error"]


# --- accept: a planning scenario layer, never the real facilities ---------------------

def test_accept_writes_a_new_planned_sites_version_only(client, demo_workspace):
    store = open_store(demo_workspace)
    before = store.current_versions()
    homes_before = store.read("elderly_service_points")
    job = client.post("/api/siting/jobs", json=MCLP).get_json()
    done = _wait(client, job["id"])
    r = client.post("/api/siting/accept", json={"job": job["id"], "ranks": [1, 3],
                                                "scenario": "十四五方案", "note": "测试"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["version"]["version"] == 1 and r.get_json()["added"] == 2
    store = open_store(demo_workspace)
    planned = store.read("planned_sites")
    sites = {s["rank"]: s for s in done["result"]["sites"]}
    assert list(planned["rank"]) == [1, 3]
    assert list(planned["name"]) == [sites[1]["name"], sites[3]["name"]]
    assert set(planned["scenario"]) == {"十四五方案"}
    assert set(planned["facility_layer"]) == {"elderly_service_points"}
    assert planned.geometry.x.iloc[0] == pytest.approx(sites[1]["lon"], abs=1e-7)
    after = store.current_versions()
    for kind, v in before.items():
        assert after[kind].version == v.version, kind  # real layers untouched
    pd.testing.assert_frame_equal(store.read("elderly_service_points"), homes_before)

    # A second accept keeps the rows and adds only what is new (form post, page flow).
    r = client.post("/siting/accept", data={"job": job["id"], "rank": ["1", "2"],
                                            "scenario": "十四五方案"})
    assert r.status_code == 303 and "accepted=2" in r.headers["Location"]
    planned = open_store(demo_workspace).read("planned_sites")
    assert sorted(planned["rank"]) == [1, 2, 3]
    assert [v.version for v in open_store(demo_workspace).versions("planned_sites")] == [1, 2]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "已写入“规划新增设施”图层第 2 版" in page and "1 处已在方案中未重复添加" in page


@pytest.mark.parametrize("data, words", [
    ({"ranks": [9]}, "ranks"), ({"ranks": []}, "ranks"), ({"ranks": [1], "scenario": ""},
                                                          "scenario"),
    ({"ranks": ["x"]}, "整数"),
])
def test_bad_accept_is_400_and_writes_nothing(client, demo_workspace, data, words):
    body = {**MCLP, "scenario": "方案", **data}
    r = client.post("/api/siting/accept", json=body)
    assert r.status_code == 400 and words in r.get_json()["error"]
    assert "planned_sites" not in open_store(demo_workspace).current_versions()


def test_home_map_draws_planned_sites(client):
    r = client.post("/api/siting/accept", json={**MCLP, "ranks": [1], "scenario": "方案<甲>"})
    assert r.status_code == 201
    text = client.get("/").get_data(as_text=True)
    # Drawn as its own toggleable layer, the scenario name escaped in the feature data.
    assert '"planned_sites": geo_json_' in text
    assert json.dumps("方案&lt;甲&gt;").replace("&", "\\u0026") in text
    assert json.dumps("方案<甲>") not in text


# --- cemetery: excluded candidates with reasons --------------------------------------

def test_cemetery_lists_excluded_candidates_with_reasons(demo_workspace):
    _has_cemetery_inputs(demo_workspace)
    app = make_app({"WORKSPACE": str(demo_workspace)})
    c = app.test_client()
    body = c.post("/api/siting", json={"layer": "cemeteries", "problem": "cemetery", "add": 2,
                                       "candidates": "candidates"}).get_json()
    assert body["summary"]["problem"] == "cemetery" and body["summary"]["excluded"] >= 1
    assert len(body["excluded"]) == body["summary"]["excluded"]
    for e in body["excluded"]:
        assert e["reason"] and e["rule"] and any("\u4e00" <= ch <= "\u9fff" for ch in e["reason"])
    chosen = {s["candidate"] for s in body["sites"]}
    assert not chosen & {e["candidate"] for e in body["excluded"]}
    versions = body["summary"]["inputs"]["layer_versions"]
    assert {"candidates", "exclusion_zones", "cemeteries", "villages"} <= set(versions)
    r = c.get("/siting/report.xlsx?layer=cemeteries&problem=cemetery&add=2&candidates=candidates")
    wb = load_workbook(io.BytesIO(r.data))
    rows = list(wb["排除的候选点"].iter_rows(values_only=True))
    assert rows[0][:2] == ("候选点编号", "名称") and "原因" in rows[0]
    assert len(rows) - 1 == body["summary"]["excluded"]
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["禁建区图层"].startswith("禁建区（第") and "备选站点" in summary["候选点"]


# --- page and reports -----------------------------------------------------------------

def test_page_form_then_progress_then_result(client):
    text = client.get("/siting").get_data(as_text=True)
    assert 'id="siting-form"' in text and "<iframe" not in text and 'id="job-box"' not in text
    r = client.post("/siting", data={k: str(v) for k, v in MCLP.items()} | {"problem": "mclp"})
    assert r.status_code == 303 and "/siting?job=" in r.headers["Location"]
    job_id = r.headers["Location"].split("job=")[1]
    _wait(client, job_id)
    text = client.get(f"/siting?job={job_id}").get_data(as_text=True)
    assert 'id="sites-table"' in text and 'id="change-table"' in text
    assert "<tr><th>新增设施数 K</th><td>3</td></tr>" in text
    assert "服务半径 2,000 米" in text and "示例数据" in text and "gs-rank" in text
    assert f"report.xlsx?job={job_id}" in text and f"report.csv?job={job_id}" in text
    assert 'name="rank"' in text and 'id="accept"' in text


def test_page_shows_bad_input_in_chinese(client):
    r = client.post("/siting", data={"layer": "elderly_service_points", "add": "-1"})
    assert r.status_code == 400
    text = r.get_data(as_text=True)
    assert 'id="siting-error"' in text and "参数 add" in text and 'id="siting-form"' in text


def test_xlsx_report_has_the_chinese_sheets_and_inputs(client):
    job = client.post("/api/siting/jobs", json=MCLP).get_json()
    done = _wait(client, job["id"])
    r = client.get(f"/siting/report.xlsx?job={job['id']}")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["汇总", "选址建议", "排除的候选点", "村"]
    summary = {row[0]: row[1:] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)
               if row[0]}
    assert summary["服务半径(米)"][0] == 2000 and summary["新增设施数 K"][0] == 3
    assert summary["设施图层"][0] == "养老服务设施（第 1 版）"
    assert summary["数据性质"][0].startswith("示例数据") and summary["分析日期"][0]
    assert summary["求解时限(秒)"][0] and summary["候选点"][0] == "各村(社区)中心"
    s = done["result"]["summary"]
    assert summary["覆盖老年人口"][:2] == (s["covered_elderly_before"], s["covered_elderly_after"])
    sites = list(wb["选址建议"].iter_rows(values_only=True))
    assert sites[0][:3] == ("序号", "候选点编号", "名称") and "新增覆盖的村(社区)" in sites[0]
    assert [row[0] for row in sites[1:]] == [1, 2, 3]
    names = {v["code"]: v["name"] for v in done["result"]["villages"]}
    col = sites[0].index("新增覆盖的村(社区)")
    first = done["result"]["sites"][0]
    assert sites[1][col] == "、".join(names[c] for c in first["newly_covered"])
    villages = list(wb["村"].iter_rows(values_only=True))
    assert villages[0][:2] == ("村(社区)代码", "名称") and len(villages) == 59
    assert "新增后是否覆盖" in villages[0]


def test_csv_of_sites_opens_in_pandas(client):
    r = client.get("/siting/report.csv?layer=elderly_service_points&radius=2000&add=3")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(io.BytesIO(r.data), comment="#")
    assert list(df["序号"]) == [1, 2, 3] and "新增覆盖老年人口" in df.columns
    head = r.data.decode("utf-8-sig")
    assert "# 服务半径(米): 2000" in head and "# 选址问题: 最大覆盖" in head


# --- review fixes -----------------------------------------------------------------------

def test_what_the_solve_would_refuse_is_a_400_before_any_job_starts(demo_app, demo_workspace):
    """K larger than the candidates (after the cemetery exclusions) and too few beds for a
    capacitated p-median: refused at once with a Chinese 400, no job is started."""
    _has_cemetery_inputs(demo_workspace)
    c = demo_app.test_client()
    runner = demo_app.extensions["siting_jobs"]
    n_cand = len(open_store(demo_workspace).read("candidates"))
    eligible = siting(open_store(demo_workspace).read("villages"),
                      open_store(demo_workspace).read("cemeteries"),
                      open_store(demo_workspace).read("candidates"), problem="cemetery",
                      radius_m=10000, add=1,
                      exclusion_zones=open_store(demo_workspace).read("exclusion_zones")
                      ).summary["eligible"]
    assert eligible < n_cand
    # too few beds: every welfare home keeps 1 bed
    store = open_store(demo_workspace)
    homes = store.read("welfare_homes")
    homes["beds"] = 1
    store.write("welfare_homes", homes, source="test", source_crs="EPSG:4490")
    cases = [
        ({**MCLP, "add": 59}, "超过了候选点数 58"),
        ({**MCLP, "add": n_cand + 1, "candidates": "candidates"}, f"超过了候选点数 {n_cand}"),
        ({"layer": "cemeteries", "problem": "cemetery", "add": eligible + 1,
          "candidates": "candidates"}, f"超过了符合条件的候选点数 {eligible}"),
        ({"layer": "welfare_homes", "problem": "pmedian", "add": 1, "capacitated": True},
         "床位不足"),
    ]
    before = open_store(demo_workspace).current_versions()
    for body, words in cases:
        r = c.post("/api/siting/jobs", json=body)
        assert r.status_code == 400, body
        msg = r.get_json()["error"]
        assert words in msg and "add" in msg
        page = c.post("/siting", data={k: str(v) for k, v in body.items()})
        assert page.status_code == 400
        assert words in page.get_data(as_text=True)
    assert runner.jobs() == []
    assert open_store(demo_workspace).current_versions() == before


def test_sites_that_add_nothing_are_marked_and_not_preselected(client):
    r = client.post("/siting", data={"layer": "elderly_service_points", "radius": "2000",
                                      "add": "16", "problem": "mclp"})
    job_id = r.headers["Location"].split("job=")[1]
    body = _wait(client, job_id)
    s = body["result"]["summary"]
    useful = s["useful_sites"]
    assert 0 < useful < 16 and s["no_gain_from_rank"] == useful + 1
    assert f"第 {useful + 1} 至 16 处不再增加老年人口覆盖" in s["message"]
    text = client.get(f"/siting?job={job_id}").get_data(as_text=True)
    assert 'id="no-gain-note"' in text and f"只需 {useful} 处" in text
    checked = [int(x) for x in re.findall(r'name="rank" value="(\d+)" checked', text)]
    assert checked == list(range(1, useful + 1))
    assert text.count('class="gs-no-gain"') == 16 - useful
    wb = load_workbook(io.BytesIO(client.get(f"/siting/report.xlsx?job={job_id}").data))
    ws = wb["选址建议"]
    head = [c.value for c in ws[1]]
    col = head.index("不再增加覆盖/缩短距离(可不建)")
    flags = [row[col].value for row in ws.iter_rows(min_row=2)]
    assert flags == ["否"] * useful + ["是"] * (16 - useful)


def test_a_stopping_job_says_so_on_the_page(demo_app):
    runner = demo_app.extensions["siting_jobs"]
    c = demo_app.test_client()
    inside, release = threading.Event(), threading.Event()

    def slow(progress, cancel):
        inside.set()
        assert release.wait(10)  # the solver takes a while to notice: until released
        return None

    job = runner.submit(slow, params={"layer": "elderly_service_points", "add": 3})
    assert inside.wait(10)
    text = c.get(f"/siting?job={job.id}").get_data(as_text=True)
    assert 'id="cancel-wait" hidden' in text and ">取消</button>" in text
    c.post(f"/api/siting/jobs/{job.id}/cancel")
    body = c.get(f"/api/siting/jobs/{job.id}").get_json()
    assert body["state"] == "running" and body["message"].startswith("正在停止…")
    text = c.get(f"/siting?job={job.id}").get_data(as_text=True)
    assert 'id="cancel-wait" >' in text and "正在停止…</button>" in text
    release.set()
    assert job.wait(10) and job.state == "cancelled"


def test_a_full_queue_answers_429_in_chinese(demo_workspace):
    app = make_app({"WORKSPACE": str(demo_workspace), "SITING_MAX_RUNNING": 1,
                      "SITING_MAX_WAITING": 2, "SITING_MAX_PER_USER": 5})
    c = app.test_client()
    runner = app.extensions["siting_jobs"]
    gate = threading.Event()
    blockers = [runner.submit(lambda p, cancel: gate.wait(10), owner="x") for _ in range(2)]
    store = open_store(demo_workspace)
    before = store.current_versions()
    r = c.post("/api/siting/jobs", json=MCLP)
    assert r.status_code == 429 and "队列已满" in r.get_json()["error"]
    page = c.post("/siting", data={k: str(v) for k, v in MCLP.items()})
    assert page.status_code == 429 and "队列已满" in page.get_data(as_text=True)
    gate.set()
    assert all(b.wait(10) for b in blockers)
    assert c.post("/api/siting/jobs", json=MCLP).status_code == 202
    assert open_store(demo_workspace).current_versions() == before
