"""Shared fixtures: the tiny hand-written OSM file and the sample town."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = ROOT / "sample_data" / "helsinki"


@pytest.fixture(scope="session")
def tiny_osm() -> Path:
    return DATA / "tiny.osm"


@pytest.fixture(scope="session")
def tiny_net(tiny_osm: Path):
    from binroute.geo import load_network

    return load_network(tiny_osm, cache=False)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


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


@pytest.fixture(scope="session")
def sample_net(tmp_path_factory: pytest.TempPathFactory):
    from binroute.geo import load_network

    return load_network(SAMPLE / "network.osm.pbf", cache=False)
