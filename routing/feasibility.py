"""What a problem allows, independent of any engine.

Which vehicles can serve each bin, why a bin cannot be served, and the drive
home through the best disposal site (the day's last tip), which every engine
folds into the final leg of a route.

A bin with alternative locations (:attr:`~binroute.routing.problem.Bin.locations`)
is servable by a vehicle when any of its locations is, and the reason it was
left is judged at its best location.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from .problem import Bin, Matrix, Problem, Vehicle
from .solution import Unserved


def servable(problem: Problem) -> tuple[dict[int, list[int]], list[Unserved]]:
    """Vehicles allowed for each bin, and the bins no vehicle can serve at all (with why)."""
    allowed: dict[int, list[int]] = {}
    unserved: list[Unserved] = []
    # Vehicles alike in where they start, end and tip reach the same places: one mask per kind.
    kinds = {v: _reach_kind(problem, veh) for v, veh in enumerate(problem.vehicles)}
    masks = {kind: _reachable_locations(problem, *kind) for kind in set(kinds.values())}
    for b, item in enumerate(problem.bins):
        carriers = [v for v, veh in enumerate(problem.vehicles) if item.stream in veh.streams]
        if not carriers:
            unserved.append(Unserved(item.id, f"no vehicle carries stream {item.stream!r}", item.required))
            continue
        reach = [v for v in carriers if any(masks[kinds[v]][loc] for loc in item.locations)]
        if not reach:
            reason = "unreachable on the road graph for every vehicle that carries its stream"
            unserved.append(Unserved(item.id, reason, item.required))
            continue
        fits = [v for v in reach if all(d <= c for d, c in zip(item.demand, problem.vehicles[v].capacity, strict=True))]
        if not fits:
            reason = "its load exceeds the capacity of every vehicle that can reach it"
            unserved.append(Unserved(item.id, reason, item.required))
            continue
        allowed[b] = fits
    return allowed, unserved


def _reach_kind(problem: Problem, vehicle: Vehicle) -> tuple[str, int, int, tuple[int, ...]]:
    """What decides where ``vehicle`` can reach: its profile, its depots and the sites it may tip at."""
    sites = tuple(problem.facilities_for(vehicle)) if problem.tips else ()
    return vehicle.profile, vehicle.start_depot, vehicle.end_depot, sites


def _reachable_locations(
    problem: Problem, profile: str, start_depot: int, end_depot: int, sites: tuple[int, ...]
) -> np.ndarray:
    """Per location, whether a vehicle of this kind can drive there and back home (see :func:`reachable_at`)."""
    m = problem.matrices[profile].time_s
    start = problem.depots[start_depot].location
    end = problem.depots[end_depot].location
    out = m[start, :] < Matrix.UNREACHABLE
    if problem.tips:
        back = np.zeros(problem.n_locations, dtype=bool)
        for f in sites:
            site = problem.facilities[f].location
            if m[site, end] < Matrix.UNREACHABLE:
                back |= m[:, site] < Matrix.UNREACHABLE
    else:
        back = m[:, end] < Matrix.UNREACHABLE
    return np.asarray(out & back)


def reachable(problem: Problem, vehicle: Vehicle, item: Bin) -> bool:
    """Whether ``vehicle`` can drive to the bin (at any of its locations) and back home.

    Back home means through a site when it must tip.
    """
    return any(reachable_at(problem, vehicle, loc) for loc in item.locations)


def reachable_at(problem: Problem, vehicle: Vehicle, location: int) -> bool:
    """Whether ``vehicle`` can drive to ``location`` and back home (through a site when it must tip)."""
    m = problem.matrix(vehicle).time_s
    start = problem.depots[vehicle.start_depot].location
    end = problem.depots[vehicle.end_depot].location
    out = m[start, location] < Matrix.UNREACHABLE
    if problem.tips:
        back = any(
            m[location, problem.facilities[f].location] < Matrix.UNREACHABLE
            and m[problem.facilities[f].location, end] < Matrix.UNREACHABLE
            for f in problem.facilities_for(vehicle)
        )
    else:
        back = m[location, end] < Matrix.UNREACHABLE
    return bool(out and back)


def home_via_site(problem: Problem, veh: Vehicle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per location and depot: time (with tipping) and distance home through the best site, and that site.

    Arrays are ``(n_locations, n_depots)``; the site is a facility index.
    """
    return _home_via_site(problem, veh.profile, tuple(problem.facilities_for(veh)))


@lru_cache(maxsize=64)
def _home_via_site(problem: Problem, profile: str, sites: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = problem.matrices[profile]
    depots = np.array([d.location for d in problem.depots])
    locs = np.array([problem.facilities[f].location for f in sites])
    svc = np.array([problem.facilities[f].service_s for f in sites])
    # In int64: the matrices are int32, and two UNREACHABLE legs overflow it.
    to_site_t, to_site_d = m.time_s[:, locs].astype(np.int64), m.distance[:, locs].astype(np.int64)
    t = to_site_t[:, :, None] + svc[None, :, None] + m.time_s[np.ix_(locs, depots)][None, :, :]
    d = to_site_d[:, :, None] + m.distance[np.ix_(locs, depots)][None, :, :]
    best = np.argmin(t, axis=1)
    time = np.take_along_axis(t, best[:, None, :], axis=1)[:, 0, :]
    dist = np.take_along_axis(d, best[:, None, :], axis=1)[:, 0, :]
    site = np.asarray(sites)[best]
    return np.minimum(time, Matrix.UNREACHABLE), np.minimum(dist, Matrix.UNREACHABLE), site


#: Why a required bin is left that a crew could have served, had there been time or room (see :mod:`.shortfall`).
FLEET_FULL = "the fleet ran out of capacity or shift time: add a vehicle or a longer shift"


def explain_unserved(problem: Problem, item: Bin, allowed: list[int]) -> str:
    """Why a bin an engine dropped could not (or should not) be collected (judged at its best location)."""
    if not item.required:
        return "not worth its prize: collecting it costs more than it saves"
    window = item.window
    for v, loc in itertools.product(allowed, item.locations):
        veh = problem.vehicles[v]
        m = problem.matrix(veh).time_s
        depot = problem.depots[veh.start_depot]
        earliest = max(veh.shift.start_s, depot.window.start_s) + int(m[depot.location, loc])
        start = max(earliest, window.start_s if window else 0)
        if window is not None and start > window.end_s:
            continue
        finish = start + item.service_s
        if problem.tips:
            back = int(home_via_site(problem, veh)[0][loc, veh.end_depot])
        else:
            back = int(m[loc, problem.depots[veh.end_depot].location])
        if finish + back <= veh.shift.end_s:
            return FLEET_FULL
    if window is not None:
        return "no vehicle can reach it inside its time window within its shift"
    return "no vehicle can reach it and get back within its shift"
