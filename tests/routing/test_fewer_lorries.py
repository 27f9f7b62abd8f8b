"""One lorry fewer: when lorries cost a day each, a plan PyVRP left on k lorries is tried on k - 1."""

from __future__ import annotations

import pyvrp

from binroute.routing import Bin, TimeWindow, Vehicle, check_solution
from binroute.routing.deadline import Budget, Deadline
from binroute.routing.engines.pyvrp import Found, _one_lorry_fewer, to_pyvrp
from binroute.routing.schedule import solution_from_plans
from binroute.routing.solution import BIN

from .helpers import make_problem

POINTS = [(0, 0)] + [(1000 + 100 * i, 0) for i in range(4)]


def _day(*, shift_end=36_000, streams=("general", "general")):
    """Four bins in a row 1 km from the depot; two lorries that cost 100 a day each (the last bin is glass
    when a lorry carries glass)."""
    last = "glass" if "glass" in streams else "general"
    bins = [Bin(f"b{i}", i + 1, (1,), service_s=60, stream=last if i == 3 else "general") for i in range(4)]
    fleet = [
        Vehicle(
            f"v{k}", 0, 0, (10,), shift=TimeWindow(0, shift_end), fixed_cost=100.0, streams=frozenset({s, "general"})
        )
        for k, s in enumerate(streams)
    ]
    return make_problem(POINTS, bins, fleet)


def _two_rounds(problem):
    """A plan that sends both lorries out, two bins each (as a search stuck on two routes would)."""
    mapping = to_pyvrp(problem, strict=True)
    data = mapping.data
    best = pyvrp.Solution(
        data, [pyvrp.Route(data, [0, 1], 0), pyvrp.Route(data, [2, 3], len(data.vehicle_types()) - 1)]
    )
    plans = [(0, [(BIN, 0), (BIN, 1)], 0), (1, [(BIN, 2), (BIN, 3)], 0)]
    chosen = {b: problem.bins[b].location for b in range(4)}
    return Found(float(best.distance_cost() + best.fixed_vehicle_cost()), plans, mapping, best, False, chosen)


def _deterministic():
    return Budget(Deadline.after(600), 20, timed=False)


def test_a_round_is_emptied_when_one_lorry_serves_the_day():
    problem = _day()
    found = _two_rounds(problem)
    out = _one_lorry_fewer(problem, found, _deterministic(), seed=0, relax_breaks=False)
    assert len(out.plans) == 1 and sorted(ref for _, ref in out.plans[0][1]) == [0, 1, 2, 3]
    before = solution_from_plans(problem, found.plans, engine="", runtime_s=0.0, chosen=found.chosen)
    after = solution_from_plans(problem, out.plans, engine="", runtime_s=0.0, chosen=out.chosen)
    assert check_solution(problem, after, require_all=True).ok
    assert after.vehicles_used == 1 and after.objective < before.objective


def test_not_tried_when_the_day_does_not_fit_in_one_lorry_fewer():
    """Shifts just long enough for one round each: the plan is kept as it is."""
    problem = _day(shift_end=2_600)
    found = _two_rounds(problem)
    assert _one_lorry_fewer(problem, found, _deterministic(), seed=0, relax_breaks=False) is found


def test_a_bin_only_the_dropped_lorry_carries_keeps_it():
    """The glass bin is on the second lorry, the only one that carries glass: dropping that lorry is no plan."""
    problem = _day(streams=("general", "glass"))
    found = _two_rounds(problem)
    found = Found(found.cost, [found.plans[1], found.plans[0]], found.mapping, found.best, False, found.chosen)
    out = _one_lorry_fewer(problem, found, _deterministic(), seed=0, relax_breaks=False)
    served = sorted(ref for _, stops, _ in out.plans for _, ref in stops)
    assert served == [0, 1, 2, 3]
    assert all(3 not in [ref for _, ref in stops] or v == 1 for v, stops, _ in out.plans)
