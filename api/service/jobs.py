"""Background jobs (plans' solves, simulations): each runs in its own process, a few at a time.

A :class:`JobRunner` runs one kind of job (:class:`~api.service.kinds.JobKind`).
A thread pool limits how many run at once; each thread starts
``python -P -m api.service.solve_job`` (or the kind's module) and waits for it
with a deadline, so a job that crashes or hangs is marked ``failed`` and never
takes the server down. Jobs still ``queued`` or ``running`` when the server
stopped are queued again on start; each start counts, so a job that takes the
server down with it every time is failed after ``max_attempts`` starts
(:func:`~api.service.solve_job.start_job`). With a task queue,
:class:`~api.service.tasks.QueueRunner` takes the same calls."""

from __future__ import annotations

import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .db import now
from .kinds import JobKind
from .solve_job import MAX_ATTEMPTS, PLAN_JOB

log = logging.getLogger(__name__)
#: Seconds a solve may take beyond its own time limit (graph, forecast, writing).
GRACE_S = 120.0


def solve_command(database_url: str, plan_id: str, workdir: Path) -> list[str]:
    """The command that solves one plan in its own process (:meth:`~api.service.kinds.JobKind.command`)."""
    return PLAN_JOB.command(database_url, plan_id, workdir)


class JobRunner:
    """Runs one kind of job (plans' solves by default) in their own processes, ``workers`` at a time.

    A job gets its own time limit plus :data:`GRACE_S`; a solve with no time limit (a solution
    limit alone) gets ``max_time_limit_s``, the server's bound, plus the grace; a simulation
    the sum over its days and policies (:attr:`~api.service.kinds.JobKind.budget`).
    """

    def __init__(
        self,
        database_url: str,
        session_factory: sessionmaker[Session],
        workdir: Path,
        *,
        workers: int,
        max_time_limit_s: float,
        max_attempts: int = MAX_ATTEMPTS,
        kind: JobKind = PLAN_JOB,
    ) -> None:
        self.database_url = database_url
        self.sessions = session_factory
        self.workdir = workdir
        self.max_time_limit_s = max_time_limit_s
        self.max_attempts = max_attempts
        self.kind, self.model, self.noun = kind, kind.model, kind.noun
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"binroute-{kind.noun}")

    def command(self, job_id: str) -> list[str]:
        """The command that runs one job in its own process."""
        return self.kind.command(self.database_url, job_id, self.workdir)

    def time_limit(self, options_json: str) -> float:
        """Seconds a job with these options may take before :data:`GRACE_S`."""
        return self.kind.time_limit(options_json, self.max_time_limit_s)

    def start(self, job_id: str) -> bool:
        """Mark a queued job running; whether to run it now (every start counts: :func:`.solve_job.start_job`)."""
        return self.kind.start(self.sessions, job_id, max_attempts=self.max_attempts)

    def submit(self, plan_id: str) -> None:
        """Queue a plan's solve."""
        self.pool.submit(self._run, plan_id)

    def resume(self) -> int:
        """Queue again every plan left queued or running by a previous server."""
        with self.sessions() as s:
            rows = s.scalars(select(self.model).where(self.model.status.in_(("queued", "running")))).all()
            for row in rows:
                row.status = "queued"
            s.commit()
            ids = [r.id for r in rows]
        for plan_id in ids:
            self.submit(plan_id)
        return len(ids)

    def _fail(self, plan_id: str, message: str) -> None:
        """Mark a plan failed with ``message`` unless it has finished meanwhile."""
        with self.sessions() as s:
            row = s.get(self.model, plan_id)
            if row is not None and row.status in ("queued", "running"):
                row.status, row.error, row.finished = "failed", message, now()
                s.commit()

    def _run(self, plan_id: str) -> None:
        """Solve one queued plan in its own process and wait for it with a deadline."""
        with self.sessions() as s:
            row = s.get(self.model, plan_id)
            if row is None or row.status != "queued":
                return
            limit = self.time_limit(row.options_json)
        if not self.start(plan_id):
            return
        cmd = self.command(plan_id)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit + GRACE_S, check=False)
        except subprocess.TimeoutExpired:
            self._fail(plan_id, f"the {self.noun} took longer than {limit + GRACE_S:.0f} s and was stopped")
            return
        except OSError as exc:
            self._fail(plan_id, f"could not start the solver ({exc.strerror})")
            return
        if proc.returncode != 0:
            log.error("%s %s exited with %s: %s", self.noun, plan_id, proc.returncode, proc.stderr[-2000:])
            self._fail(plan_id, f"the solver stopped unexpectedly (exit code {proc.returncode})")

    def shutdown(self) -> None:
        """Stop taking solves and close idle database connections; queued solves are queued again on the next start."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
