"""Each bin's visit direction and each tip's site, chosen exactly along a fixed route.

A bin with alternative locations (:attr:`~binroute.routing.problem.Bin.locations`,
one per direction it may be served in) is served at whichever of them the
engine picked while it searched, and a tip at the site it picked; neither
engine re-decides those choices for the final order of its stops. With the
order fixed the choice is a shortest path through a layered graph (one
layer per stop, one node per location the stop may be served at): a
dynamic programme over the sequence (Viterbi) finds the cheapest choice for
every stop at once in O(stops × choices²).

:func:`polish_directions` applies it to every route of a plan. Each arc is
priced as :func:`binroute.routing.cost.route_cost` prices a route: the vehicle's
``cost_per_distance`` per distance unit and ``cost_per_hour`` (plus
``overtime_per_hour`` when the route already works overtime) per hour of
driving and tipping; distance alone when the vehicle prices neither. The
route is then scheduled again (:func:`binroute.routing.schedule.schedule_route`,
leaving the depot when it did and breaking where it did, else
:func:`binroute.routing.schedule.fitted_route`) and replaces the old one only when it
keeps every rule and the plan's cost (:func:`binroute.routing.cost.plan_cost`) falls
(or stays the same with less distance).

Time windows are not prices, so the cheapest choice may miss one. Then a
second programme over the same layers picks the choice that gets back to
the depot soonest while opening hours and windows are kept (earliest
departure from each stop is exact here: leaving a stop later never makes a
later stop earlier). That choice is taken only when it too keeps every rule
and costs less than the old route; otherwise the route is left as it was.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .cost import plan_cost
from .problem import Problem
from .schedule import _keeps_rules, fitted_route, schedule_route
from .solution import BIN, TIP, Route, Solution

#: Costs closer than this are equal (float sums of the same terms in another order).
COST_TOLERANCE = 1e-9

Stops = list[tuple[str, int]]


@dataclasses.dataclass(frozen=True)
class _Layers:
    """For each stop of a route the places it may be served at (a layer of the dynamic programme).

    ``options[i]`` are bin locations for a bin and facility indices for a
    tip; ``locations[i]`` the matrix index of each; ``service_s[i]``,
    ``opens[i]`` and ``closes[i]`` the service time and the window of each
    (for a tip, the window the vehicle must have left by).
    """

    stops: Stops
    options: list[NDArray[np.int64]]
    locations: list[NDArray[np.int64]]
    service_s: list[NDArray[np.float64]]
    opens: list[NDArray[np.float64]]
    closes: list[NDArray[np.float64]]


def _layers(problem: Problem, vehicle: int, stops: Stops) -> _Layers:
    """The choices for every stop of ``stops`` driven by ``vehicle``."""
    veh = problem.vehicles[vehicle]
    sites = problem.facilities_for(veh)
    out = _Layers(list(stops), [], [], [], [], [])
    for kind, ref in stops:
        if kind == BIN:
            item = problem.bins[ref]
            window = item.window
            options = list(item.locations)
            locations = options
            service = [item.service_s] * len(options)
            opens = [window.start_s if window else 0] * len(options)
            closes = [window.end_s if window else math.inf] * len(options)
            tip_ends = False
        else:
            options = sites
            locations = [problem.facilities[f].location for f in sites]
            service = [problem.facilities[f].service_s for f in sites]
            opens = [problem.facilities[f].window.start_s for f in sites]
            closes = [problem.facilities[f].window.end_s for f in sites]
            tip_ends = True
        out.options.append(np.asarray(options, dtype=np.int64))
        out.locations.append(np.asarray(locations, dtype=np.int64))
        out.service_s.append(np.asarray(service, dtype=np.float64))
        out.opens.append(np.asarray(opens, dtype=np.float64))
        # A tip's window bounds when the vehicle leaves; a bin's when service starts.
        closes_arr = np.asarray(closes, dtype=np.float64)
        out.closes.append(closes_arr - (np.asarray(service, dtype=np.float64) if tip_ends else 0.0))
    return out


def _walk_back(came_from: list[NDArray[np.intp]], last: int) -> list[int]:
    """The option taken at every layer, read back from the last layer's ``last``."""
    picks = [last]
    for back in reversed(came_from[1:]):
        picks.append(int(back[picks[-1]]))
    picks.reverse()
    return picks


