"""Faults survived with real servers: `serve` killed mid-upload, PostgreSQL restarted mid-ingest and mid-solve.

After each: every acknowledged row is there, every plan ends ``done`` or ``failed``
with a reason (never stuck ``running``), and none is solved twice at once.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from binroute.api.service import create_app
from binroute.api.service.client import call, restart_postgres, scenario_upload, served_replicas, worker_process
from binroute.api.service.db import PlanRow, create_key, create_org
from binroute.api.service.jobs import lifecycle

from .helpers import PLAN, get_row, queued_app, serve_pid
from .servers import new_database, postgres_server


@pytest.fixture(scope="module")
def restartable(tmp_path_factory):
    """A PostgreSQL cluster of the module's own (its tests restart it): its URL and its folder."""
    root = tmp_path_factory.mktemp("pg-restart")
    with postgres_server(root) as url:
        if url is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
        yield url, root


def _keyed_database(server_url: str, root) -> tuple[str, str]:
    """A new database on ``server_url`` with an organisation and its planner key: (URL, key)."""
    database = new_database(server_url, f"t_{uuid.uuid4().hex[:12]}")
    setup = create_app({"DATABASE_URL": database, "DATA_DIR": str(root / "d"), "RESUME_JOBS": False})
    with setup.extensions["binroute"]["sessions"]() as s:
        key = create_key(s, "p", "planner", create_org(s, "faults").id)[1]
    setup.extensions["binroute"]["jobs"].shutdown()
    return database, key


@pytest.mark.service
@pytest.mark.slow
def test_acknowledged_readings_survive_kill_9_of_the_server_on_postgresql(postgres, small, tmp_path):
    """Readings posted in batches while `serve` is killed with SIGKILL: every acknowledged row is there after.

    The batch in flight at the kill is either wholly stored or not at all (one transaction), and
    posting it again after the restart stores only what is missing.
    """
    database = new_database(postgres, f"t_{uuid.uuid4().hex[:12]}")
    setup = create_app({"DATABASE_URL": database, "DATA_DIR": str(tmp_path / "d"), "RESUME_JOBS": False})
    with setup.extensions["binroute"]["sessions"]() as s:
        key = create_key(s, "p", "planner", create_org(s, "faults").id)[1]
    setup.extensions["binroute"]["jobs"].shutdown()
    bins = [line.split(",")[0] for line in (small / "bins.csv").read_text().splitlines()[1:]]
    batches = [
        [{"bin_id": b, "timestamp": f"2026-12-01T{h:02d}:{m:02d}:00Z", "fill_pct": 40.0} for b in bins]
        for h in range(10)
        for m in range(0, 60, 6)
    ]
    acknowledged, stop, progress = 0, threading.Event(), {"sent": 0}
    with served_replicas(database, 1, cwd=tmp_path, options=("--rate-limit", "off")) as (base,):
        upload, ctype = scenario_upload("faults", small, readings=False)
        code, raw = call(f"{base}/api/v1/scenarios", key, upload, ctype)
        assert code == 201, raw[:300]
        sid = json.loads(raw)["id"]
        url = f"{base}/api/v1/scenarios/{sid}/readings"
        server_pid = serve_pid(base)

        def killer() -> None:
            while progress["sent"] < 10 and not stop.is_set():  # killed after ten batches, mid-stream
                stop.wait(0.01)
            import os

            os.kill(server_pid, signal.SIGKILL)

        thread = threading.Thread(target=killer)
        thread.start()
        sent = 0
        for batch in batches:
            try:
                code, raw = call(url, key, json.dumps({"readings": batch}).encode())
            except OSError:
                break
            if code != 201:
                break
            acknowledged += json.loads(raw)["inserted"]
            sent += 1
            progress["sent"] = sent
        stop.set()
        thread.join()
    assert 10 <= sent < len(batches)
    with served_replicas(database, 1, cwd=tmp_path, options=("--rate-limit", "off")) as (base,):
        code, raw = call(f"{base}/api/v1/scenarios/{sid}", key)
        stored = json.loads(raw)["readings"]
        assert stored in (acknowledged, acknowledged + len(bins)), (
            stored,
            acknowledged,
        )  # the batch in flight: all or none
        code, raw = call(
            f"{base}/api/v1/scenarios/{sid}/readings", key, json.dumps({"readings": batches[sent]}).encode()
        )
        assert code in (200, 201)
        code, raw = call(f"{base}/api/v1/scenarios/{sid}", key)
        assert json.loads(raw)["readings"] == acknowledged + len(bins)


