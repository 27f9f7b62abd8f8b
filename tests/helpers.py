"""Shared test code: where the test data lives, and the sample planned through the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = ROOT / "sample_data" / "helsinki"


def plan_sample(out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run ``binroute plan`` on the sample for 2026-11-23 into ``out``; fail the test if it fails."""
    cmd = [
        sys.executable,
        "-m",
        "binroute.api.cli",
        "plan",
        str(SAMPLE),
        "--date",
        "2026-11-23",
        "--out",
        str(out),
        *options,
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    return run
