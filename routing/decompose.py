"""Very large days: solve regions on both cores, then search across their borders.

Above :data:`DECOMPOSE_MIN_BINS` bins, ``solve(engine="auto")`` splits the
day into regions of about :data:`REGION_BINS` bins (:func:`regions`: k-medoids
on the travel-time matrix, so regions follow the roads, seeded by the bins
farthest from each other), gives each region a share of the fleet in
proportion to its work, taking the lorries whose depots lie nearest
(:func:`assign_vehicles`), and solves the regions as separate problems, half
of them in the helper process. Each region shares the day's matrices (no
copy; PyVRP gets only the region's locations). The regions' routes are then
merged into one plan of the whole day, and with the time left
(:data:`BORDER_SHARE` of the limit) PyVRP searches on from that plan over
the whole day, so bins near a border can move to a neighbouring region's
lorry and bins a region could not fit go to lorries with room. Rules PyVRP
cannot express are kept as in the ``auto`` pipeline: routes are cut to what
keeps every rule and breaks are placed, then spare lorries take what was
left. The better of the merged plan and the searched one is kept.

Regions are compact by construction, which is what makes the rounds compact
(low territory overlap) on a big day. The whole-day search needs PyVRP's
matrices for every location in use; above :data:`BORDER_MAX_LOCATIONS` it
is skipped (memory) and the merged plan is the result.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pyvrp
from pyvrp import Activity, ActivityType

from .cost import rank
from .feasibility import servable
from .problem import Problem
from .pyvrp_engine import Found, _Mapping, search_on, to_pyvrp, unsupported
from .schedule import Plans, solution_from_plans
from .solution import BIN, TIP, Solution
from .stop import Budget, Deadline

#: Days with more bins than this are decomposed by ``solve(engine="auto")``.
DECOMPOSE_MIN_BINS = 1500
#: Target bins per region.
REGION_BINS = 600
#: Share of the time limit kept for the search across borders on the whole day.
BORDER_SHARE = 0.25
#: Locations in use above which the whole-day search is skipped (its int64 matrices).
BORDER_MAX_LOCATIONS = 12_000
#: Rounds of k-medoids.
MEDOID_ROUNDS = 4


def regions(problem: Problem, k: int) -> list[list[int]]:
    """Bin indices of ``k`` compact regions (k-medoids on round-trip travel time between primary locations)."""
    n = len(problem.bins)
    k = max(1, min(k, n))
    t = problem.matrices[next(iter(problem.matrices))].time_s
    loc = np.array([b.location for b in problem.bins], dtype=np.int64)

    def far(centres: np.ndarray) -> np.ndarray:
        """(bins, centres) round-trip times, in int64."""
        cl = loc[centres]
        return t[np.ix_(loc, cl)].astype(np.int64) + t[np.ix_(cl, loc)].T.astype(np.int64)

    depot = problem.depots[0].location
    first = int(np.argmax(t[depot, loc].astype(np.int64) + t[loc, depot]))
    centres = [first]
    nearest = far(np.array(centres))[:, 0]
    while len(centres) < k:
        nxt = int(np.argmax(nearest))
        centres.append(nxt)
        nearest = np.minimum(nearest, far(np.array([nxt]))[:, 0])
    cs = np.array(centres)
    for _ in range(MEDOID_ROUNDS):
        label = np.argmin(far(cs), axis=1)
        new = cs.copy()
        for r in range(k):
            members = np.flatnonzero(label == r)
            if len(members):
                lm = loc[members]
                within = t[np.ix_(lm, lm)].astype(np.int64)
                new[r] = members[int(np.argmin(within.sum(axis=0) + within.sum(axis=1)))]
        if np.array_equal(new, cs):
            break
        cs = new
    label = np.argmin(far(cs), axis=1)
    return [members.tolist() for r in range(k) if len(members := np.flatnonzero(label == r))]


def assign_vehicles(problem: Problem, parts: list[list[int]]) -> list[list[int]]:
    """Vehicle indices per region: a share of the fleet by work, the lorries based nearest first."""
    t = problem.matrices[next(iter(problem.matrices))].time_s
    work = np.array([sum(problem.bins[b].service_s + 60 for b in part) for part in parts], dtype=float)
    fleet = len(problem.vehicles)
    quota = np.floor(work / work.sum() * fleet).astype(int)
    quota = np.maximum(quota, 1 if fleet >= len(parts) else 0)
    while quota.sum() < fleet:
        quota[int(np.argmax(work / work.sum() * fleet - quota))] += 1
    while quota.sum() > fleet:
        quota[int(np.argmax(quota))] -= 1
    centre = [problem.bins[part[len(part) // 2]].location for part in parts]
    free = set(range(fleet))
    out: list[list[int]] = [[] for _ in parts]
    for r in np.argsort(-quota, kind="stable"):
        home = {v: int(t[problem.depots[problem.vehicles[v].start_depot].location, centre[r]]) for v in free}
        out[r] = sorted(sorted(free, key=lambda v: (home[v], v))[: quota[r]])
        free -= set(out[r])
    return out


def subproblems(problem: Problem, k: int) -> list[Problem]:
    """The day split into ``k`` regions, each with its share of the fleet (regions without a lorry are merged)."""
    parts = regions(problem, k)
    fleets = assign_vehicles(problem, parts)
    keep = [(p, f) for p, f in zip(parts, fleets, strict=True) if f]
    for part, fleet in zip(parts, fleets, strict=True):
        if not fleet and keep:  # more regions than lorries: the nearest kept region takes the bins
            keep[0] = (keep[0][0] + part, keep[0][1])
    return [
        dataclasses.replace(
            problem,
            bins=tuple(problem.bins[b] for b in sorted(part)),
            vehicles=tuple(problem.vehicles[v] for v in fleet),
        )
        for part, fleet in keep
    ]


def merged_plans(problem: Problem, parts: list[Solution]) -> tuple[Plans, dict[int, int]]:
    """The regions' routes as plans of the whole day (stops, departure) and where each bin was served."""
    vehicle_at = {v.id: i for i, v in enumerate(problem.vehicles)}
    bin_at = {b.id: i for i, b in enumerate(problem.bins)}
    site_at = {f.id: i for i, f in enumerate(problem.facilities)}
    plans: Plans = []
    chosen: dict[int, int] = {}
    for part in parts:
        for route in part.routes:
            if not route.used:
                continue
            stops: list[tuple[str, int]] = []
            for visit in route.visits:
                if visit.kind == BIN:
                    stops.append((BIN, bin_at[visit.id]))
                    chosen[bin_at[visit.id]] = visit.location
                elif visit.kind == TIP:
                    stops.append((TIP, site_at[visit.id]))
            while stops and stops[-1][0] == TIP:  # the last tip is part of the drive home
                stops.pop()
            plans.append((vehicle_at[route.vehicle_id], stops, route.start_s))
    return plans, chosen