@pytest.mark.service
@pytest.mark.slow
def test_readings_posted_while_postgresql_restarts_are_all_stored_once(restartable, small, tmp_path):
    """Batches of readings posted while PostgreSQL restarts: 503s (never 500) while it is down; retried, all stored.

    A batch answered 503 is posted again, as a client told ``Retry-After`` would; at the end the
    stored count is the sum of the acknowledged inserts, and every batch was acknowledged once.
    """
    server_url, pg_root = restartable
    database, key = _keyed_database(server_url, tmp_path)
    bins = [line.split(",")[0] for line in (small / "bins.csv").read_text().splitlines()[1:]]
    batches = [
        [{"bin_id": b, "timestamp": f"2026-12-02T{h:02d}:{m:02d}:00Z", "fill_pct": 30.0} for b in bins]
        for h in range(6)
        for m in range(0, 60, 10)
    ]
    progress, codes, restarted = {"sent": 0}, [], threading.Event()

    def restarter() -> None:
        while progress["sent"] < 5:
            time.sleep(0.01)
        restart_postgres(pg_root)
        restarted.set()

    with served_replicas(database, 1, cwd=tmp_path, options=("--rate-limit", "off")) as (base,):
        upload, ctype = scenario_upload("pg restart", small, readings=False)
        code, raw = call(f"{base}/api/v1/scenarios", key, upload, ctype)
        assert code == 201, raw[:300]
        sid = json.loads(raw)["id"]
        thread = threading.Thread(target=restarter)
        thread.start()
        acknowledged = 0
        for batch in batches:
            end = time.monotonic() + 120
            while time.monotonic() < end:
                code, raw = call(
                    f"{base}/api/v1/scenarios/{sid}/readings", key, json.dumps({"readings": batch}).encode()
                )
                codes.append(code)
                if code in (200, 201):
                    acknowledged += json.loads(raw)["inserted"]
                    break
                assert code == 503 and json.loads(raw)["error"]["code"] == "database_unavailable", (code, raw[:300])
                time.sleep(0.2)
            else:
                raise AssertionError("the server never took the batch again")
            progress["sent"] += 1
            if progress["sent"] == 10:
                assert restarted.wait(120)  # the rest are posted once the restart is over, on the same server
        thread.join()
        code, raw = call(f"{base}/api/v1/scenarios/{sid}", key)
    assert code == 200 and 500 not in codes
    assert acknowledged == len(batches) * len(bins) == json.loads(raw)["readings"]


@pytest.mark.service
@pytest.mark.slow
def test_a_worker_whose_disk_is_full_fails_the_plan_saying_so(postgres, redis, small, tmp_path):
    """A worker that cannot write its working files (a file-size limit, as a full disk): failed with the reason.

    The worker runs under ``prlimit --fsize`` (256 kB: less than the scenario's network file),
    so writing the scenario out for the solve fails with EFBIG; the plan ends ``failed``,
    saying the machine's disk needs room, after one start, and nothing else is touched.
    """
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("prlimit (util-linux) is not installed")
    database = new_database(postgres, f"t_{uuid.uuid4().hex[:12]}")
    app, key, sid = queued_app(database, redis, tmp_path, small)
    try:
        resp = app.test_client().post(f"/api/v1/scenarios/{sid}/plans", json=PLAN, headers={"X-API-Key": key})
        assert resp.status_code == 202, resp.json
        plan_id = resp.json["id"]
        factory = app.extensions["binroute"]["sessions"]
        limit = [prlimit, f"--fsize={256 * 1024}", "--"]
        with worker_process(redis, database, tmp_path / "full", "--concurrency", "1", wrapper=limit):
            end = time.monotonic() + 180
            while get_row(factory, PlanRow, plan_id).status in ("queued", "running") and time.monotonic() < end:
                time.sleep(0.3)
        row = get_row(factory, PlanRow, plan_id)
        assert row.status == "failed" and row.attempts == 1, (row.status, row.error)
        assert "could not write its working files (File too large)" in row.error, row.error
        assert app.test_client().get(f"/api/v1/scenarios/{sid}", headers={"X-API-Key": key}).status_code == 200
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


