"""The local runner (no broker) hands out again, while it serves, the jobs whose process died elsewhere."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from binroute.api.service import create_app
from binroute.api.service.client import call, scenario_upload, served_replicas
from binroute.api.service.db import PlanRow, create_key, create_org, now
from binroute.api.service.jobs import PLAN_JOB, JobRunner, lifecycle, local_sweeper

from .helpers import PLAN, get_row, serve_pid, set_row


class Recorded:
    """A local runner whose job processes note that they ran, then sleep ``hold_s`` (leaving the row running)."""

    def __init__(self, factory, tmp_path, hold_s: float = 0.0) -> None:
        self.runner = JobRunner("sqlite:///unused", factory, tmp_path, workers=1, max_time_limit_s=300.0, kind=PLAN_JOB)
        self.ran: list[str] = []
        self.hold_s = hold_s
        self.runner.command = self._command  # type: ignore[method-assign]

    def _command(self, job_id: str) -> list[str]:
        self.ran.append(job_id)
        return [sys.executable, "-c", f"import time; time.sleep({self.hold_s})"]


def _until(check, timeout_s: float = 20.0) -> bool:
    end = time.monotonic() + timeout_s
    while not check() and time.monotonic() < end:
        time.sleep(0.02)
    return bool(check())


def test_a_local_runner_takes_up_a_job_whose_heartbeat_goes_stale_while_it_serves(jobs, tmp_path, monkeypatch):
    """A plan another server runs (fresh heartbeat) is left alone; once its beats stop, it is run here once."""
    monkeypatch.setattr(lifecycle, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(lifecycle, "STALE_S", 0.5)
    factory, ids = jobs
    plan_id = ids[PlanRow]
    runs = Recorded(factory, tmp_path)
    sweeper = local_sweeper({PLAN_JOB: runs.runner})
    try:
        set_row(factory, PlanRow, plan_id, status="running", attempts=1, heartbeat=now())  # another server's
        time.sleep(0.3)  # six sweeps, its heartbeat fresh
        assert runs.ran == [] and get_row(factory, PlanRow, plan_id).attempts == 1
        set_row(factory, PlanRow, plan_id, heartbeat=now() - timedelta(hours=1))  # that server died with it
        assert _until(lambda: runs.ran == [plan_id])
        assert _until(lambda: not runs.runner.held())
        row = get_row(factory, PlanRow, plan_id)
        assert (row.status, row.attempts) == ("running", 2)  # started here once (the stand-in process stores nothing)
        assert sweeper.handed_out == 1
    finally:
        runs.runner.shutdown()
    assert not sweeper._thread.is_alive()  # stopped with its runner


def test_a_local_runner_never_hands_out_a_job_it_runs_itself(jobs, tmp_path, monkeypatch):
    """Its own job's heartbeat stale (a stalled beat) while its process runs: not put back, not started twice."""
    monkeypatch.setattr(lifecycle, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(lifecycle, "STALE_S", 0.2)
    factory, ids = jobs
    plan_id = ids[PlanRow]
    runs = Recorded(factory, tmp_path, hold_s=1.5)
    sweeper = local_sweeper({PLAN_JOB: runs.runner})
    try:
        runs.runner.submit(plan_id)
        assert _until(lambda: runs.ran == [plan_id])
        set_row(factory, PlanRow, plan_id, heartbeat=now() - timedelta(hours=1))
        time.sleep(0.6)  # a dozen sweeps while its process runs
        row = get_row(factory, PlanRow, plan_id)
        assert (row.status, row.attempts) == ("running", 1) and runs.ran == [plan_id]
        assert sweeper.handed_out == 0
    finally:
        runs.runner.shutdown()


def _children(pid: int) -> list[int]:
    """Every process below ``pid`` (its job processes and their heartbeat processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *_children(kid)]
    return found


@pytest.mark.service
@pytest.mark.slow
def test_a_replicas_plan_is_solved_by_the_other_when_it_dies_with_its_solve(small, tmp_path, monkeypatch):
    """Two `serve` replicas, no broker: kill -9 of one with its solve's processes; the other solves the plan, once.

    The plan is never left ``running``: within three missed heartbeats the surviving replica's
    sweeper puts it back and its own runner starts it (attempt 2), and it ends ``done``.
    """
    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", "0.5")  # the replicas': a lost plan is stale after 1.5 s
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    setup = create_app({"DATABASE_URL": database, "DATA_DIR": str(tmp_path / "d"), "RESUME_JOBS": False})
    factory = setup.extensions["binroute"]["sessions"]
    with factory() as s:
        key = create_key(s, "p", "planner", create_org(s, "replicas").id)[1]
    with served_replicas(database, 2, cwd=tmp_path, options=("--rate-limit", "off")) as (first, second):
        body, ctype = scenario_upload("two replicas", small, readings=True)
        code, raw = call(f"{first}/api/v1/scenarios", key, body, ctype)
        assert code == 201, raw[:300]
        order = json.dumps({**PLAN, "time_limit_s": 8}).encode()
        code, raw = call(f"{first}/api/v1/scenarios/{json.loads(raw)['id']}/plans", key, order)
        assert code == 202, raw[:300]
        plan_id = json.loads(raw)["id"]
        assert _until(lambda: get_row(factory, PlanRow, plan_id).status == "running", 120)
        time.sleep(1.0)
        victim = serve_pid(first)
        for pid in [victim, *_children(victim)]:  # the replica and its solve, as a lost machine
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        assert _until(lambda: get_row(factory, PlanRow, plan_id).attempts == 2, 60)
        back_after = time.monotonic() - killed
        assert _until(lambda: get_row(factory, PlanRow, plan_id).status in ("done", "failed"), 180)
        code, raw = call(f"{second}/api/v1/plans/{plan_id}", key)
    plan = json.loads(raw)
    assert plan["status"] == "done", plan
    row = get_row(factory, PlanRow, plan_id)
    assert row.attempts == 2  # started twice in all, never at once
    assert back_after < 20, back_after
    setup.extensions["binroute"]["jobs"].shutdown()
