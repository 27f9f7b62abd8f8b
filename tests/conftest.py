"""Shared fixtures: the tiny hand-written OSM file and the sample town."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import DATA, SAMPLE


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


@pytest.fixture(scope="session")
def sample_net(tmp_path_factory: pytest.TempPathFactory):
    from binroute.geo import load_network

    return load_network(SAMPLE / "network.osm.pbf", cache=False)
