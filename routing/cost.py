"""The one cost of a plan, whatever engine made it.

Every engine's :class:`~routing.solution.Solution` carries this cost as its
``objective``, the pipeline compares plans with :func:`rank`, and
``plan.json`` reports it: "a better plan" means one thing everywhere. Engines
search with their own scaled integer costs and penalties; those never leave
the engine.
"""

from __future__ import annotations

import dataclasses

from .problem import Problem
from .solution import Solution


def plan_cost(problem: Problem, solution: Solution) -> float:
    """The cost of ``solution`` in the problem's money units.

    For each vehicle used: its fixed cost, its cost per metre times the
    metres driven and its cost per hour times the hours from leaving the
    depot to coming back (waiting included, as a crew is paid for it); the
    prizes of optional bins left; and the workload balance term
    (``balance_weight`` times the hours between the longest and the shortest
    used shift). Required bins left are not priced: :func:`rank` counts them
    first.

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
        if not route.used:
            continue
        veh = vehicles[route.vehicle_id]
        hours.append(route.duration_s / 3600)
        cost += veh.fixed_cost + route.distance * veh.cost_per_distance + hours[-1] * veh.cost_per_hour
    left = {u.bin_id for u in solution.unserved}
    cost += sum(b.prize for b in problem.bins if not b.required and b.id in left)
    if problem.balance_weight and len(hours) > 1:
        cost += problem.balance_weight * (max(hours) - min(hours))
    return cost


def rank(problem: Problem, solution: Solution) -> tuple[int, float]:
    """Order plans: fewer required bins left first, then lower :func:`plan_cost`."""
    return sum(u.required for u in solution.unserved), plan_cost(problem, solution)


def with_cost(problem: Problem, solution: Solution) -> Solution:
    """``solution`` with its ``objective`` set to :func:`plan_cost`."""
    return dataclasses.replace(solution, objective=plan_cost(problem, solution))
