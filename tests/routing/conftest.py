"""Fixtures of the routing tests; the builders are in :mod:`.helpers`."""

from __future__ import annotations

import pytest

from binroute.routing import Bin, Facility, Problem, TimeWindow, Vehicle

from .helpers import make_problem


@pytest.fixture
def tip_problem() -> Problem:
    """Six bins near the depot, a tip 100 away, capacity for three bins a trip."""
    points = [(0, 0), (100, 0)] + [(10 * i, 5) for i in range(1, 7)]
    bins = [Bin(f"b{i}", i + 1, (1,), service_s=2) for i in range(1, 7)]
    veh = [Vehicle("v1", 0, 0, (3,), streams=frozenset({"general"}), shift=TimeWindow(0, 10_000))]
    fac = [Facility("F", 1, frozenset({"general"}), TimeWindow(0, 10_000), service_s=10)]
    return make_problem(points, bins, veh, facilities=fac)
