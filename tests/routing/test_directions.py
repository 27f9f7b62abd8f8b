"""Each bin's direction and each tip's site chosen exactly along a fixed route (:mod:`binroute.routing.directions`)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from binroute.routing import Limits, SolveParams, check_solution, solve
from binroute.routing.cost import plan_cost
from binroute.routing.directions import polish_directions
from binroute.routing.problem import Bin, Break, Depot, Facility, Matrix, Problem, TimeWindow, Vehicle
from binroute.routing.schedule import solution_from_plans
from binroute.routing.solution import BIN, TIP, Solution

from .helpers import make_problem

#: Depot 0; bin A at 1 (primary) or 2; bin B at 3 (primary) or 4. Distances not listed are 100.
LEGS = {(0, 1): 10, (0, 2): 20, (1, 3): 50, (1, 4): 50, (2, 3): 45, (2, 4): 5, (3, 0): 10, (4, 0): 30}


def _matrix(legs: dict[tuple[int, int], int], n: int, slow: dict[tuple[int, int], int] | None = None) -> Matrix:
    """Distances from ``legs`` (100 elsewhere); times equal to distances but for the ``slow`` legs."""
    d = np.full((n, n), 100, dtype=np.int64)
    np.fill_diagonal(d, 0)
    for (a, b), v in legs.items():
        d[a, b] = v
    t = d.copy()
    for (a, b), v in (slow or {}).items():
        t[a, b] = v
    return Matrix(t, d)


def _two_bins(*, window_b: TimeWindow | None = None, slow=None, break_: Break | None = None, **vehicle) -> Problem:
    """Bins A and B, each with two directions, on the :data:`LEGS` network."""
    bins = (Bin("A", 1, (1,), alternatives=(2,)), Bin("B", 3, (1,), window=window_b, alternatives=(4,)))
    veh = Vehicle("v1", 0, 0, (10,), shift=TimeWindow(0, 10_000), break_=break_, **vehicle)
    return Problem({"default": _matrix(LEGS, 5, slow)}, (Depot("D", 0),), bins, (veh,))


def _plan(problem: Problem, stops, chosen: dict[int, int] | None = None, *, fit_rules: bool = False) -> Solution:
    """The engine's plan: one route through ``stops`` with its choice of locations."""
    return solution_from_plans(
        problem, [(0, list(stops), 0)], engine="test", runtime_s=0.0, chosen=chosen, fit_rules=fit_rules
    )


def _locations(solution: Solution) -> list[tuple[str, int]]:
    return [(v.id, v.location) for r in solution.routes for v in r.visits[1:-1]]


@pytest.mark.parametrize("break_", [None, Break(15, 1000, 30)], ids=["no-break", "break"])
def test_the_programme_beats_the_engines_choice_and_its_choice_is_taken(break_):
    """Serving A the other way makes B's cheap direction reachable: 55 instead of the engine's 70."""
    problem = _two_bins(break_=break_)
    plan = _plan(problem, [(BIN, 0), (BIN, 1)], fit_rules=True)
    assert plan.distance == 70 and check_solution(problem, plan, require_all=True).ok
    polished = polish_directions(problem, plan)
    assert check_solution(problem, polished, require_all=True).ok, str(check_solution(problem, polished))
    assert _locations(polished) == [("A", 2), ("B", 4)]
    assert polished.distance == 55 and polished.objective == pytest.approx(plan_cost(problem, polished))
    assert polished.details["directions_polished"] == {"routes": 1, "distance_saved": 15}
    if break_ is not None:
        assert polished.routes[0].break_ is not None


#: Times that differ from :data:`LEGS`: the cheapest way (A at 2, B at 4) and B's far direction after A's
#: primary one (A at 1, B at 4, home soonest) reach B after :data:`B_CLOSES`.
SLOW = {(2, 4): 100, (1, 3): 30, (3, 0): 100, (1, 4): 50, (2, 3): 25}
B_CLOSES = 50


def test_a_window_the_cheapest_choice_misses_keeps_the_old_route():
    """B's window closes before the cheap (slow) way gets there: the engine's plan is returned as it was."""
    problem = _two_bins(window_b=TimeWindow(0, B_CLOSES), slow=SLOW)
    plan = _plan(problem, [(BIN, 0), (BIN, 1)])
    assert check_solution(problem, plan).ok
    assert polish_directions(problem, plan) is plan


def test_when_the_cheapest_choice_misses_a_window_the_soonest_one_is_taken_if_it_saves():
    """The engine served A the long way (75); the cheapest choice and the quickest home miss B's window.

    The soonest choice that keeps the window (A at 1, B at 3) drives 70 and is taken.
    """
    problem = _two_bins(window_b=TimeWindow(0, B_CLOSES), slow=SLOW)
    plan = _plan(problem, [(BIN, 0), (BIN, 1)], chosen={0: 2})
    assert plan.distance == 75 and check_solution(problem, plan).ok
    polished = polish_directions(problem, plan)
    assert check_solution(problem, polished, require_all=True).ok
    assert _locations(polished) == [("A", 1), ("B", 3)] and polished.distance == 70


