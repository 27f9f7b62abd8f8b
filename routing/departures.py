"""Every route leaves its depot as late as keeps its rules, so its crew does not wait at a bin for its window.

An engine that does not price the crew's hours (``cost_per_hour`` 0, a
salaried crew) has no reason to start a route later than the shift allows,
and a route that reaches a bin before the bin's window opens waits there:
on the sample a recycling round left at 06:00 and waited two hours at a
bin whose window opens at 09:30. :func:`polish_departures` moves each
route's departure later by as much of its waiting as every rule allows
(windows, the shift, the sites' hours, the break), the stops, their order
and the places they are served at unchanged: the same drive, fewer hours.
A route changes only when the plan's cost (:func:`binroute.routing.cost.plan_cost`)
does not rise (it could, through the workload balance term).
"""

from __future__ import annotations

import dataclasses

from .cost import plan_cost
from .problem import Problem
from .schedule import _keeps_rules, schedule_route
from .solution import BIN, Route, Solution

#: Plan costs closer than this are equal.
COST_TOLERANCE = 1e-9


def _waiting_s(route: Route) -> int:
    """Seconds the route waits at its stops for their windows to open."""
    return sum(v.start_s - v.arrival_s for v in route.visits)


def _break_after(route: Route) -> int | None:
    """After which visit (0 = the depot) the route's break is taken, if it has one."""
    if route.break_ is None:
        return None
    return max((k for k, v in enumerate(route.visits[:-1]) if v.departure_s <= route.break_.start_s), default=0)


def later_route(problem: Problem, vehicle: int, route: Route) -> Route | None:
    """``route`` leaving as late as keeps every rule, up to its waiting later; ``None`` if it cannot leave later.

    Feasibility only falls as the departure moves later (every service
    starts no earlier), so the latest departure is found by bisection over
    whole seconds.
    """
    wait = _waiting_s(route)
    if not route.used or wait <= 0:
        return None
    bins = {b.id: i for i, b in enumerate(problem.bins)}
    sites = {f.id: i for i, f in enumerate(problem.facilities)}
    stops = [(v.kind, bins[v.id] if v.kind == BIN else sites[v.id]) for v in route.visits[1:-1]]
    chosen = {bins[v.id]: v.location for v in route.visits[1:-1] if v.kind == BIN}
    after = _break_after(route)

    def leaving(delay: int) -> Route | None:
        moved = schedule_route(
            problem, vehicle, stops, depart_s=route.start_s + delay, break_after=after, chosen=chosen
        )
        return moved if _keeps_rules(problem, vehicle, moved) else None

    best: Route | None = None
    lo, hi = 0, wait  # lo: known to keep the rules (the route as it is)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        found = leaving(mid)
        if found is None:
            hi = mid - 1
        else:
            lo, best = mid, found
    if best is None or best.duration_s >= route.duration_s or best.distance != route.distance:
        return None
    return best


def polish_departures(problem: Problem, solution: Solution) -> Solution:
    """``solution`` with each route leaving as late as its rules allow, to wait less (see the module notes).

    Parameters
    ----------
    problem
        The problem ``solution`` solves.
    solution
        Any engine's plan.

    Returns
    -------
    Solution
        ``solution`` itself when no route changes; otherwise a copy with the
        new routes, its ``objective`` recomputed and, in ``details``,
        ``departures_later`` (routes changed, hours of waiting saved).
    """
    vehicles = {v.id: i for i, v in enumerate(problem.vehicles)}
    best, cost = solution, plan_cost(problem, solution)
    changed, saved = 0, 0
    for k, route in enumerate(solution.routes):
        later = later_route(problem, vehicles[route.vehicle_id], route)
        if later is None:
            continue
        trial = dataclasses.replace(best, routes=(*best.routes[:k], later, *best.routes[k + 1 :]))
        trial_cost = plan_cost(problem, trial)
        if trial_cost <= cost + COST_TOLERANCE:
            changed += 1
            saved += route.duration_s - later.duration_s
            best, cost = trial, trial_cost
    if best is solution:
        return solution
    details = dict(solution.details, departures_later={"routes": changed, "hours_saved": round(saved / 3600, 3)})
    return dataclasses.replace(best, objective=cost, details=details)
