"""Which vehicles can serve each bin: the vectorised reach masks agree with the rule bin by bin."""

from __future__ import annotations

import numpy as np
import pytest

from binroute.routing import Bin, Depot, Facility, Matrix, Problem, Vehicle
from binroute.routing.feasibility import reachable, servable


@pytest.mark.parametrize("tips", [True, False], ids=["tips", "no-tips"])
def test_servable_matches_reachable_bin_by_bin(tips):
    """With one-way gaps in the matrix, servable() allows exactly the vehicles reachable() allows."""
    rng = np.random.default_rng(7)
    n = 30
    time = rng.integers(1, 500, size=(n, n))
    time[rng.random((n, n)) < 0.45] = Matrix.UNREACHABLE
    np.fill_diagonal(time, 0)
    matrix = Matrix(time, time)
    depots = (Depot("d0", 0), Depot("d1", 1))
    sites = (Facility("s0", 2, frozenset({"general"})), Facility("s1", 3, frozenset({"general", "glass"})))
    bins = tuple(
        Bin(f"b{i}", 4 + i, (1,), stream="glass" if i % 5 == 0 else "general", alternatives=(4 + (i + 7) % 26,))
        for i in range(26)
    )
    fleet = tuple(
        Vehicle(f"v{k}", k % 2, (k + 1) % 2, (10,), streams=frozenset({"general", "glass"} if k == 3 else {"general"}))
        for k in range(4)
    )
    problem = Problem({"default": matrix}, depots, bins, fleet, sites if tips else ())
    allowed, unserved = servable(problem)
    for b, item in enumerate(bins):
        expect = [v for v, veh in enumerate(fleet) if item.stream in veh.streams and reachable(problem, veh, item)]
        assert allowed.get(b, []) == expect, item.id
    assert {u.bin_id for u in unserved} == {item.id for b, item in enumerate(bins) if b not in allowed}
