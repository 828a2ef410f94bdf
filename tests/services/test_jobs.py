"""Background jobs (geoservice/services/jobs.py): states, readable errors, history."""

from __future__ import annotations

from geoservice.services.jobs import JobRunner


def test_job_runner_states_errors_and_history():
    runner = JobRunner(max_jobs=3, max_running=2)
    ok = runner.submit(lambda p, c: (p(0.3, "一"), p(0.2, "二"), "结果")[-1], label="ok")
    assert ok.wait(5) and ok.state == "done" and ok.result == "结果" and ok.progress == 1.0

    def bad(p, c):
        from geoservice.errors import BadParameter
        raise BadParameter("参数 add 无效")

    failed = runner.submit(bad)
    assert failed.wait(5) and failed.state == "failed" and failed.error == "参数 add 无效"
    assert failed.error_status == 400

    def crash(p, c):
        raise RuntimeError("secret internals")

    crashed = runner.submit(crash)
    assert crashed.wait(5) and crashed.state == "failed" and crashed.error == "服务器内部错误"
    for _ in range(3):
        runner.submit(lambda p, c: 1).wait(5)
    assert len(runner.jobs()) == 3 and runner.get(ok.id) is None  # oldest dropped
    d = runner.jobs()[-1].to_dict()
    assert d["state_label"] == "已完成" and set(d) >= {"id", "state", "progress", "message"}
