"""Faults survived with real servers: `serve` killed with SIGKILL in the middle of uploads on PostgreSQL."""

from __future__ import annotations

import json
import signal
import threading
import uuid

import pytest

from binroute.api.service import create_app
from binroute.api.service.client import call, scenario_upload, served_replicas
from binroute.api.service.db import create_key, create_org

from .servers import new_database


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
        server_pid = _server_pid(tmp_path, base)

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


def _server_pid(root, base: str) -> int:
    """The pid of the `serve` process listening at ``base`` (found by its port on its command line)."""
    from pathlib import Path

    port = base.rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and port.encode() in args:
            return int(cmdline.parent.name)
    raise AssertionError(f"no serve process on port {port}")
