"""Background jobs (plans' solves, simulations) on a Celery task queue (Redis broker), for workers on other machines.

``make_celery(broker_url, ...)`` builds the Celery app (no app at import
time); the server sends one task per job through a :class:`QueueRunner` per
kind of job (``binroute.solve_plan``, ``binroute.run_simulation``: the
:data:`~binroute.api.service.jobs.KINDS`) and ``binroute worker`` runs them
with the kind's own function
(:attr:`~binroute.api.service.jobs.kind.JobKind.run_on_worker`: a
simulation's policies one after another). Settings for long CPU-bound tasks:
a task is acknowledged only when it is over (``task_acks_late``) and put back
if its worker dies
(``task_reject_on_worker_lost``), each worker process takes one at a time
(``worker_prefetch_multiplier=1``), and each task gets soft and hard time
limits from its job's own budget (a plan's time limit; a simulation's per-day
limit times its days and policies). Pool processes run at
:data:`~binroute.api.service.defaults.JOB_NICENESS`, so on a machine shared with
``serve`` the kernel schedules its request threads before a search. A task the broker delivers again (a worker
lost mid-job) runs again; the outcome is stored once, and a job started
``max_attempts`` times is failed rather than started again.

Redis hands a task nobody acknowledged to another worker after the visibility
timeout (by default just longer than the longest plan, :func:`default_visibility_s`),
and a simulation may run much longer, so a delivered task first looks at its
job (:func:`deliver`): one ``running`` with a fresh heartbeat (:mod:`.lifecycle`)
is alive on another worker, so the task neither runs it nor counts an attempt,
but sends itself again to look once more in :func:`watch_countdown_s` seconds
(a watchdog that stays on the queue while the job runs). When the machine
running it is lost, its heartbeat goes stale and the next copy starts it again.

A broker that cannot be reached stops ``serve`` and ``worker`` at start
(:func:`check_broker`); one lost while the server runs fails each new plan or
simulation with a clear error (:class:`QueueRunner`), and everything stored stays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready, worker_shutdown
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .._priority import lower_priority
from ..db import make_engine, sessions
from ..errors import Unreachable, reason
from ..logs import REQUEST_ID
from . import KINDS
from .kind import GRACE_S, JobKind
from .lifecycle import MAX_ATTEMPTS, STALE_S, Heartbeat, finish_job, is_beating, start_job
from .plan import PLAN_JOB
from .sweep import Sweeper

log = logging.getLogger(__name__)
#: Seconds between a task's soft time limit (the job fails cleanly) and its hard one (the process is killed).
HARD_AFTER_S = 30.0
#: Seconds to wait for the broker when connecting.
CONNECT_TIMEOUT_S = 5.0
#: Times a send to a broker that does not answer is tried again (within about 1.5 s) before its job fails.
PUBLISH_RETRIES = 2


def time_limits(options_json: str, max_time_limit_s: float, kind: JobKind) -> tuple[float, float]:
    """A job's soft and hard time limits: its budget (a plan's time limit, else the server's bound) plus the grace."""
    soft = kind.time_limit(options_json, max_time_limit_s) + GRACE_S
    return soft, soft + HARD_AFTER_S


def default_visibility_s(max_time_limit_s: float) -> float:
    """Seconds Redis waits for an unacknowledged task by default: longer than the longest plan's hard time limit.

    A longer job (a simulation) is handed out again meanwhile; its heartbeat keeps it
    from being run twice (:func:`deliver`).
    """
    return PLAN_JOB.longest(max_time_limit_s) + GRACE_S + HARD_AFTER_S + 60.0


def watch_countdown_s(visibility_s: float) -> float:
    """Seconds before a task whose job runs elsewhere looks again: :data:`~binroute.api.service.jobs.lifecycle.STALE_S`.

    At most half the visibility timeout, so Redis does not hand out the waiting copy
    (held by a worker until then) a second time.
    """
    return min(STALE_S, visibility_s / 2)


