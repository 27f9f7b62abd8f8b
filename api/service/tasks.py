"""Solves on a Celery task queue (Redis broker), for workers on other machines.

``make_celery(broker_url, ...)`` builds the Celery app (no app at import
time); the server sends ``binroute.solve_plan`` tasks through a
:class:`QueueRunner` and ``binroute worker`` runs them with
:func:`~api.service.solve_job.solve_plan`. Settings for long CPU-bound tasks:
a task is acknowledged only when it is over (``task_acks_late``) and put back
if its worker dies (``task_reject_on_worker_lost``), each worker process takes
one at a time (``worker_prefetch_multiplier=1``), and each task gets soft and
hard time limits from its plan's own limit. A task the broker delivers again
(a worker lost mid-solve) solves again; the outcome is stored once, and a plan
started ``max_attempts`` times is failed rather than started again.

A broker that cannot be reached stops ``serve`` and ``worker`` at start
(:func:`check_broker`); one lost while the server runs fails each new plan
with a clear error (:class:`QueueRunner`), and everything stored stays.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .db import PlanRow, make_engine, sessions
from .errors import Unreachable, reason
from .jobs import GRACE_S
from .solve_job import MAX_ATTEMPTS, finish_plan, solve_plan, start_plan

log = logging.getLogger(__name__)
#: The task's name, shared by the server that sends it and the workers that run it.
SOLVE_TASK = "binroute.solve_plan"
#: Seconds between a task's soft time limit (the plan fails cleanly) and its hard one (the process is killed).
HARD_AFTER_S = 30.0
#: Seconds to wait for the broker when connecting.
CONNECT_TIMEOUT_S = 5.0
#: Times a send to a broker that does not answer is tried again (within about 1.5 s) before its plan fails.
PUBLISH_RETRIES = 2


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
    max_attempts: int = MAX_ATTEMPTS,
) -> Celery:
    """The Celery app; with ``database_url`` and ``workdir`` it can also run solves (a worker).

    ``visibility_timeout_s`` is how long Redis waits for an unacknowledged task before
    it gives it to another worker; by default longer than the longest solve. A plan
    whose solve has started ``max_attempts`` times is failed instead of solved again.
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
        broker_connection_timeout=CONNECT_TIMEOUT_S,
        broker_transport_options={"visibility_timeout": visibility, "socket_connect_timeout": CONNECT_TIMEOUT_S},
        task_publish_retry_policy={
            "max_retries": PUBLISH_RETRIES,
            "interval_start": 0.0,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
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
        if not start_plan(db, plan_id, max_attempts=max_attempts):
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


def check_broker(celery: Celery) -> None:
    """Connect to the Celery app's broker once; :class:`~api.service.errors.Unreachable` if it does not answer."""
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=CONNECT_TIMEOUT_S)
    except (OperationalError, OSError) as exc:
        shown = maybe_sanitize_url(celery.conf.broker_url)
        raise Unreachable(f"cannot reach the task queue's broker {shown}: {reason(exc)}") from exc


class QueueRunner:
    """Sends plans' solves to the task queue; the same interface as :class:`~api.service.jobs.JobRunner`.

    Raises :class:`~api.service.errors.Unreachable` at start if the broker does not answer.
    """

    def __init__(self, broker_url: str, session_factory: sessionmaker[Session], *, max_time_limit_s: float) -> None:
        self.celery = make_celery(broker_url, max_time_limit_s=max_time_limit_s)
        try:
            check_broker(self.celery)
        except Unreachable:
            self.celery.close()
            raise
        self.sessions = session_factory
        self.max_time_limit_s = max_time_limit_s

    def submit(self, plan_id: str) -> None:
        """Queue a plan's solve with time limits from its own limit.

        If the broker cannot take it, the plan is marked failed with the reason and
        :class:`~api.service.errors.Unreachable` is raised.
        """
        with self.sessions() as s:
            row = s.get(PlanRow, plan_id)
            if row is None:
                return
            soft, hard = time_limits(row.options_json, self.max_time_limit_s)
        try:
            self.celery.send_task(SOLVE_TASK, args=[plan_id], soft_time_limit=soft, time_limit=hard)
        except (OperationalError, OSError) as exc:
            shown = maybe_sanitize_url(self.celery.conf.broker_url)
            message = f"the task queue's broker {shown} cannot be reached ({reason(exc)}); the plan was not queued"
            finish_plan(self.sessions, plan_id, status="failed", error=message)
            raise Unreachable(message) from exc

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