def _start_solution(mapping: _Mapping, problem: Problem, plans: Plans, chosen: dict[int, int]) -> pyvrp.Solution:
    """PyVRP's solution for the merged plans (clients at the chosen locations, tips as reloads)."""
    client = {(b, loc): c for c, (b, loc) in enumerate(zip(mapping.client_bin, mapping.client_location, strict=True))}
    type_of = {v: k for k, members in enumerate(mapping.type_vehicles) for v in members}
    routes = []
    for v, stops, _ in plans:
        acts = []
        for kind, ref in stops:
            if kind == BIN:
                key = (ref, chosen.get(ref, problem.bins[ref].location))
                if key in client:
                    acts.append(Activity(ActivityType.CLIENT, client[key]))
            else:
                acts.append(Activity(ActivityType.DEPOT, mapping.n_garages + ref))
        if any(a.is_client() for a in acts):
            routes.append(pyvrp.Route(mapping.data, acts, type_of[v]))
    return pyvrp.Solution(mapping.data, routes)


def across_borders(
    problem: Problem, merged: Solution, plans: Plans, chosen: dict[int, int], budget: Budget, seed: int
) -> Solution:
    """PyVRP's search on the whole day from the merged plan, until ``budget`` is spent; the better plan."""
    missing = unsupported(problem)
    allowed, _ = servable(problem)
    in_use = len({loc for b in allowed for loc in problem.bins[b].locations})
    if in_use > BORDER_MAX_LOCATIONS or (budget.timed and budget.deadline.left() < 1.0):
        return merged
    mapping = to_pyvrp(problem, relax_breaks=bool(missing))
    try:
        start = _start_solution(mapping, problem, plans, chosen)
    except (RuntimeError, ValueError, IndexError, KeyError):
        return merged
    found = Found(0.0, plans, mapping, start, whole_day=False, chosen=chosen)
    on = search_on(problem, found, budget, seed=seed)
    searched = solution_from_plans(
        problem, on.plans, engine="decomposed+pyvrp", runtime_s=0.0, fit_rules=bool(missing), chosen=on.chosen
    )
    searched = dataclasses.replace(searched, details=dict(merged.details, across_borders=True))
    return searched if rank(problem, searched) <= rank(problem, merged) else merged


def region_count(problem: Problem) -> int:
    """How many regions a day of this size is split into."""
    return max(2, math.ceil(len(problem.bins) / REGION_BINS))


def border_budget(budget: Budget) -> tuple[Budget, Budget]:
    """The budget split into the regions' part and the search across borders."""
    if not budget.timed:
        return budget, budget
    total = budget.deadline.total_s
    return budget.until(Deadline.after(max(0.0, budget.deadline.left() - BORDER_SHARE * total))), budget
