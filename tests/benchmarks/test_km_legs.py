"""The big-day benchmark's km per leg type adds up to the plan's km, and its references are below the plan's."""

from __future__ import annotations

import dataclasses
import itertools

from benchmarks.km_legs import LEGS, assignment_bound_km, collect_lower_bound_km, forced_km, km_by_leg
from binroute.routing import Bin, Facility, Limits, SolveParams, TimeWindow, Vehicle, solve

from ..routing.helpers import make_problem


def _day():
    """A depot, a tip far east, twelve bins in two rows; a lorry that must tip once during the day."""
    points = [(0, 0), (3000, 0)] + [(200 * i, 300 * (i % 2)) for i in range(1, 13)]
    bins = [Bin(f"b{i}", i + 2, (1,), service_s=10) for i in range(12)]
    fleet = [Vehicle("v", 0, 0, (7,), shift=TimeWindow(0, 50_000))]
    sites = [Facility("tip", 1, frozenset({"general"}), service_s=60)]
    return make_problem(points, bins, fleet, facilities=sites)


def test_legs_add_up_and_references_are_below_the_plan():
    """Legs sum to the plan's km, one tip is in the day, and the two references are at most what they stand for."""
    problem = _day()
    solution = solve(problem, limits=Limits(solution_limit=20), params=SolveParams(engine="pyvrp", seed=0))
    legs = km_by_leg(problem, solution)
    assert abs(sum(legs[f"{k}_km"] for k in LEGS) - solution.distance / 1000) < 0.1
    assert legs["middle_tips"] == 1 and legs["to_tip_km"] > 0 and legs["from_tip_km"] > 0
    depot_and_tips = legs["out_km"] + legs["to_tip_km"] + legs["from_tip_km"] + legs["home_km"]
    assert 0 < forced_km(problem, solution) <= depot_and_tips + 0.1
    assert 0 < collect_lower_bound_km(problem, solution) <= legs["collect_km"] + 0.1


def test_assignment_bound_is_below_the_best_plan_and_above_nearest_neighbours():
    """The assignment bound never exceeds the km of the best plan (every order tried), and beats the NN bound."""
    points = [(0, 0)] + [(300 * i, 200 * (i % 3)) for i in range(1, 7)]
    bins = [Bin(f"b{i}", i, (1,), service_s=10) for i in range(1, 7)]
    problem = make_problem(points, bins, [Vehicle("v", 0, 0, (10,), shift=TimeWindow(0, 50_000))])
    d = problem.matrices["default"].distance
    best = min(
        int(d[0, order[0]]) + sum(int(d[a, b]) for a, b in itertools.pairwise(order)) + int(d[order[-1], 0])
        for order in itertools.permutations(range(1, 7))
    )
    solution = solve(problem, limits=Limits(solution_limit=50), params=SolveParams(engine="pyvrp", seed=0))
    assert solution.distance == best  # six bins: PyVRP finds the best order
    bound = assignment_bound_km(problem, solution)
    assert collect_lower_bound_km(problem, solution) < bound <= best / 1000


def test_assignment_bound_counts_tips_and_alternative_locations():
    """With a tip in the day and a bin with two locations, the bound stays at most the plan's km."""
    problem = _day()
    twin = dataclasses.replace(problem.bins[3], alternatives=(problem.bins[4].location,))
    problem = dataclasses.replace(problem, bins=(*problem.bins[:3], twin, *problem.bins[5:]))
    solution = solve(problem, limits=Limits(solution_limit=20), params=SolveParams(engine="pyvrp", seed=0))
    assert km_by_leg(problem, solution)["middle_tips"] == 1
    assert 0 < assignment_bound_km(problem, solution) <= solution.distance / 1000 + 1e-9