@pytest.mark.parametrize(("max_distance", "expected"), [(None, [("A", 1), ("B", 4)]), (80, None)])
def test_a_choice_beyond_the_vehicles_range_is_not_taken(max_distance, expected):
    """Priced by the hour, B's far direction is quickest (20 s, 90 m): taken, unless the lorry's range is 80 m."""
    problem = _two_bins(
        slow={(1, 4): 5, (4, 0): 5}, cost_per_distance=0.0, cost_per_hour=3600.0, max_distance=max_distance
    )
    plan = _plan(problem, [(BIN, 0), (BIN, 1)])
    assert plan.distance == 70 and check_solution(problem, plan).ok
    polished = polish_directions(problem, plan)
    if expected is None:
        assert polished is plan
    else:
        assert check_solution(problem, polished, require_all=True).ok
        assert _locations(polished) == expected and polished.objective == pytest.approx(20.0)


def test_tips_go_to_the_cheapest_site_that_takes_the_vehicles_stream():
    """Each tip moves from the far site to the near one; the nearest site, for glass only, is never used."""
    points = [(0, 0), (10, 0), (10, 1), (20, 0), (100, 0), (15, 10), (12, 0)]
    bins = [Bin("A", 1, (1,), alternatives=(2,)), Bin("B", 3, (1,))]
    sites = [
        Facility("far", 4, frozenset({"general"}), service_s=10),
        Facility("near", 5, frozenset({"general"}), service_s=10),
        Facility("glass", 6, frozenset({"glass"}), service_s=10),
    ]
    veh = [Vehicle("v1", 0, 0, (1,), shift=TimeWindow(0, 10_000), cost_per_hour=36.0)]
    problem = make_problem(points, bins, veh, facilities=sites)
    plan = _plan(problem, [(BIN, 0), (TIP, 0), (BIN, 1), (TIP, 0)])
    assert check_solution(problem, plan, require_all=True).ok
    polished = polish_directions(problem, plan)
    assert check_solution(problem, polished, require_all=True).ok
    assert [v.id for v in polished.routes[0].visits if v.kind == TIP] == ["near", "near"]
    assert polished.objective < plan.objective and polished.distance < plan.distance


def test_the_choice_is_the_least_cost_one_over_every_combination():
    """On random matrices (time and distance both priced) the polished route costs what enumeration finds least."""
    rng = np.random.default_rng(7)
    n_bins = 6
    for _ in range(5):
        n = 1 + 2 * n_bins
        d = rng.integers(1, 200, size=(n, n))
        t = rng.integers(1, 200, size=(n, n))
        np.fill_diagonal(d, 0)
        np.fill_diagonal(t, 0)
        bins = tuple(Bin(f"b{i}", 1 + 2 * i, (1,), service_s=5, alternatives=(2 + 2 * i,)) for i in range(n_bins))
        veh = Vehicle("v1", 0, 0, (10,), shift=TimeWindow(0, 100_000), cost_per_distance=0.5, cost_per_hour=90.0)
        problem = Problem({"default": Matrix(t, d)}, (Depot("D", 0),), bins, (veh,))
        stops = [(BIN, b) for b in rng.permutation(n_bins)]
        start = {b: int(rng.integers(0, 2)) for b in range(n_bins)}
        plan = _plan(problem, stops, {b: bins[b].locations[k] for b, k in start.items()})
        least = min(
            _plan(problem, stops, {b: bins[b].locations[k] for b, k in enumerate(pick)}).objective
            for pick in itertools.product((0, 1), repeat=n_bins)
        )
        polished = polish_directions(problem, plan)
        assert check_solution(problem, polished, require_all=True).ok
        assert polished.objective == pytest.approx(least)


def test_a_plan_without_choices_is_returned_unchanged(tip_problem):
    """Bins without alternatives and one disposal site: nothing to choose, the very same plan comes back."""
    plan = _plan(tip_problem, [(BIN, b) for b in range(6)], fit_rules=True)
    assert polish_directions(tip_problem, plan) is plan


def test_a_plan_already_at_its_cheapest_choice_is_returned_unchanged():
    """The engine already served A and B in their best directions: the same plan comes back."""
    problem = _two_bins()
    plan = _plan(problem, [(BIN, 0), (BIN, 1)], {0: 2, 1: 4})
    assert polish_directions(problem, plan) is plan


@pytest.mark.parametrize("engine", ["ortools", "pyvrp", "auto"])
def test_every_engine_path_of_solve_ends_with_the_polish(monkeypatch, engine):
    """``solve`` passes each engine's plan through the polish and returns what it gives."""
    from binroute.routing import solver

    seen: list[Solution] = []

    def spy(problem: Problem, solution: Solution) -> Solution:
        seen.append(solution)
        return polish_directions(problem, solution)

    monkeypatch.setattr(solver, "polish_directions", spy)
    problem = _two_bins()
    solution = solve(problem, limits=Limits(solution_limit=50), params=SolveParams(engine=engine, seed=0))
    assert len(seen) == 1
    assert check_solution(problem, solution, require_all=True).ok
    assert solution.distance == 55


def test_solve_serves_bins_in_better_directions_than_the_engine_was_given():
    """OR-Tools kept to a warm start at the dearer directions (70) returns, through ``solve``, the 55 plan."""
    from binroute.routing.deadline import Budget
    from binroute.routing.engines.ortools import solve_ortools

    problem = _two_bins()
    params = SolveParams(engine="ortools", warm_start={"v1": ["A", "B"]}, warm_locations={"A": 1, "B": 3})
    limits = Limits(solution_limit=1)
    engine = solve_ortools(problem, budget=Budget.from_limits(limits, 2), params=params)
    assert engine.distance == 70
    solution = solve(problem, limits=limits, params=params)
    assert check_solution(problem, solution, require_all=True).ok
    assert _locations(solution) == [("A", 2), ("B", 4)] and solution.distance == 55
