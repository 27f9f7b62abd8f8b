"""OR-Tools may place the driver's break on the drive home via the disposal site."""

from __future__ import annotations

from binroute.routing import Bin, Break, Facility, Limits, SolveParams, TimeWindow, Vehicle, check_solution, solve
from binroute.routing.solution import TIP

from .helpers import make_problem


def test_a_break_due_on_the_way_home_comes_before_the_tip():
    """The break must start as the last bin is left: the tip read back after it, and the plan checks out."""
    points = [(0, 0), (100, 0), (200, 0)]  # depot, bin, site
    veh = Vehicle(
        "v1", 0, 0, (10,), streams=frozenset({"general"}), shift=TimeWindow(0, 10_000), break_=Break(100, 100, 30)
    )
    site = Facility("F", 2, frozenset({"general"}), TimeWindow(0, 10_000), service_s=10)
    problem = make_problem(points, [Bin("b", 1, (1,))], [veh], facilities=[site])
    solution = solve(problem, limits=Limits(solution_limit=50, time_limit_s=None), params=SolveParams(engine="ortools"))
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
    route = solution.routes[0]
    assert route.break_ is not None and route.break_.start_s == 100
    tip = next(v for v in route.visits if v.kind == TIP)
    assert tip.start_s >= 100 + 30 + 100
