"""One background simulation: ``python -P -m api.service.simulate_job DATABASE_URL SIMULATION_ID WORKDIR``.

Writes the scenario from the database into a temporary directory (as a plan's
solve does, :func:`~api.service.solve_job.export_scenario`), runs the same
simulation as ``binroute simulate`` (its policies side by side on the
machine's cores), records the days done as it goes, and stores
``simulation.json`` and ``report.html``, or the error, on the simulation's
row. :class:`SimulationRunner` starts these processes for the server, a few
at a time, like plans' solves (:class:`~api.service.jobs.JobRunner`).

Completion is idempotent as for plans: the outcome is stored only while the
simulation is ``queued`` or ``running``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session, sessionmaker

from ..pipeline import USER_ERRORS, load_scenario
from ..pipeline.policies import PolicyError
from ..pipeline.simulate import Progress, SimOptions, policies_from, simulate
from ..pipeline.simulate_report import simulation_html
from .db import ScenarioRow, SimulationRow, now
from .jobs import JobRunner
from .solve_job import ACTIVE, export_scenario, finish_plan, main


def simulation_command(database_url: str, simulation_id: str, workdir: Path) -> list[str]:
    """The command that runs one simulation in its own process (``-P``: see :func:`~.jobs.solve_command`)."""
    return [sys.executable, "-P", "-m", "api.service.simulate_job", database_url, simulation_id, str(workdir)]


class SimulationRunner(JobRunner):
    """Runs simulations in their own processes, ``workers`` at a time.

    A simulation may take each day's time limit (else the server's bound) for
    every day and policy, plus the grace.
    """

    model = SimulationRow
    noun = "simulation"

    def command(self, job_id: str) -> list[str]:
        return simulation_command(self.database_url, job_id, self.workdir)

    def start(self, job_id: str) -> bool:
        """Mark a queued (or orphaned running) simulation running; ``False`` if it is finished or gone."""
        with self.sessions() as s:
            started = s.execute(
                update(SimulationRow)
                .where(SimulationRow.id == job_id, SimulationRow.status.in_(ACTIVE))
                .values(status="running", started=now())
                .execution_options(synchronize_session=False)
            )
            s.commit()
            return bool(cast(CursorResult[Any], started).rowcount)

    def time_limit(self, options_json: str) -> float:
        options = json.loads(options_json)
        runs = SimOptions.from_json(options).days * len(options["policies"])
        return runs * super().time_limit(options_json)


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


def run_simulation(factory: sessionmaker[Session], simulation_id: str, workdir: Path) -> bool:
    """Run one simulation and store the outcome; whether it was stored (not finished or deleted meanwhile)."""
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
            result = simulate(scn, policies, SimOptions.from_json(options), progress=_Tracker(factory, simulation_id))
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], run=run_simulation))
