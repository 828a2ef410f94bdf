"""Background jobs for long solves: a thread per job, progress, cancel, a bounded history.

No Flask here: the web layer keeps one :class:`JobRunner` per app and calls it. A job is a
callable ``work(progress, cancel) -> result`` where ``progress(fraction, message)`` reports
(fraction 0-1, Chinese message) and ``cancel()`` says whether the user asked to stop.

Given a store, the runner records every job in the workspace (``store.save_job``) when it is
submitted, starts and finishes, the result pickled; a new runner over the same workspace
(after a restart) loads the records: finished jobs keep their results, jobs that were
queued or running show as ``interrupted`` (已中断) and can be submitted again.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from geoservice.errors import Cancelled, TooManyRequests, http_status, message_for

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
STATE_LABELS = {"queued": "排队中", "running": "计算中", "done": "已完成", "failed": "失败",
                "cancelled": "已取消", "interrupted": "已中断"}
FINISHED = ("done", "failed", "cancelled", "interrupted")
INTERRUPTED_MESSAGE = "服务重启，计算中断"

log = logging.getLogger(__name__)


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
                 max_per_owner: int = 3, store=None):
        self.max_jobs = int(max_jobs)
        self.max_waiting = max(1, int(max_waiting))
        self.max_per_owner = max(1, int(max_per_owner))
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, int(max_running)))
        self.store = store  # a LayerStore: jobs are recorded in the workspace (or None)
        if store is not None:
            self._load()

    # --- records in the workspace -----------------------------------------------------

    def _load(self) -> None:
        """The recorded jobs (the last ``max_jobs``): those that were queued or running when
        the service stopped become ``interrupted`` (and are recorded so)."""
        try:
            records = self.store.job_records()
        except Exception:  # noqa: BLE001 - a workspace without job records still serves
            log.exception("could not read the job records")
            return
        for record in records[-self.max_jobs:] if self.max_jobs > 0 else []:
            job = _job_from_record(record)
            if job.state not in FINISHED:
                job.state = "interrupted"
                job.message = INTERRUPTED_MESSAGE
                job.finished = job.finished or _now()
                self._save(job)
            job._done.set()
            self._jobs[job.id] = job

    def _save(self, job: Job) -> None:
        """Record ``job`` in the workspace; a failed write is logged, the job goes on."""
        if self.store is None:
            return
        with job._lock:
            record = {"id": job.id, "owner": job.owner, "label": job.label,
                      "state": job.state, "progress": job.progress, "message": job.message,
                      "error": job.error, "params": job.params, "created": job.created,
                      "started": job.started, "finished": job.finished, "result": None}
            result = job.result
        if result is not None:
            # Pickled: the workspace is the office's own trusted file (whoever can write it
            # can change every layer anyway); records are only ever read back from it.
            try:
                record["result"] = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - an unpicklable result is simply not kept
                log.exception("could not pickle the result of job %s", job.id)
        try:
            self.store.save_job(record)
        except Exception:  # noqa: BLE001 - the job itself is not affected
            log.exception("could not record job %s", job.id)

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
        self._save(job)
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
            self._save(job)

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
        self._save(job)
        job._done.set()
        with self._lock:
            self._prune()


def _job_from_record(record: dict) -> Job:
    """A :class:`Job` as recorded (``JobRunner._save``); its result unpickled."""
    result = None
    if record.get("result"):
        try:
            # The workspace is the office's own trusted file: see JobRunner._save.
            result = pickle.loads(record["result"])  # noqa: S301
        except Exception:  # noqa: BLE001 - e.g. written by another version of the code
            log.exception("could not read the result of job %s", record.get("id"))
    state = record.get("state") if record.get("state") in STATES else "interrupted"
    return Job(id=str(record["id"]), label=record.get("label") or "",
               params=dict(record.get("params") or {}), state=state,
               progress=float(record.get("progress") or 0.0),
               message=record.get("message") or "", result=result,
               error=record.get("error"), created=record.get("created") or _now(),
               started=record.get("started"), finished=record.get("finished"),
               owner=record.get("owner"))

