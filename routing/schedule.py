"""Turn sequences of stops into scheduled routes (earliest times) and a :class:`Solution`.

Used to read routes back from engines that report only the order of stops
(PyVRP), and to fit the rules such an engine did not know (breaks, daily
limits) by cutting routes and placing the break.
When the problem makes vehicles tip, a route whose last stop is a bin gets
the day's last tip (at the best site on the way home) written out.

Stops name bins by index; where a bin has alternative locations
(:attr:`~binroute.routing.problem.Bin.locations`) the one it is served at comes from
a ``chosen`` mapping (bin index to location) that travels with the plans. A
bin missing from it is served at its primary ``location``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .cost import with_cost
from .feasibility import explain_unserved, home_via_site, servable
from .problem import Problem
from .solution import BIN, DEPOT, TIP, BreakPlan, Route, Solution, Unserved, Visit

#: Per used vehicle: its index, its stops (``("bin", index)`` or ``("tip", facility index)``) and departure time.
Plans = list[tuple[int, list[tuple[str, int]], int]]
#: Bin index -> the location (matrix index) it is served at, for bins not served at their primary location.
Chosen = Mapping[int, int]


def served_at(problem: Problem, b: int, chosen: Chosen | None) -> int:
    """The location bin ``b`` is served at: ``chosen``'s, else its primary location."""
    location = problem.bins[b].location
    return location if chosen is None else chosen.get(b, location)


def schedule_route(
    problem: Problem,
    vehicle: int,
    stops: Sequence[tuple[str, int]],
    *,
    depart_s: int | None = None,
    break_after: int | None = None,
    chosen: Chosen | None = None,
) -> Route:
    """Schedule ``stops`` (``("bin", index)`` or ``("tip", facility index)``) for one vehicle.

    Service starts as early as windows allow; the vehicle leaves its depot at
    ``depart_s`` (default: as early as its shift and the depot allow). With
    ``break_after=i`` the driver's break is taken after the ``i``-th visit
    (0 = the depot), as soon as its window opens, before driving on. Bins
    are served at their ``chosen`` location (default: their primary one).
    """
    veh = problem.vehicles[vehicle]
    m = problem.matrix(veh)
    dims = len(problem.dimensions)
    start_depot, end_depot = problem.depots[veh.start_depot], problem.depots[veh.end_depot]
    t0 = max(veh.shift.start_s, start_depot.window.start_s) if depart_s is None else depart_s
    visits = [Visit(DEPOT, start_depot.id, start_depot.location, t0, t0, t0, (0,) * dims)]
    seq = list(stops)
    if problem.tips and seq and seq[-1][0] == BIN:
        site = home_via_site(problem, veh)[2][served_at(problem, seq[-1][1], chosen), veh.end_depot]
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
            loc, ident, service = served_at(problem, ref, chosen), item.id, item.service_s
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
    return Route(veh.id, tuple(visits), brk, distance)


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


def fitted_route(
    problem: Problem, vehicle: int, stops: Sequence[tuple[str, int]], *, chosen: Chosen | None = None
) -> Route | None:
    """The route through ``stops`` with the break where it fits and ends the day soonest; ``None`` if nowhere fits."""
    plain = schedule_route(problem, vehicle, stops, chosen=chosen)
    veh = problem.vehicles[vehicle]
    if veh.break_ is None or not plain.used:
        return plain if _keeps_rules(problem, vehicle, plain) else None
    if _keeps_rules(problem, vehicle, plain):
        return plain  # the day ends before the break window matters
    best: Route | None = None
    for position in range(len(stops) + 1):
        route = schedule_route(problem, vehicle, stops, break_after=position, chosen=chosen)
        if route.break_ is not None and route.break_.start_s > veh.break_.latest_start_s:
            break
        # Of the places that keep every rule, the one that ends the day first
        # (a break straight after leaving the depot would mean waiting there).
        if _keeps_rules(problem, vehicle, route) and (best is None or route.end_s < best.end_s):
            best = route
    return best


def longest_fitting_prefix(
    problem: Problem, vehicle: int, stops: Sequence[tuple[str, int]], *, chosen: Chosen | None = None
) -> int:
    """How many of ``stops`` (from the start) a vehicle can do within every rule."""
    lo, hi = 0, len(stops)
    if fitted_route(problem, vehicle, stops, chosen=chosen) is not None:
        return hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fitted_route(problem, vehicle, stops[:mid], chosen=chosen) is not None:
            lo = mid
        else:
            hi = mid - 1
    return lo


#: How many stops :func:`fitting_stops` may leave out of a route before it cuts the rest.
FIT_SKIPS = 4


def fitting_stops(
    problem: Problem,
    vehicle: int,
    stops: Sequence[tuple[str, int]],
    *,
    chosen: Chosen | None = None,
    skips: int = FIT_SKIPS,
) -> list[int]:
    """The positions of ``stops`` a vehicle can do, in order, within every rule.

    The longest fitting prefix, except that the first stop that does not fit is left
    out and the rest tried again, up to ``skips`` times: one bin whose window a late
    crew has missed then costs that bin, not every stop after it.
    """
    kept = list(range(len(stops)))
    for attempt in range(skips + 1):
        n = longest_fitting_prefix(problem, vehicle, [stops[i] for i in kept], chosen=chosen)
        if n == len(kept) or attempt == skips:
            break
        del kept[n]
    return kept[:n]


def solution_from_plans(
    problem: Problem,
    plans: Sequence[tuple[int, list[tuple[str, int]], int]],
    *,
    engine: str,
    runtime_s: float,
    fit_rules: bool = False,
    details: dict[str, object] | None = None,
    chosen: Chosen | None = None,
) -> Solution:
    """Schedule stop orders into routes, explain what was left, and cost the plan.

    With ``fit_rules`` each route is cut to its longest prefix that keeps
    every rule the engine did not know, and the driver's break is placed
    (:func:`fitted_route`); the bins cut off are unserved. The plan's
    ``objective`` is :func:`binroute.routing.cost.plan_cost`. Bins are served at
    their ``chosen`` location (default: their primary one).
    """
    allowed, pre_unserved = servable(problem)
    by_vehicle = {v: (stops, start) for v, stops, start in plans}
    routes, served = [], set()
    for v in range(len(problem.vehicles)):
        stops, start = by_vehicle.get(v, ([], None))
        if fit_rules:
            stops = stops[: longest_fitting_prefix(problem, v, stops, chosen=chosen)]
            route = fitted_route(problem, v, stops, chosen=chosen)
            assert route is not None  # a prefix that fits is scheduled by construction
        else:
            route = schedule_route(problem, v, stops, depart_s=start, chosen=chosen)
        routes.append(route)
        served |= {ref for kind, ref in stops if kind == BIN}
    unserved = list(pre_unserved)
    for b, item in enumerate(problem.bins):
        if b in allowed and b not in served:
            unserved.append(Unserved(item.id, explain_unserved(problem, item, allowed[b]), item.required))
    solution = Solution(tuple(routes), tuple(unserved), 0.0, "success", runtime_s, engine, details or {})
    return with_cost(problem, solution)
