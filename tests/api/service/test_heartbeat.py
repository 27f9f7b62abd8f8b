"""Heartbeats of running jobs: written while one runs; a task for a job alive elsewhere waits instead of running."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_client
from sqlalchemy.exc import OperationalError

from binroute.api.service.client import worker_process as worker
from binroute.api.service.db import PlanRow, SimulationRow, now
from binroute.api.service.jobs import (
    GRACE_S,
    HARD_AFTER_S,
    PLAN_JOB,
    SIMULATION_JOB,
    Heartbeat,
    beat,
    default_visibility_s,
    deliver,
    finish_job,
    is_beating,
    lifecycle,
    watch_countdown_s,
)

from .helpers import BODY, PLAN, get_row, lose_heartbeat, queued_app, set_row


@pytest.mark.parametrize("kind", [PLAN_JOB, SIMULATION_JOB], ids=["plan", "simulation"])
def test_the_heartbeat_advances_while_a_job_runs_and_stops_after(jobs, kind, monkeypatch):
    """Inside a ``Heartbeat`` block the row's heartbeat moves on every HEARTBEAT_S; after the block it stays put."""
    monkeypatch.setattr(lifecycle, "HEARTBEAT_S", 0.05)
    factory, ids = jobs
    model = kind.model
    job_id = ids[model]
    set_row(factory, model, job_id, status="running")
    with Heartbeat(factory, kind, job_id):
        seen = set()
        end = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < end:
            beat_at = get_row(factory, model, job_id).heartbeat
            if beat_at is not None:
                seen.add(beat_at)
            time.sleep(0.02)
        assert len(seen) >= 3  # three different heartbeats while it ran
    last = get_row(factory, model, job_id).heartbeat
    time.sleep(0.3)  # six intervals
    assert get_row(factory, model, job_id).heartbeat == last


def test_a_heartbeat_is_written_only_while_the_job_runs(jobs):
    """A queued or finished job gets no heartbeat: a late write cannot make a finished job look alive."""
    factory, ids = jobs
    plan_id = ids[PlanRow]
    beat(factory, PLAN_JOB, plan_id)
    assert get_row(factory, PlanRow, plan_id).heartbeat is None
    assert finish_job(factory, PLAN_JOB, plan_id, status="done")
    beat(factory, PLAN_JOB, plan_id)
    assert get_row(factory, PlanRow, plan_id).heartbeat is None


def test_a_failed_heartbeat_write_is_logged_and_the_job_goes_on(caplog, monkeypatch):
    """A database that refuses the write: a warning naming the job, no exception into the job."""
    monkeypatch.setattr(lifecycle, "HEARTBEAT_S", 0.01)

    def broken():
        raise OperationalError("UPDATE plans", {}, Exception("database is locked"))

    with caplog.at_level(logging.WARNING, logger="binroute.api.service.jobs.lifecycle"):
        with Heartbeat(broken, PLAN_JOB, "p1") as beats:  # type: ignore[arg-type]
            end = time.monotonic() + 10
            while beats.failures < 2 and time.monotonic() < end:
                time.sleep(0.01)
        assert beats.failures == beats.beats >= 2  # it went on beating after a failure
    assert "could not write the heartbeat of plans p1" in caplog.text
    assert "database is locked" in caplog.text


@pytest.mark.parametrize("given", ["soon", "0", "-5", "nan"])
def test_a_bad_heartbeat_interval_in_the_environment_is_named(given, monkeypatch):
    """BINROUTE_HEARTBEAT_S that is not a positive number: an error naming the variable and the value."""
    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", given)
    with pytest.raises(ValueError, match=f"BINROUTE_HEARTBEAT_S must be a number of seconds above 0, not '{given}'"):
        lifecycle._seconds_from_env("BINROUTE_HEARTBEAT_S", 30.0)
    monkeypatch.delenv("BINROUTE_HEARTBEAT_S")
    assert lifecycle._seconds_from_env("BINROUTE_HEARTBEAT_S", 30.0) == 30.0


def test_a_delivered_task_waits_for_a_job_alive_elsewhere_and_restarts_a_lost_one(database_url, jobs):
    """Fresh heartbeat: "wait", no attempt counted, even at the cap; stale or missing: started again and counted."""
    factory, ids = jobs
    for kind in (PLAN_JOB, SIMULATION_JOB):
        job_id = ids[kind.model]
        limits = {"max_attempts": 2}
        assert deliver(kind, factory, job_id, **limits) == "run"  # queued: started
        row = get_row(factory, kind.model, job_id)
        assert (row.status, row.attempts) == ("running", 1) and row.heartbeat is not None
        assert deliver(kind, factory, job_id, **limits) == "wait"  # a second copy: the job runs elsewhere
        assert get_row(factory, kind.model, job_id).attempts == 1
        stale = lifecycle.STALE_S  # the beats come from a process of their own: a search does not stop them
        set_row(factory, kind.model, job_id, heartbeat=now() - timedelta(seconds=stale + 5))
        assert not is_beating(factory, kind, job_id, stale)
        assert deliver(kind, factory, job_id, **limits) == "run"  # its machine was lost: started again
        assert get_row(factory, kind.model, job_id).attempts == 2
        assert deliver(kind, factory, job_id, **limits) == "wait"  # at the cap but alive: not failed
        assert get_row(factory, kind.model, job_id).status == "running"
        lose_heartbeat(factory, kind.model, job_id)
        assert deliver(kind, factory, job_id, **limits) == "skip"  # lost at the cap: failed
        row = get_row(factory, kind.model, job_id)
        assert (row.status, row.attempts) == ("failed", 2) and "started 2 time(s)" in row.error
        assert deliver(kind, factory, "no-such-job", **limits) == "skip"


