"""A simulation, one kind of background job: what differs from a plan's solve.

The simulation writes the stored scenario into a temporary directory (as a
plan's solve does, :func:`~binroute.api.service.jobs.scenario.export_scenario`),
runs the same simulation as ``binroute simulate``, records the days done as it
goes, and stores ``simulation.json`` and ``report.html``, or the error, on the
simulation's row (:func:`run_simulation`). The server runs these a few at a
time in local job processes, like plans' solves
(``python -P -m binroute.api.service.jobs simulation ...``, its policies side
by side on the machine's cores); with a task queue, ``binroute worker`` runs
them itself (task ``binroute.run_simulation``, its policies one after
another). Starts, attempts, heartbeat and the idempotent finish are the shared
lifecycle's (:mod:`~binroute.api.service.jobs.lifecycle`); a simulation's days
done count again from 0 at each start.
"""

from __future__ import annotations

import json
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ...pipeline import USER_ERRORS, load_scenario
from ...pipeline.simulate.policies import PolicyError
from ...pipeline.simulate.report import simulation_html
from ...pipeline.simulate.run import Progress, SimOptions, policies_from, simulate
from ..db import ScenarioRow, SimulationRow
from ..schemas import MAX_POLICIES, MAX_SIMULATION_DAYS
from .kind import JobKind, solve_budget
from .lifecycle import ACTIVE, finish_job, record_progress
from .scenario import export_scenario


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
        record_progress(self.factory, SIMULATION_JOB, self.simulation_id, statuses=ACTIVE, days_done=self.done)


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
            return finish_job(factory, SIMULATION_JOB, simulation_id, status="failed", error=str(exc))
    return finish_job(
        factory,
        SIMULATION_JOB,
        simulation_id,
        status="done",
        result_json=json.dumps(result),
        report_html=simulation_html(result),
    )


#: A simulation, for the lifecycle and the runners; on a worker its policies run one after another.
SIMULATION_JOB = JobKind(
    model=SimulationRow,
    noun="simulation",
    item="simulation",
    called="this simulation",
    task="binroute.run_simulation",
    budget=simulation_budget,
    longest=lambda max_time_limit_s: MAX_SIMULATION_DAYS * MAX_POLICIES * max_time_limit_s,
    fresh_progress=lambda: {"days_done": 0},
    run=run_simulation,
    run_on_worker=partial(run_simulation, jobs=1),
)
