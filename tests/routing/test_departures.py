"""A route leaves its depot as late as its rules allow, so its crew does not wait at a bin for the window to open."""

from __future__ import annotations

import dataclasses

from binroute.routing import Bin, Break, Limits, TimeWindow, check_solution, solve
from binroute.routing.departures import later_route, polish_departures

from .helpers import make_problem, make_vehicle

LIMITS = Limits(solution_limit=50)


def _day(**vehicle):
    """A depot at 0, a bin 100 s away open all day, one 200 s away whose window opens at 2,000 s."""
    bins = [Bin("any", 1, (1,), service_s=10), Bin("late", 2, (1,), service_s=10, window=TimeWindow(2_000, 3_000))]
    return make_problem([(0, 0), (100, 0), (200, 0)], bins, [make_vehicle(shift=TimeWindow(0, 10_000), **vehicle)])


def _waiting(route) -> int:
    return sum(v.start_s - v.arrival_s for v in route.visits)


def test_a_crew_leaves_later_instead_of_waiting_at_a_bin():
    """The plan's route waits nowhere and leaves after its shift starts; the same drive, checked independently."""
    problem = _day()
    solution = solve(problem, limits=LIMITS)
    route = solution.routes[0]
    assert check_solution(problem, solution).ok
    assert _waiting(route) == 0 and route.start_s > 0
    assert route.duration_s < 2_000  # leaving at 0 it would end after 2,000 s
    assert [v.id for v in route.visits[1:-1]] in (["any", "late"], ["late", "any"])


def test_a_departure_stays_where_a_rule_holds_it():
    """A break that must start by 500 s keeps the departure early: the route is left as it is."""
    problem = _day(break_=Break(0, 500, 600))
    solution = solve(problem, limits=LIMITS)
    assert check_solution(problem, solution).ok
    route = solution.routes[0]
    assert route.break_ is not None and route.break_.start_s <= 500
    assert later_route(problem, 0, route) is None


def test_polishing_a_plan_without_waiting_changes_nothing():
    """A plan whose routes wait nowhere comes back as the very same object."""
    problem = _day()
    solution = solve(problem, limits=LIMITS)
    assert polish_departures(problem, solution) is solution
    early = dataclasses.replace(problem, bins=(problem.bins[0],))
    plan = solve(early, limits=LIMITS)
    assert polish_departures(early, plan) is plan
