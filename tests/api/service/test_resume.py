"""A server without a task queue, started on a database with running jobs: heartbeats decide what it runs again."""

from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta

import pytest

from binroute.api.service.db import PlanRow, SimulationRow, now
from binroute.api.service.jobs import PLAN_JOB, SIMULATION_JOB, JobRunner, finish_job

from .helpers import get_row, lose_heartbeat, set_row

KINDS = [PLAN_JOB, SIMULATION_JOB]
#: A two-day simulation of one policy, one second a day.
SIM_OPTIONS = '{"from": "2026-11-23", "to": "2026-11-24", "time_limit_s": 1, "policies": ["predictive"]}'


class Runs:
    """A runner whose job processes only note that they ran (each exits at once, leaving the row running)."""

    def __init__(self, factory, tmp_path, kind) -> None:
        if kind is SIMULATION_JOB:
            with factory() as s:
                for row in s.query(SimulationRow):
                    row.options_json = SIM_OPTIONS
                s.commit()
        self.runner = JobRunner("sqlite:///unused", factory, tmp_path, workers=1, max_time_limit_s=300.0, kind=kind)
        self.runner.look_again_s = 0.05
        self.ran: list[str] = []
        self.event = threading.Event()
        self.runner.command = self._command  # type: ignore[method-assign]

    def _command(self, job_id: str) -> list[str]:
        self.ran.append(job_id)
        self.event.set()
        return [sys.executable, "-c", "pass"]

    def wait_run(self) -> None:
        assert self.event.wait(120), "the job was never run"  # generous: the suite may share two busy cores

    def settle(self) -> None:
        """Wait for every submitted job to be through :meth:`JobRunner._run`."""
        self.runner.pool.submit(lambda: None).result(timeout=120)


@pytest.mark.parametrize("kind", KINDS, ids=["plan", "simulation"])
def test_a_job_alive_elsewhere_is_left_alone_then_taken_once_its_heartbeat_stops(database_url, jobs, tmp_path, kind):
    """Fresh heartbeat at start: not run, no attempt counted, watched; once it goes stale, run once."""
    factory, ids = jobs
    job_id = ids[kind.model]
    set_row(factory, kind.model, job_id, status="running", attempts=1, heartbeat=now())  # another server solves it
    runs = Runs(factory, tmp_path, kind)
    try:
        assert runs.runner.resume() == 1
        runs.settle()
        row = get_row(factory, kind.model, job_id)
        assert (row.status, row.attempts) == ("running", 1) and runs.ran == []
        assert runs.runner.watched() == [job_id]
        time.sleep(0.3)  # six looks later, still alive elsewhere (its heartbeat is an hour from stale)
        assert runs.ran == [] and get_row(factory, kind.model, job_id).attempts == 1
        set_row(factory, kind.model, job_id, heartbeat=now() - timedelta(hours=1))  # its server died
        runs.wait_run()
        runs.settle()
        assert runs.ran == [job_id]
        row = get_row(factory, kind.model, job_id)
        assert (row.status, row.attempts) == ("running", 2)  # started here, its attempt counted
        assert runs.runner.watched() == []
    finally:
        runs.runner.shutdown()


@pytest.mark.parametrize("model", [PlanRow, SimulationRow])
def test_a_job_left_running_with_a_stale_or_no_heartbeat_is_run_again_once(jobs, tmp_path, model):
    """Its process died with the server: run again at once, one attempt more; a queued job is run too."""
    factory, ids = jobs
    kind = PLAN_JOB if model is PlanRow else SIMULATION_JOB
    job_id = ids[model]
    set_row(factory, model, job_id, status="running", attempts=1, heartbeat=now() - timedelta(hours=1))
    runs = Runs(factory, tmp_path, kind)
    try:
        assert runs.runner.resume() == 1
        runs.wait_run()
        runs.settle()
        assert runs.ran == [job_id] and get_row(factory, model, job_id).attempts == 2
        lose_heartbeat(factory, model, job_id)  # the same, with no heartbeat at all
        runs.event.clear()
        assert runs.runner.resume() == 1
        runs.wait_run()
        runs.settle()
        assert runs.ran == [job_id, job_id] and get_row(factory, model, job_id).attempts == 3
        assert runs.runner.watched() == []
    finally:
        runs.runner.shutdown()


def _watching(jobs, tmp_path, look_again_s: float = 0.05) -> tuple[object, str, Runs]:
    """A plan running elsewhere (fresh heartbeat), and a runner started on its database that watches it."""
    factory, ids = jobs
    plan_id = ids[PlanRow]
    set_row(factory, PlanRow, plan_id, status="running", attempts=1, heartbeat=now())
    runs = Runs(factory, tmp_path, PLAN_JOB)
    runs.runner.look_again_s = look_again_s
    runs.runner.resume()
    runs.settle()
    assert runs.runner.watched() == [plan_id]
    return factory, plan_id, runs


def test_a_watched_job_that_finishes_elsewhere_is_dropped(jobs, tmp_path):
    """The other server stores the plan: the next look finds it done and stops looking, nothing run here."""
    factory, plan_id, runs = _watching(jobs, tmp_path)
    try:
        assert finish_job(factory, PLAN_JOB, plan_id, status="done")
        end = time.monotonic() + 20
        while runs.runner.watched() and time.monotonic() < end:
            time.sleep(0.02)
        runs.settle()
        assert runs.runner.watched() == [] and runs.ran == []
        assert get_row(factory, PlanRow, plan_id).status == "done"
    finally:
        runs.runner.shutdown()


def test_shutting_down_stops_the_watch(jobs, tmp_path):
    """No look is taken after shutdown (nothing submitted to a closed pool)."""
    factory, plan_id, runs = _watching(jobs, tmp_path, look_again_s=0.2)
    runs.runner.shutdown()
    assert runs.runner.watched() == []
    set_row(factory, PlanRow, plan_id, heartbeat=now() - timedelta(hours=1))
    time.sleep(0.4)  # two looks' worth
    assert runs.ran == [] and get_row(factory, PlanRow, plan_id).attempts == 1
