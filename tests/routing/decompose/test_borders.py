"""Neighbouring districts' rounds are re-solved two at a time: never worse, every bin once, border bins traded."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from binroute.routing import (
    Bin,
    Break,
    Depot,
    Facility,
    Limits,
    SolveParams,
    TimeWindow,
    Vehicle,
    check_solution,
    solve,
)
from binroute.routing.cost import rank
from binroute.routing.deadline import Budget
from binroute.routing.decompose import borders
from binroute.routing.decompose import day as decompose
from binroute.routing.decompose.borders import MIX_SLACK, matching, mixing, neighbour_pairs
from binroute.routing.schedule import solution_from_plans
from binroute.routing.solver import _border_pairs

from ..helpers import make_problem

_DETERMINISTIC = Limits(solution_limit=10, time_limit_s=None)


def _city():
    """A depot, a tip, 90 bins scattered on a 3 km square; four lorries with breaks, about three districts' work."""
    rng = np.random.default_rng(7)
    points = [(1500, 0), (1500, 3000), *map(tuple, rng.integers(0, 3000, size=(90, 2)))]
    bins = [Bin(f"b{i}", i + 2, (1,), service_s=60) for i in range(90)]
    brk = Break(3_000, 20_000, 1_800)
    fleet = [Vehicle(f"v{k}", 0, 0, (15,), shift=TimeWindow(0, 25_000), break_=brk) for k in range(4)]
    sites = [Facility("tip", 1, frozenset({"general"}), service_s=300)]
    return make_problem(points, bins, fleet, facilities=sites)


def _budget(problem) -> Budget:
    return Budget.from_limits(_DETERMINISTIC, len(problem.bins))


def _merged(problem):
    """The day as districts, each solved alone (deterministic), merged: what the border step starts from."""
    parts = decompose.subproblems(problem)
    solved = [solve(p.problem, limits=_DETERMINISTIC, params=SolveParams(seed=0)) for p in parts]
    plans, chosen = decompose.merged_plans(problem, parts, solved)
    fit = bool(decompose.unsupported(problem))
    return solution_from_plans(problem, plans, engine="decomposed", runtime_s=0.0, fit_rules=fit, chosen=chosen)


def _two_clusters():
    """Two square clusters of 16 bins either side of a depot, 1.1 km apart; two lorries, each room for one cluster."""
    grid = [(x, y) for x in range(0, 1000, 300) for y in range(0, 1000, 300)]
    left = [(x, y) for x, y in grid]
    right = [(x + 2000, y) for x, y in grid]
    points = [(1500, 500), *left, *right]
    bins = [Bin(f"b{i}", i + 1, (1,), service_s=30) for i in range(32)]
    fleet = [Vehicle(f"v{k}", 0, 0, (20,), shift=TimeWindow(0, 40_000)) for k in range(2)]
    return make_problem(points, bins, fleet, depots=[Depot("D", 0)])


def _plans(problem, rounds):
    """Plans visiting each round's bins in the order given, both lorries leaving at 0."""
    return [(v, [("bin", b) for b in bins], 0) for v, bins in enumerate(rounds)]


@pytest.mark.slow
def test_border_step_never_worsens_the_plan_and_serves_every_bin_once():
    """From the districts' merged plan, the pairs' search keeps a plan no worse, every bin once, checker clean."""
    problem = _city()
    assert len(decompose.subproblems(problem)) >= 3
    merged = _merged(problem)
    improved = _border_pairs(problem, merged, _budget(problem), SolveParams(seed=0))
    assert rank(problem, improved) <= rank(problem, merged)
    assert improved.details["border_pairs_searched"] >= 1
    counts = Counter(improved.served())
    assert counts == Counter(merged.served()) and set(counts.values()) == {1}
    report = check_solution(problem, improved, require_all=True)
    assert report.ok, str(report)


def test_border_bins_given_to_the_wrong_lorry_are_traded_back():
    """Each lorry starts with two bins on the far edge of the other's cluster; the step gives them back."""
    problem = _two_clusters()
    left, right = list(range(16)), list(range(16, 32))
    # The left cluster's right edge (x = 900) and the right cluster's left edge (x = 2000), two bins each.
    stray_left, stray_right = [12, 13], [16, 17]
    rounds = [
        [b for b in left if b not in stray_left] + stray_right,
        stray_left + [b for b in right if b not in stray_right],
    ]
    start = solution_from_plans(problem, _plans(problem, rounds), engine="test", runtime_s=0.0)
    assert mixing(problem, start) > 0
    improved = _border_pairs(problem, start, _budget(problem), SolveParams(seed=0))
    assert improved.details["border_pairs_kept"] >= 1
    assert rank(problem, improved) < rank(problem, start)
    by_lorry = {frozenset(int(b[1:]) for b in r.bins) for r in improved.routes}
    assert by_lorry == {frozenset(left), frozenset(right)}
    assert check_solution(problem, improved, require_all=True).ok


def test_interleaved_rounds_mix_and_districts_do_not():
    """Mixing is 0 for two separate clusters and about one for rounds that alternate along a street."""
    problem = _two_clusters()
    apart = solution_from_plans(
        problem, _plans(problem, [list(range(16)), list(range(16, 32))]), engine="t", runtime_s=0
    )
    assert mixing(problem, apart) == 0.0
    line = [(1500, 500), *[(100 * i, 0) for i in range(20)]]
    street = make_problem(
        line,
        [Bin(f"b{i}", i + 1, (1,)) for i in range(20)],
        [Vehicle(f"v{k}", 0, 0, (40,)) for k in range(2)],
        depots=[Depot("D", 0)],
    )
    alternate = solution_from_plans(
        street, _plans(street, [list(range(0, 20, 2)), list(range(1, 20, 2))]), engine="t", runtime_s=0
    )
    assert mixing(street, alternate) > 0.9 > MIX_SLACK


def test_neighbours_are_rounds_that_touch():
    """Three rounds splitting a street in three: the middle one neighbours both, the outer two are not neighbours."""
    points = [(1500, 1000)] + [(100 * i, 0) for i in range(30)]
    bins = [Bin(f"b{i}", i + 1, (1,)) for i in range(30)]
    fleet = [Vehicle(f"v{k}", 0, 0, (40,)) for k in range(3)]
    problem = make_problem(points, bins, fleet, depots=[Depot("D", 0)])
    plans = _plans(problem, [list(range(0, 10)), list(range(10, 20)), list(range(20, 30))])
    solution = solution_from_plans(problem, plans, engine="t", runtime_s=0)
    pairs = neighbour_pairs(problem, solution)
    assert {(a, b) for a, b, _ in pairs} == {(0, 1), (1, 2)}
    assert len(matching(pairs, set())) == 1  # both pairs share the middle round
    assert matching(pairs, {(pairs[0][0], pairs[0][1])}) == [(pairs[1][0], pairs[1][1])]


def test_new_routes_that_mix_the_rounds_more_are_not_kept(monkeypatch):
    """With no room for more mixing at all, the traded-back case keeps its start plan unchanged."""
    monkeypatch.setattr(borders, "MIX_SLACK", -1.0)
    problem = _two_clusters()
    rounds = [[*range(12), 14, 15, 16, 17], [12, 13, *range(18, 32)]]
    start = solution_from_plans(problem, _plans(problem, rounds), engine="test", runtime_s=0.0)
    improved = _border_pairs(problem, start, _budget(problem), SolveParams(seed=0))
    assert improved.details["border_pairs_kept"] == 0
    assert improved.routes == start.routes
