"""Builders for tiny routing problems on Manhattan grids."""

from __future__ import annotations

import numpy as np
import pytest

from binroute.routing import Bin, Depot, Facility, Matrix, Problem, TimeWindow, Vehicle


def manhattan(points: list[tuple[float, float]], speed: float = 1.0) -> Matrix:
    p = np.asarray(points, dtype=float)
    d = np.abs(p[:, None, :] - p[None, :, :]).sum(-1)
    return Matrix(np.rint(d / speed).astype(np.int64), np.rint(d).astype(np.int64))


def make_problem(points, bins, vehicles, *, depots=None, facilities=(), dims=("load",), **kw) -> Problem:
    return Problem(
        matrices={"default": manhattan(points)},
        depots=tuple(depots or (Depot("D", 0),)),
        bins=tuple(bins),
        vehicles=tuple(vehicles),
        facilities=tuple(facilities),
        dimensions=dims,
        **kw,
    )


@pytest.fixture
def tip_problem() -> Problem:
    """Six bins near the depot, a tip 100 away, capacity for three bins a trip."""
    points = [(0, 0), (100, 0)] + [(10 * i, 5) for i in range(1, 7)]
    bins = [Bin(f"b{i}", i + 1, (1,), service_s=2) for i in range(1, 7)]
    veh = [Vehicle("v1", 0, 0, (3,), streams=frozenset({"general"}), shift=TimeWindow(0, 10_000))]
    fac = [Facility("F", 1, frozenset({"general"}), TimeWindow(0, 10_000), service_s=10)]
    return make_problem(points, bins, veh, facilities=fac)


__all__ = ["Bin", "Depot", "Facility", "TimeWindow", "Vehicle", "make_problem", "manhattan"]
