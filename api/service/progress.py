"""A running plan's progress on its database row, so any API replica can show it.

The process that solves a plan (a local solve process or a Celery worker)
turns the pipeline's :class:`~binroute.api.pipeline.plan.Progress` events into a stage
and an overall percentage with :class:`ProgressRecorder`, and writes them on
the plan's row: when the stage changes, else at most once every
:data:`WRITE_EVERY_S` seconds. ``GET /api/v1/plans/{id}`` reads them back
(:func:`progress_out`) while the plan runs.

Stages, in order, with the share of the whole each one takes (:data:`BANDS`):
``scenario`` (the stored scenario and its network read back), then the
pipeline's ``graph``, ``forecast``, ``matrix``, ``solve`` (moving with the
time used of the solve's budget) and ``write`` (the report, map page and the
stored outcome).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..pipeline.plan import STAGES, Progress
from .db import PlanRow, now

log = logging.getLogger(__name__)
#: The service's stages: reading the scenario back, then the pipeline's.
PROGRESS_STAGES = ("scenario", *STAGES)
#: Percent at which each stage starts; a stage ends where the next starts (the last at 100).
#: Rough shares of a plan of the sample with a 30-s time limit, where the solve takes most of the time.
STARTS_PCT = {"scenario": 0.0, "graph": 3.0, "forecast": 8.0, "matrix": 20.0, "solve": 25.0, "write": 95.0}
BANDS = {
    stage: (STARTS_PCT[stage], STARTS_PCT[after] if after else 100.0)
    for stage, after in zip(PROGRESS_STAGES, (*PROGRESS_STAGES[1:], None), strict=True)
}
#: Seconds between two progress writes within one stage.
WRITE_EVERY_S = 1.0


def overall_percent(stage: str, done: float) -> float:
    """The plan's percentage when ``stage`` is ``done`` (0 to 1) through, rounded to a tenth."""
    start, end = BANDS[stage]
    return round(start + (end - start) * min(max(done, 0.0), 1.0), 1)


class ProgressRecorder:
    """Writes a running plan's stage and percentage on its row; call it with the pipeline's events.

    Thread-safe (the pipeline reports the solve from a thread); never lowers
    the percentage; writes only while the plan is ``running``. A failed write is
    logged and dropped: progress must never fail a solve.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        plan_id: str,
        *,
        every_s: float = WRITE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory, self.plan_id, self.every_s, self.clock = factory, plan_id, every_s, clock
        self.lock = threading.Lock()
        self.stage: str | None = None
        self.percent = 0.0
        self.written_at = -float("inf")
        self.writes = 0

    def __call__(self, event: Progress) -> None:
        self.report(event.stage, event.done)

    def report(self, stage: str, done: float = 0.0) -> None:
        """The plan is ``done`` (0 to 1) through ``stage``: write it if the stage changed or it is time to."""
        if stage not in BANDS:
            raise ValueError(f"unknown progress stage {stage!r}; one of {', '.join(PROGRESS_STAGES)}")
        with self.lock:
            percent = max(overall_percent(stage, done), self.percent)
            due = stage != self.stage or self.clock() - self.written_at >= self.every_s
            self.stage, self.percent = stage, percent
            if not due:
                return
            self.written_at = self.clock()
            self.writes += 1
            try:
                with self.factory() as s:
                    s.execute(
                        update(PlanRow)
                        .where(PlanRow.id == self.plan_id, PlanRow.status == "running")
                        .values(progress_stage=stage, progress_pct=percent, progress_at=now())
                        .execution_options(synchronize_session=False)
                    )
                    s.commit()
            except SQLAlchemyError as exc:
                log.warning("could not record the progress of plan %s: %s", self.plan_id, exc)


def progress_out(row: PlanRow) -> dict[str, Any] | None:
    """``{stage, percent, updated}`` of a running plan (as its solver last wrote it); ``None`` otherwise."""
    if row.status != "running":
        return None
    return {
        "stage": row.progress_stage or "scenario",
        "percent": row.progress_pct or 0.0,
        "updated": row.progress_at or row.started or row.created,
    }