def _cheapest_choice(
    problem: Problem, vehicle: int, layers: _Layers, *, per_distance: float, per_second: float
) -> list[int]:
    """The option per stop that makes the drive cheapest (windows left aside).

    Parameters
    ----------
    problem, vehicle
        The problem and the index of the vehicle driving the route.
    layers
        The route's stops and their options (:func:`_layers`).
    per_distance, per_second
        What a distance unit and a second of driving or tipping cost.

    Returns
    -------
    list[int]
        For each stop, the index of the option taken in its layer.
    """
    veh = problem.vehicles[vehicle]
    m = problem.matrix(veh)
    here = np.array([problem.depots[veh.start_depot].location], dtype=np.int64)
    value = np.zeros(1)
    came_from: list[NDArray[np.intp]] = []
    for locations, service in zip(layers.locations, layers.service_s, strict=True):
        arc = (
            m.distance[np.ix_(here, locations)].astype(np.float64) * per_distance
            + m.time_s[np.ix_(here, locations)].astype(np.float64) * per_second
        )
        total = value[:, None] + arc
        back = np.argmin(total, axis=0)
        came_from.append(back)
        value = total[back, np.arange(len(locations))] + service * per_second
        here = locations
    home = problem.depots[veh.end_depot].location
    value = value + m.distance[here, home] * per_distance + m.time_s[here, home] * per_second
    return _walk_back(came_from, int(np.argmin(value)))


def _soonest_choice(problem: Problem, vehicle: int, layers: _Layers, *, depart_s: int) -> list[int] | None:
    """The option per stop that brings the vehicle home soonest while every window is kept.

    Leaves the depot at ``depart_s``; waits where a window has not opened.
    ``None`` when no choice keeps every window (the driver's break is left
    to the scheduling that follows).
    """
    veh = problem.vehicles[vehicle]
    m = problem.matrix(veh)
    here = np.array([problem.depots[veh.start_depot].location], dtype=np.int64)
    leave = np.array([float(depart_s)])
    came_from: list[NDArray[np.intp]] = []
    for i, locations in enumerate(layers.locations):
        arrive = leave[:, None] + m.time_s[np.ix_(here, locations)]
        back = np.argmin(arrive, axis=0)
        came_from.append(back)
        start = np.maximum(arrive[back, np.arange(len(locations))], layers.opens[i])
        leave = np.where(start <= layers.closes[i], start + layers.service_s[i], math.inf)
        if not np.isfinite(leave).any():
            return None
        here = locations
    home = leave + m.time_s[here, problem.depots[veh.end_depot].location]
    return _walk_back(came_from, int(np.argmin(home)))


def _prices(problem: Problem, vehicle: int, route: Route) -> tuple[float, float]:
    """What a distance unit and a second cost ``vehicle`` on ``route`` (distance alone when it prices neither)."""
    veh = problem.vehicles[vehicle]
    per_second = veh.cost_per_hour / 3600
    if veh.paid_duration_s is not None and route.duration_s > veh.paid_duration_s:
        per_second += veh.overtime_per_hour / 3600
    if veh.cost_per_distance == 0 and per_second == 0:
        return 1.0, 0.0
    return veh.cost_per_distance, per_second


@dataclasses.dataclass(frozen=True)
class _Index:
    """Positions in the problem by id: vehicles, bins and disposal sites."""

    vehicles: dict[str, int]
    bins: dict[str, int]
    sites: dict[str, int]

    @classmethod
    def of(cls, problem: Problem) -> _Index:
        return cls(
            {v.id: i for i, v in enumerate(problem.vehicles)},
            {b.id: i for i, b in enumerate(problem.bins)},
            {f.id: i for i, f in enumerate(problem.facilities)},
        )


def _stops_of(index: _Index, route: Route) -> tuple[Stops, list[int]]:
    """The route's stops (``("bin", index)`` / ``("tip", facility index)``) and the option each uses now."""
    bins, sites = index.bins, index.sites
    stops: Stops = []
    now: list[int] = []
    for visit in route.visits[1:-1]:
        if visit.kind == BIN:
            stops.append((BIN, bins[visit.id]))
            now.append(visit.location)
        else:
            stops.append((TIP, sites[visit.id]))
            now.append(sites[visit.id])
    return stops, now


