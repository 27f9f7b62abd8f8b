"""Bins that may be served at one of several locations (directed kerbside visits)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from routing import (
    Bin,
    Break,
    Depot,
    Facility,
    Limits,
    Matrix,
    Problem,
    ProblemError,
    SolveParams,
    TimeWindow,
    Vehicle,
    check_solution,
    solve,
)
from routing.solution import BIN, Solution

from .conftest import make_problem

#: The ring road: its length and the cost of turning round on it.
RING, U_TURN = 400, 100


def _ring_matrix(states: list[tuple[int, int]]) -> Matrix:
    """Travel between places on a two-way ring road, each ``(position, direction)``; ``(0, 0)`` is the depot.

    Direction ``+1`` is clockwise and ``-1`` counter-clockwise; the depot may be
    left and reached either way. A lorry keeps its direction unless it turns
    round, which costs :data:`U_TURN`.
    """

    def ahead(a: int, b: int, d: int) -> int:
        return (b - a) % RING if d > 0 else (a - b) % RING

    def leg(a: int, da: int, b: int, db: int) -> int:
        if da == db:
            return min(ahead(a, b, da), 2 * U_TURN + ahead(a, b, -da))
        return U_TURN + min(ahead(a, b, da), ahead(a, b, db))

    n = len(states)
    d = np.zeros((n, n), dtype=np.int64)
    for i, (a, da) in enumerate(states):
        for j, (b, db) in enumerate(states):
            if i != j:
                d[i, j] = min(leg(a, x, b, y) for x in ((da,) if da else (1, -1)) for y in ((db,) if db else (1, -1)))
    return Matrix(d.copy(), d)


def _ring_problem(*, break_: Break | None = None, facilities: tuple[Facility, ...] = (), **vehicle) -> Problem:
    """Three two-way bins (primary location counter-clockwise) and one one-way bin (clockwise only)."""
    states = [(0, 0)]
    bins = []
    for k, pos in enumerate((50, 150, 250)):
        states += [(pos, -1), (pos, +1)]
        bins.append(Bin(f"two{k}", len(states) - 2, (1,), alternatives=(len(states) - 1,)))
    states.append((320, +1))
    bins.append(Bin("oneway", len(states) - 1, (1,)))
    if facilities:
        states.append((200, +1))
    veh = Vehicle("v1", 0, 0, (10,), shift=TimeWindow(0, 100_000), break_=break_, **vehicle)
    return Problem({"default": _ring_matrix(states)}, (Depot("D", 0),), tuple(bins), (veh,), facilities)


def _served(solution) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for route in solution.routes:
        for v in route.visits:
            if v.kind == BIN:
                out.setdefault(v.id, []).append(v.location)
    return out


@pytest.mark.parametrize(
    ("warm_locations", "expected"),
    [({"two0": 1, "two1": 3, "two2": 5}, [1, 3, 5]), (None, [2, 4, 6])],
    ids=["given", "nearest"],
)
def test_ortools_warm_start_serves_bins_where_it_is_told(warm_locations, expected):
    """The warm start's locations are kept; without them each bin starts at its location nearest the stop before."""
    problem = _ring_problem()
    start = {"v1": ["two0", "two1", "two2", "oneway"]}
    params = SolveParams(engine="ortools", warm_start=start, warm_locations=warm_locations)
    solution = solve(problem, limits=Limits(solution_limit=1), params=params)
    assert check_solution(problem, solution, require_all=True).ok
    assert [v.location for v in solution.routes[0].visits if v.kind == BIN] == [*expected, 7]


def test_ortools_warm_start_rejects_a_location_the_bin_does_not_have():
    """A warm-start location that is not one of the bin's is an error naming the bin."""
    problem = _ring_problem()
    params = SolveParams(engine="ortools", warm_start={"v1": ["two0"]}, warm_locations={"two0": 7})
    with pytest.raises(ProblemError, match="bin two0 has no location 7"):
        solve(problem, limits=Limits(solution_limit=1), params=params)


