"""Bins that may be served at one of several locations (directed kerbside visits), by every engine and the checker."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from binroute.routing import (
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
from binroute.routing.deadline import Budget
from binroute.routing.solution import BIN, Solution

from .helpers import make_problem

EXACT = Limits(solution_limit=2000)
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


def _best_single_tour(problem: Problem) -> int:
    """Least distance of one depot-to-depot tour serving every bin once, at any of its locations (enumeration)."""
    d = problem.matrices["default"].distance
    best = None
    for order in itertools.permutations(problem.bins):
        for locs in itertools.product(*(b.locations for b in order)):
            path = [0, *locs, 0]
            cost = int(sum(d[a, b] for a, b in itertools.pairwise(path)))
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


def _served(solution) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for route in solution.routes:
        for v in route.visits:
            if v.kind == BIN:
                out.setdefault(v.id, []).append(v.location)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine", "break_"),
    [("ortools", None), ("pyvrp", None), ("auto", None), ("auto", Break(0, 1000, 30))],
    ids=["ortools", "pyvrp", "auto", "auto-with-break"],
)
def test_every_engine_serves_each_bin_once_at_the_location_the_route_direction_favours(engine, break_):
    """The one-way bin makes the loop go clockwise; every two-way bin is served once, at its clockwise visit."""
    problem = _ring_problem(break_=break_)
    assert _best_single_tour(problem) == RING
    solution = solve(problem, limits=EXACT, params=SolveParams(engine=engine, seed=0))
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
    assert solution.distance == RING and solution.objective == pytest.approx(RING)
    served = _served(solution)
    assert served == {b.id: [b.locations[-1]] for b in problem.bins}
    if break_ is not None:
        assert solution.engine in ("pyvrp+ortools", "pyvrp+schedule")
        assert solution.routes[0].break_ is not None


def test_pyvrp_locations_become_the_ortools_warm_start(monkeypatch):
    """In the auto pipeline OR-Tools starts each bin at the location PyVRP served it at."""
    from binroute.routing import solver

    seen = {}
    real = solver.solve_ortools

    def spy(problem, *, budget, params, cold_after_warm=True):
        seen["warm_locations"] = dict(params.warm_locations)
        return real(problem, budget=budget, params=params, cold_after_warm=cold_after_warm)

    monkeypatch.setattr(solver, "solve_ortools", spy)
    problem = _ring_problem(break_=Break(0, 1000, 30))
    solution = solve(problem, limits=Limits(solution_limit=200), params=SolveParams(engine="auto"))
    assert check_solution(problem, solution, require_all=True).ok
    assert seen["warm_locations"] == {b.id: b.locations[-1] for b in problem.bins}


@pytest.mark.parametrize(
    ("warm_locations", "expected"),
    [({"two0": 1, "two1": 3, "two2": 5}, [1, 3, 5]), (None, [2, 4, 6])],
    ids=["given", "nearest"],
)
def test_ortools_warm_start_serves_bins_where_it_is_told(warm_locations, expected):
    """The warm start's locations are kept; without them each bin starts at its location nearest the stop before.

    The engine itself, not :func:`binroute.routing.solve`, whose last step chooses the directions again.
    """
    from binroute.routing.engines.ortools import solve_ortools

    problem = _ring_problem()
    start = {"v1": ["two0", "two1", "two2", "oneway"]}
    params = SolveParams(engine="ortools", warm_start=start, warm_locations=warm_locations)
    solution = solve_ortools(problem, budget=Budget.from_limits(Limits(solution_limit=1), 4), params=params)
    assert check_solution(problem, solution, require_all=True).ok
    assert [v.location for v in solution.routes[0].visits if v.kind == BIN] == [*expected, 7]


def test_ortools_warm_start_rejects_a_location_the_bin_does_not_have():
    """A warm-start location that is not one of the bin's is an error naming the bin."""
    problem = _ring_problem()
    params = SolveParams(engine="ortools", warm_start={"v1": ["two0"]}, warm_locations={"two0": 7})
    with pytest.raises(ProblemError, match="bin two0 has no location 7"):
        solve(problem, limits=Limits(solution_limit=1), params=params)


