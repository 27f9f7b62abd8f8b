"""Where a plan's km go: per leg type, and what the legs could be at their shortest.

Used by :mod:`benchmarks.big_day`. A route is depot, bins and tips, depot;
its legs are of five types:

* ``out``: depot to the first bin;
* ``collect``: bin to bin;
* ``to_tip``: bin to a site, for a tip in the middle of the day;
* ``from_tip``: site to the next bin;
* ``home``: last bin to the depot (through the day's last tip when vehicles tip).

Three references, all sound:

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
* ``assignment_bound``: a lower bound on the *whole* km of any plan serving
  the same bins with as many routes and trips. In any such plan every bin
  has one predecessor (another bin, or the start of a trip: a depot, or a
  site after a tip) and one successor (another bin, or the end of a trip:
  a site for a tip in the day, or home through the site); every leg is
  counted once. Choosing predecessors and successors so that each bin and
  each trip start and end is used once, at least cost, is an assignment
  problem (solved exactly by :func:`scipy.optimize.linear_sum_assignment`)
  whose optimum is at most the plan's km: it drops the rules that trips be
  single chains, that a route's trips be one lorry's, and every time and
  load rule; a bin with several locations may arrive at one and leave from
  another. It is the classic relaxation of the asymmetric travelling
  salesman problem, much tighter on road networks than nearest neighbours
  (a bin cannot be every neighbour's nearest successor), and it needs the
  whole bins × bins matrix: about 8 bytes × bins² of memory.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from binroute.routing import BIN, TIP, Problem, Solution, home_via_site

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


def _leg_m(problem: Problem, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.int64]:
    """Distance from each location in ``rows`` to each in ``cols``, at its shortest over the fleet's profiles."""
    profiles = {v.profile for v in problem.vehicles}
    return np.min([problem.matrices[p].distance[np.ix_(rows, cols)].astype(np.int64) for p in profiles], axis=0)


def assignment_bound_km(problem: Problem, solution: Solution) -> float:
    """A lower bound on the km of any plan serving the same bins in as many routes and trips (module notes)."""
    served = {b for r in solution.routes for b in r.bins}
    items = [b for b in problem.bins if b.id in served]
    n = len(items)
    routes = solution.vehicles_used
    # With sites, every trip ends at one (the last on the way home); without, a route is one trip.
    trips = max(routes, sum(r.tips for r in solution.routes if r.used)) if problem.tips else routes
    if n == 0:
        return 0.0
    width = max(len(b.locations) for b in items)
    # Each bin's locations, the first repeated to a common width (the repeats change no minimum).
    locs = np.array([[*b.locations, *[b.locations[0]] * (width - len(b.locations))] for b in items], dtype=np.int64)
    between = np.full((n, n), np.iinfo(np.int64).max, dtype=np.int64)
    for i in range(width):
        for j in range(width):
            np.minimum(between, _leg_m(problem, locs[:, i], locs[:, j]), out=between)
    flat = locs.ravel()
    depots = np.array(sorted({problem.depots[v.start_depot].location for v in problem.vehicles}), dtype=np.int64)
    out = _leg_m(problem, depots, flat).min(axis=0).reshape(n, width).min(axis=1)
    if problem.tips:
        home = np.min([home_via_site(problem, v)[1][flat, v.end_depot] for v in problem.vehicles], axis=0)
        sites = np.array([f.location for f in problem.facilities], dtype=np.int64)
        to_site = _leg_m(problem, flat, sites).min(axis=1).reshape(n, width).min(axis=1)
        from_site = _leg_m(problem, sites, flat).min(axis=0).reshape(n, width).min(axis=1)
    else:
        ends = np.array(sorted({problem.depots[v.end_depot].location for v in problem.vehicles}), dtype=np.int64)
        home = _leg_m(problem, flat, ends).min(axis=1)
        to_site = from_site = np.zeros(n, dtype=np.int64)  # no tips: no middle trips either
    home = np.asarray(home, dtype=np.int64).reshape(n, width).min(axis=1)
    # Rows: bins, then trip starts (depot ones, then site ones); columns: bins, then trip ends (home, then tips).
    cost = np.full((n + trips, n + trips), np.inf)
    cost[:n, :n] = between
    np.fill_diagonal(cost[:n, :n], np.inf)
    cost[n : n + routes, :n] = out
    cost[n + routes :, :n] = from_site
    cost[:n, n : n + routes] = home[:, None]
    cost[:n, n + routes :] = to_site[:, None]
    del between
    rows, cols = linear_sum_assignment(cost)
    return round(float(cost[rows, cols].sum()) / 1000, 1)
