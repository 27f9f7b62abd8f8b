"""Solves on a Celery task queue (Redis broker), for workers on other machines.

``make_celery(broker_url, ...)`` builds the Celery app (no app at import
time); the server sends ``binroute.solve_plan`` tasks through a
:class:`QueueRunner` and ``binroute worker`` runs them with
:func:`~api.service.solve_job.solve_plan`. Settings for long CPU-bound tasks:
a task is acknowledged only when it is over (``task_acks_late``) and put back
if its worker dies (``task_reject_on_worker_lost``), each worker process takes
one at a time (``worker_prefetch_multiplier=1``), and each task gets soft and
hard time limits from its plan's own limit. A task the broker delivers again
(a worker lost mid-solve) solves again; the outcome is stored once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .db import PlanRow, make_engine, sessions
from .jobs import GRACE_S
from .solve_job import finish_plan, solve_plan, start_plan

log = logging.getLogger(__name__)
#: The task's name, shared by the server that sends it and the workers that run it.
SOLVE_TASK = "binroute.solve_plan"
#: Seconds between a task's soft time limit (the plan fails cleanly) and its hard one (the process is killed).
HARD_AFTER_S = 30.0


def time_limits(options_json: str, max_time_limit_s: float) -> tuple[float, float]:
    """A plan's soft and hard time limits: its own time limit (else the server's bound) plus the grace."""
    given = json.loads(options_json).get("time_limit_s")
    soft = (float(given) if given is not None else max_time_limit_s) + GRACE_S
    return soft, soft + HARD_AFTER_S


def make_celery(
    broker_url: str,
    *,
    database_url: str | None = None,
    workdir: Path | None = None,
    max_time_limit_s: float = 300.0,
    visibility_timeout_s: float | None = None,
) -> Celery:
    """The Celery app; with ``database_url`` and ``workdir`` it can also run solves (a worker).

    ``visibility_timeout_s`` is how long Redis waits for an unacknowledged task before
    it gives it to another worker; by default longer than the longest solve.
    """
    app = Celery("binroute", broker=broker_url, set_as_current=False)
    visibility = visibility_timeout_s or (max_time_limit_s + GRACE_S + HARD_AFTER_S + 60.0)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility},
        worker_hijack_root_logger=False,
    )
    if database_url is None or workdir is None:
        return app
    factories: dict[str, sessionmaker[Session]] = {}

    def factory() -> sessionmaker[Session]:
        """One engine per worker process, made in the process (never shared across a fork)."""
        if "f" not in factories:
            factories["f"] = sessions(make_engine(database_url))
        return factories["f"]

    @app.task(name=SOLVE_TASK)
    def solve(plan_id: str) -> str:
        """Solve one plan: ``stored``, ``duplicate`` (solved elsewhere already), ``skipped``, or ``failed``."""
        db = factory()
        if not start_plan(db, plan_id):
            return "skipped"
        try:
            return "stored" if solve_plan(db, plan_id, workdir) else "duplicate"
        except SoftTimeLimitExceeded:
            finish_plan(db, plan_id, status="failed", error="the solve took longer than its time limit and was stopped")
        except Exception:
            log.exception("solve %s failed", plan_id)
            finish_plan(db, plan_id, status="failed", error="the solver stopped unexpectedly")
        return "failed"

    return app


class QueueRunner:
    """Sends plans' solves to the task queue; the same interface as :class:`~api.service.jobs.JobRunner`."""

    def __init__(self, broker_url: str, session_factory: sessionmaker[Session], *, max_time_limit_s: float) -> None:
        self.celery = make_celery(broker_url, max_time_limit_s=max_time_limit_s)
        self.sessions = session_factory
        self.max_time_limit_s = max_time_limit_s

    def submit(self, plan_id: str) -> None:
        """Queue a plan's solve with time limits from its own limit."""
        with self.sessions() as s:
            row = s.get(PlanRow, plan_id)
            if row is None:
                return
            soft, hard = time_limits(row.options_json, self.max_time_limit_s)
        self.celery.send_task(SOLVE_TASK, args=[plan_id], soft_time_limit=soft, time_limit=hard)

    def resume(self) -> int:
        """Send again the plans still queued (a task sent twice is solved, and stored, once)."""
        with self.sessions() as s:
            ids = list(s.scalars(select(PlanRow.id).where(PlanRow.status == "queued")))
        for plan_id in ids:
            self.submit(plan_id)
        return len(ids)

    def shutdown(self) -> None:
        """Close the broker connections and idle database connections."""
        self.celery.close()
        bind: Any = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
