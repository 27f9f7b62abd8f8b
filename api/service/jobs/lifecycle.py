"""Heartbeats of running jobs, so a task delivered twice neither runs its job twice nor loses it.

The process that runs a job (a ``binroute worker`` task or a local job
process) writes the time on the job's row (``heartbeat``) every
:data:`HEARTBEAT_S` seconds from a daemon thread while the job runs
(:class:`Heartbeat`); :func:`~binroute.api.service.solve_job.start_job` sets it as it
marks the job running. A job ``running`` with a heartbeat younger than
:func:`stale_after_s` is alive somewhere: a second copy of its task does not
start it (:func:`~binroute.api.service.tasks.deliver`). An older or missing heartbeat
means the process running it is gone (a lost machine), and the job is
started again, counting an attempt.

OR-Tools holds the Python interpreter while it searches, so the thread cannot
write during one search: a job's heartbeat is stale only after
:data:`STALE_S` plus its own per-search time limit (a plan's, or a
simulation day's, ``time_limit_s``, else the server's bound).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import now
from .kind import solve_budget

log = logging.getLogger(__name__)


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


#: Seconds between two heartbeats of a running job (``BINROUTE_HEARTBEAT_S`` in the environment, else 30).
HEARTBEAT_S = _seconds_from_env("BINROUTE_HEARTBEAT_S", 30.0)
#: Seconds without a heartbeat (beyond one search, :func:`stale_after_s`) after which a running job is taken as lost.
STALE_S = 3 * HEARTBEAT_S


def stale_after_s(options_json: str, max_time_limit_s: float) -> float:
    """Seconds after which the heartbeat of a job with these options is stale: :data:`STALE_S` plus one search."""
    return STALE_S + solve_budget(json.loads(options_json), max_time_limit_s)


def is_beating(factory: sessionmaker[Session], model: Any, job_id: str, stale_s: float) -> bool:
    """Whether the job is ``running`` with a heartbeat younger than ``stale_s`` seconds (alive somewhere)."""
    with factory() as s:
        row = s.execute(select(model.status, model.heartbeat).where(model.id == job_id)).first()
    if row is None or row.status != "running" or row.heartbeat is None:
        return False
    return bool(row.heartbeat >= now() - timedelta(seconds=stale_s))


def beat(factory: sessionmaker[Session], model: Any, job_id: str) -> bool:
    """Write the time as the heartbeat of the job, if it is running; whether the write went through.

    A failed write is logged, never raised.
    """
    try:
        with factory() as s:
            s.execute(
                update(model)
                .where(model.id == job_id, model.status == "running")
                .values(heartbeat=now())
                .execution_options(synchronize_session=False)
            )
            s.commit()
    except Exception as exc:  # a heartbeat must never fail its job
        log.warning("could not write the heartbeat of %s %s: %s", model.__tablename__, job_id, exc)
        return False
    return True


class Heartbeat:
    """Writes one running job's heartbeat now and every :data:`HEARTBEAT_S` seconds from a daemon thread.

    Use it around the job (``with Heartbeat(factory, model, job_id): run()``); it
    stops when the block ends, however it ends. ``beats`` and ``failures`` count
    the writes tried and those that failed (logged, never raised).
    """

    def __init__(self, factory: sessionmaker[Session], model: Any, job_id: str) -> None:
        self.factory, self.model, self.job_id = factory, model, job_id
        self.beats = self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"binroute-heartbeat-{job_id}", daemon=True)

    def _run(self) -> None:
        """Beat until stopped; the interval is read each time (tests set it small)."""
        while True:
            self.beats += 1
            self.failures += not beat(self.factory, self.model, self.job_id)
            if self._stop.wait(HEARTBEAT_S):
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
