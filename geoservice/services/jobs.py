"""Background jobs for long solves: a thread per job, progress, cancel, a bounded history.

No Flask here: the web layer keeps one :class:`JobRunner` per app and calls it. A job is a
callable ``work(progress, cancel) -> result`` where ``progress(fraction, message)`` reports
(fraction 0-1, Chinese message) and ``cancel()`` says whether the user asked to stop.

Given a store, the runner records every job in the workspace (``store.save_job``) when it is
submitted, starts and finishes, the result pickled; a new runner over the same workspace
(after a restart) loads the records: finished jobs keep their results, jobs that were
queued or running show as ``interrupted`` (已中断) and can be submitted again.

On a shared workspace (PostGIS: several server processes, or several app instances, on one
database) the records are the truth every runner reads: any runner answers for any job
(:meth:`JobRunner.get` reads the record of a job another runner runs, result included) and
cancels it (:meth:`JobRunner.cancel` marks the record ``cancelled``; the runner running it
reads its record in the job's cancel check and stops). A runner re-records its unfinished
jobs every ``HEARTBEAT_S`` seconds (who runs them and when it last said so, kept under
``RUNNER_KEY`` in the record's parameters and never shown); a record not renewed for
``STALE_S`` seconds belongs to a runner that stopped, and reads as ``interrupted``. So a
runner starting on a shared workspace leaves the live jobs of the other runners alone.
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
REMOTE_CANCEL_MESSAGE = "已取消（正在计算的服务进程将在当前阶段结束后停下）"

# Shared workspaces (see the module docstring)
RUNNER_KEY = "_runner"  # in a record's params: {"id": runner, "seen": epoch seconds}
HEARTBEAT_S = 10.0  # a runner re-records its unfinished jobs this often
STALE_S = 60.0  # an unfinished record not renewed for this long: its runner has stopped
POLL_S = 1.0  # a job's cancel check reads its record at most this often

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
    _here: bool = field(default=False, repr=False)  # run by this runner (not a record)
    _polled: float = field(default=0.0, repr=False)  # when the cancel check last read the record
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # one record write at a time, in the order of their snapshots (heartbeat vs. the job)
    _saving: threading.Lock = field(default_factory=threading.Lock, repr=False)
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
    starts nothing. The bounds count the jobs this runner runs.

    ``shared``: whether other runners (other processes) run jobs on the same workspace at
    the same time, so that jobs are looked up in the store (see the module docstring); by
    default true for a store that says so (``store.shared``) and for a PostGIS store.
    """

    def __init__(self, max_jobs: int = 20, max_running: int = 2, *, max_waiting: int = 8,
                 max_per_owner: int = 3, store=None, shared: bool | None = None):
        self.max_jobs = int(max_jobs)
        self.max_waiting = max(1, int(max_waiting))
        self.max_per_owner = max(1, int(max_per_owner))
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, int(max_running)))
        self.store = store  # a LayerStore: jobs are recorded in the workspace (or None)
        self.shared = store is not None and (shared_workspace(store) if shared is None
                                             else bool(shared))
        self.id = uuid.uuid4().hex[:12]  # this runner, in its records on a shared workspace
        self.poll_s, self.heartbeat_s, self.stale_s = POLL_S, HEARTBEAT_S, STALE_S
        self._beating = False  # the heartbeat thread runs (shared workspaces)
        if store is not None:
            self._load()

    # --- records in the workspace -----------------------------------------------------

    def _load(self) -> None:
        """The recorded jobs (the last ``max_jobs``): those that were queued or running when
        the service stopped become ``interrupted`` (and are recorded so). On a shared
        workspace only those whose runner stopped (:func:`stale`): the others are another
        runner's live jobs."""
        try:
            records = self.store.job_records()
        except Exception:  # noqa: BLE001 - a workspace without job records still serves
            log.exception("could not read the job records")
            return
        for record in records[-self.max_jobs:] if self.max_jobs > 0 else []:
            job = self._from_record(record)
            if not job.finished_state and not self.shared:
                self._interrupt(job)
            if job.finished_state:
                job._done.set()
            self._jobs[job.id] = job

    def _from_record(self, record: dict) -> Job:
        """The job a record describes; an unfinished one whose runner stopped (shared
        workspace) is marked interrupted, in the record too."""
        job = _job_from_record(record)
        if self.shared and not job.finished_state and stale(record, self.stale_s):
            self._interrupt(job)
        return job

    def _interrupt(self, job: Job) -> None:
        job.state = "interrupted"
        job.message = INTERRUPTED_MESSAGE
        job.finished = job.finished or _now()
        self._save(job)
        job._done.set()

    def _record(self, job_id: str) -> dict | None:
        """The stored record of one job (None when there is none or it cannot be read)."""
        try:
            one = getattr(self.store, "job_record", None)
            if callable(one):
                return one(job_id)
            return next((r for r in self.store.job_records() if str(r["id"]) == job_id), None)
        except Exception:  # noqa: BLE001 - the caller goes on with what it has
            log.exception("could not read the record of job %s", job_id)
            return None

    def _save(self, job: Job) -> None:
        """Record ``job`` in the workspace; a failed write is logged, the job goes on."""
        if self.store is None:
            return
        with job._saving:
            self._write(job)

    def _write(self, job: Job) -> None:
        with job._lock:
            params = dict(job.params)
            if self.shared and job._here and not job.finished_state:
                params[RUNNER_KEY] = {"id": self.id, "seen": time.time()}
            record = {"id": job.id, "owner": job.owner, "label": job.label,
                      "state": job.state, "progress": job.progress, "message": job.message,
                      "error": job.error, "params": params, "created": job.created,
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

    def _poll(self, job: Job, *, force: bool = False) -> None:
        """Shared workspace: read the record of a job run here; when another runner marked
        it cancelled, ask the job to stop. At most every ``poll_s`` unless ``force``."""
        if not self.shared or job.finished_state or job.cancel_requested:
            return
        now = time.monotonic()
        if not force and now - job._polled < self.poll_s:
            return
        job._polled = now
        record = self._record(job.id)
        if record is not None and record.get("state") == "cancelled":
            self._request_cancel(job)

    def _request_cancel(self, job: Job) -> None:
        with job._lock:
            if job.state in FINISHED:
                return
            job.cancel_requested = True
            job.message = "正在停止…（求解器在当前阶段结束后停下）"

    def _heartbeat(self) -> None:
        """Shared workspace: renew the records of the unfinished jobs run here (so other
        runners know they are alive) and notice cancels, until none is left."""
        wake = threading.Event()
        while True:
            wake.wait(self.heartbeat_s)
            with self._lock:
                mine = [j for j in self._jobs.values() if j._here and not j.finished_state]
                if not mine:
                    self._beating = False
                    return
            for job in mine:
                self._poll(job, force=True)
                if not job.cancel_requested and not job.finished_state:
                    self._save(job)

    # --- the runner's API -------------------------------------------------------------

    def submit(self, work: Callable[[Callable, Callable], object], *, params: dict | None = None,
               label: str = "", owner: str | None = None) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], label=label, params=dict(params or {}), owner=owner,
                  _here=True)
        with self._lock:
            unfinished = [j for j in self._jobs.values()
                          if j._here and j.state not in FINISHED]
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
            beat = self.shared and not self._beating
            if beat:
                self._beating = True
        self._save(job)
        if beat:
            threading.Thread(target=self._heartbeat, daemon=True,
                             name=f"siting-jobs-{self.id}").start()
        thread = threading.Thread(target=self._run, args=(job, work), daemon=True,
                                  name=f"siting-job-{job.id}")
        thread.start()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job ``job_id``: run here, or (shared workspace) as its record says now."""
        job_id = str(job_id)
        with self._lock:
            job = self._jobs.get(job_id)
        if not self.shared or (job is not None and job._here):
            return job
        record = self._record(job_id)
        if record is None:
            return job
        if job is not None and job.finished_state and _unchanged(job, record):
            return job  # finished and unchanged: its result is already unpickled
        job = self._from_record(record)
        if job.finished_state:
            job._done.set()
        with self._lock:
            self._jobs[job.id] = job
            self._prune()
        return job

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job | None:
        """Ask a job to stop; a queued job is cancelled at once. Finished jobs stay as they are.

        Shared workspace, a job another runner runs: its record is marked ``cancelled`` (that
        runner stops it at its next check; a job whose runner has stopped is simply over)."""
        job = self.get(job_id)
        if job is None:
            return None
        if job._here or not self.shared:
            self._request_cancel(job)
            return job
        if job.state in FINISHED:
            return job
        record = self._record(job.id)  # as it is now: the job may have finished meanwhile
        if record is None or record.get("state") not in ("queued", "running"):
            return self.get(job_id)
        record = {**record, "state": "cancelled", "message": REMOTE_CANCEL_MESSAGE,
                  "finished": _now(), "result": None}
        try:
            self.store.save_job(record)
        except Exception:  # noqa: BLE001 - logged; the caller answers with the job as it was
            log.exception("could not record the cancel of job %s", job.id)
            return job
        job = self.get(job_id)
        if job is not None:
            job.cancel_requested = True
        return job

    def _prune(self) -> None:
        """Drop the oldest finished jobs beyond ``max_jobs`` (running ones are kept)."""
        excess = len(self._jobs) - self.max_jobs
        if excess <= 0:
            return
        for job_id in [j.id for j in self._jobs.values() if j.state in FINISHED][:excess]:
            del self._jobs[job_id]

    def _run(self, job: Job, work) -> None:
        """Wait for a slot (on a shared workspace noticing a cancel meanwhile), then run."""
        while not self._slots.acquire(timeout=max(self.poll_s, 0.05) if self.shared else None):
            self._poll(job, force=True)
            if job.cancel_requested:
                self._finish(job, "cancelled", message="已取消（尚未开始计算）")
                return
        try:
            self._run_in_slot(job, work)
        finally:
            self._slots.release()

    def _run_in_slot(self, job: Job, work) -> None:
        self._poll(job, force=True)
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
            self._poll(job)  # shared workspace: a cancel recorded by another runner
            return job.cancel_requested

        try:
            result = work(progress, cancel)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the job's error
            self._poll(job, force=True)
            if isinstance(exc, Cancelled) or job.cancel_requested:
                self._finish(job, "cancelled", message="已取消，取消前尚未找到可行解")
            else:
                self._finish(job, "failed", error=message_for(exc),
                             status=http_status(exc), message="计算失败")
            return
        self._poll(job, force=True)
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


def _unchanged(job: Job, record: dict) -> bool:
    """Whether ``record`` still says what ``job`` was built from (results compared by
    presence: a finished job's result is written once)."""
    return (record.get("state"), record.get("finished"), record.get("message") or "",
            record.get("error"), bool(record.get("result"))) == \
        (job.state, job.finished, job.message, job.error, job.result is not None)


def shared_workspace(store) -> bool:
    """Whether other processes may run jobs on ``store``'s workspace at the same time: the
    store says so (``store.shared``), or it is a PostGIS store (a database that several
    server processes open)."""
    said = getattr(store, "shared", None)
    if isinstance(said, bool):
        return said
    inner = getattr(store, "store", store)  # a CachedLayerStore wraps the store
    return type(inner).__module__.rsplit(".", 1)[-1] == "postgis"


def stale(record: dict, after_s: float = STALE_S) -> bool:
    """An unfinished record (shared workspace) whose runner has not renewed it for
    ``after_s`` seconds, or never said who runs it."""
    runner = (record.get("params") or {}).get(RUNNER_KEY)
    try:
        seen = float(runner["seen"])
    except (TypeError, KeyError, ValueError):
        return True
    return time.time() - seen > after_s


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
    params = {k: v for k, v in dict(record.get("params") or {}).items() if k != RUNNER_KEY}
    return Job(id=str(record["id"]), label=record.get("label") or "",
               params=params, state=state,
               progress=float(record.get("progress") or 0.0),
               message=record.get("message") or "", result=result,
               error=record.get("error"), created=record.get("created") or _now(),
               started=record.get("started"), finished=record.get("finished"),
               owner=record.get("owner"))
