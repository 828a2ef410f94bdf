"""Background jobs for long solves: a thread per job, progress, cancel, a bounded history.

No Flask here: the web layer keeps one :class:`JobRunner` per app and calls it. A job is a
callable ``work(progress, cancel) -> result`` where ``progress(fraction, message)`` reports
(fraction 0-1, Chinese message) and ``cancel()`` says whether the user asked to stop.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from geoservice.errors import Cancelled, TooManyRequests, http_status, message_for

STATES = ("queued", "running", "done", "failed", "cancelled")
STATE_LABELS = {"queued": "排队中", "running": "计算中", "done": "已完成", "failed": "失败",
                "cancelled": "已取消"}
FINISHED = ("done", "failed", "cancelled")


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class Job:
    id: str
    label: str
    params: dict
    state: str = "queued"
    progress: float = 0.0
    message: str = "排队等待计算"
    result: object = None
    error: str | None = None
    error_status: int | None = None
    created: str = field(default_factory=_now)
    started: str | None = None
    finished: str | None = None
    cancel_requested: bool = False
    owner: str | None = field(default=None, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    @property
    def finished_state(self) -> bool:
        return self.state in FINISHED

    def elapsed_s(self) -> float:
        return round(time.monotonic() - self._t0, 1)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (for tests and the synchronous API)."""
        return self._done.wait(timeout)

    def to_dict(self) -> dict:
        with self._lock:
            return {
                "id": self.id, "label": self.label, "state": self.state,
                "state_label": STATE_LABELS[self.state], "progress": round(self.progress, 4),
                "message": self.message, "error": self.error, "params": self.params,
                "created": self.created, "started": self.started, "finished": self.finished,
                "cancel_requested": self.cancel_requested, "elapsed_s": self.elapsed_s(),
            }


class JobRunner:
    """Runs jobs in threads, at most ``max_running`` at once; keeps the last ``max_jobs``.

    The queue is bounded: at most ``max_waiting`` unfinished jobs (queued or running) in all,
    and ``max_per_owner`` for one owner (the user, or the client address before accounts);
    a submit beyond that raises :class:`~geoservice.errors.TooManyRequests` (HTTP 429) and
    starts nothing.
    """

    def __init__(self, max_jobs: int = 20, max_running: int = 2, *, max_waiting: int = 8,
                 max_per_owner: int = 3):
        self.max_jobs = int(max_jobs)
        self.max_waiting = max(1, int(max_waiting))
        self.max_per_owner = max(1, int(max_per_owner))
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, int(max_running)))

    def submit(self, work: Callable[[Callable, Callable], object], *, params: dict | None = None,
               label: str = "", owner: str | None = None) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], label=label, params=dict(params or {}), owner=owner)
        with self._lock:
            unfinished = [j for j in self._jobs.values() if j.state not in FINISHED]
            if len(unfinished) >= self.max_waiting:
                raise TooManyRequests(
                    f"计算队列已满：已有 {len(unfinished)} 个选址任务在排队或计算"
                    f"（上限 {self.max_waiting}），请等其中一些完成后再提交")
            mine = [j for j in unfinished if owner is not None and j.owner == owner]
            if len(mine) >= self.max_per_owner:
                raise TooManyRequests(
                    f"您已有 {len(mine)} 个选址任务在排队或计算（每人上限 {self.max_per_owner}），"
                    "请等其中一些完成或取消后再提交")
            self._jobs[job.id] = job
            self._prune()
        thread = threading.Thread(target=self._run, args=(job, work), daemon=True,
                                  name=f"siting-job-{job.id}")
        thread.start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(str(job_id))

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job | None:
        """Ask a job to stop; a queued job is cancelled at once. Finished jobs stay as they are."""
        job = self.get(job_id)
        if job is None:
            return None
        with job._lock:
            if job.state in FINISHED:
                return job
            job.cancel_requested = True
            job.message = "正在停止…（求解器在当前阶段结束后停下）"
        return job

    def _prune(self) -> None:
        """Drop the oldest finished jobs beyond ``max_jobs`` (running ones are kept)."""
        excess = len(self._jobs) - self.max_jobs
        if excess <= 0:
            return
        for job_id in [j.id for j in self._jobs.values() if j.state in FINISHED][:excess]:
            del self._jobs[job_id]

    def _run(self, job: Job, work) -> None:
        with self._slots:
            with job._lock:
                if job.cancel_requested:
                    self._finish(job, "cancelled", message="已取消（尚未开始计算）")
                    return
                job.state = "running"
                job.started = _now()
                job.message = "开始计算"

            def progress(fraction: float, message: str = "") -> None:
                with job._lock:
                    if job.state != "running":
                        return
                    try:
                        f = float(fraction)
                    except (TypeError, ValueError):
                        f = job.progress
                    job.progress = min(1.0, max(job.progress, f))
                    if message and not job.cancel_requested:
                        job.message = str(message)

            def cancel() -> bool:
                return job.cancel_requested

            try:
                result = work(progress, cancel)
            except Exception as exc:  # noqa: BLE001 - every failure becomes the job's error
                if isinstance(exc, Cancelled) or job.cancel_requested:
                    self._finish(job, "cancelled", message="已取消，取消前尚未找到可行解")
                else:
                    self._finish(job, "failed", error=message_for(exc),
                                 status=http_status(exc), message="计算失败")
                return
            summary = getattr(getattr(result, "result", result), "summary", None) or {}
            if job.cancel_requested or summary.get("cancelled"):
                self._finish(job, "cancelled", result=result,
                             message="已取消：以下为取消时找到的最好方案（不保证最优）")
            else:
                self._finish(job, "done", result=result, message="计算完成")

    def _finish(self, job: Job, state: str, *, result=None, error=None, status=None,
                message: str = "") -> None:
        with job._lock:
            job.state = state
            job.result = result
            job.error = error
            job.error_status = status
            job.finished = _now()
            if state == "done":
                job.progress = 1.0
            job.message = message
        job._done.set()
        with self._lock:
            self._prune()

