"""One plan cost, the same whichever engine made the plan."""

from __future__ import annotations

import dataclasses

import pytest

from binroute.routing import Bin, Break, Limits, SolveParams, TimeWindow, Vehicle, check_solution, solve
from binroute.routing.cost import plan_cost, rank, route_cost
from binroute.routing.schedule import solution_from_plans

from .helpers import make_problem

POINTS = [(0, 0), (100, 0), (100, 100), (0, 100)]


def _problem(**vehicle):
    vehicle.setdefault("shift", TimeWindow(0, 100_000))
    v = Vehicle("v1", 0, 0, (10,), fixed_cost=50, cost_per_distance=0.5, cost_per_hour=36, **vehicle)
    bins = [Bin("b1", 1, (1,)), Bin("b2", 2, (1,)), Bin("b3", 3, (1,), required=False, prize=7)]
    return make_problem(POINTS, bins, [v])


def test_plan_cost_by_hand():
    """Fixed + per metre + per hour of the day + prizes of optional bins left, worked out by hand."""
    problem = _problem()
    solution = solution_from_plans(problem, [(0, [("bin", 0), ("bin", 1)], 0)], engine="t", runtime_s=0)
    # Depot (0,0) -> b1 (100,0) -> b2 (100,100) -> depot: 100 + 100 + 200 = 400 m at 1 m/s, so 400 s.
    assert solution.routes[0].distance == 400 and solution.routes[0].duration_s == 400
    expected = 50 + 0.5 * 400 + 36 * 400 / 3600 + 7
    assert plan_cost(problem, solution) == pytest.approx(expected)
    assert solution.objective == pytest.approx(expected)


def test_required_bins_left_rank_before_any_cost():
    """A cheap plan that leaves a required bin ranks below a dear one that serves it."""
    problem = _problem()
    short = solution_from_plans(problem, [(0, [("bin", 0)], 0)], engine="t", runtime_s=0)
    full = solution_from_plans(problem, [(0, [("bin", 0), ("bin", 1), ("bin", 2)], 0)], engine="t", runtime_s=0)
    assert plan_cost(problem, short) < plan_cost(problem, full)
    assert rank(problem, full) < rank(problem, short)


@pytest.mark.parametrize(
    ("engine", "vehicle"),
    [
        ("ortools", {}),
        ("pyvrp", {}),
        ("auto", {}),  # PyVRP alone
        ("auto", {"break_": Break(100, 150, 30)}),  # PyVRP, then OR-Tools or our scheduling
    ],
)
def test_every_engine_reports_the_plan_cost(engine, vehicle):
    """``Solution.objective`` is plan_cost for every engine and path, not an engine's scaled search value."""
    problem = _problem(**vehicle)
    solution = solve(problem, limits=Limits(solution_limit=30), params=SolveParams(engine=engine))
    assert check_solution(problem, solution).ok
    assert solution.objective == pytest.approx(plan_cost(problem, solution))
    assert solution.objective > 0


def test_balance_term_counts_when_asked_for():
    """With a balance weight, a plan with uneven days costs that weight per hour of difference."""
    problem = _problem()
    two = dataclasses.replace(problem, vehicles=(*problem.vehicles, dataclasses.replace(problem.vehicles[0], id="v2")))
    plans = [(0, [("bin", 0)], 0), (1, [("bin", 1), ("bin", 2)], 0)]
    plain = plan_cost(two, solution_from_plans(two, plans, engine="t", runtime_s=0))
    weighted = dataclasses.replace(two, balance_weight=3600.0)
    # v1: 200 s; v2: 0 -> (100,100) -> (0,100) -> 0 = 400 s; 200 s apart is 1/18 h.
    assert plan_cost(weighted, solution_from_plans(weighted, plans, engine="t", runtime_s=0)) == pytest.approx(
        plain + 3600.0 * 200 / 3600
    )


def _crew_problem(overtime_per_hour: float):
    """Two bins 100 m either side of the depot; a crew costs 450 a day for a 300 s paid shift."""
    crew = dict(
        shift=TimeWindow(0, 10_000),
        fixed_cost=450,
        cost_per_distance=0.5,
        paid_duration_s=300,
        overtime_per_hour=overtime_per_hour,
    )
    vehicles = [Vehicle("v1", 0, 0, (10,), **crew), Vehicle("v2", 0, 0, (10,), **crew)]
    return make_problem([(0, 0), (100, 0), (0, 100)], [Bin("a", 1, (1,)), Bin("b", 2, (1,))], vehicles)


def test_overtime_by_hand():
    """Overtime is charged per hour beyond the paid shift, on top of the day cost; a short day pays the whole day."""
    problem = _crew_problem(overtime_per_hour=36.0)
    one = solution_from_plans(problem, [(0, [("bin", 0), ("bin", 1)], 0)], engine="t", runtime_s=0)
    # 0 -> a -> b -> 0 is 100 + 200 + 100 = 400 m and 400 s: 100 s beyond the 300 s paid.
    assert plan_cost(problem, one) == pytest.approx(450 + 0.5 * 400 + 36 * 100 / 3600)
    assert route_cost(problem.vehicles[0], one.routes[0]) == pytest.approx(plan_cost(problem, one))
    two = solution_from_plans(problem, [(0, [("bin", 0)], 0), (1, [("bin", 1)], 0)], engine="t", runtime_s=0)
    assert plan_cost(problem, two) == pytest.approx(2 * 450 + 0.5 * 400)


@pytest.mark.parametrize("engine", ["ortools", "pyvrp"])
@pytest.mark.parametrize(("overtime", "crews", "cost"), [(36.0, 1, 651.0), (36_000.0, 2, 1100.0)])
def test_crew_day_model_known_optimum(engine, overtime, crews, cost):
    """One full crew beats two short ones (the same 400 m) unless its overtime costs more than a second crew-day."""
    problem = _crew_problem(overtime)
    solution = solve(problem, limits=Limits(solution_limit=50), params=SolveParams(engine=engine, seed=0))
    assert check_solution(problem, solution).ok
    assert solution.vehicles_used == crews
    assert solution.objective == pytest.approx(cost)


@pytest.mark.parametrize("engine", ["ortools", "pyvrp"])
def test_range_limits_the_day(engine):
    """A lorry with 300 m of range cannot do both bins (400 m), so two go out."""
    problem = _crew_problem(36.0)
    short = tuple(dataclasses.replace(v, max_distance=300) for v in problem.vehicles)
    problem = dataclasses.replace(problem, vehicles=short)
    solution = solve(problem, limits=Limits(solution_limit=50), params=SolveParams(engine=engine, seed=0))
    assert check_solution(problem, solution).ok
    assert solution.vehicles_used == 2 and not solution.unserved
