"""The kinds of background job (a plan's solve, a simulation): what the lifecycle and the runners need to know of one.

A :class:`JobKind` names a job's table, its words in messages, the Celery task
that runs one in a worker (:mod:`.taskqueue`), how long one may take, the
progress it starts from, and the functions that run it (in a process of its own, in a worker). The kinds themselves
are :data:`~binroute.api.service.jobs.plan.PLAN_JOB` and
:data:`~binroute.api.service.jobs.simulation.SIMULATION_JOB`; the lifecycle
(:mod:`.lifecycle`) and the runners (:mod:`.local`, :mod:`.taskqueue`) hold no
per-kind code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

#: Runs one job and stores its outcome: ``(sessions, job_id, workdir) -> whether it was stored``.
Run = Callable[[sessionmaker[Session], str, Path], bool]
#: Seconds a job may take beyond its own time limit (graph, forecast, writing).
GRACE_S = 120.0
#: The module run as ``python -P -m MODULE KIND DATABASE_URL JOB_ID WORKDIR`` (:mod:`.__main__`).
PROCESS_MODULE = "binroute.api.service.jobs"


@dataclass(frozen=True)
class JobKind:
    """One kind of background job.

    Parameters
    ----------
    model
        The SQLAlchemy model of its rows (:class:`~binroute.api.service.db.JobColumns`).
    noun, item
        What running one is called (``"solve"``) and what one is (``"plan"``), in messages;
        ``item`` also names the kind on a job process's command line.
    called
        What the message of one started too often calls it (``"the solve of this plan"``).
    task
        The Celery task's name, shared by the server that sends it and the workers that run it.
    budget
        Seconds one may take before the grace, from its options and the server's bound on a time limit.
    longest
        Seconds the longest job the server accepts may take before the grace, from that bound.
    fresh_progress
        The progress columns' values as one starts (again): a plan's first stage, a simulation's 0 days done.
    run
        Runs one in a job process of its own and stores its outcome.
    run_on_worker
        The same in a Celery worker's process, which runs one task per core.
    """

    model: Any
    noun: str
    item: str
    called: str
    task: str
    budget: Callable[[dict[str, Any], float], float]
    longest: Callable[[float], float]
    fresh_progress: Callable[[], dict[str, Any]]
    run: Run
    run_on_worker: Run

    def time_limit(self, options_json: str, max_time_limit_s: float) -> float:
        """Seconds a job with these options may take before the grace."""
        return self.budget(json.loads(options_json), max_time_limit_s)

    def command(self, database_url: str, job_id: str, workdir: Path) -> list[str]:
        """The command that runs one job in its own process.

        ``-P`` keeps the working directory off ``sys.path``, so a file there named like one
        of our packages (``binroute/``, ``binroute.py``) cannot stand in for the real one.
        """
        return [sys.executable, "-P", "-m", PROCESS_MODULE, self.item, database_url, job_id, str(workdir)]


def solve_budget(options: dict[str, Any], max_time_limit_s: float) -> float:
    """A solve's own time limit, else the server's bound (a solution limit alone)."""
    given = options.get("time_limit_s")
    return float(given) if given is not None else max_time_limit_s
