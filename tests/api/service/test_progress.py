"""A running plan's progress on its row, seen by another API replica; the cap on a plan's starts."""

from __future__ import annotations

import itertools
import threading
import time
import typing
from datetime import date

import pytest

from binroute.api.pipeline import PlanOptions, load_scenario, plan_scenario
from binroute.api.pipeline.plan import STAGES, Progress, ticking
from binroute.api.service import create_app
from binroute.api.service.db import PlanRow, ScenarioRow, create_key, create_org
from binroute.api.service.jobs import (
    BANDS,
    PLAN_JOB,
    PROGRESS_STAGES,
    ProgressRecorder,
    finish_job,
    overall_percent,
    start_job,
)
from binroute.api.service.schemas import PlanProgress

from .helpers import lose_heartbeat


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _replicas(url: str, tmp_path, *, resume: bool = False):
    """Two apps on one database (as two API servers would be), a planner key, and a queued plan's id."""
    one = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "one"), "RESUME_JOBS": False})
    with one.extensions["binroute"]["sessions"]() as s:
        org = create_org(s, "replicas").id
        key = create_key(s, "p", "planner", org)[1]
        scenario = ScenarioRow(org_id=org, name="s", fleet_json="{}", bins_csv="bin_id\n", network_file="n.osm")
        s.add(scenario)
        s.flush()
        plan = PlanRow(org_id=org, scenario_id=scenario.id, options_json="{}")
        s.add(plan)
        s.commit()
        plan_id = plan.id
    two = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "two"), "RESUME_JOBS": resume})
    return one, two, key, plan_id


def _shutdown(*apps) -> None:
    for app in apps:
        app.extensions["binroute"]["jobs"].shutdown()


def _seen(app, key: str, plan_id: str) -> dict:
    resp = app.test_client().get(f"/api/v1/plans/{plan_id}", headers={"X-API-Key": key})
    assert resp.status_code == 200, resp.json
    return resp.json


def test_another_replica_sees_the_progress_the_solver_writes(database_url, tmp_path):
    """Stage changes are written at once, progress within a stage at most once a second; replica two reads them."""
    one, two, key, plan_id = _replicas(database_url, tmp_path)
    try:
        factory = one.extensions["binroute"]["sessions"]
        assert _seen(two, key, plan_id)["progress"] is None  # queued: no progress yet
        assert start_job(factory, PLAN_JOB, plan_id)
        assert _seen(two, key, plan_id)["progress"]["stage"] == "scenario"
        clock = Clock()
        record = ProgressRecorder(factory, plan_id, clock=clock)
        record(Progress("solve", 0.2))
        shown = _seen(two, key, plan_id)["progress"]
        assert (shown["stage"], shown["percent"]) == ("solve", overall_percent("solve", 0.2))
        clock.t = 0.5
        record(Progress("solve", 0.4))  # within the second: not written
        assert _seen(two, key, plan_id)["progress"]["percent"] == overall_percent("solve", 0.2)
        clock.t = 1.0
        record(Progress("solve", 0.6))
        assert _seen(two, key, plan_id)["progress"]["percent"] == overall_percent("solve", 0.6)
        assert record.writes == 2
        assert finish_job(factory, PLAN_JOB, plan_id, status="failed", error="stopped by the test")
        record(Progress("write", 0.0))  # the plan is over: nothing changes
        plan = _seen(two, key, plan_id)
        assert plan["status"] == "failed" and plan["progress"] is None
    finally:
        _shutdown(one, two)


