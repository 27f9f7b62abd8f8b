"""One background solve: ``python -P -m binroute.api.service.solve_job DATABASE_URL PLAN_ID WORKDIR``.

Writes the scenario from the database into a temporary directory (its road
network from the database's content-addressed copy, cached in
``WORKDIR/networks``), runs the same pipeline as ``binroute plan``, and stores
the summary, GeoJSON and map page, or the error, on the plan row. The same
:func:`solve_plan` runs inside a Celery worker (:mod:`.tasks`).

Completion is idempotent: the outcome is stored only while the plan is still
``queued`` or ``running``, so a plan solved twice (a redelivered task, a
second worker) is stored once, and a plan deleted meanwhile stays deleted.

Every start is counted on the plan's row (``attempts``): a plan whose solve has
started :data:`MAX_ATTEMPTS` times without finishing (a poison plan that kills
its worker each time, or a server stopped mid-solve again and again) is marked
failed instead of being started again. While it solves, the plan's stage and
percentage go on its row (:mod:`.progress`), and its heartbeat every
:data:`~binroute.api.service.heartbeat.HEARTBEAT_S` seconds (:mod:`.heartbeat`): a
plan ``running`` with a fresh heartbeat is not started a second time.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pandas as pd
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..pipeline import USER_ERRORS, PlanOptions, load_scenario, plan_scenario
from ..pipeline.mapview import map_html
from .db import CollectionRow, PlanRow, ReadingRow, ScenarioRow, make_engine, now, sessions
from .defaults import MAX_ATTEMPTS as MAX_ATTEMPTS
from .heartbeat import STALE_S, Heartbeat
from .kinds import JobKind, solve_budget
from .networks import network_path
from .progress import ProgressRecorder

ACTIVE = ("queued", "running")


def export_scenario(session: Session, scenario: ScenarioRow, target: Path, cache: Path) -> None:
    """Write a stored scenario as a directory: readings, collections if any, its network from ``cache``."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "fleet.json").write_text(scenario.fleet_json, encoding="utf-8")
    (target / "bins.csv").write_text(scenario.bins_csv, encoding="utf-8")
    rows = session.execute(
        select(ReadingRow.bin_id, ReadingRow.ts, ReadingRow.fill_pct).where(ReadingRow.scenario_id == scenario.id)
    ).all()
    lines = ["bin_id,timestamp,fill_pct"] + [f"{b},{ts.isoformat()}Z,{f:g}" for b, ts, f in rows]
    (target / "readings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    logged = session.execute(
        select(CollectionRow.bin_id, CollectionRow.collected_at, CollectionRow.fill_pct, CollectionRow.kg).where(
            CollectionRow.scenario_id == scenario.id
        )
    ).all()
    if logged:
        table = pd.DataFrame(logged, columns=["bin_id", "collected_at", "fill_pct", "kg"])
        table["collected_at"] = [ts.isoformat() + "Z" for ts in table["collected_at"]]
        table.to_csv(target / "collections.csv", index=False)
    network = network_path(session, scenario, cache)
    (target / "scenario.json").write_text(json.dumps({"network": str(network)}), encoding="utf-8")


def finish_plan(factory: sessionmaker[Session], plan_id: str, *, model: Any = PlanRow, **outcome: Any) -> bool:
    """Store a solve's outcome unless the plan (or another ``model``'s job) is finished or gone; whether it was."""
    with factory() as s:
        done = s.execute(
            update(model)
            .where(model.id == plan_id, model.status.in_(ACTIVE))
            .values(**outcome, finished=now())
            .execution_options(synchronize_session=False)
        )
        s.commit()
        return bool(cast(CursorResult[Any], done).rowcount)


