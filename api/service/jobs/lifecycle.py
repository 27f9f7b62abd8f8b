"""The lifecycle every background job shares, whatever its kind: start, heartbeat, progress, attempts, finish.

A job is a row (:class:`~binroute.api.service.db.JobColumns`) that goes
``queued`` → ``running`` → ``done`` or ``failed``; every function here takes
the job's kind (:class:`~binroute.api.service.jobs.kind.JobKind`) for its table
and its words.

**Clock.** Heartbeats are written and judged by the database server's clock
(:func:`~binroute.api.service.db.database_now`, on PostgreSQL), never a machine's
own: a worker whose clock jumps an hour neither looks dead while it beats (its
job handed out again while it runs) nor alive after it stops.

**Start and attempts.** :func:`start_job` marks a queued (or orphaned running)
job running and counts the start on its row (``attempts``): a job that has
started :data:`MAX_ATTEMPTS` times without finishing (a poison job that kills
its worker each time, or a server stopped mid-job again and again) is marked
failed instead of being started again.

**Heartbeat.** While a job runs, the time is written on its row
(``heartbeat``) every :data:`HEARTBEAT_S` seconds (:class:`Heartbeat`);
:func:`start_job` sets it as it marks the job running. OR-Tools holds the
Python interpreter for a whole search, so a thread of the job's own process
could not write during one: the beats come from a small process of their own
(:mod:`._beat`), which stops when the job's process closes its end of a pipe,
or dies (a ``kill -9``, a lost machine). A job ``running`` with a heartbeat
younger than :data:`STALE_S` is alive somewhere: a second copy of its task does
not start it (:func:`~binroute.api.service.jobs.taskqueue.deliver`). An older or
missing heartbeat means the process running it is gone, and the job is handed
out again (:func:`requeue_stale`, run every :data:`HEARTBEAT_S` by the server
and by every worker: :mod:`.sweep`), once, counting an attempt when it starts.

**Progress.** :func:`record_progress` writes a job's progress columns while it
runs (a plan's stage and percentage, a simulation's days done; each kind says
which).

**Finish.** :func:`finish_job` stores the outcome only while the job is still
``queued`` or ``running``, so a job run twice (a redelivered task, a second
worker) is stored once, and a job deleted meanwhile stays deleted.
"""

from __future__ import annotations

import json
import logging
import os
import select as io_select
import subprocess
import sys
import threading
from collections.abc import Collection
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import database_now
from ..defaults import MAX_ATTEMPTS as MAX_ATTEMPTS
from .kind import JobKind

log = logging.getLogger(__name__)
#: The statuses of a job that is not over.
ACTIVE = ("queued", "running")


def _seconds_from_env(name: str, default: float) -> float:
    """A positive number of seconds from the environment variable ``name``; ``ValueError`` naming it otherwise."""
    given = os.environ.get(name)
    if given is None:
        return default
    try:
        seconds = float(given)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"{name} must be a number of seconds above 0, not {given!r}")
    return seconds


#: Seconds between two heartbeats of a running job (``BINROUTE_HEARTBEAT_S`` in the environment, else 10).
HEARTBEAT_S = _seconds_from_env("BINROUTE_HEARTBEAT_S", 10.0)
#: Seconds without a heartbeat after which a running job is taken as lost (three missed beats).
STALE_S = 3 * HEARTBEAT_S
#: Seconds a job may stay queued (since created or last sent) before its task is sent again, in case it was lost.
QUEUED_S = 12 * HEARTBEAT_S