def test_unserved_reason_is_judged_at_the_best_location():
    """A bin whose primary location is too far for the shift but whose alternative fits is blamed on the fleet."""
    from routing.feasibility import explain_unserved

    points = [(0, 0), (5000, 0), (10, 0)]
    veh = Vehicle("v1", 0, 0, (1,), shift=TimeWindow(0, 1000))
    problem = make_problem(points, [Bin("b", 1, (1,), alternatives=(2,))], [veh])
    assert "ran out of capacity" in explain_unserved(problem, problem.bins[0], [0])
    alone = make_problem(points, [Bin("b", 1, (1,))], [veh])
    assert "within its shift" in explain_unserved(alone, alone.bins[0], [0])


def test_checker_rejects_a_visit_away_from_the_bins_locations():
    """A bin visit at a location that is none of the bin's is reported with the locations it has."""
    problem = _ring_problem()
    solution = solve(problem, limits=Limits(solution_limit=50), params=SolveParams(engine="ortools"))
    route = solution.routes[0]
    visits = [dataclasses.replace(v, location=7) if v.id == "two1" else v for v in route.visits]
    broken = dataclasses.replace(solution, routes=(dataclasses.replace(route, visits=tuple(visits)),))
    report = check_solution(problem, broken)
    assert "serves two1 at location 7, not one of its (3, 4)" in str(report)


def test_checker_rejects_a_bin_served_at_two_of_its_locations():
    """Serving a bin at both of its locations is one visit too many, whichever locations they are."""
    from routing.schedule import schedule_route

    problem = _ring_problem()
    route = schedule_route(problem, 0, [(BIN, 0), (BIN, 1), (BIN, 2), (BIN, 3)], chosen={0: 2, 1: 4, 2: 6})
    first = next(v for v in route.visits if v.id == "two0")
    again = dataclasses.replace(first, location=1)
    visits = (*route.visits[:-1], again, route.visits[-1])
    solution = Solution((dataclasses.replace(route, visits=visits),))
    report = check_solution(problem, solution)
    assert "bin two0 served twice (v1 at location 2 and v1 at location 1)" in str(report)


def test_schedule_uses_the_chosen_locations():
    """Scheduling a stop order serves each bin where ``chosen`` says, and the primary location otherwise."""
    from routing.schedule import schedule_route

    problem = _ring_problem()
    stops = [(BIN, 0), (BIN, 1), (BIN, 2), (BIN, 3)]
    clockwise = schedule_route(problem, 0, stops, chosen={0: 2, 1: 4, 2: 6})
    assert [v.location for v in clockwise.visits] == [0, 2, 4, 6, 7, 0] and clockwise.distance == RING
    primary = schedule_route(problem, 0, stops)
    assert [v.location for v in primary.visits] == [0, 1, 3, 5, 7, 0] and primary.distance > RING


@pytest.mark.parametrize(
    ("alternatives", "message"),
    [
        ((9,), "alternative location 9 outside 0..2"),
        ((-1,), "alternative location -1 outside 0..2"),
        ((1,), r"alternatives \(1,\) repeat a location"),
        ((2, 2), r"alternatives \(2, 2\) repeat a location"),
    ],
    ids=["too-large", "negative", "same-as-location", "repeated"],
)
def test_bad_alternatives_are_rejected(alternatives, message):
    """Alternatives must be locations of the problem, differ from the primary location and from each other."""
    points = [(0, 0), (10, 0), (20, 0)]
    with pytest.raises(ProblemError, match=rf"bin b: {message}"):
        make_problem(points, [Bin("b", 1, (1,), alternatives=alternatives)], [Vehicle("v1", 0, 0, (1,))])


def test_locations_lists_the_primary_location_first():
    """``Bin.locations`` is the primary location followed by the alternatives; a plain bin has one."""
    assert Bin("b", 3, (1,), alternatives=(5, 1)).locations == (3, 5, 1)
    assert Bin("b", 3, (1,)).locations == (3,)