def test_whole_day_and_tips_keep_the_chosen_locations():
    """With tips, PyVRP's whole-day formulation (tips placed afterwards) serves bins at the locations it chose."""
    from binroute.routing.engines.pyvrp import search
    from binroute.routing.schedule import solution_from_plans

    site = (Facility("F", 8, frozenset({"general"}), service_s=10),)
    problem = _ring_problem(facilities=site)
    problem = dataclasses.replace(
        problem, vehicles=(dataclasses.replace(problem.vehicles[0], capacity=(2,), max_load_per_day=(4,)),)
    )
    found = search(problem, Budget.from_limits(Limits(solution_limit=200), 4), seed=0, whole_day=True)
    assert set(found.chosen) == {0, 1, 2, 3}
    solution = solution_from_plans(problem, found.plans, engine="t", runtime_s=0, chosen=found.chosen)
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
    assert {b: locs[0] for b, locs in _served(solution).items()} == {
        problem.bins[b].id: loc for b, loc in found.chosen.items()
    }


def _optional(prize: float) -> Problem:
    """One optional bin at two places, each 10 out from the depot and 5 apart: 20 to collect, 25 for both."""
    d = np.array([[0, 10, 10], [10, 0, 5], [10, 5, 0]], dtype=np.int64)
    bins = (Bin("opt", 1, (1,), required=False, prize=prize, alternatives=(2,)),)
    veh = (Vehicle("v1", 0, 0, (10,), shift=TimeWindow(0, 10_000)),)
    return Problem({"default": Matrix(d.copy(), d)}, (Depot("D", 0),), bins, veh)


@pytest.mark.parametrize("engine", ["ortools", "pyvrp"])
@pytest.mark.parametrize(("prize", "collected"), [(50.0, True), (15.0, False)])
def test_optional_bin_with_alternatives_is_collected_once_or_left(engine, prize, collected):
    """A prize above the cheapest detour collects the bin once (never a prize per location); below it, it is left."""
    problem = _optional(prize)
    solution = solve(problem, limits=EXACT, params=SolveParams(engine=engine))
    assert check_solution(problem, solution).ok
    served = _served(solution)
    if collected:
        assert len(served["opt"]) == 1 and solution.objective == pytest.approx(20)
    else:
        assert served == {} and [u.bin_id for u in solution.unserved] == ["opt"]
        assert "prize" in solution.unserved[0].reason and solution.objective == pytest.approx(prize)


def test_pyvrp_fallback_serves_a_required_bin_with_alternatives_once():
    """On an over-full day PyVRP's prize formulation still serves a bin at only one of its locations."""
    points = [(0, 0), (10, 0), (0, 10), (10, 10), (11, 10)]
    bins = [Bin("b1", 1, (4,)), Bin("b2", 2, (4,)), Bin("b3", 3, (4,), alternatives=(4,))]
    problem = make_problem(points, bins, [Vehicle("v1", 0, 0, (9,), shift=TimeWindow(0, 100_000))])
    solution = solve(problem, limits=Limits(solution_limit=50), params=SolveParams(engine="pyvrp"))
    assert check_solution(problem, solution).ok
    assert all(len(locs) == 1 for locs in _served(solution).values())
    assert len(solution.routes[0].bins) == 2 and [u.required for u in solution.unserved] == [True]


def test_a_bin_unreachable_at_its_primary_location_is_served_at_its_alternative():
    """Servability asks for any reachable location; the plan uses the one that is."""
    d = np.array([[0, Matrix.UNREACHABLE, 10], [Matrix.UNREACHABLE, 0, 5], [10, 5, 0]], dtype=np.int64)
    bins = (Bin("b", 1, (1,), alternatives=(2,)),)
    veh = (Vehicle("v1", 0, 0, (10,), shift=TimeWindow(0, 10_000)),)
    problem = Problem({"default": Matrix(d.copy(), d)}, (Depot("D", 0),), bins, veh)
    for engine in ("ortools", "pyvrp"):
        # One solution is all there is: a larger limit only runs OR-Tools to its backstop.
        solution = solve(problem, limits=Limits(solution_limit=1), params=SolveParams(engine=engine))
        assert check_solution(problem, solution, require_all=True).ok
        assert _served(solution) == {"b": [2]} and solution.distance == 20


def test_unserved_reason_is_judged_at_the_best_location():
    """A bin whose primary location is too far for the shift but whose alternative fits is blamed on the fleet."""
    from binroute.routing.feasibility import explain_unserved

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
    from binroute.routing.schedule import schedule_route

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
    from binroute.routing.schedule import schedule_route

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
