"""One background simulation: ``python -P -m binroute.api.service.simulate_job DATABASE_URL SIMULATION_ID WORKDIR``.

Writes the scenario from the database into a temporary directory (as a plan's
solve does, :func:`~binroute.api.service.solve_job.export_scenario`), runs the same
simulation as ``binroute simulate`` (its policies side by side on the
machine's cores), records the days done as it goes, and stores
``simulation.json`` and ``report.html``, or the error, on the simulation's
row. The server starts these processes a few at a time, like plans' solves
(:class:`~binroute.api.service.jobs.JobRunner` with :data:`SIMULATION_JOB`); with a
task queue, ``binroute worker`` runs :func:`run_simulation` itself
(:mod:`.tasks`).

Completion is idempotent as for plans: the outcome is stored only while the
simulation is ``queued`` or ``running``, and every start is counted
(``attempts``): one started ``max_attempts`` times is failed, not started again.
The process running it writes its heartbeat (:mod:`.heartbeat`), so a copy of
its task delivered meanwhile does not start it a second time.
"""

from __future__ import annotations

import json
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from ...pipeline import USER_ERRORS, load_scenario
from ...pipeline.simulate.policies import PolicyError
from ...pipeline.simulate.report import simulation_html
from ...pipeline.simulate.run import Progress, SimOptions, policies_from, simulate
from ..db import ScenarioRow, SimulationRow
from ..schemas import MAX_POLICIES, MAX_SIMULATION_DAYS
from .kind import JobKind, solve_budget
from .plan import ACTIVE, MAX_ATTEMPTS, export_scenario, finish_plan, main, start_job


def start_simulation(
    factory: sessionmaker[Session],
    simulation_id: str,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    stale_s: float | None = None,
) -> bool:
    """Mark a queued (or orphaned running) simulation running and count the start; whether to run it now.

    As for plans (:func:`~binroute.api.service.solve_job.start_job`): ``False`` if it is finished
    or gone, running elsewhere (a heartbeat younger than ``stale_s``), or if it has
    started ``max_attempts`` times already (then it is failed). Its days done count
    again from 0.
    """
    return start_job(
        factory,
        SimulationRow,
        simulation_id,
        max_attempts=max_attempts,
        what="this simulation",
        stale_s=stale_s,
        days_done=0,
    )


def simulation_budget(options: dict[str, Any], max_time_limit_s: float) -> float:
    """Each day's time limit (else the server's bound) for every day and policy, one after another."""
    runs = SimOptions.from_json(options).days * len(options["policies"])
    return runs * solve_budget(options, max_time_limit_s)


class _Tracker:
    """Progress of one simulation: every day a policy finishes is counted on its row."""

    def __init__(self, factory: sessionmaker[Session], simulation_id: str) -> None:
        self.factory, self.simulation_id, self.done = factory, simulation_id, 0

    def __call__(self, step: Progress) -> None:
        if step.policy is None:
            return
        self.done += 1
        with self.factory() as s:
            s.execute(
                update(SimulationRow)
                .where(SimulationRow.id == self.simulation_id, SimulationRow.status.in_(ACTIVE))
                .values(days_done=self.done)
                .execution_options(synchronize_session=False)
            )
            s.commit()


def run_simulation(
    factory: sessionmaker[Session], simulation_id: str, workdir: Path, *, jobs: int | None = None
) -> bool:
    """Run one simulation and store the outcome; whether it was stored (not finished or deleted meanwhile).

    ``jobs`` processes simulate its policies at once (default: the machine's cores;
    a task queue's worker runs them one after another, one core per task).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        with factory() as s:
            row = s.get(SimulationRow, simulation_id)
            if row is None or row.status not in ACTIVE:
                return False
            scenario = s.get(ScenarioRow, row.scenario_id)
            assert scenario is not None  # the row would be gone with its scenario
            options = json.loads(row.options_json)
            export_scenario(s, scenario, Path(tmp) / "scenario", workdir / "networks")
        try:
            scn = load_scenario(Path(tmp) / "scenario")
            policies = policies_from(options["policies"])
            result = simulate(
                scn, policies, SimOptions.from_json(options), progress=_Tracker(factory, simulation_id), jobs=jobs
            )
        except (*USER_ERRORS, PolicyError) as exc:
            return finish_plan(factory, simulation_id, model=SimulationRow, status="failed", error=str(exc))
    return finish_plan(
        factory,
        simulation_id,
        model=SimulationRow,
        status="done",
        result_json=json.dumps(result),
        report_html=simulation_html(result),
    )


#: A simulation, for the runners (:mod:`.jobs`, :mod:`.tasks`); in a worker its policies run one after another.
SIMULATION_JOB = JobKind(
    model=SimulationRow,
    noun="simulation",
    item="simulation",
    module="binroute.api.service.jobs.simulation",
    task="binroute.run_simulation",
    budget=simulation_budget,
    longest=lambda max_time_limit_s: MAX_SIMULATION_DAYS * MAX_POLICIES * max_time_limit_s,
    start=start_simulation,
    run=partial(run_simulation, jobs=1),
)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], run=run_simulation, model=SimulationRow))
