"""The kinds of background job (a plan's solve, a simulation): what every runner needs to know of one.

A :class:`JobKind` names a job's table, its words in messages, the module that
runs one in its own process (:class:`~binroute.api.service.jobs.JobRunner`), the Celery
task that runs one in a worker (:mod:`.tasks`), how long one may take, and the
functions that start and run it. The kinds themselves are
:data:`~binroute.api.service.solve_job.PLAN_JOB` and
:data:`~binroute.api.service.simulate_job.SIMULATION_JOB`; the runners hold no
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

#: Marks a queued (or orphaned running) job running and counts the start:
#: ``(sessions, job_id, max_attempts=N, stale_s=S) -> whether to run it`` (``stale_s``: when a heartbeat is stale).
Start = Callable[..., bool]
#: Runs one job and stores its outcome: ``(sessions, job_id, workdir) -> whether it was stored``.
Run = Callable[[sessionmaker[Session], str, Path], bool]


@dataclass(frozen=True)
class JobKind:
    """One kind of background job.

    Parameters
    ----------
    model
        The SQLAlchemy model of its rows (``status``, ``options_json``, ``attempts``, ``error``).
    noun, item
        What running one is called (``"solve"``) and what one is (``"plan"``), in messages.
    module
        The module run as ``python -P -m MODULE DATABASE_URL JOB_ID WORKDIR``.
    task
        The Celery task's name, shared by the server that sends it and the workers that run it.
    budget
        Seconds one may take before the grace, from its options and the server's bound on a time limit.
    longest
        Seconds the longest job the server accepts may take before the grace, from that bound.
    start, run
        Mark one running (counting the start), and run it in a worker process.
    """

    model: Any
    noun: str
    item: str
    module: str
    task: str
    budget: Callable[[dict[str, Any], float], float]
    longest: Callable[[float], float]
    start: Start
    run: Run

    def time_limit(self, options_json: str, max_time_limit_s: float) -> float:
        """Seconds a job with these options may take before the grace."""
        return self.budget(json.loads(options_json), max_time_limit_s)

    def command(self, database_url: str, job_id: str, workdir: Path) -> list[str]:
        """The command that runs one job in its own process.

        ``-P`` keeps the working directory off ``sys.path``, so a file there named like one
        of our packages (``binroute/``, ``binroute.py``) cannot stand in for the real one.
        """
        return [sys.executable, "-P", "-m", self.module, database_url, job_id, str(workdir)]


def solve_budget(options: dict[str, Any], max_time_limit_s: float) -> float:
    """A solve's own time limit, else the server's bound (a solution limit alone)."""
    given = options.get("time_limit_s")
    return float(given) if given is not None else max_time_limit_s
