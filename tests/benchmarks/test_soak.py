"""The short soak in `make test`: real PostgreSQL, Redis, two replicas and two workers, faults on a schedule."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from binroute.api.service.client import _pg_tool

from ..helpers import ROOT


@pytest.mark.service
@pytest.mark.slow
def test_a_short_soak_loses_nothing_leaves_nothing_stuck_and_answers_no_500():
    """Half a minute of two councils with a fault every 8 s: exit 0 (no row lost, no plan stuck, no 500)."""
    if _pg_tool("initdb") is None or shutil.which("redis-server") is None:
        pytest.skip("PostgreSQL or redis-server is not installed")
    args = ["--minutes", "0.5", "--orgs", "2", "--threads", "2", "--fault-every", "8", "--drain", "180"]
    cmd = [sys.executable, "-m", "benchmarks.soak", *args, "--name", "soak-test"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((ROOT / "benchmarks" / "results" / "soak-test.json").read_text())["meta"]
    assert result["readings_written"] == result["readings_found"] > 0
    assert result["plans_stuck"] == 0 and "500" not in result["codes"]
    assert len(result["faults"]) >= 3  # a worker killed, PostgreSQL and Redis restarted at least
