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


def _blocked_runner(**limits):
    """A runner whose jobs all wait on one gate, so the queue stays full while we look."""
    import threading

    gate = threading.Event()
    runner = JobRunner(max_jobs=50, max_running=1, **limits)

    def work(progress, cancel):
        assert gate.wait(10)
        return "ok"

    return runner, work, gate


def test_the_queue_is_bounded_in_total():
    import pytest

    from geoservice.errors import TooManyRequests, http_status

    runner, work, gate = _blocked_runner(max_waiting=3, max_per_owner=10)
    jobs = [runner.submit(work, owner=f"u{i}") for i in range(3)]
    with pytest.raises(TooManyRequests) as err:
        runner.submit(work, owner="u9")
    assert http_status(err.value) == 429 and "队列已满" in str(err.value)
    assert len(runner.jobs()) == 3  # the refused job left nothing behind
    gate.set()
    assert all(j.wait(10) and j.state == "done" for j in jobs)
    assert runner.submit(work, owner="u9").wait(10)  # room again once they finished


def test_the_queue_is_bounded_per_owner():
    import pytest

    from geoservice.errors import TooManyRequests

    runner, work, gate = _blocked_runner(max_waiting=10, max_per_owner=2)
    mine = [runner.submit(work, owner="张三") for _ in range(2)]
    with pytest.raises(TooManyRequests, match="每人上限 2"):
        runner.submit(work, owner="张三")
    other = runner.submit(work, owner="李四")  # someone else still gets in
    runner.cancel(mine[1].id)
    gate.set()
    assert all(j.wait(10) for j in [*mine, other])
    assert runner.submit(work, owner="张三").wait(10)


def test_a_job_that_fills_the_disk_says_so_without_details():
    import errno

    runner = JobRunner(max_jobs=5, max_running=1)

    def fill(progress, cancel):
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/secret/path.gpkg")

    job = runner.submit(fill)
    assert job.wait(5) and job.state == "failed" and job.error_status == 507
    assert job.error == "服务器磁盘空间不足，本次操作没有保存任何内容"
    assert "/srv" not in job.to_dict()["error"]