#: Where Debian's faketime package puts libfaketime (preloaded into a process to move its clock).
LIBFAKETIME = [
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
]


def _queued_plan(app, key: str, sid: str) -> str:
    """Queue a 6-s plan of scenario ``sid`` through the API (answered 202); its id."""
    resp = app.test_client().post(
        f"/api/v1/scenarios/{sid}/plans", json={**PLAN, "time_limit_s": 6}, headers={"X-API-Key": key}
    )
    assert resp.status_code == 202, resp.json
    return str(resp.json["id"])


@pytest.mark.service
@pytest.mark.slow
@pytest.mark.parametrize("jump", ["-2h", "+2h"])
def test_a_worker_whose_clock_jumps_solves_its_plan_once(restartable, redis, small, tmp_path, monkeypatch, jump):
    """A worker two hours behind (or ahead) on PostgreSQL: its plan is not handed out while it beats; done, once.

    The worker and its processes run under libfaketime (Debian's faketime); the server's sweeper
    here, on the true clock, looks every 0.5 s for heartbeats older than 1.5 s. Heartbeats go by
    the database's clock, so the jumped worker's look fresh: the plan is started once, never twice at once.
    """
    library = next((str(p) for p in LIBFAKETIME if p.is_file()), None)
    if library is None:
        pytest.skip("libfaketime (Debian: faketime) is not installed")
    monkeypatch.setattr(lifecycle, "HEARTBEAT_S", 0.5)
    monkeypatch.setattr(lifecycle, "STALE_S", 1.5)
    database = new_database(restartable[0], f"t_{uuid.uuid4().hex[:12]}")
    app, key, sid = queued_app(database, redis, tmp_path, small)
    try:
        plan_id = _queued_plan(app, key, sid)
        factory = app.extensions["binroute"]["sessions"]
        env = {
            "LD_PRELOAD": library,
            "FAKETIME": jump,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "BINROUTE_HEARTBEAT_S": "0.5",
        }
        with worker_process(redis, database, tmp_path / "jumped", "--concurrency", "2", env=env):
            end = time.monotonic() + 240
            while get_row(factory, PlanRow, plan_id).status in ("queued", "running") and time.monotonic() < end:
                time.sleep(0.3)
        row = get_row(factory, PlanRow, plan_id)
        assert (row.status, row.attempts) == ("done", 1), (row.status, row.attempts, row.error)
        assert app.extensions["binroute"]["jobs"].sweeper.handed_out == 0
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


@pytest.mark.service
@pytest.mark.slow
def test_a_plan_solving_while_postgresql_restarts_ends_done(restartable, redis, small, tmp_path, monkeypatch):
    """PostgreSQL restarted while a worker solves a plan: the plan ends ``done`` (or ``failed`` with a reason).

    Heartbeats and progress writes that meet the restart are logged and dropped; the outcome
    is stored on a fresh connection. It is never left ``running``, and no second start overlaps the first.
    """
    monkeypatch.setenv("BINROUTE_HEARTBEAT_S", "0.5")
    server_url, pg_root = restartable
    database = new_database(server_url, f"t_{uuid.uuid4().hex[:12]}")
    app, key, sid = queued_app(database, redis, tmp_path, small)
    try:
        plan_id = _queued_plan(app, key, sid)
        factory = app.extensions["binroute"]["sessions"]
        with worker_process(redis, database, tmp_path / "w", "--concurrency", "1"):
            end = time.monotonic() + 180
            while get_row(factory, PlanRow, plan_id).progress_stage != "solve" and time.monotonic() < end:
                time.sleep(0.1)
            restart_postgres(pg_root)  # mid-search: its heartbeats meet a closed server
            while get_row(factory, PlanRow, plan_id).status in ("queued", "running") and time.monotonic() < end:
                time.sleep(0.3)
        row = get_row(factory, PlanRow, plan_id)
        assert row.status == "done" or (row.status == "failed" and row.error), (row.status, row.error)
        assert row.status == "done" and row.attempts == 1, (row.status, row.attempts, row.error)
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