def start_job(
    factory: sessionmaker[Session],
    kind: JobKind,
    job_id: str,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    stale_s: float | None = None,
) -> bool:
    """Mark a queued (or orphaned running) job of ``kind`` running and count the start; whether to run it now.

    A ``running`` job is orphaned when its heartbeat is missing or older than
    ``stale_s`` seconds (default :data:`STALE_S`); one with a fresher heartbeat runs
    elsewhere and is neither started nor counted (``False``). ``False`` too if the job
    is finished or gone, or if it has started ``max_attempts`` times already: then it
    is marked failed, saying that it (``kind.called``) started that often. As it
    starts, its progress is set back to the kind's first values, with a first
    heartbeat. The check and the start are one conditional UPDATE, so of two copies of
    a task delivered at once only one starts the job.
    """
    model = kind.model
    with factory() as s:
        clock = database_now(s)
        cutoff = clock - timedelta(seconds=STALE_S if stale_s is None else stale_s)
        startable = or_(
            model.status == "queued",
            and_(model.status == "running", or_(model.heartbeat.is_(None), model.heartbeat < cutoff)),
        )
        started = s.execute(
            update(model)
            .where(model.id == job_id, startable, model.attempts < max_attempts)
            .values(
                status="running",
                started=clock,
                heartbeat=clock,
                attempts=model.attempts + 1,
                **kind.fresh_progress(),
            )
            .execution_options(synchronize_session=False)
        )
        s.commit()
        if cast(CursorResult[Any], started).rowcount:
            return True
        s.execute(
            update(model)
            .where(model.id == job_id, startable, model.attempts >= max_attempts)
            .values(
                status="failed",
                finished=clock,
                error=(
                    f"{kind.called} started {max_attempts} time(s) and never finished (its process was "
                    "killed or crashed each time, e.g. out of memory); it was not started again"
                ),
            )
            .execution_options(synchronize_session=False)
        )
        s.commit()
        return False


