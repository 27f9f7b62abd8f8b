"""A plan's solve, one kind of background job: what differs from a simulation.

The solve writes the stored scenario into a temporary directory
(:func:`~binroute.api.service.jobs.scenario.export_scenario`), runs the same
pipeline as ``binroute plan``, and stores the summary, GeoJSON and map page,
or the error, on the plan row (:func:`solve_plan`). It runs in a local job
process (``python -P -m binroute.api.service.jobs plan ...``) or inside a
Celery worker (task ``binroute.solve_plan``); starts, attempts, heartbeat and
the idempotent finish are the shared lifecycle's
(:mod:`~binroute.api.service.jobs.lifecycle`).

While it solves, the plan's stage and percentage go on its row, so any API
replica can show them (:class:`ProgressRecorder`): the pipeline's
:class:`~binroute.api.pipeline.plan.Progress` events become a stage and an
overall percentage, written when the stage changes, else at most once every
:data:`WRITE_EVERY_S` seconds. ``GET /api/v1/plans/{id}`` reads them back
(:func:`progress_out`) while the plan runs. Stages, in order, with the share of
the whole each one takes (:data:`BANDS`): ``scenario`` (the stored scenario and
its network read back), then the pipeline's ``graph``, ``forecast``,
``matrix``, ``solve`` (moving with the time used of the solve's budget) and
``write`` (the report, map page and the stored outcome).
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ...pipeline import USER_ERRORS, PlanOptions, load_scenario, plan_scenario
from ...pipeline.mapview import map_html
from ...pipeline.plan import STAGES, Progress
from ..db import PlanRow, ScenarioRow, now
from .kind import JobKind, solve_budget
from .lifecycle import ACTIVE, finish_job, record_progress
from .scenario import export_scenario

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
                record_progress(
                    self.factory,
                    PLAN_JOB,
                    self.plan_id,
                    statuses=("running",),
                    progress_stage=stage,
                    progress_pct=percent,
                    progress_at=now(),
                )
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


def disk_error(exc: OSError) -> str:
    """What a job failed by its machine's disk says: the system's reason (the machine's paths stay in its log)."""
    return f"the machine solving it could not write its working files ({exc.strerror or exc}): its disk needs room"


def solve_plan(factory: sessionmaker[Session], plan_id: str, workdir: Path) -> bool:
    """Solve one plan and store the outcome (:func:`~.lifecycle.finish_job`); whether it was stored."""
    workdir.mkdir(parents=True, exist_ok=True)
    progress = ProgressRecorder(factory, plan_id)
    try:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            with factory() as s:
                plan = s.get(PlanRow, plan_id)
                if plan is None or plan.status not in ACTIVE:
                    return False
                options = json.loads(plan.options_json)
                scenario = s.get(ScenarioRow, plan.scenario_id)
                assert scenario is not None
                progress.report("scenario")
                export_scenario(s, scenario, Path(tmp) / "scenario", workdir / "networks")
            # The session is closed before the search: a database restarted meanwhile breaks no connection of
            # the solve's (closing one it had cut failed the solved plan, "the solver stopped unexpectedly").
            scn = load_scenario(Path(tmp) / "scenario")
            result = plan_scenario(scn, PlanOptions.from_json(options), progress=progress)
    except USER_ERRORS as exc:
        return finish_job(factory, PLAN_JOB, plan_id, status="failed", error=str(exc))
    except OSError as exc:  # the machine's disk, not the plan: full, or past the process's file-size limit
        log.error("plan %s: could not write under %s: %s", plan_id, workdir, exc)
        return finish_job(factory, PLAN_JOB, plan_id, status="failed", error=disk_error(exc))
    progress.report("write", 0.5)
    return finish_job(
        factory,
        PLAN_JOB,
        plan_id,
        status="done",
        summary_json=json.dumps(result.plan),
        geojson=json.dumps(result.geojson, separators=(",", ":")),
        map_html=map_html(result.geojson, result.plan, tiles=options.get("tiles")),
    )


#: A plan's solve, for the lifecycle and the runners; its progress starts at the first stage.
PLAN_JOB = JobKind(
    model=PlanRow,
    noun="solve",
    item="plan",
    called="the solve of this plan",
    task="binroute.solve_plan",
    budget=solve_budget,
    longest=lambda max_time_limit_s: max_time_limit_s,
    fresh_progress=lambda: {"progress_stage": "scenario", "progress_pct": 0.0, "progress_at": now()},
    run=solve_plan,
    run_on_worker=solve_plan,
)
