"""An independent feasibility checker for solutions.

It shares no code with the solvers: it replays every route against the
problem's matrices and rules and lists what is wrong, in words.

A bin with alternative locations must be served at one of
:attr:`~binroute.routing.problem.Bin.locations`, once: every rule is replayed at the
location the visit reports.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .problem import Problem
from .solution import BIN, DEPOT, TIP, Route, Solution

TOLERANCE_S = 1


@dataclass(frozen=True)
class CheckReport:
    violations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def __str__(self) -> str:
        return "feasible" if self.ok else "\n".join(self.violations)


def check_solution(problem: Problem, solution: Solution, *, require_all: bool = False) -> CheckReport:
    """Check ``solution`` against every hard rule of ``problem``.

    Parameters
    ----------
    require_all
        Also report required bins that were left unserved (a feasible but
        incomplete plan otherwise passes, with those bins in ``unserved``).
    """
    out: list[str] = []
    bins = {b.id: b for b in problem.bins}
    vehicles = {v.id: v for v in problem.vehicles}
    facilities = {f.id: f for f in problem.facilities}
    seen: dict[str, str] = {}
    for route in solution.routes:
        veh = vehicles.get(route.vehicle_id)
        if veh is None:
            out.append(f"route for unknown vehicle {route.vehicle_id}")
            continue
        for visit in route.visits:
            if visit.kind == BIN:
                where = f"{veh.id} at location {visit.location}"
                if visit.id not in bins:
                    out.append(f"{veh.id}: unknown bin {visit.id}")
                elif visit.id in seen:
                    out.append(f"bin {visit.id} served twice ({seen[visit.id]} and {where})")
                else:
                    seen[visit.id] = where
        out.extend(_check_route(problem, route, bins, facilities))
    unserved = {u.bin_id for u in solution.unserved}
    for item in problem.bins:
        if item.id in seen and item.id in unserved:
            out.append(f"bin {item.id} is both served and reported unserved")
        if item.id not in seen and item.id not in unserved:
            out.append(f"bin {item.id} is neither served nor reported unserved")
        if require_all and item.required and item.id not in seen:
            out.append(f"required bin {item.id} is not served")
    return CheckReport(tuple(out))


def _check_route(problem: Problem, route: Route, bins: dict, facilities: dict) -> list[str]:
    out: list[str] = []
    veh = next(v for v in problem.vehicles if v.id == route.vehicle_id)
    m = problem.matrix(veh)
    name = veh.id
    visits = route.visits
    if len(visits) < 2 or visits[0].kind != DEPOT or visits[-1].kind != DEPOT:
        return [f"{name}: route must start and end at a depot"]
    if visits[0].id != problem.depots[veh.start_depot].id or visits[-1].id != problem.depots[veh.end_depot].id:
        out.append(f"{name}: route does not start and end at the vehicle's own depots")
    if not route.used:
        return out
    start_depot = problem.depots[veh.start_depot]
    if visits[0].departure_s < max(veh.shift.start_s, start_depot.window.start_s) - TOLERANCE_S:
        out.append(f"{name}: leaves the depot at {visits[0].departure_s} before the shift starts")
    end = visits[-1].arrival_s
    if end > veh.shift.end_s + TOLERANCE_S:
        out.append(f"{name}: back at {end}, after the shift ends at {veh.shift.end_s}")
    if veh.max_duration_s is not None and end - visits[0].departure_s > veh.max_duration_s + TOLERANCE_S:
        out.append(f"{name}: works {end - visits[0].departure_s} s, over the {veh.max_duration_s} s limit")
    dims = len(problem.dimensions)
    load = [0] * dims
    day_load = [0] * dims
    lifts = 0
    distance = 0
    brk = route.break_
    break_used = False
    if veh.break_ is not None and brk is not None:
        b = veh.break_
        if not b.earliest_start_s - TOLERANCE_S <= brk.start_s <= b.latest_start_s + TOLERANCE_S:
            out.append(f"{name}: break at {brk.start_s} outside {b.earliest_start_s}..{b.latest_start_s}")
        if brk.duration_s < b.duration_s:
            out.append(f"{name}: break of {brk.duration_s} s is shorter than {b.duration_s} s")
    for prev, cur in itertools.pairwise(visits):
        travel = int(m.time_s[prev.location, cur.location])
        distance += int(m.distance[prev.location, cur.location])
        if cur.departure_s < cur.start_s or cur.start_s < cur.arrival_s:
            out.append(f"{name}: {cur.id} has arrival, service start and departure out of order")
        gap = cur.start_s - prev.departure_s
        needed = travel
        fits_break = brk is not None and prev.departure_s <= brk.start_s and brk.start_s + brk.duration_s <= cur.start_s
        if fits_break and brk is not None and not break_used:
            needed += brk.duration_s
            break_used = True
        if gap < needed - TOLERANCE_S:
            out.append(f"{name}: only {gap} s from {prev.id} to {cur.id}, the drive needs {needed} s")
        if cur.kind == BIN:
            item = bins.get(cur.id)
            if item is None:
                continue
            if cur.location not in item.locations:
                out.append(f"{name}: serves {item.id} at location {cur.location}, not one of its {item.locations}")
            if item.stream not in veh.streams:
                out.append(f"{name}: collects {item.id} of stream {item.stream!r} it cannot carry")
            if cur.departure_s - cur.start_s < item.service_s:
                out.append(f"{name}: service at {item.id} shorter than {item.service_s} s")
            w = item.window
            if w is not None and not (w.start_s <= cur.start_s <= w.end_s):
                out.append(f"{name}: serves {item.id} at {cur.start_s}, outside its window {w.start_s}..{w.end_s}")
            load = [a + b for a, b in zip(load, item.demand, strict=True)]
            day_load = [a + b for a, b in zip(day_load, item.demand, strict=True)]
            lifts += 1
            for d in range(dims):
                if load[d] > veh.capacity[d]:
                    unit = problem.dimensions[d]
                    out.append(f"{name}: load {load[d]} {unit} after {item.id} exceeds capacity {veh.capacity[d]}")
        elif cur.kind == TIP:
            fac = facilities.get(cur.id)
            if fac is None:
                out.append(f"{name}: tips at unknown site {cur.id}")
                continue
            if not veh.streams <= fac.streams:
                out.append(f"{name}: tips at {fac.id}, which does not accept {sorted(veh.streams - fac.streams)}")
            if cur.departure_s - cur.start_s < fac.service_s:
                out.append(f"{name}: tipping at {fac.id} shorter than {fac.service_s} s")
            if cur.start_s < fac.window.start_s or cur.departure_s > fac.window.end_s + TOLERANCE_S:
                out.append(f"{name}: tips at {fac.id} at {cur.start_s}, outside its opening hours")
            load = [0] * dims
        if tuple(load) != tuple(cur.load_after):
            out.append(f"{name}: reported load after {cur.id} is {cur.load_after}, replay gives {tuple(load)}")
    if brk is None and veh.break_ is not None:
        # A break may be left out only when the working day never reaches its window.
        if (
            visits[0].departure_s <= veh.break_.latest_start_s
            and end >= veh.break_.earliest_start_s + veh.break_.duration_s
        ):
            out.append(f"{name}: no break, though the shift covers the break window")
    elif brk is not None and not break_used and visits[0].departure_s < brk.start_s < end:
        out.append(f"{name}: break at {brk.start_s} overlaps a stop")
    if problem.tips and any(x > 0 for x in load):
        out.append(f"{name}: returns to the depot with {load} on board (must tip first)")
    if veh.max_lifts is not None and lifts > veh.max_lifts:
        out.append(f"{name}: {lifts} lifts, over the limit of {veh.max_lifts}")
    if veh.max_load_per_day is not None:
        for d in range(dims):
            if day_load[d] > veh.max_load_per_day[d]:
                out.append(
                    f"{name}: collects {day_load[d]} {problem.dimensions[d]} in the day, over {veh.max_load_per_day[d]}"
                )
    if not problem.tips and visits[-1].kind == DEPOT and any(v.kind == TIP for v in visits):
        out.append(f"{name}: tips although the problem has no disposal sites")
    if veh.max_distance is not None and distance > veh.max_distance:
        out.append(f"{name}: drives {distance}, over its range of {veh.max_distance}")
    if distance != route.distance:
        out.append(f"{name}: reported distance {route.distance}, replay gives {distance}")
    return out