def record_progress(
    factory: sessionmaker[Session], kind: JobKind, job_id: str, *, statuses: tuple[str, ...], **values: Any
) -> None:
    """Write ``values`` (its progress columns) on a job's row while its status is one of ``statuses``."""
    model = kind.model
    with factory() as s:
        s.execute(
            update(model)
            .where(model.id == job_id, model.status.in_(statuses))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        s.commit()


def finish_job(factory: sessionmaker[Session], kind: JobKind, job_id: str, **outcome: Any) -> bool:
    """Store a job's outcome unless it is finished or gone; whether it was stored."""
    model = kind.model
    with factory() as s:
        done = s.execute(
            update(model)
            .where(model.id == job_id, model.status.in_(ACTIVE))
            .values(**outcome, finished=database_now(s))
            .execution_options(synchronize_session=False)
        )
        s.commit()
        return bool(cast(CursorResult[Any], done).rowcount)


def requeue_stale(
    factory: sessionmaker[Session],
    kind: JobKind,
    *,
    stale_s: float | None = None,
    queued_s: float | None = None,
    exclude: Collection[str] = (),
) -> list[str]:
    """Put back on the queue the jobs of ``kind`` whose process or task is gone; their ids, each to be sent again.

    A job's process is gone when it is ``running`` with a heartbeat missing or
    older than ``stale_s`` (default :data:`STALE_S`): it is put back ``queued``,
    with the time in ``heartbeat``. A job ``queued`` for longer than ``queued_s``
    (default :data:`QUEUED_S`) since it was created or last sent may have lost its
    task with the broker (a Redis restarted without persistence): it is sent again,
    at most once every ``queued_s``; a copy that finds it started or done does
    nothing. Each job is taken by one conditional UPDATE, so of several servers
    and workers sweeping at once only one sends it; its start (:func:`start_job`)
    is the same single UPDATE as any task's, so it never runs twice at once.
    Jobs in ``exclude`` (those the caller holds itself: a local runner's queued
    or running jobs) are left alone.
    """
    model = kind.model
    taken: list[str] = []
    with factory() as s:
        clock = database_now(s)
        cutoff = clock - timedelta(seconds=STALE_S if stale_s is None else stale_s)
        waited = clock - timedelta(seconds=QUEUED_S if queued_s is None else queued_s)
        lost = or_(
            and_(model.status == "running", or_(model.heartbeat.is_(None), model.heartbeat < cutoff)),
            and_(model.status == "queued", func.coalesce(model.heartbeat, model.created) < waited),
        )
        if exclude:
            lost = and_(lost, model.id.not_in(list(exclude)))
        for job_id in s.scalars(select(model.id).where(lost)).all():
            moved = s.execute(
                update(model)
                .where(model.id == job_id, lost)
                .values(status="queued", heartbeat=database_now(s))
                .execution_options(synchronize_session=False)
            )
            s.commit()
            if cast(CursorResult[Any], moved).rowcount:
                taken.append(job_id)
    return taken


def is_beating(factory: sessionmaker[Session], kind: JobKind, job_id: str, stale_s: float) -> bool:
    """Whether the job is ``running`` with a heartbeat younger than ``stale_s`` seconds (alive somewhere)."""
    model = kind.model
    with factory() as s:
        row = s.execute(select(model.status, model.heartbeat).where(model.id == job_id)).first()
        clock = database_now(s)
    if row is None or row.status != "running" or row.heartbeat is None:
        return False
    return bool(row.heartbeat >= clock - timedelta(seconds=stale_s))


def beat(factory: sessionmaker[Session], kind: JobKind, job_id: str) -> bool:
    """Write the time as the heartbeat of the job, if it is running; whether the write went through.

    A failed write is logged, never raised.
    """
    model = kind.model
    try:
        with factory() as s:
            s.execute(
                update(model)
                .where(model.id == job_id, model.status == "running")
                .values(heartbeat=database_now(s))
                .execution_options(synchronize_session=False)
            )
            s.commit()
    except Exception as exc:  # a heartbeat must never fail its job
        log.warning("could not write the heartbeat of %s %s: %s", model.__tablename__, job_id, exc)
        return False
    return True


#: The module that writes a job's heartbeat from a process of its own (:mod:`._beat`).
BEAT_MODULE = "binroute.api.service.jobs._beat"
#: Seconds a job waits for its beating process's first beat before it goes on without.
BEAT_READY_S = 20.0


class Heartbeat:
    """Writes one running job's heartbeat now and every :data:`HEARTBEAT_S` seconds while a block runs.

    Use it around the job (``with Heartbeat(factory, kind, job_id, database_url=url): run()``);
    it stops when the block ends, however it ends. A daemon thread here beats whenever
    this process's interpreter is free (``beats`` and ``failures`` count the writes it
    tried and those that failed: logged, never raised). With ``database_url`` the beats
    also come from a process of its own (:mod:`._beat`), which goes on while a search
    holds the interpreter and stops when this process dies; the block starts once that
    process has beaten once, and the thread stops then (a thread stalled mid-write by a
    search would hold the row's lock against the process's beats).
    """

    def __init__(
        self, factory: sessionmaker[Session], kind: JobKind, job_id: str, *, database_url: str | None = None
    ) -> None:
        self.factory, self.kind, self.job_id, self.database_url = factory, kind, job_id, database_url
        self.beats = self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"binroute-heartbeat-{job_id}", daemon=True)
        self._process: subprocess.Popen[bytes] | None = None

    def _run(self) -> None:
        """Beat until stopped; the interval is read each time (tests set it small)."""
        while True:
            self.beats += 1
            self.failures += not beat(self.factory, self.kind, self.job_id)
            if self._stop.wait(HEARTBEAT_S):
                return

    def _start_process(self, database_url: str) -> None:
        """Start the beating process, hand it its order on standard input, and wait for its first beat.

        Meanwhile this process's thread beats (its interpreter is free while it waits), so
        the heartbeat never goes stale while the beating process starts.
        """
        order = {"database_url": database_url, "kind": self.kind.item, "job_id": self.job_id, "every_s": HEARTBEAT_S}
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", BEAT_MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(order).encode() + b"\n")
        self._process.stdin.flush()
        ready, _, _ = io_select.select([self._process.stdout], [], [], BEAT_READY_S)
        if not ready or not self._process.stdout.readline():
            log.warning("the heartbeat process of %s %s did not start beating", self.kind.item, self.job_id)
            return
        # From now on the process alone beats: a thread held mid-write by a search would keep the row locked.
        self._stop.set()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        if self.database_url is None:
            return self
        try:
            self._start_process(self.database_url)
        except OSError as exc:  # no process to spare: the thread beats, as well as it can
            log.warning("could not start the heartbeat process of %s %s: %s", self.kind.item, self.job_id, exc)
        except BaseException:  # e.g. a task's soft time limit while waiting: stop the beats, then go on raising
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # end of input: the beating process stops
            try:
                self._process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
