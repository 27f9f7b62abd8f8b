"""Tips put into a fixed order of bins, where they cost least.

Used for PyVRP's whole-day formulation (:func:`binroute.routing.engines.pyvrp.to_pyvrp`
with ``whole_day``), which plans each lorry's day as one trip and leaves the
trips to the disposal sites out of the search. Bins with alternative
locations are placed at the location the search chose for them (``chosen``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..problem import Problem
from ..schedule import Chosen, served_at
from ..solution import BIN, TIP


def insert_tips(
    problem: Problem, vehicle: int, bins: Sequence[int], *, chosen: Chosen | None = None
) -> list[tuple[str, int]]:
    """Stops for ``bins`` in this order, with tips where the trips fit ``vehicle`` at least cost.

    Each tip goes between two bins, at the site that adds the least distance
    and time; the day's last tip is the drive home's, as everywhere. An exact
    shortest-path split of the fixed order (as in route-first, cluster-second
    heuristics): O(number of bins × bins per trip). Bins are at their
    ``chosen`` location (default: their primary one).
    """
    stops: list[tuple[str, int]] = [(BIN, b) for b in bins]
    veh = problem.vehicles[vehicle]
    if not problem.tips or len(bins) < 2:
        return stops
    m = problem.matrix(veh)
    sites = problem.facilities_for(veh)
    at = np.array([served_at(problem, b, chosen) for b in bins])
    site_at = np.array([problem.facilities[f].location for f in sites])
    service = np.array([problem.facilities[f].service_s for f in sites])
    here, there = at[:-1], at[1:]
    # In int64: the matrices are int32, and sums of unreachable legs overflow it.
    extra_m = (
        m.distance[here][:, site_at].astype(np.int64)
        + m.distance[site_at][:, there].T
        - m.distance[here, there][:, None]
    )
    extra_s = (
        m.time_s[here][:, site_at].astype(np.int64)
        + service
        + m.time_s[site_at][:, there].T
        - m.time_s[here, there][:, None]
    )
    per_m, per_s = veh.cost_per_distance, veh.cost_per_hour / 3600
    if per_m == 0 and per_s == 0:
        per_m = 1.0
    extra = extra_m * per_m + extra_s * per_s
    site_after, detour = extra.argmin(axis=1), extra.min(axis=1)
    demand = [problem.bins[b].demand for b in bins]
    n, inf = len(bins), math.inf
    # tipped[j]: least cost of the bins up to j with a tip straight after j.
    tipped, came_from = [inf] * n, [-1] * n
    finish, finish_from = inf, -1
    for first in range(n):  # a trip that starts with bins[first]
        base = 0.0 if first == 0 else tipped[first - 1]
        if base == inf:
            continue
        load = [0] * len(veh.capacity)
        for j in range(first, n):
            load = [a + b for a, b in zip(load, demand[j], strict=True)]
            if any(a > c for a, c in zip(load, veh.capacity, strict=True)):
                break
            if j == n - 1:
                if base < finish:
                    finish, finish_from = base, first
            elif base + detour[j] < tipped[j]:
                tipped[j], came_from[j] = base + float(detour[j]), first
    if finish == inf:
        return stops  # some bin alone is over capacity; the rules check reports it
    after: dict[int, int] = {}
    j = finish_from - 1
    while j >= 0:
        after[j] = sites[int(site_after[j])]
        j = came_from[j] - 1
    out: list[tuple[str, int]] = []
    for k, b in enumerate(bins):
        out.append((BIN, b))
        if k in after:
            out.append((TIP, after[k]))
    return out
