"""Rounds a crew can own on small days: districts at every size, usual crews kept, moves only when needed."""

from __future__ import annotations

import numpy as np
import pytest

from binroute.routing import Bin, Limits, SolveParams, check_solution, solve

from ..helpers import make_problem, make_vehicle

LIMITS = Limits(solution_limit=200)


def _town(n_west: int = 12, n_east: int = 12, cap: int = 20):
    """Two clusters of bins 5 km apart either side of one depot, two lorries of ``cap`` bins each (no tips)."""
    rng = np.random.default_rng(30)
    west = [(int(x), int(y)) for x, y in rng.integers(0, 400, size=(n_west, 2))]
    east = [(5000 + int(x), int(y)) for x, y in rng.integers(0, 400, size=(n_east, 2))]
    points = [(2500, 200), *west, *east]
    bins = [Bin(f"{'w' if i < n_west else 'e'}{i}", i + 1, (1,), service_s=30) for i in range(n_west + n_east)]
    fleet = [make_vehicle("v1", cap=(cap,)), make_vehicle("v2", cap=(cap,))]
    return make_problem(points, bins, fleet)


def _crews(solution) -> dict[str, str]:
    return {b: r.vehicle_id for r in solution.routes for b in r.bins}


def test_two_clusters_and_two_lorries_give_two_districts():
    """Each lorry serves one cluster whole, and the plan passes the independent checker."""
    problem = _town()
    solution = solve(problem, limits=LIMITS)
    assert check_solution(problem, solution).ok
    assert not solution.unserved
    sides = {r.vehicle_id: {b[0] for b in r.bins} for r in solution.routes if r.used}
    assert sorted(map(sorted, sides.values())) == [["e"], ["w"]]
    assert solution.details["districts"] == 2


def test_free_rounds_are_still_available():
    """``rounds="free"`` searches the whole day at once (no districts)."""
    problem = _town()
    solution = solve(problem, limits=LIMITS, params=SolveParams(rounds="free"))
    assert check_solution(problem, solution).ok
    assert "districts" not in solution.details


def test_usual_crews_are_kept_when_nothing_changed():
    """Given last time's crews (swapped from what the districts would pick), every bin keeps its crew."""
    problem = _town()
    first = _crews(solve(problem, limits=LIMITS))
    swapped = {b: ("v2" if v == "v1" else "v1") for b, v in first.items()}
    solution = solve(problem, limits=LIMITS, params=SolveParams(usual_crews=swapped))
    assert check_solution(problem, solution).ok
    assert _crews(solution) == swapped
    assert solution.details["crew_changes"] == {}


def test_a_full_district_lends_one_bin_to_its_neighbour():
    """When the west lorry's usual bins are one more than it holds, exactly one bin changes crew, with a reason."""
    problem = _town(n_west=13, n_east=5, cap=12)
    usual = {b.id: ("v1" if b.id.startswith("w") else "v2") for b in problem.bins}
    solution = solve(problem, limits=LIMITS, params=SolveParams(usual_crews=usual))
    assert check_solution(problem, solution).ok
    assert not solution.unserved
    crews = _crews(solution)
    changed = [b for b, v in crews.items() if usual[b] != v]
    assert len(changed) == 1
    assert list(solution.details["crew_changes"]) == changed


@pytest.mark.parametrize(("field", "value"), [("rounds", "tidy"), ("move_saving", -1.0)])
def test_bad_round_settings_are_refused(field, value):
    """An unknown rounds mode or a negative move saving is refused, naming the field."""
    with pytest.raises(ValueError, match=field):
        SolveParams(**{field: value})