def test_the_default_visibility_timeout_covers_the_longest_plan_again():
    """Redis hands out a lost task after the longest plan's hard limit and a minute, not the longest simulation's."""
    assert default_visibility_s(300) == 300 + GRACE_S + HARD_AFTER_S + 60
    assert default_visibility_s(60) == 60 + GRACE_S + HARD_AFTER_S + 60
    assert watch_countdown_s(default_visibility_s(300)) == lifecycle.STALE_S
    assert watch_countdown_s(3) == 1.5  # a waiting copy never outlives the visibility timeout


def _log(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_a_worker_waits_for_a_job_alive_elsewhere_then_takes_it_over(redis, small, tmp_path, monkeypatch):
    """A task for a plan beating elsewhere is sent again (no start, no attempt); once the beats stop, it is solved.

    The worker's lines about it carry the id of the request that queued it.
    """
    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", "0.3")  # the worker's: stale after 0.9 s + the plan's 2-s search
    redis_client.Redis.from_url(redis).flushdb()
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    app, key, sid = queued_app(database_url, redis, tmp_path, small)
    factory = app.extensions["binroute"]["sessions"]
    stop = threading.Event()

    def elsewhere() -> None:  # another machine solving the plan
        while not stop.wait(0.2):
            beat(factory, PLAN_JOB, plan_id)

    try:
        resp = app.test_client().post(f"/api/v1/scenarios/{sid}/plans", json=PLAN, headers={"X-API-Key": key})
        plan_id = resp.json["id"]
        set_row(factory, PlanRow, plan_id, status="running", attempts=1, heartbeat=now())
        alive = threading.Thread(target=elsewhere, daemon=True)
        alive.start()
        log = tmp_path / "w.log"
        with worker(redis, database_url, tmp_path / "w", "--concurrency", "1"):
            end = time.monotonic() + 120
            while _log(log).count("'waiting'") < 3 and time.monotonic() < end:
                time.sleep(0.2)
            assert _log(log).count("'waiting'") >= 3, _log(log)  # the one task, sent again and again
            assert resp.headers["X-Request-Id"] in _log(log)  # the worker's lines carry the request that queued it
            row = get_row(factory, PlanRow, plan_id)
            assert (row.status, row.attempts) == ("running", 1)
            stop.set()
            alive.join()
            # stale, it may pass through ``queued`` (a sweeper hands it out again) before the worker solves it
            while get_row(factory, PlanRow, plan_id).status not in ("done", "failed") and time.monotonic() < end:
                time.sleep(0.3)
        row = get_row(factory, PlanRow, plan_id)
        assert (row.status, row.attempts) == ("done", 2), row.error
    finally:
        stop.set()
        app.extensions["binroute"]["jobs"].shutdown()


def test_a_copy_of_a_running_simulations_task_waits_and_it_runs_once(redis, small, tmp_path, monkeypatch):
    """A copy of a running simulation's task (Redis hands one out past the visibility timeout) waits: one start."""
    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", "0.3")
    redis_client.Redis.from_url(redis).flushdb()
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    app, key, sid = queued_app(database_url, redis, tmp_path, small)
    try:
        body = {**BODY, "solution_limit": None, "time_limit_s": 2}  # 2 days x 2 policies x 2 s of search
        resp = app.test_client().post(f"/api/v1/scenarios/{sid}/simulations", json=body, headers={"X-API-Key": key})
        assert resp.status_code == 202, resp.json
        sim_id = resp.json["id"]
        factory = app.extensions["binroute"]["sessions"]
        log = tmp_path / "w.log"
        runner = app.extensions["binroute"]["simulations"]
        # two processes: one runs the simulation, the other gets the copy
        with worker(redis, database_url, tmp_path / "w", "--concurrency", "2"):
            end = time.monotonic() + 180
            while get_row(factory, SimulationRow, sim_id).status == "queued" and time.monotonic() < end:
                time.sleep(0.1)
            runner.submit(sim_id)  # a copy while it runs, as Redis sends one past the visibility timeout
            while get_row(factory, SimulationRow, sim_id).status == "running" and time.monotonic() < end:
                time.sleep(0.3)
        row = get_row(factory, SimulationRow, sim_id)
        assert (row.status, row.attempts) == ("done", 1), row.error
        assert "'waiting'" in _log(log), _log(log)  # the copy came while it ran, and waited
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