def start_job(
    factory: sessionmaker[Session],
    model: Any,
    job_id: str,
    *,
    max_attempts: int,
    what: str,
    stale_s: float | None = None,
    **values: Any,
) -> bool:
    """Mark a queued (or orphaned running) job of ``model`` running and count the start; whether to run it now.

    A ``running`` job is orphaned when its heartbeat is missing or older than
    ``stale_s`` seconds (default :data:`~binroute.api.service.heartbeat.STALE_S`); one with a
    fresher heartbeat runs elsewhere and is neither started nor counted (``False``).
    ``False`` too if the job is finished or gone, or if it has started ``max_attempts``
    times already: then it is marked failed, saying that ``what`` (e.g. "the solve of
    this plan") started that often. ``values`` are set on the row as it starts, with a
    first heartbeat. The check and the start are one conditional UPDATE, so of two
    copies of a task delivered at once only one starts the job.
    """
    cutoff = now() - timedelta(seconds=STALE_S if stale_s is None else stale_s)
    startable = or_(
        model.status == "queued",
        and_(model.status == "running", or_(model.heartbeat.is_(None), model.heartbeat < cutoff)),
    )
    with factory() as s:
        started = s.execute(
            update(model)
            .where(model.id == job_id, startable, model.attempts < max_attempts)
            .values(status="running", started=now(), heartbeat=now(), attempts=model.attempts + 1, **values)
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
                finished=now(),
                error=(
                    f"{what} started {max_attempts} time(s) and never finished (its process was "
                    "killed or crashed each time, e.g. out of memory); it was not started again"
                ),
            )
            .execution_options(synchronize_session=False)
        )
        s.commit()
        return False


def start_plan(
    factory: sessionmaker[Session], plan_id: str, *, max_attempts: int = MAX_ATTEMPTS, stale_s: float | None = None
) -> bool:
    """Mark a queued (or orphaned running) plan running and count the start; whether to solve it now.

    ``False`` if the plan is finished or gone, running elsewhere (a heartbeat younger
    than ``stale_s``), or if its solve has started ``max_attempts`` times already:
    then it is marked failed, saying so.
    """
    return start_job(
        factory,
        PlanRow,
        plan_id,
        max_attempts=max_attempts,
        what="the solve of this plan",
        stale_s=stale_s,
        progress_stage="scenario",
        progress_pct=0.0,
        progress_at=now(),
    )


def solve_plan(factory: sessionmaker[Session], plan_id: str, workdir: Path) -> bool:
    """Solve one plan and store the outcome (see :func:`finish_plan`); whether it was stored."""
    workdir.mkdir(parents=True, exist_ok=True)
    with factory() as s:
        plan = s.get(PlanRow, plan_id)
        if plan is None or plan.status not in ACTIVE:
            return False
        scenario = s.get(ScenarioRow, plan.scenario_id)
        options = json.loads(plan.options_json)
        progress = ProgressRecorder(factory, plan_id)
        progress.report("scenario")
        try:
            with tempfile.TemporaryDirectory(dir=workdir) as tmp:
                assert scenario is not None
                export_scenario(s, scenario, Path(tmp) / "scenario", workdir / "networks")
                scn = load_scenario(Path(tmp) / "scenario")
                result = plan_scenario(scn, PlanOptions.from_json(options), progress=progress)
        except USER_ERRORS as exc:
            return finish_plan(factory, plan_id, status="failed", error=str(exc))
    progress.report("write", 0.5)
    return finish_plan(
        factory,
        plan_id,
        status="done",
        summary_json=json.dumps(result.plan),
        geojson=json.dumps(result.geojson, separators=(",", ":")),
        map_html=map_html(result.geojson, result.plan, tiles=options.get("tiles")),
    )


def main(
    argv: list[str], run: Callable[[sessionmaker[Session], str, Path], bool] = solve_plan, model: Any = PlanRow
) -> int:
    """Solve the plan ``argv`` names (or ``run`` another ``model``'s job) and store the outcome on its row.

    Its heartbeat is written while it runs. Returns 0 unless the process itself failed.
    """
    url, plan_id, workdir = argv
    engine = make_engine(url)
    try:
        factory = sessions(engine)
        with Heartbeat(factory, model, plan_id):
            run(factory, plan_id, Path(workdir))
    finally:
        engine.dispose()
    return 0


#: A plan's solve, for the runners (:mod:`.jobs`, :mod:`.tasks`).
PLAN_JOB = JobKind(
    model=PlanRow,
    noun="solve",
    item="plan",
    module="binroute.api.service.solve_job",
    task="binroute.solve_plan",
    budget=solve_budget,
    longest=lambda max_time_limit_s: max_time_limit_s,
    start=start_plan,
    run=solve_plan,
)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