def _break_position(route: Route) -> int | None:
    """After which visit (0 = the depot) the route's break is taken, if it has one."""
    if route.break_ is None:
        return None
    position = 0
    for k, visit in enumerate(route.visits[:-1]):
        if visit.departure_s <= route.break_.start_s:
            position = k
    return position


def _scheduled(problem: Problem, vehicle: int, route: Route, stops: Stops, chosen: dict[int, int]) -> Route | None:
    """``stops`` at ``chosen`` locations, scheduled as the old ``route`` was, else with the break placed anew.

    ``None`` unless the schedule keeps every rule (and the vehicle's range).
    """
    veh = problem.vehicles[vehicle]
    same = schedule_route(
        problem, vehicle, stops, depart_s=route.start_s, break_after=_break_position(route), chosen=chosen
    )
    new = same if _keeps_rules(problem, vehicle, same) else fitted_route(problem, vehicle, stops, chosen=chosen)
    if new is None or (veh.max_distance is not None and new.distance > veh.max_distance):
        return None
    return new


def _apply(layers: _Layers, picks: Sequence[int]) -> tuple[Stops, dict[int, int], list[int]]:
    """The stops, the bins' ``chosen`` locations and the options taken for one choice per stop."""
    stops: Stops = []
    chosen: dict[int, int] = {}
    taken: list[int] = []
    for (kind, ref), options, pick in zip(layers.stops, layers.options, picks, strict=True):
        option = int(options[pick])
        taken.append(option)
        if kind == BIN:
            stops.append((BIN, ref))
            chosen[ref] = option
        else:
            stops.append((TIP, option))
    return stops, chosen, taken


def _candidate(problem: Problem, index: _Index, route: Route) -> Route | None:
    """``route`` re-scheduled with the cheapest choice, or else the soonest one, when that keeps every rule.

    ``None`` when the route has nothing to choose, when the choice it makes
    now is already the cheapest (or, windows failing the cheapest, the
    soonest), or when neither keeps every rule.
    """
    vehicle = index.vehicles[route.vehicle_id]
    stops, now = _stops_of(index, route)
    layers = _layers(problem, vehicle, stops)
    if all(len(options) < 2 for options in layers.options):
        return None
    per_distance, per_second = _prices(problem, vehicle, route)
    picks = _cheapest_choice(problem, vehicle, layers, per_distance=per_distance, per_second=per_second)
    new_stops, chosen, cheapest = _apply(layers, picks)
    if cheapest == now:
        return None  # the engine's choice is already the cheapest
    found = _scheduled(problem, vehicle, route, new_stops, chosen)
    if found is not None:
        return found
    soonest = _soonest_choice(problem, vehicle, layers, depart_s=route.start_s)
    if soonest is None:
        return None
    new_stops, chosen, taken = _apply(layers, soonest)
    if taken in (now, cheapest):
        return None
    return _scheduled(problem, vehicle, route, new_stops, chosen)


def polish_directions(problem: Problem, solution: Solution) -> Solution:
    """``solution`` with each bin served in its cheapest direction and each tip at its cheapest site.

    Routes keep their order of stops; a route changes only when the new
    choice keeps every rule and lowers the plan's cost
    (:func:`binroute.routing.cost.plan_cost`; at equal cost, when it drives less).
    Costs O(stops × choices²) per route.

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
        ``directions_polished`` (routes changed, distance saved).
    """
    index = _Index.of(problem)
    best = solution
    cost = plan_cost(problem, solution)
    changed, saved = 0, 0
    for k, route in enumerate(solution.routes):
        candidate = _candidate(problem, index, route) if route.used else None
        if candidate is None:
            continue
        trial = dataclasses.replace(best, routes=(*best.routes[:k], candidate, *best.routes[k + 1 :]))
        trial_cost = plan_cost(problem, trial)
        lower = trial_cost < cost - COST_TOLERANCE
        if lower or (trial_cost <= cost + COST_TOLERANCE and candidate.distance < route.distance):
            changed += 1
            saved += route.distance - candidate.distance
            best, cost = trial, trial_cost
    if best is solution:
        return solution
    details = dict(solution.details, directions_polished={"routes": changed, "distance_saved": saved})
    return dataclasses.replace(best, objective=cost, details=details)
