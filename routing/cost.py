"""The one cost of a plan, whatever engine made it.

Every engine's :class:`~binroute.routing.solution.Solution` carries this cost as its
``objective``, the pipeline compares plans with :func:`rank`, and
``plan.json`` reports it: "a better plan" means one thing everywhere. Engines
search with their own scaled integer costs and penalties; those never leave
the engine.
"""

from __future__ import annotations

import dataclasses

from .problem import Problem, Vehicle
from .solution import Route, Solution


def overtime_hours(vehicle: Vehicle, route: Route) -> float:
    """Hours ``route`` works beyond ``vehicle``'s paid shift (0 without a paid shift or when unused)."""
    if not route.used or vehicle.paid_duration_s is None:
        return 0.0
    return max(0, route.duration_s - vehicle.paid_duration_s) / 3600


def route_cost(vehicle: Vehicle, route: Route) -> float:
    """The cost of one vehicle's day: 0 when unused (unless it is ``out``: then its drive home).

    Once used: the day cost (``fixed_cost``: crew and lorry, covering the
    paid shift whether worked or not), ``cost_per_distance`` times the
    distance, ``cost_per_hour`` times the hours from leaving the depot to
    coming back (waiting included), and ``overtime_per_hour`` times the hours
    beyond the paid shift.

    Parameters
    ----------
    vehicle
        The vehicle driving ``route``.
    route
        Its route in a plan.

    Returns
    -------
    float
        The route's cost in the problem's money units.
    """
    if not (route.used or vehicle.out):
        return 0.0
    return (
        vehicle.fixed_cost
        + route.distance * vehicle.cost_per_distance
        + route.duration_s / 3600 * vehicle.cost_per_hour
        + overtime_hours(vehicle, route) * vehicle.overtime_per_hour
    )


def moved_bins(problem: Problem, solution: Solution) -> list[str]:
    """The bins ``solution`` serves with a vehicle other than their ``crew`` (bins without a crew never count)."""
    crew = {b.id: b.crew for b in problem.bins if b.crew is not None}
    if not crew:
        return []
    return [b for r in solution.routes for b in r.bins if crew.get(b, r.vehicle_id) != r.vehicle_id]


def plan_cost(problem: Problem, solution: Solution) -> float:
    """The cost of ``solution`` in the problem's money units.

    For each vehicle used its :func:`route_cost` (day cost, distance,
    hours worked, overtime beyond the paid shift); the prizes of optional bins
    left; the workload balance term (``balance_weight`` times the hours between
    the longest and the shortest used shift); and ``move_cost`` for each bin that
    changed crew (:func:`moved_bins`). Required bins left are not priced:
    :func:`rank` counts them first.

    Parameters
    ----------
    problem
        The problem ``solution`` solves.
    solution
        Any engine's plan for it.

    Returns
    -------
    float
        The plan's cost.
    """
    vehicles = {v.id: v for v in problem.vehicles}
    cost, hours = 0.0, []
    for route in solution.routes:
        cost += route_cost(vehicles[route.vehicle_id], route)
        if route.used:
            hours.append(route.duration_s / 3600)
    left = {u.bin_id for u in solution.unserved}
    cost += sum(b.prize for b in problem.bins if not b.required and b.id in left)
    if problem.balance_weight and len(hours) > 1:
        cost += problem.balance_weight * (max(hours) - min(hours))
    if problem.move_cost:
        cost += problem.move_cost * len(moved_bins(problem, solution))
    return cost


def rank(problem: Problem, solution: Solution) -> tuple[int, float]:
    """Order plans: fewer required bins left first, then lower :func:`plan_cost`."""
    return sum(u.required for u in solution.unserved), plan_cost(problem, solution)


def with_cost(problem: Problem, solution: Solution) -> Solution:
    """``solution`` with its ``objective`` set to :func:`plan_cost`."""
    return dataclasses.replace(solution, objective=plan_cost(problem, solution))
