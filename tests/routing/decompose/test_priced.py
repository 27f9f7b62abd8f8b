"""A small day searched whole from its districts, other districts' bins at a price: border bins move, deep ones stay."""

from __future__ import annotations

import numpy as np

from binroute.routing import Bin, Depot, Limits, SolveParams, TimeWindow, Vehicle, check_solution, solve
from binroute.routing.cost import rank
from binroute.routing.deadline import Budget
from binroute.routing.decompose import day, priced
from binroute.routing.decompose.borders import MIX_SLACK, mixing
from binroute.routing.engines.ortools import solve_ortools
from binroute.routing.schedule import solution_from_plans

from ..helpers import make_problem

_LIMITS = Limits(solution_limit=300, time_limit_s=None)


def _budget(problem) -> Budget:
    return Budget.from_limits(_LIMITS, len(problem.bins))


def _west_east():
    """A depot at 0; 6 bins in the west (x -2,000 to -1,500) and 6 in the east (x 1,500 to 2,000), one more bin at
    x 1,000 on the east lorry's way; two lorries with room for every bin."""
    west = [(-2000 + 100 * k, 100 * (k % 2)) for k in range(6)]
    east = [(1500 + 100 * k, 100 * (k % 2)) for k in range(6)]
    points = [(0, 0), *west, *east, (1000, 0)]
    bins = [Bin(f"{'w' if i < 6 else 'e' if i < 12 else 'x'}{i}", i + 1, (1,), service_s=30) for i in range(13)]
    fleet = [Vehicle(f"v{k}", 0, 0, (20,), shift=TimeWindow(0, 40_000)) for k in range(2)]
    return make_problem(points, bins, fleet, depots=[Depot("D", 0)])


def _bad_districts(problem):
    """The west lorry's district holds the bin on the east lorry's way (x 1,000): a detour of 2 km."""
    rounds = [[12, *range(6)], list(range(6, 12))]
    plans = [(v, [("bin", b) for b in bins], 0) for v, bins in enumerate(rounds)]
    return solution_from_plans(problem, plans, engine="districts", runtime_s=0.0)


def _crews(solution) -> dict[str, str]:
    return {b: r.vehicle_id for r in solution.routes for b in r.bins}


def test_prices_are_zero_at_home_and_grow_with_the_depth_into_another_district():
    """A lorry pays nothing at its own bins; at another's, the distance from its own district's nearest bin."""
    problem = _west_east()
    districted = _bad_districts(problem)
    plans, chosen = day.plans_of(problem, districted)
    owner = {ref: v for v, stops, _ in plans for _, ref in stops}
    prices = priced.mixing_prices(problem, owner, chosen)
    loc = {b.id: b.location for b in problem.bins}
    assert all(prices[0, loc[f"w{i}"]] == 0 for i in range(6))
    assert prices[0, 0] == 0 and prices[1, 0] == 0  # the depot
    east = [prices[0, loc[f"e{i}"]] for i in range(6, 12)]
    assert east[0] == 500 + 0  # from x 1,000 (the west lorry's bin on the east's way) to x 1,500
    assert east == sorted(east) and east[-1] > east[0]  # deeper costs more
    assert prices[1, loc["x12"]] == 500  # the east lorry's nearest bin is 500 away
    assert prices[1, loc["w0"]] > 3000


def test_priced_search_moves_the_border_bin_that_saves_driving_and_keeps_the_rest():
    """From districts holding a bin on the wrong side, the priced search gives it to the lorry passing it: every
    other bin keeps its lorry, the plan drives less, mixes no more, and passes the checker."""
    problem = _west_east()
    districted = _bad_districts(problem)
    found = priced.priced_search(problem, districted, _budget(problem), seed=0)
    assert found.details["priced_search"]["kept"]
    assert check_solution(problem, found).ok
    assert not found.unserved
    before, after = _crews(districted), _crews(found)
    assert after["x12"] == "v1" and before["x12"] == "v0"
    assert {b for b in before if before[b] != after[b]} == {"x12"}
    assert rank(problem, found) < rank(problem, districted)
    assert mixing(problem, found) <= mixing(problem, districted) + MIX_SLACK


def test_priced_search_keeps_the_districts_when_nothing_saves_enough():
    """From good districts the search keeps every bin with its lorry (a deep move never pays its price)."""
    problem = _west_east()
    rounds = [list(range(6)), [12, *range(6, 12)]]
    plans = [(v, [("bin", b) for b in bins], 0) for v, bins in enumerate(rounds)]
    good = solution_from_plans(problem, plans, engine="districts", runtime_s=0.0)
    found = priced.priced_search(problem, good, _budget(problem), seed=0)
    assert _crews(found) == _crews(good)
    assert check_solution(problem, found).ok


def test_ortools_reads_each_lorrys_priced_profile():
    """OR-Tools, given the priced day (one profile per lorry), keeps the clusters apart and the plan checks
    on the day's own matrices."""
    problem = _west_east()
    plans, chosen = day.plans_of(problem, _bad_districts(problem))
    owner = {ref: v for v, stops, _ in plans for _, ref in stops}
    priced_day = priced.priced_problem(problem, owner, chosen)
    assert len({v.profile for v in priced_day.vehicles}) == 2
    solution = solve_ortools(priced_day, budget=_budget(problem), params=SolveParams(engine="ortools", seed=0))
    crews = _crews(solution)
    assert len({crews[f"w{i}"] for i in range(6)}) == 1 and len({crews[f"e{i}"] for i in range(6, 12)}) == 1
    back = solution_from_plans(problem, day.plans_of(problem, solution)[0], engine="ortools", runtime_s=0.0)
    assert check_solution(problem, back).ok


def test_a_small_day_in_districts_gets_the_priced_search():
    """``solve`` on a small day with two crews runs the priced whole-day search after the districts; checker clean."""
    rng = np.random.default_rng(30)
    west = [(int(x), int(y)) for x, y in rng.integers(0, 400, size=(10, 2))]
    east = [(3000 + int(x), int(y)) for x, y in rng.integers(0, 400, size=(10, 2))]
    problem = make_problem(
        [(1500, 200), *west, *east],
        [Bin(f"b{i}", i + 1, (1,), service_s=30) for i in range(20)],
        [Vehicle(f"v{k}", 0, 0, (12,), shift=TimeWindow(0, 40_000)) for k in range(2)],
    )
    solution = solve(problem, limits=Limits(solution_limit=200), params=SolveParams(seed=0))
    assert check_solution(problem, solution).ok
    assert "priced_search" in solution.details
    assert not solution.unserved
