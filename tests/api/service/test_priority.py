"""Requests served first: forecasts fitted off the request threads, solver processes at a lower CPU priority."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from binroute.api.service.defaults import JOB_NICENESS
from binroute.api.service.offload import Offload

from .helpers import N_BINS, hdr, make_app, upload


@pytest.mark.slow
def test_a_forecast_fitted_in_a_process_of_its_own_is_the_same(small, tmp_path):
    """The forecast endpoint answers the same whether its fits run in a pool process or in the request thread."""
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    app.extensions["binroute"]["rate"] = None
    pooled = Offload(1)
    try:
        client = app.test_client()
        sid = upload(client, app, small, "offloaded").json["id"]
        url = f"/api/v1/scenarios/{sid}/forecast?at=2026-11-23T10:00"
        here = client.get(url, headers=hdr(app, "viewer"))
        app.extensions["binroute"]["offload"] = pooled
        there = client.get(url, headers=hdr(app, "viewer"))
        assert pooled._pool is not None  # it did run in the pool
        assert here.status_code == there.status_code == 200, there.json
        assert here.json == there.json
    finally:
        pooled.shutdown()
        app.extensions["binroute"]["jobs"].shutdown()


def test_a_negative_number_of_forecast_processes_is_refused():
    """FORECAST_PROCESSES below 0: an error naming the setting."""
    with pytest.raises(ValueError, match="FORECAST_PROCESSES must be 0 or more, not -1"):
        Offload(-1)


def test_a_job_process_runs_at_the_job_niceness_once_however_often_asked():
    """``lower_priority`` sets the niceness to JOB_NICENESS (absolute: asked twice, still that), never raises it."""
    code = (
        "import os; from binroute.api.service._priority import lower_priority; "
        "lower_priority(); lower_priority(); print(os.getpriority(os.PRIO_PROCESS, 0))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert int(shown.stdout) == max(JOB_NICENESS, os.getpriority(os.PRIO_PROCESS, 0))


@pytest.mark.service
@pytest.mark.slow
def test_a_real_server_answers_forecasts_from_its_forecast_processes(small, tmp_path):
    """`python -m binroute.api.cli serve --forecast-processes 1`: a forecast answered 200, fitted in a spawned process.

    A spawned process imports the server's main module again; it must not start a second server.
    """
    from binroute.api.service import create_app
    from binroute.api.service.client import call, scenario_upload, served
    from binroute.api.service.db import create_key, create_org

    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    setup = create_app({"DATABASE_URL": db, "DATA_DIR": str(tmp_path / "d"), "RESUME_JOBS": False})
    with setup.extensions["binroute"]["sessions"]() as s:
        key = create_key(s, "p", "planner", create_org(s, "forecasts").id)[1]
    setup.extensions["binroute"]["jobs"].shutdown()
    with served(db, cwd=tmp_path, options=("--rate-limit", "off", "--forecast-processes", "1")) as base:
        body, ctype = scenario_upload("forecasts", small)
        code, raw = call(f"{base}/api/v1/scenarios", key, body, ctype)
        assert code == 201, raw[:300]
        sid = json.loads(raw)["id"]
        code, raw = call(f"{base}/api/v1/scenarios/{sid}/forecast?at=2026-11-23T10:00", key, timeout_s=120)
        assert code == 200, raw[:300]
        assert len(json.loads(raw)["bins"]) == N_BINS


def _pool_owner_code() -> str:
    """A process that starts an Offload's pool process, prints its pid and waits to be killed."""
    return (
        "import os, sys, time\n"
        "from binroute.api.service.offload import Offload\n"
        "pool = Offload(1)\n"
        "print(pool.run(os.getpid), flush=True)\n"
        "time.sleep(600)\n"
    )


def test_a_killed_servers_forecast_process_exits(tmp_path):
    """SIGKILL of the process owning the pool: its pool process exits by itself within seconds, not idle for good."""
    import signal
    import time

    from binroute.api.service.offload import PARENT_POLL_S

    with subprocess.Popen(
        [sys.executable, "-c", _pool_owner_code()], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    ) as owner:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        assert child != owner.pid
        os.kill(child, 0)  # alive while its server is
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
        deadline = time.monotonic() + 20 * PARENT_POLL_S + 10
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(child, signal.SIGKILL)
        pytest.fail(f"pool process {child} outlived its killed server")


def test_forecast_processes_run_at_the_forecast_niceness(tmp_path):
    """``Offload(1, niceness=7)``: its pool process runs at niceness 7 (or the caller's, if already nicer)."""
    pool = Offload(1, 7)
    try:
        assert pool.run(os.getpriority, os.PRIO_PROCESS, 0) == max(7, os.getpriority(os.PRIO_PROCESS, 0))
    finally:
        pool.shutdown()


def test_a_forecast_niceness_outside_0_to_19_is_refused():
    """FORECAST_NICENESS of 20: an error naming the setting."""
    with pytest.raises(ValueError, match="FORECAST_NICENESS must be 0 to 19, not 20"):
        Offload(1, 20)
