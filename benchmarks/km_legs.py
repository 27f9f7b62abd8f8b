"""Where a plan's km go: per leg type, and what the legs could be at their shortest.

Used by :mod:`benchmarks.big_day`. A route is depot, bins and tips, depot;
its legs are of five types:

* ``out``: depot to the first bin;
* ``collect``: bin to bin;
* ``to_tip``: bin to a site, for a tip in the middle of the day;
* ``from_tip``: site to the next bin;
* ``home``: last bin to the depot (through the day's last tip when vehicles tip).

Two references, cheap and sound:

* ``forced``: the depot and tip legs each route would drive if it could
  leave and enter its own rounds at their best bin (per route: the shortest
  depot-to-bin of its bins, the shortest way home through a site from its
  bins, and per middle tip the shortest bin-to-site plus site-to-bin of its
  bins). What the depot and tip legs cost beyond that is detour that a
  better order of the same rounds could save.
* ``collect_lower_bound``: a lower bound on the bin-to-bin km of any plan
  with as many trips as this one: every bin but the last of a trip leaves
  for another bin, at least as far as its nearest other bin; so the sum of
  the bins' nearest-neighbour distances, less the largest of them for each
  trip, bounds the collection legs from below.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from routing import Problem, Solution
from routing.feasibility import home_via_site
from routing.solution import BIN, TIP

LEGS = ("out", "collect", "to_tip", "from_tip", "home")
#: Rows of the matrix read at a time for the nearest-neighbour bound.
_BLOCK = 1024


def km_by_leg(problem: Problem, solution: Solution) -> dict[str, float]:
    """The plan's km per leg type (see the module notes), and the count of middle tips; legs sum to the plan's km."""
    metres = dict.fromkeys(LEGS, 0)
    vehicles = {v.id: v for v in problem.vehicles}
    middle_tips = 0
    for route in solution.routes:
        if not route.used:
            continue
        d = problem.matrix(vehicles[route.vehicle_id]).distance
        visits = route.visits
        last_bin = max(i for i, v in enumerate(visits) if v.kind == BIN)
        for i in range(len(visits) - 1):
            a, b = visits[i], visits[i + 1]
            leg = int(d[a.location, b.location])
            if i >= last_bin:
                metres["home"] += leg
            elif i == 0:
                metres["out"] += leg
            elif a.kind == BIN and b.kind == BIN:
                metres["collect"] += leg
            elif b.kind == TIP:
                metres["to_tip"] += leg
                middle_tips += 1
            else:
                metres["from_tip"] += leg
    out = {f"{k}_km": round(v / 1000, 1) for k, v in metres.items()}
    out["middle_tips"] = middle_tips
    return out


def forced_km(problem: Problem, solution: Solution) -> float:
    """The depot and tip legs of every route at their shortest from its own bins (see the module notes)."""
    vehicles = {v.id: v for v in problem.vehicles}
    total = 0
    for route in solution.routes:
        if not route.used:
            continue
        veh = vehicles[route.vehicle_id]
        m = problem.matrix(veh).distance
        locs = np.array([v.location for v in route.visits if v.kind == BIN], dtype=np.int64)
        start = problem.depots[veh.start_depot].location
        total += int(m[start, locs].min())
        if problem.tips:
            _, home_d, _ = home_via_site(problem, veh)
            total += int(home_d[locs, veh.end_depot].min())
            sites = [problem.facilities[f].location for f in problem.facilities_for(veh)]
            trip = min(int(m[locs, s].min()) + int(m[s, locs].min()) for s in sites)
            total += trip * (route.tips - 1)  # the last tip is on the way home
        else:
            total += int(m[locs, problem.depots[veh.end_depot].location].min())
    return round(total / 1000, 1)


def nearest_bin_m(problem: Problem) -> NDArray[np.int64]:
    """Per bin, the distance from it (any of its locations) to the nearest other bin (any of theirs)."""
    d = problem.matrices[problem.vehicles[0].profile].distance
    owner = np.array([b for b, item in enumerate(problem.bins) for _ in item.locations], dtype=np.int64)
    locs = np.array([loc for item in problem.bins for loc in item.locations], dtype=np.int64)
    per_loc = np.empty(len(locs), dtype=np.int64)
    for r in range(0, len(locs), _BLOCK):
        block = d[np.ix_(locs[r : r + _BLOCK], locs)].astype(np.int64)
        block[owner[r : r + _BLOCK, None] == owner[None, :]] = np.iinfo(np.int64).max
        per_loc[r : r + _BLOCK] = block.min(axis=1)
    out = np.full(len(problem.bins), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, owner, per_loc)
    return out


def collect_lower_bound_km(problem: Problem, solution: Solution) -> float:
    """A lower bound on the bin-to-bin km of any plan serving these bins in as many trips (module notes)."""
    served = {b for r in solution.routes for b in r.bins}
    index = [i for i, b in enumerate(problem.bins) if b.id in served]
    if len(index) < 2:
        return 0.0
    nn = np.sort(nearest_bin_m(problem)[index])
    trips = sum(
        a.kind == BIN and b.kind != BIN for r in solution.routes for a, b in zip(r.visits, r.visits[1:], strict=False)
    )
    return round(float(nn[: max(0, len(nn) - trips)].sum()) / 1000, 1)