def deliver(kind: JobKind, factory: sessionmaker[Session], job_id: str, *, max_attempts: int) -> str:
    """What a worker does with a delivered task of ``kind``: ``"run"``, ``"wait"`` or ``"skip"``.

    ``"run"``: the job was queued, or running with a stale or missing heartbeat (its
    machine lost), and is now started, its attempt counted. ``"wait"``: it is running
    with a fresh heartbeat (younger than :data:`~binroute.api.service.jobs.lifecycle.STALE_S`), so it runs
    elsewhere: not started, no attempt counted; the task should look again later.
    ``"skip"``: it is finished or gone, or failed now for having started ``max_attempts``
    times.
    """
    if start_job(factory, kind, job_id, max_attempts=max_attempts, stale_s=STALE_S):
        return "run"
    return "wait" if is_beating(factory, kind, job_id, STALE_S) else "skip"


def make_celery(
    broker_url: str,
    *,
    database_url: str | None = None,
    workdir: Path | None = None,
    max_time_limit_s: float = 300.0,
    visibility_timeout_s: float | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> Celery:
    """The Celery app; with ``database_url`` and ``workdir`` it can also run jobs (a worker).

    ``visibility_timeout_s`` is how long Redis waits for an unacknowledged task before
    it gives it to another worker; by default longer than the longest job the server
    accepts (:func:`default_visibility_s`). A job that has started ``max_attempts``
    times is failed instead of run again.
    """
    app = Celery("binroute", broker=broker_url, set_as_current=False)
    visibility = visibility_timeout_s or default_visibility_s(max_time_limit_s)
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

    countdown_s = watch_countdown_s(visibility)
    sweepers: list[Sweeper] = []

    @worker_ready.connect(weak=False)
    def _sweep(sender: Any = None, **_: Any) -> None:
        """Once the worker's pool is up, its main process hands out again the jobs of dead workers."""
        if getattr(sender, "app", None) is app:
            sweepers.append(start_sweeper(app, factory(), max_time_limit_s=max_time_limit_s))

    @worker_process_init.connect(weak=False)
    def _nice(**_: Any) -> None:
        """Each pool process solves at a lower priority, so a server on the same machine answers first."""
        lower_priority()

    @worker_shutdown.connect(weak=False)
    def _stop_sweeping(sender: Any = None, **_: Any) -> None:
        while sweepers:
            sweepers.pop().stop()

    for kind in KINDS:
        _register(app, kind, factory, workdir, countdown_s, max_attempts=max_attempts, database_url=database_url)
    return app


def _register(
    app: Celery,
    kind: JobKind,
    factory: Callable[[], sessionmaker[Session]],
    workdir: Path,
    countdown_s: float,
    *,
    max_attempts: int,
    database_url: str,
) -> None:
    """Add the task that runs one job of ``kind`` in a worker."""

    @app.task(name=kind.task, bind=True)
    def run(self: Any, job_id: str, request_id: str | None = None) -> str:
        """Run one job: ``stored``, ``duplicate`` (finished elsewhere), ``waiting``, ``skipped``, or ``failed``.

        Its log lines carry ``request_id``, the id of the request that queued it.
        """
        token = REQUEST_ID.set(request_id or f"{kind.item}-{job_id}")
        try:
            return _run(self, job_id, request_id)
        finally:
            REQUEST_ID.reset(token)

    def _run(self: Any, job_id: str, request_id: str | None) -> str:
        db = factory()
        decision = deliver(kind, db, job_id, max_attempts=max_attempts)
        if decision == "wait":
            hard, soft = self.request.timelimit or (None, None)
            self.apply_async(
                args=[job_id],
                kwargs={"request_id": request_id},
                countdown=countdown_s,
                soft_time_limit=soft,
                time_limit=hard,
            )
            log.info("%s %s runs elsewhere (fresh heartbeat); looking again in %.3g s", kind.item, job_id, countdown_s)
            return "waiting"
        if decision == "skip":
            return "skipped"
        try:
            with Heartbeat(db, kind, job_id, database_url=database_url):
                return "stored" if kind.run_on_worker(db, job_id, workdir) else "duplicate"
        except SoftTimeLimitExceeded:
            message = f"the {kind.noun} took longer than its time limit and was stopped"
            finish_job(db, kind, job_id, status="failed", error=message)
        except Exception:
            log.exception("%s %s failed", kind.noun, job_id)
            error = "the solver stopped unexpectedly"
            finish_job(db, kind, job_id, status="failed", error=error)
        return "failed"


def check_broker(celery: Celery) -> None:
    """Connect to the Celery app's broker once; :class:`.Unreachable` if it does not answer."""
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=CONNECT_TIMEOUT_S)
    except (OperationalError, OSError) as exc:
        shown = maybe_sanitize_url(celery.conf.broker_url)
        raise Unreachable(f"cannot reach the task queue's broker {shown}: {reason(exc)}") from exc