def test_a_real_solve_reports_every_stage_to_another_replica(small, tmp_path):
    """The pipeline's events, through the recorder, reach replica two in stage order and never go back."""
    one, two, key, plan_id = _replicas(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    seen: list[tuple[str, float]] = []
    try:
        factory = one.extensions["binroute"]["sessions"]
        assert start_job(factory, PLAN_JOB, plan_id)
        record, lock = ProgressRecorder(factory, plan_id), threading.Lock()

        def spy(event: Progress) -> None:
            with lock:  # the solve's reports come from a thread
                record(event)
                shown = _seen(two, key, plan_id)["progress"]
                seen.append((shown["stage"], shown["percent"]))

        options = PlanOptions(date=date(2026, 11, 23), time_limit_s=None, solution_limit=5, engine="ortools")
        plan_scenario(load_scenario(small), options, progress=spy)
    finally:
        _shutdown(one, two)
    stages = list(dict.fromkeys(stage for stage, _ in seen))
    assert stages == list(STAGES)
    percents = [p for _, p in seen]
    assert percents == sorted(percents)
    assert seen[0] == ("graph", BANDS["graph"][0]) and seen[-1][1] == BANDS["write"][0]


def test_the_solve_is_reported_with_the_share_of_its_budget_used():
    """While a block runs, ``ticking`` reports its stage with a growing share below 1; it stops with the block."""
    events: list[Progress] = []
    with ticking(events.append, "solve", expected_s=0.2, every_s=0.01):
        time.sleep(0.3)
    count = len(events)
    time.sleep(0.05)
    assert len(events) == count >= 3
    shares = [e.done for e in events]
    assert shares == sorted(shares) and shares[0] > 0 and shares[-1] == 0.99
    assert {e.stage for e in events} == {"solve"} and all(e.message is None for e in events)


def test_stages_are_the_same_in_the_recorder_and_the_schema():
    """The API schema's stage names are the recorder's, and the bands cover 0 to 100 in order."""
    assert typing.get_args(PlanProgress.model_fields["stage"].annotation) == PROGRESS_STAGES
    assert BANDS["scenario"][0] == 0 and BANDS["write"][1] == 100
    assert all(BANDS[a][1] == BANDS[b][0] for a, b in itertools.pairwise(PROGRESS_STAGES))
    with pytest.raises(ValueError, match="unknown progress stage"):
        ProgressRecorder(None, "x")(Progress("nap", 0.5))  # type: ignore[arg-type]


def test_a_plan_started_too_often_is_failed_not_started_again(database_url, tmp_path):
    """Each start counts; past the cap the plan is failed with a message saying why, and a finished plan stays so."""
    one, two, key, plan_id = _replicas(database_url, tmp_path)
    try:
        factory = one.extensions["binroute"]["sessions"]
        starts = []
        for _ in range(3):  # each time the process that started it died
            starts.append(start_job(factory, PLAN_JOB, plan_id, max_attempts=2))
            lose_heartbeat(factory, PlanRow, plan_id)
        assert starts == [True, True, False]
        plan = _seen(two, key, plan_id)
        assert plan["status"] == "failed"
        assert "started 2 time(s) and never finished" in plan["error"]
        with factory() as s:
            assert s.get(PlanRow, plan_id).attempts == 2
        assert not start_job(factory, PLAN_JOB, plan_id)  # failed stays failed
    finally:
        _shutdown(one, two)


def test_a_server_restarted_on_a_poison_plan_fails_it(tmp_path):
    """A plan left running by servers that died with it, at the cap of starts, is failed on the next start."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    one, two, key, plan_id = _replicas(url, tmp_path)
    factory = one.extensions["binroute"]["sessions"]
    for _ in range(3):  # three servers started its solve and died
        assert start_job(factory, PLAN_JOB, plan_id)
        lose_heartbeat(factory, PlanRow, plan_id)
    _shutdown(one, two)
    restarted = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "three"), "PLAN_MAX_ATTEMPTS": 3})
    try:
        end = time.monotonic() + 30
        while _seen(restarted, key, plan_id)["status"] != "failed" and time.monotonic() < end:
            time.sleep(0.05)
        assert "started 3 time(s)" in (_seen(restarted, key, plan_id)["error"] or "")
    finally:
        _shutdown(restarted)
