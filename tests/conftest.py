"""Shared fixtures: the tiny hand-written OSM file and the sample town."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import DATA, SAMPLE

#: Fixtures that start a real server: a test using one (directly or through another fixture) is a service test.
SERVER_FIXTURES = frozenset({"postgres", "redis"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``service`` every test that needs a real PostgreSQL or redis server (``make test-fast`` leaves them out).

    Tests that start a `binroute serve` or `worker` process with a real server carry the marker themselves.
    """
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            or params.get("database_url") == "postgresql"
        ):
            item.add_marker(pytest.mark.service)


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
def sample_net():
    """The sample's road network, through the cache beside it (as ``binroute plan`` reads it): parsed once
    for the whole run, not once per test worker."""
    from binroute.geo import load_network

    return load_network(SAMPLE / "network.osm.pbf")
