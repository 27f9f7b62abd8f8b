"""Solves on the task queue: a real redis-server and real `binroute worker` processes (skipped without redis)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from binroute.api.service import create_app
from binroute.api.service.client import worker_process as worker
from binroute.api.service.db import PlanRow, create_key, create_org
from binroute.api.service.jobs import PLAN_JOB, finish_job

from .helpers import PLAN, get_row, multipart, queued_app, scenario_files


def _wait(app, key: str, plan_id: str, statuses: tuple[str, ...], timeout: float = 240) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        plan = app.test_client().get(f"/api/v1/plans/{plan_id}", headers={"X-API-Key": key}).json
        if plan["status"] in statuses:
            return plan
        time.sleep(0.3)
    raise AssertionError(f"plan {plan_id} did not reach {statuses}")


def test_a_worker_solves_a_queued_plan_once(redis, database_url, small, tmp_path):
    """`serve --broker` queues; `binroute worker` (own scratch folder) solves it; a second completion is ignored."""
    app, key, sid = queued_app(database_url, redis, tmp_path, small)
    try:
        resp = app.test_client().post(f"/api/v1/scenarios/{sid}/plans", json=PLAN, headers={"X-API-Key": key})
        assert resp.status_code == 202
        plan_id = resp.json["id"]
        with worker(redis, database_url, tmp_path / "worker", "--concurrency", "1"):
            plan = _wait(app, key, plan_id, ("done", "failed"))
        assert plan["status"] == "done", plan
        factory = app.extensions["binroute"]["sessions"]
        assert not finish_job(factory, PLAN_JOB, plan_id, status="failed", error="a second solve")  # stored once
        with factory() as s:
            row = s.get(PlanRow, plan_id)
            assert row.status == "done" and row.error is None
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


def test_a_plan_survives_its_worker_being_killed(broker, small, tmp_path, monkeypatch):
    """kill -9 of a worker (and its pool) mid-solve: another worker has the plan within three missed heartbeats.

    Redis's visibility timeout is left at its default (minutes) and is not waited for: the live
    worker's sweeper finds the stale heartbeat and hands the plan out again, once; on RabbitMQ the
    broker also hands the dead worker's task back at once, and that copy waits rather than run it twice.
    """
    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", "0.5")  # the workers': stale after 1.5 s
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    app, key, sid = queued_app(database_url, broker, tmp_path, small)
    one = ("--concurrency", "1")
    try:
        body = {**PLAN, "time_limit_s": 8}
        plan_id = app.test_client().post(f"/api/v1/scenarios/{sid}/plans", json=body, headers={"X-API-Key": key})
        plan_id = plan_id.json["id"]
        with worker(broker, database_url, tmp_path / "first", *one) as first:
            _wait(app, key, plan_id, ("running",), timeout=120)
            with worker(broker, database_url, tmp_path / "second", *one):
                time.sleep(2)
                os.killpg(first.pid, signal.SIGKILL)
                first.wait()
                killed = time.monotonic()
                factory = app.extensions["binroute"]["sessions"]
                while time.monotonic() < killed + 60:
                    row = get_row(factory, PlanRow, plan_id)
                    if row.attempts == 2:
                        break
                    time.sleep(0.1)
                back_after = time.monotonic() - killed
                assert row.attempts == 2, row.status
                assert back_after < 15, back_after
                plan = _wait(app, key, plan_id, ("done", "failed"))
        assert plan["status"] == "done", plan
        assert get_row(factory, PlanRow, plan_id).attempts == 2  # started twice in all, never at once
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (a Celery worker's pool)."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_plan_that_kills_its_worker_is_failed_after_its_starts(redis, small, tmp_path, monkeypatch):
    """A solve whose process dies (kill -9 of the pool process) goes back on the queue; past the cap it is failed.

    The copy handed out again waits until the dead process's heartbeat is stale before it decides.
    """
    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", "0.5")
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    app, key, sid = queued_app(database_url, redis, tmp_path, small)
    try:
        body = {**PLAN, "time_limit_s": 8}  # its heartbeat is stale 8 s (one search) after the beats stop
        plan_id = app.test_client().post(f"/api/v1/scenarios/{sid}/plans", json=body, headers={"X-API-Key": key})
        plan_id = plan_id.json["id"]
        with worker(redis, database_url, tmp_path / "w", "--concurrency", "1", "--max-attempts", "1") as proc:
            _wait(app, key, plan_id, ("running",), timeout=120)
            for child in _children(proc.pid):
                os.kill(child, signal.SIGKILL)
            # What is checked is the cap, not the speed (the lost-worker tests time that): room for a busy machine.
            plan = _wait(app, key, plan_id, ("done", "failed"), timeout=180)
        assert plan["status"] == "failed", plan
        assert "started 1 time(s) and never finished" in plan["error"]
        with app.extensions["binroute"]["sessions"]() as s:
            assert s.get(PlanRow, plan_id).attempts == 1
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


def test_time_limits_come_from_the_plan():
    """A task's soft limit is the plan's own time limit plus the grace (the server's bound without one)."""
    from binroute.api.service.jobs import GRACE_S, HARD_AFTER_S, time_limits

    assert time_limits('{"time_limit_s": 10}', 300, PLAN_JOB) == (10 + GRACE_S, 10 + GRACE_S + HARD_AFTER_S)
    assert time_limits('{"solution_limit": 5}', 300, PLAN_JOB)[0] == 300 + GRACE_S


def test_the_jobs_package_loads_celery_only_for_a_task_queue_name():
    """Importing the service's jobs package leaves Celery unloaded; asking it for a task-queue name loads it."""
    code = (
        "import sys; import binroute.api.service.jobs as jobs; before = 'celery' in sys.modules; "
        "jobs.QueueRunner; print(before, 'celery' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert shown.stdout.split() == ["False", "True"]


def test_networks_are_stored_once_by_content(small, tmp_path):
    """Two scenarios with the same network file share one blob; it goes with the last scenario that uses it."""
    from sqlalchemy import func, select

    from binroute.api.service.db import NetworkBlob

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DATA_DIR": str(tmp_path / "data")})
    try:
        with app.extensions["binroute"]["sessions"]() as s:
            key = {"X-API-Key": create_key(s, "p", "planner", create_org(s, "blobs").id)[1]}
        client, ids = app.test_client(), []
        for name in ("one", "two"):
            body, ctype = multipart(name, scenario_files(small, readings=False))
            ids.append(client.post("/api/v1/scenarios", data=body, content_type=ctype, headers=key).json["id"])
        blobs = select(func.count()).select_from(NetworkBlob)
        with app.extensions["binroute"]["sessions"]() as s:
            assert s.scalar(blobs) == 1
        assert client.delete(f"/api/v1/scenarios/{ids[0]}", headers=key).status_code == 204
        with app.extensions["binroute"]["sessions"]() as s:
            assert s.scalar(blobs) == 1
        assert client.delete(f"/api/v1/scenarios/{ids[1]}", headers=key).status_code == 204
        with app.extensions["binroute"]["sessions"]() as s:
            assert s.scalar(blobs) == 0
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


def test_plans_queued_when_redis_restarts_empty_are_still_solved(redis, small, tmp_path, monkeypatch):
    """Redis restarted without persistence loses the queued task: a worker's sweep sends it again; the plan is done."""
    import redis as redis_client

    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", "0.5")  # the worker's: a plan queued 6 s is sent again
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    app, key, sid = queued_app(database_url, redis, tmp_path, small)
    try:
        resp = app.test_client().post(f"/api/v1/scenarios/{sid}/plans", json=PLAN, headers={"X-API-Key": key})
        plan_id = resp.json["id"]
        redis_client.Redis.from_url(redis).flushall()  # what a restart without persistence leaves
        with worker(redis, database_url, tmp_path / "w", "--concurrency", "1"):
            plan = _wait(app, key, plan_id, ("done", "failed"), timeout=180)
        assert plan["status"] == "done", plan
        assert get_row(app.extensions["binroute"]["sessions"], PlanRow, plan_id).attempts == 1
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
