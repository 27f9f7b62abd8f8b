"""Background jobs of the service: plans' solves and simulations, one lifecycle, two runners.

A job is a row (:class:`~binroute.api.service.db.JobColumns`) that is queued,
runs in another process and stores its outcome. Its parts:

- :mod:`.lifecycle`: start (counting attempts), heartbeat, progress and finish,
  shared by every kind, the kind as a parameter;
- :mod:`.kind`: what a kind of job is (:class:`JobKind`); the kinds themselves,
  each holding only what differs: :mod:`.plan` (:data:`PLAN_JOB`, a plan's
  solve and its stage-by-stage progress) and :mod:`.simulation`
  (:data:`SIMULATION_JOB`);
- :mod:`.local`: :class:`JobRunner`, jobs in local processes
  (``python -P -m binroute.api.service.jobs KIND ...``, :mod:`.__main__`);
- :mod:`.taskqueue`: the same on a Celery task queue (:class:`QueueRunner`,
  ``binroute worker``), imported on first use so that a server without a
  broker never loads Celery;
- :mod:`.sweep`: :class:`Sweeper`, which hands out again the jobs whose process or task is gone
  (a stale heartbeat), run by the server and by every worker;
- :mod:`.scenario`: a stored scenario written back as a directory, every job's input.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .kind import GRACE_S as GRACE_S
from .kind import JobKind as JobKind
from .lifecycle import ACTIVE as ACTIVE
from .lifecycle import HEARTBEAT_S as HEARTBEAT_S
from .lifecycle import MAX_ATTEMPTS as MAX_ATTEMPTS
from .lifecycle import QUEUED_S as QUEUED_S
from .lifecycle import STALE_S as STALE_S
from .lifecycle import Heartbeat as Heartbeat
from .lifecycle import beat as beat
from .lifecycle import finish_job as finish_job
from .lifecycle import is_beating as is_beating
from .lifecycle import record_progress as record_progress
from .lifecycle import requeue_stale as requeue_stale
from .lifecycle import start_job as start_job
from .local import JobRunner as JobRunner
from .local import local_sweeper as local_sweeper
from .plan import BANDS as BANDS
from .plan import PLAN_JOB as PLAN_JOB
from .plan import PROGRESS_STAGES as PROGRESS_STAGES
from .plan import ProgressRecorder as ProgressRecorder
from .plan import overall_percent as overall_percent
from .plan import progress_out as progress_out
from .plan import solve_plan as solve_plan
from .scenario import export_scenario as export_scenario
from .simulation import SIMULATION_JOB as SIMULATION_JOB
from .simulation import run_simulation as run_simulation
from .sweep import Sweeper as Sweeper

#: Every kind of job: each runs in a local process by its ``item`` and in a worker as its own task.
KINDS = (PLAN_JOB, SIMULATION_JOB)

#: The task queue's public names, imported from :mod:`.taskqueue` on first use (it loads Celery).
_QUEUE_EXPORTS = (
    "HARD_AFTER_S",
    "QueueRunner",
    "check_broker",
    "default_visibility_s",
    "deliver",
    "make_celery",
    "queue_runners",
    "time_limits",
    "watch_countdown_s",
)

__all__ = [
    "ACTIVE",
    "BANDS",
    "GRACE_S",
    "HEARTBEAT_S",
    "KINDS",
    "MAX_ATTEMPTS",
    "PLAN_JOB",
    "PROGRESS_STAGES",
    "SIMULATION_JOB",
    "QUEUED_S",
    "STALE_S",
    "Sweeper",
    "Heartbeat",
    "JobKind",
    "JobRunner",
    "ProgressRecorder",
    "beat",
    "export_scenario",
    "finish_job",
    "is_beating",
    "local_sweeper",
    "overall_percent",
    "progress_out",
    "record_progress",
    "requeue_stale",
    "run_simulation",
    "solve_plan",
    "start_job",
    *_QUEUE_EXPORTS,
]

if TYPE_CHECKING:
    from .taskqueue import HARD_AFTER_S as HARD_AFTER_S
    from .taskqueue import QueueRunner as QueueRunner
    from .taskqueue import check_broker as check_broker
    from .taskqueue import default_visibility_s as default_visibility_s
    from .taskqueue import deliver as deliver
    from .taskqueue import make_celery as make_celery
    from .taskqueue import queue_runners as queue_runners
    from .taskqueue import time_limits as time_limits
    from .taskqueue import watch_countdown_s as watch_countdown_s


def __getattr__(name: str) -> Any:
    """Import a task-queue name on first use (PEP 562), so Celery loads only with a broker."""
    if name not in _QUEUE_EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(".taskqueue", __name__), name)
    globals()[name] = value
    return value
