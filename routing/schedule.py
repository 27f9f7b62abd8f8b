"""Turn a sequence of stops into a scheduled :class:`Route` (earliest times).

Used to read routes back from engines that report only the order of stops.
When the problem makes vehicles tip, a route whose last stop is a bin gets
the day's last tip (at the best site on the way home) written out.
"""

from __future__ import annotations

from collections.abc import Sequence

from .feasibility import home_via_site
from .problem import Problem
from .solution import BIN, DEPOT, TIP, BreakPlan, Route, Visit


def schedule_route(
    problem: Problem,
    vehicle: int,
    stops: Sequence[tuple[str, int]],
    *,
    depart_s: int | None = None,
    break_after: int | None = None,
) -> Route:
    """Schedule ``stops`` (``("bin", index)`` or ``("tip", facility index)``) for one vehicle.

    Service starts as early as windows allow; the vehicle leaves its depot at
    ``depart_s`` (default: as early as its shift and the depot allow). With
    ``break_after=i`` the driver's break is taken after the ``i``-th visit
    (0 = the depot), as soon as its window opens, before driving on.
    """
    veh = problem.vehicles[vehicle]
    m = problem.matrix(veh)
    dims = len(problem.dimensions)
    start_depot, end_depot = problem.depots[veh.start_depot], problem.depots[veh.end_depot]
    t0 = max(veh.shift.start_s, start_depot.window.start_s) if depart_s is None else depart_s
    visits = [Visit(DEPOT, start_depot.id, start_depot.location, t0, t0, t0, (0,) * dims)]
    seq = list(stops)
    if problem.tips and seq and seq[-1][0] == BIN:
        site = home_via_site(problem, veh)[2][problem.bins[seq[-1][1]].location, veh.end_depot]
        seq.append((TIP, int(site)))
    load = [0] * dims
    distance = 0
    brk: BreakPlan | None = None
    for position, (kind, ref) in enumerate(seq):
        prev = visits[-1]
        leave = prev.departure_s
        if veh.break_ is not None and break_after == position:
            begin = max(leave, veh.break_.earliest_start_s)
            brk = BreakPlan(begin, veh.break_.duration_s)
            leave = begin + veh.break_.duration_s
        if kind == BIN:
            item = problem.bins[ref]
            loc, ident, service = item.location, item.id, item.service_s
            opens = item.window.start_s if item.window else 0
            load = [a + b for a, b in zip(load, item.demand, strict=True)]
        else:
            fac = problem.facilities[ref]
            loc, ident, service, opens = fac.location, fac.id, fac.service_s, fac.window.start_s
            load = [0] * dims
        arrival = leave + int(m.time_s[prev.location, loc])
        distance += int(m.distance[prev.location, loc])
        start = max(arrival, opens)
        visits.append(Visit(kind, ident, loc, arrival, start, start + service, tuple(load)))
    prev = visits[-1]
    leave = prev.departure_s
    if veh.break_ is not None and break_after == len(seq):
        begin = max(leave, veh.break_.earliest_start_s)
        brk = BreakPlan(begin, veh.break_.duration_s)
        leave = begin + veh.break_.duration_s
    arrival = leave + int(m.time_s[prev.location, end_depot.location])
    distance += int(m.distance[prev.location, end_depot.location])
    visits.append(Visit(DEPOT, end_depot.id, end_depot.location, arrival, arrival, arrival, tuple(load)))
    if len(visits) == 2:
        visits = [visits[0], Visit(DEPOT, end_depot.id, end_depot.location, t0, t0, t0, (0,) * dims)]
        distance = 0
    return Route(veh.id, tuple(visits), brk, distance, distance * veh.cost_per_distance)


def _keeps_rules(problem: Problem, vehicle: int, route: Route) -> bool:
    """Windows, shift, capacity, daily limits and the break of one scheduled route."""
    veh = problem.vehicles[vehicle]
    end = route.visits[-1].arrival_s
    if end > veh.shift.end_s or end > problem.depots[veh.end_depot].window.end_s:
        return False
    if veh.max_duration_s is not None and end - route.visits[0].departure_s > veh.max_duration_s:
        return False
    bins = {b.id: b for b in problem.bins}
    facilities = {f.id: f for f in problem.facilities}
    lifts, day = 0, [0] * len(problem.dimensions)
    for visit in route.visits[1:-1]:
        if visit.kind == BIN:
            item = bins[visit.id]
            if item.window is not None and visit.start_s > item.window.end_s:
                return False
            if any(load > cap for load, cap in zip(visit.load_after, veh.capacity, strict=True)):
                return False
            lifts += 1
            day = [a + b for a, b in zip(day, item.demand, strict=True)]
        elif visit.departure_s > facilities[visit.id].window.end_s:
            return False
    if veh.max_lifts is not None and lifts > veh.max_lifts:
        return False
    if veh.max_load_per_day is not None and any(a > b for a, b in zip(day, veh.max_load_per_day, strict=True)):
        return False
    b = veh.break_
    if b is not None and route.used and route.break_ is None:
        return route.visits[0].departure_s > b.latest_start_s or end < b.earliest_start_s + b.duration_s
    return route.break_ is None or route.break_.start_s <= (b.latest_start_s if b else 0)


def fitted_route(problem: Problem, vehicle: int, stops: Sequence[tuple[str, int]]) -> Route | None:
    """The route through ``stops`` with the break where it fits and ends the day soonest; ``None`` if nowhere fits."""
    plain = schedule_route(problem, vehicle, stops)
    veh = problem.vehicles[vehicle]
    if veh.break_ is None or not plain.used:
        return plain if _keeps_rules(problem, vehicle, plain) else None
    if _keeps_rules(problem, vehicle, plain):
        return plain  # the day ends before the break window matters
    best: Route | None = None
    for position in range(len(stops) + 1):
        route = schedule_route(problem, vehicle, stops, break_after=position)
        if route.break_ is not None and route.break_.start_s > veh.break_.latest_start_s:
            break
        # Of the places that keep every rule, the one that ends the day first
        # (a break straight after leaving the depot would mean waiting there).
        if _keeps_rules(problem, vehicle, route) and (best is None or route.end_s < best.end_s):
            best = route
    return best


def longest_fitting_prefix(problem: Problem, vehicle: int, stops: Sequence[tuple[str, int]]) -> int:
    """How many of ``stops`` (from the start) a vehicle can do within every rule."""
    lo, hi = 0, len(stops)
    if fitted_route(problem, vehicle, stops) is not None:
        return hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fitted_route(problem, vehicle, stops[:mid]) is not None:
            lo = mid
        else:
            hi = mid - 1
    return lo
