"""Simulations on the task queue: a real redis-server and real `binroute worker` processes (skipped without redis)."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
import redis as redis_client

from binroute.api.pipeline import load_scenario
from binroute.api.pipeline.simulate.run import SimOptions, policies_from, simulate
from binroute.api.service import create_app
from binroute.api.service.client import worker_process as worker
from binroute.api.service.db import ScenarioRow, SimulationRow, create_key, create_org
from binroute.api.service.jobs import (
    GRACE_S,
    HARD_AFTER_S,
    SIMULATION_JOB,
    JobRunner,
    QueueRunner,
    finish_job,
    start_job,
    time_limits,
)

from .helpers import BODY, lose_heartbeat, queued_app
from .servers import redis_server


@pytest.fixture
def queued(request, redis, small, tmp_path):
    """An app that sends simulations to ``redis``, a planner key and a scenario; the queue starts empty.

    Its database is the test's ``database_url`` if it asks for one (SQLite and PostgreSQL), else a SQLite file.
    """
    redis_client.Redis.from_url(redis).flushdb()
    if "database_url" in request.fixturenames:
        database_url = request.getfixturevalue("database_url")
    else:
        database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    app, key, sid = queued_app(database_url, redis, tmp_path, small)
    yield app, {"X-API-Key": key}, sid, database_url
    app.extensions["binroute"]["jobs"].shutdown()


def _wait(app, key: dict, simulation_id: str, timeout: float = 120) -> dict:
    """The simulation once it is done or failed."""
    end = time.time() + timeout
    while time.time() < end:
        sim = app.test_client().get(f"/api/v1/simulations/{simulation_id}", headers=key).json
        if sim["status"] in ("done", "failed"):
            return sim
        time.sleep(0.3)
    raise AssertionError(f"simulation {simulation_id} did not finish")


def _drained(broker: str, timeout: float = 30) -> None:
    """Wait until the queue holds no task, waiting or taken and not yet acknowledged."""
    r, end = redis_client.Redis.from_url(broker), time.time() + timeout
    while time.time() < end:
        if r.llen("celery") == 0 and r.hlen("unacked") == 0:
            return
        time.sleep(0.2)
    raise AssertionError("the queue was not drained")


def _row(app, simulation_id: str) -> SimulationRow:
    with app.extensions["binroute"]["sessions"]() as s:
        row = s.get(SimulationRow, simulation_id)
        s.expunge(row)
        return row


def test_the_server_picks_the_runner_by_its_broker(queued, tmp_path):
    """With a broker simulations go to the queue as their own task; without one, to local processes."""
    app = queued[0]
    runner = app.extensions["binroute"]["simulations"]
    assert isinstance(runner, QueueRunner) and runner.kind.task == "binroute.run_simulation"
    assert runner.celery is app.extensions["binroute"]["jobs"].celery  # one app, one connection pool
    local = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'local.sqlite3'}", "DATA_DIR": str(tmp_path / "l")})
    try:
        assert type(local.extensions["binroute"]["simulations"]) is JobRunner
        assert local.extensions["binroute"]["simulations"].kind is SIMULATION_JOB
    finally:
        local.extensions["binroute"]["jobs"].shutdown()


def test_a_worker_runs_a_queued_simulation_once(database_url, queued, small, tmp_path):
    """POST queues it; a worker (own scratch folder, network from the database) runs it; a second delivery: no-op."""
    app, key, sid, database_url = queued
    resp = app.test_client().post(f"/api/v1/scenarios/{sid}/simulations", json=BODY, headers=key)
    assert resp.status_code == 202, resp.json
    sim_id = resp.json["id"]
    assert app.extensions["binroute"]["simulations"].resume() == 1  # sent again: two tasks for one simulation
    broker = app.config["BROKER_URL"]
    assert redis_client.Redis.from_url(broker).llen("celery") == 2
    with worker(broker, database_url, tmp_path / "worker", "--concurrency", "1"):
        sim = _wait(app, key, sim_id)
        _drained(broker)
    assert sim["status"] == "done", sim
    assert sim["progress"] == {"days_done": 4, "days_total": 4}
    options = SimOptions.given(date(2026, 11, 2), date(2026, 11, 3), None, 3, "ortools", 0)
    local = simulate(load_scenario(small), policies_from(BODY["policies"]), options, jobs=1)
    assert sim["result"]["policies"] == local["policies"]
    report = app.test_client().get(f"/api/v1/simulations/{sim_id}/report", headers=key)
    assert report.status_code == 200 and "threshold:80" in report.get_data(as_text=True)
    row = _row(app, sim_id)
    assert row.attempts == 1  # the second delivery found it done and did not start it
    factory = app.extensions["binroute"]["sessions"]
    assert not finish_job(factory, SIMULATION_JOB, sim_id, status="failed", error="a second run")
    assert _row(app, sim_id).status == "done"


def test_limits_attempts_and_the_soft_time_limit_in_a_worker(queued, tmp_path):
    """A simulation started its max attempts is failed, not run; one past its soft time limit fails saying so."""
    app, key, sid, database_url = queued
    client, runner = app.test_client(), app.extensions["binroute"]["simulations"]
    poison = client.post(f"/api/v1/scenarios/{sid}/simulations", json=BODY, headers=key).json["id"]
    with app.extensions["binroute"]["sessions"]() as s:
        row = s.get(SimulationRow, poison)
        s.get(SimulationRow, poison).attempts = 3  # started three times by workers that died
        searching = json.loads(row.options_json) | {"time_limit_s": 2, "solution_limit": None}  # 4 days x 2 s
        slow = SimulationRow(org_id=row.org_id, scenario_id=sid, options_json=json.dumps(searching), days_total=4)
        s.add(slow)  # stored but not sent: the test sends its task itself
        s.commit()
        slow_id = slow.id
    # the same task as the runner sends, with a soft limit far under the simulation's 8 s
    runner.celery.send_task(runner.kind.task, args=[slow_id], soft_time_limit=1, time_limit=1 + HARD_AFTER_S)
    with worker(app.config["BROKER_URL"], database_url, tmp_path / "w", "--concurrency", "1", "--max-attempts", "3"):
        failed = _wait(app, key, poison)
        stopped = _wait(app, key, slow_id)
    assert failed["status"] == "failed" and "this simulation started 3 time(s) and never finished" in failed["error"]
    assert _row(app, poison).attempts == 3
    assert stopped["status"] == "failed", stopped
    assert stopped["error"] == "the simulation took longer than its time limit and was stopped"


@pytest.mark.service
def test_a_broker_down_at_submit_fails_the_simulation_with_503(small, tmp_path):
    """With the broker gone a new simulation answers 503 queue_unavailable and is stored failed with that reason."""
    with redis_server() as broker:
        if broker is None:
            pytest.skip("redis-server is not installed")
        app, plain, sid = queued_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", broker, tmp_path, small)
        key = {"X-API-Key": plain}
        try:
            redis_client.Redis.from_url(broker).shutdown(nosave=True)
            lost = app.test_client().post(f"/api/v1/scenarios/{sid}/simulations", json=BODY, headers=key)
            assert lost.status_code == 503, lost.json
            assert lost.headers["Retry-After"] == "60"
            error = lost.json["error"]
            assert error["code"] == "queue_unavailable" and "the simulation was not queued" in error["message"]
            sim = app.test_client().get(f"/api/v1/simulations/{error['details']['simulation_id']}", headers=key).json
            assert sim["status"] == "failed" and sim["error"] == error["message"]
            # failed, so neither it nor its scenario is held: both delete
            assert app.test_client().delete(f"/api/v1/simulations/{sim['id']}", headers=key).status_code == 204
            assert app.test_client().delete(f"/api/v1/scenarios/{sid}", headers=key).status_code == 204
        finally:
            app.extensions["binroute"]["jobs"].shutdown()


def test_a_simulations_time_limits_come_from_its_days_policies_and_daily_limit():
    """Soft limit: days x policies x the per-day limit (the server's bound without one), plus the grace."""
    options = {"from": "2026-11-02", "to": "2026-11-08", "policies": ["threshold:80", "timetable:mon"]}
    with_limit = json.dumps({**options, "time_limit_s": 10})
    assert time_limits(with_limit, 300, SIMULATION_JOB) == (7 * 2 * 10 + GRACE_S, 7 * 2 * 10 + GRACE_S + HARD_AFTER_S)
    assert time_limits(json.dumps({**options, "solution_limit": 3}), 60, SIMULATION_JOB)[0] == 7 * 2 * 60 + GRACE_S
    longest = {**options, "to": "2027-11-02", "policies": [f"threshold:{p}" for p in range(50, 98, 8)]}
    assert len(longest["policies"]) == 6  # the API's bounds: 366 days, 6 policies
    hard = time_limits(json.dumps(longest), 60, SIMULATION_JOB)[1]
    assert hard == 366 * 6 * 60 + GRACE_S + HARD_AFTER_S  # Redis hands it out meanwhile: heartbeats keep it single


def test_starting_a_simulation_counts_its_starts(tmp_path):
    """Each start counts; past max_attempts the simulation is failed, and failed stays failed."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DATA_DIR": str(tmp_path / "d")})
    factory = app.extensions["binroute"]["sessions"]
    try:
        with factory() as s:
            org = create_org(s, "starts").id
            create_key(s, "p", "planner", org)
            scenario = ScenarioRow(org_id=org, name="s", fleet_json="{}", bins_csv="bin_id\n", network_file="n")
            s.add(scenario)
            s.flush()
            row = SimulationRow(org_id=org, scenario_id=scenario.id, options_json="{}", days_done=2, days_total=4)
            s.add(row)
            s.commit()
            sim_id = row.id
        starts = []
        for _ in range(3):  # each time the process that started it died
            starts.append(start_job(factory, SIMULATION_JOB, sim_id, max_attempts=2))
            lose_heartbeat(factory, SimulationRow, sim_id)
        assert starts == [True, True, False]
        row = _row(app, sim_id)
        assert (row.status, row.attempts, row.days_done) == ("failed", 2, 0)
        assert "started 2 time(s)" in row.error
        assert not start_job(factory, SIMULATION_JOB, sim_id, max_attempts=5)
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