def queue_runners(
    broker_url: str, session_factory: sessionmaker[Session], *, max_time_limit_s: float, sweep: bool = True
) -> dict[JobKind, QueueRunner]:
    """A :class:`QueueRunner` for each kind of job, sharing one Celery app.

    With ``sweep`` the plans' runner also hands out again the jobs whose worker is
    gone (:class:`~.sweep.Sweeper`, stopped with it).

    Raises :class:`~binroute.api.service.errors.Unreachable` if the broker does not answer.
    """
    celery = make_celery(broker_url, max_time_limit_s=max_time_limit_s)
    try:
        check_broker(celery)
    except Unreachable:
        celery.close()
        raise
    runners = {
        kind: QueueRunner(celery, session_factory, kind=kind, max_time_limit_s=max_time_limit_s) for kind in KINDS
    }
    if sweep:
        runners[PLAN_JOB].sweeper = start_sweeper(celery, session_factory, max_time_limit_s=max_time_limit_s)
    return runners


def send_job(
    celery: Celery, factory: sessionmaker[Session], kind: JobKind, job_id: str, *, max_time_limit_s: float
) -> None:
    """Send the task of one job of ``kind`` with time limits from its own budget (nothing if the job is gone).

    The task carries the id of the request that queued it (:data:`~..logs.REQUEST_ID`), for the worker's log lines.
    """
    with factory() as s:
        row = s.get(kind.model, job_id)
        if row is None:
            return
        soft, hard = time_limits(row.options_json, max_time_limit_s, kind)
    kwargs = {"request_id": REQUEST_ID.get()}
    celery.send_task(kind.task, args=[job_id], kwargs=kwargs, soft_time_limit=soft, time_limit=hard)


def start_sweeper(celery: Celery, factory: sessionmaker[Session], *, max_time_limit_s: float) -> Sweeper:
    """A :class:`~.sweep.Sweeper` over every kind of job that sends their tasks through ``celery``; started."""

    def send(kind: JobKind, job_id: str) -> None:
        send_job(celery, factory, kind, job_id, max_time_limit_s=max_time_limit_s)

    return Sweeper(factory, KINDS, send).start()


class QueueRunner:
    """Sends one kind of job to the task queue; the same calls as :class:`~.local.JobRunner`."""

    def __init__(
        self, celery: Celery, session_factory: sessionmaker[Session], *, kind: JobKind, max_time_limit_s: float
    ) -> None:
        self.celery = celery
        self.sessions = session_factory
        self.kind = kind
        self.max_time_limit_s = max_time_limit_s
        #: The sweeper this runner stops when it shuts down (:func:`queue_runners`).
        self.sweeper: Sweeper | None = None

    def send(self, job_id: str) -> None:
        """Send a job's task, with time limits from its own budget; the broker's error if it cannot take it."""
        send_job(self.celery, self.sessions, self.kind, job_id, max_time_limit_s=self.max_time_limit_s)

    def submit(self, job_id: str) -> None:
        """Queue a job with time limits from its own budget.

        If the broker cannot take it, the job is marked failed with the reason and
        :class:`~binroute.api.service.errors.Unreachable` is raised.
        """
        try:
            self.send(job_id)
        except (OperationalError, OSError) as exc:
            shown = maybe_sanitize_url(self.celery.conf.broker_url)
            message = f"the task queue's broker {shown} cannot be reached ({reason(exc)}); "
            message += f"the {self.kind.item} was not queued"
            finish_job(self.sessions, self.kind, job_id, status="failed", error=message)
            raise Unreachable(message) from exc

    def resume(self) -> int:
        """Send again the jobs still queued (a task sent twice is run, and stored, once)."""
        model = self.kind.model
        with self.sessions() as s:
            ids = list(s.scalars(select(model.id).where(model.status == "queued")))
        for job_id in ids:
            self.submit(job_id)
        return len(ids)

    def shutdown(self) -> None:
        """Stop the sweeper; close the broker connections and idle database connections."""
        if self.sweeper is not None:
            self.sweeper.stop()
        self.celery.close()
        bind: Any = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
