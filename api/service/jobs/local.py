"""Background jobs (plans' solves, simulations) in local processes, each in its own, a few at a time.

A :class:`JobRunner` runs one kind of job (:class:`~binroute.api.service.jobs.kind.JobKind`).
A thread pool limits how many run at once; each thread starts
``python -P -m binroute.api.service.jobs KIND ...`` (:mod:`.__main__`) and waits
for it with a deadline, so a job that crashes or hangs is marked ``failed`` and
never takes the server down. Jobs still ``queued`` or ``running`` when the
server stopped are taken up again on start (:meth:`JobRunner.resume`), a
running one only once its heartbeat is stale
(:mod:`~binroute.api.service.jobs.lifecycle`): with a fresh one it is alive in
another server on the same database, or in a job process that outlived its
server, and is watched until it finishes or its heartbeat stops. Each start
counts, so a job that takes the server down with it every time is failed after
``max_attempts`` starts (:func:`~binroute.api.service.jobs.lifecycle.start_job`).
While the server runs, its :class:`~binroute.api.service.jobs.sweep.Sweeper`
(:func:`local_sweeper`) takes up every job whose heartbeat goes stale (its
process died with another server on the same database, or with a lost machine),
except the runner's own (:meth:`JobRunner.held`).
With a task queue, :class:`~binroute.api.service.jobs.taskqueue.QueueRunner`
takes the same calls.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..logs import REQUEST_ID
from .kind import GRACE_S, JobKind
from .lifecycle import ACTIVE, MAX_ATTEMPTS, STALE_S, finish_job, is_beating, start_job
from .sweep import Sweeper

log = logging.getLogger(__name__)


class JobRunner:
    """Runs one kind of job in their own processes, ``workers`` at a time.

    A job gets its own time limit plus :data:`GRACE_S`; a solve with no time limit (a solution
    limit alone) gets ``max_time_limit_s``, the server's bound, plus the grace; a simulation
    the sum over its days and policies (:attr:`~binroute.api.service.jobs.kind.JobKind.budget`).
    """

    def __init__(
        self,
        database_url: str,
        session_factory: sessionmaker[Session],
        workdir: Path,
        *,
        kind: JobKind,
        workers: int,
        max_time_limit_s: float,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.database_url = database_url
        self.sessions = session_factory
        self.workdir = workdir
        self.max_time_limit_s = max_time_limit_s
        self.max_attempts = max_attempts
        self.kind, self.model, self.noun = kind, kind.model, kind.noun
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"binroute-{kind.noun}")
        #: Seconds between two looks at a job running elsewhere (:meth:`resume`).
        self.look_again_s = STALE_S
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}
        self._watching: set[str] = set()
        self._held: dict[str, int] = {}
        self._held_lock = threading.Lock()  # its own: submit() is called with _lock held (_looked_again)
        self._closed = False
        #: The sweeper this runner stops when it shuts down (:func:`local_sweeper`).
        self.sweeper: Sweeper | None = None

    def command(self, job_id: str) -> list[str]:
        """The command that runs one job in its own process."""
        return self.kind.command(self.database_url, job_id, self.workdir)

    def time_limit(self, options_json: str) -> float:
        """Seconds a job with these options may take before :data:`GRACE_S`."""
        return self.kind.time_limit(options_json, self.max_time_limit_s)

    def start(self, job_id: str, stale_s: float | None = None) -> bool:
        """Mark a queued (or orphaned running) job running; whether to run it now.

        Every start counts (:func:`~.lifecycle.start_job`); a running job is orphaned when its
        heartbeat is older than ``stale_s`` (default :data:`~binroute.api.service.jobs.lifecycle.STALE_S`).
        """
        return start_job(self.sessions, self.kind, job_id, max_attempts=self.max_attempts, stale_s=stale_s)

    def submit(self, job_id: str) -> None:
        """Queue a job to run in its own process (its log lines carry the id of the request that queued it)."""
        with self._held_lock:
            self._held[job_id] = self._held.get(job_id, 0) + 1
        try:
            self.pool.submit(self._run_logged, job_id, REQUEST_ID.get())
        except RuntimeError:  # shut down meanwhile: the next server takes the job up
            self._release(job_id)

    def held(self) -> set[str]:
        """The jobs this runner holds: queued in its pool or running in a process it waits for."""
        with self._held_lock:
            return set(self._held)

    def _release(self, job_id: str) -> None:
        with self._held_lock:
            left = self._held.get(job_id, 0) - 1
            if left > 0:
                self._held[job_id] = left
            else:
                self._held.pop(job_id, None)

    def _run_logged(self, job_id: str, request_id: str | None = None) -> None:
        """:meth:`_run`, with anything it raises logged (a pool thread's exception is otherwise lost)."""
        token = REQUEST_ID.set(request_id or f"{self.kind.item}-{job_id}")
        try:
            self._run(job_id)
        except Exception:
            log.exception("%s %s could not be run", self.noun, job_id)
        finally:
            self._release(job_id)
            REQUEST_ID.reset(token)

    def resume(self) -> int:
        """Take up every job left queued or running by a previous server; how many.

        A queued one is run. A running one is run again only when its heartbeat
        is stale or missing (its process died with the server); one with a fresh
        heartbeat runs elsewhere (another server on this database, or a job
        process that outlived its server) and is looked at again every
        :attr:`look_again_s` until it finishes or its heartbeat goes stale.
        """
        with self.sessions() as s:
            ids = list(s.scalars(select(self.model.id).where(self.model.status.in_(ACTIVE))))
        for job_id in ids:
            self.submit(job_id)
        return len(ids)

    def watched(self) -> list[str]:
        """The jobs running elsewhere that this runner looks at again later (:meth:`resume`)."""
        with self._lock:
            return sorted(self._watching)

    def _watch(self, job_id: str, alive_elsewhere: bool) -> None:
        """Look at ``job_id`` again after :attr:`look_again_s` if it runs elsewhere; else stop watching it."""
        with self._lock:
            if not alive_elsewhere or self._closed:
                self._watching.discard(job_id)
                return
            self._watching.add(job_id)
            if job_id not in self._timers:
                timer = threading.Timer(self.look_again_s, self._looked_again, args=(job_id,))
                timer.daemon = True
                self._timers[job_id] = timer
                timer.start()

    def _looked_again(self, job_id: str) -> None:
        with self._lock:
            self._timers.pop(job_id, None)
            if not self._closed:
                self.submit(job_id)

    def _fail(self, job_id: str, message: str) -> None:
        """Mark a job failed with ``message`` unless it has finished meanwhile."""
        finish_job(self.sessions, self.kind, job_id, status="failed", error=message)

    def _run(self, job_id: str) -> None:
        """Run one queued (or orphaned) job in its own process and wait for it with a deadline."""
        with self.sessions() as s:
            row = s.get(self.model, job_id)
            if row is None or row.status not in ("queued", "running"):
                self._watch(job_id, alive_elsewhere=False)
                return
            limit = self.time_limit(row.options_json)
            stale_s = STALE_S
        started = self.start(job_id, stale_s)
        elsewhere = not started and is_beating(self.sessions, self.kind, job_id, stale_s)
        if elsewhere:
            log.info(
                "%s %s runs elsewhere (fresh heartbeat); looking again in %.3g s",
                self.noun,
                job_id,
                self.look_again_s,
            )
        self._watch(job_id, elsewhere)
        if not started:
            return
        cmd = self.command(job_id)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit + GRACE_S, check=False)
        except subprocess.TimeoutExpired:
            self._fail(job_id, f"the {self.noun} took longer than {limit + GRACE_S:.0f} s and was stopped")
            return
        except OSError as exc:
            self._fail(job_id, f"could not start the solver ({exc.strerror})")
            return
        if proc.returncode != 0:
            log.error("%s %s exited with %s: %s", self.noun, job_id, proc.returncode, proc.stderr[-2000:])
            self._fail(job_id, f"the solver stopped unexpectedly (exit code {proc.returncode})")

    def shutdown(self) -> None:
        """Stop taking jobs and close idle database connections; queued jobs are queued again on the next start."""
        if self.sweeper is not None:
            self.sweeper.stop()
        with self._lock:
            self._closed = True
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._watching.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()


def local_sweeper(runners: Mapping[JobKind, JobRunner]) -> Sweeper:
    """A :class:`~.sweep.Sweeper` that runs each kind's lost jobs on its local runner; started.

    A job running with a stale heartbeat, or queued past
    :data:`~binroute.api.service.jobs.lifecycle.QUEUED_S` (its server died before
    it began), is put back ``queued`` and submitted here, unless a runner here holds
    it already (:meth:`JobRunner.held`: queued in its pool, or its process still
    running, whatever its heartbeat says). Its start is the one conditional UPDATE
    (:func:`~binroute.api.service.jobs.lifecycle.start_job`), so of several servers
    sweeping one database only one runs it, and past its attempts it is failed with
    the reason. The sweeper is stopped with the runners (:meth:`JobRunner.shutdown`).
    """
    first = next(iter(runners.values()))

    def send(kind: JobKind, job_id: str) -> None:
        runners[kind].submit(job_id)

    def held(kind: JobKind) -> set[str]:
        return runners[kind].held()

    sweeper = Sweeper(first.sessions, list(runners), send, held=held)
    for runner in runners.values():
        runner.sweeper = sweeper
    return sweeper.start()
