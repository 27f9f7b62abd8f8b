"""Very large days: one district per crew, routed on both cores, then improved across the borders.

Above :data:`DECOMPOSE_MIN_BINS` bins, ``solve(engine="auto")`` clusters
first and routes second: :func:`binroute.routing.decompose.districts.districts` gives each
lorry a compact district of about a day's work (capacitated k-medoids on
the travel-time matrix, lorries matched to districts by their depot), and
each district is solved as its own one-lorry problem, half of them in the
helper process. A district gets an equal share of the time left, but at
most :data:`DISTRICT_S_PER_BIN` seconds per bin (a one-lorry day of a
hundred-odd bins settles within seconds). Each district is a problem of
its own (:class:`Part`) whose matrices hold only its locations (depots,
sites, its bins'): small copies that travel to the helper process in its
job, instead of the helper mapping the whole day's matrices and touching
pages all over them. The routes are then merged into one plan of the whole
day, every location mapped back to the day's.

When that plan leaves required bins (a district was more than its lorry
could do), PyVRP searches on from it over the whole day, each district's
inner bins kept with its lorry, until the deadline
or until :data:`BORDER_PATIENCE` iterations bring no improvement, so those
bins can go to a neighbour's lorry with room. Rules PyVRP cannot express
are kept as in the ``auto`` pipeline: routes are cut to what keeps every
rule and breaks are placed, then spare lorries take what was left. The
better of the merged plan and the searched one is kept. The search is not
run on a plan that serves every required bin: it saves a few per cent of
the distance at best (by emptying a lorry and spreading its bins over its
neighbours), and its rounds are no longer districts (measured on a
2,000-bin Milan day: 4% fewer km, territory overlap 0.12 to 0.47).

Across the borders of districts that all fit, ``solve`` then re-solves
neighbouring rounds two at a time, only bins near their shared border free
to change lorry (:mod:`binroute.routing.decompose.borders`), until a round of such pairs saves
little or the time is spent: the rounds stay districts (measured on a
5,000-bin Milan day: 4% fewer km, overlap 0.20 to 0.17).

Districts are what make the rounds compact (low territory overlap, see
:mod:`binroute.geo.territory`): a search over many lorries at once, even from
compact regions, interleaves their rounds. The whole-day search needs
PyVRP's matrices for every location in use; above
:data:`BORDER_MAX_LOCATIONS` it is skipped (memory) and the merged plan is
the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyvrp
from numpy.typing import NDArray
from pyvrp import Activity, ActivityType

from ..cost import rank
from ..deadline import Budget, Deadline
from ..engines.pyvrp import Found, _Mapping, search_on, to_pyvrp, unsupported
from ..feasibility import servable
from ..problem import Matrix, Problem
from ..schedule import Plans, solution_from_plans
from ..solution import BIN, TIP, Solution
from .districts import districts

#: Days with more bins than this are decomposed by ``solve(engine="auto")``.
DECOMPOSE_MIN_BINS = 1500
#: Most seconds per bin a district's search may take.
DISTRICT_S_PER_BIN = 0.05
#: Share of the time limit kept for the search across borders on the whole day.
BORDER_SHARE = 0.25
#: Iterations without a better plan after which the search across borders stops.
BORDER_PATIENCE = 2000
#: Locations in use above which the whole-day search is skipped (its int64 matrices).
BORDER_MAX_LOCATIONS = 12_000


@dataclass(frozen=True)
class Part:
    """One district as a problem of its own, and where its locations are in the day's matrices.

    ``problem`` holds only the district's locations (depots, sites, its
    bins'), so its matrices are small copies: a helper process gets them in
    its job instead of mapping the whole day's, and nothing in it scans the
    day's matrices again. ``locations[k]`` is the day's index of its
    location ``k``.
    """

    problem: Problem
    locations: NDArray[np.int64]


def restricted(problem: Problem, bins: Sequence[int], vehicles: Sequence[int]) -> Part:
    """``problem`` cut to ``bins`` and ``vehicles`` (indices), with matrices of only the locations they use."""
    used = np.unique(
        np.array(
            [d.location for d in problem.depots]
            + [f.location for f in problem.facilities]
            + [loc for b in bins for loc in problem.bins[b].locations],
            dtype=np.int64,
        )
    )
    at = {int(loc): k for k, loc in enumerate(used)}
    pick = np.ix_(used, used)
    part = dataclasses.replace(
        problem,
        matrices={name: Matrix(m.time_s[pick], m.distance[pick]) for name, m in problem.matrices.items()},
        depots=tuple(dataclasses.replace(d, location=at[d.location]) for d in problem.depots),
        facilities=tuple(dataclasses.replace(f, location=at[f.location]) for f in problem.facilities),
        bins=tuple(
            dataclasses.replace(
                problem.bins[b],
                location=at[problem.bins[b].location],
                alternatives=tuple(at[a] for a in problem.bins[b].alternatives),
            )
            for b in sorted(bins)
        ),
        vehicles=tuple(problem.vehicles[v] for v in vehicles),
        positions=problem.positions[used] if problem.positions is not None else None,
    )
    return Part(part, used)


def subproblems(problem: Problem, usual: Mapping[int, int] | None = None) -> list[Part]:
    """The day as one problem per district (:func:`.districts.districts`): its bins and its one lorry."""
    return [restricted(problem, d.bins, [d.vehicle]) for d in districts(problem, usual)]


def crews_share_work(problem: Problem) -> bool:
    """Whether two or more lorries carry a stream some bin of the day is in (the day then has districts)."""
    streams = {b.stream for b in problem.bins}
    return any(sum(s in v.streams for v in problem.vehicles) >= 2 for s in streams)


def plans_of(problem: Problem, solution: Solution, at: NDArray[np.int64] | None = None) -> tuple[Plans, dict[int, int]]:
    """``solution``'s used routes as plans of ``problem`` (vehicle, stops, departure) and where each bin was served.

    Lorries, bins and sites are matched by id, so ``solution`` may be a
    part's; ``at`` maps its locations to the day's (a part's ``locations``).
    """
    vehicle_at = {v.id: i for i, v in enumerate(problem.vehicles)}
    bin_at = {b.id: i for i, b in enumerate(problem.bins)}
    site_at = {f.id: i for i, f in enumerate(problem.facilities)}
    plans: Plans = []
    chosen: dict[int, int] = {}
    for route in solution.routes:
        if not route.used:
            continue
        stops: list[tuple[str, int]] = []
        for visit in route.visits:
            if visit.kind == BIN:
                stops.append((BIN, bin_at[visit.id]))
                chosen[bin_at[visit.id]] = int(at[visit.location]) if at is not None else visit.location
            elif visit.kind == TIP:
                stops.append((TIP, site_at[visit.id]))
        while stops and stops[-1][0] == TIP:  # the last tip is part of the drive home
            stops.pop()
        plans.append((vehicle_at[route.vehicle_id], stops, route.start_s))
    return plans, chosen


def merged_plans(problem: Problem, parts: Sequence[Part], solved: Sequence[Solution]) -> tuple[Plans, dict[int, int]]:
    """The districts' routes as plans of the whole day (stops, departure) and where each bin was served."""
    plans: Plans = []
    chosen: dict[int, int] = {}
    for part, solution in zip(parts, solved, strict=True):
        mine, where = plans_of(problem, solution, part.locations)
        plans += mine
        chosen |= where
    return plans, chosen


def start_solution(mapping: _Mapping, problem: Problem, plans: Plans, chosen: dict[int, int]) -> pyvrp.Solution:
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
    """PyVRP's search on the whole day from the merged plan, until ``budget`` is spent; the better plan.

    The districts' inner bins stay with their lorry (:func:`.borders.pinned`):
    only the bins left out and those near a border may change lorry, so a
    full district's bins go to the neighbour next to it and the rounds stay
    districts (a free search interleaves them).
    """
    from .borders import pinned  # borders builds on this module

    missing = unsupported(problem)
    allowed, _ = servable(problem)
    in_use = len({loc for b in allowed for loc in problem.bins[b].locations})
    if in_use > BORDER_MAX_LOCATIONS or (budget.timed and budget.deadline.left() < 1.0):
        return merged
    owner = {ref: v for v, stops, _ in plans for kind, ref in stops if kind == BIN}
    search_problem = pinned(Part(problem, np.arange(problem.n_locations)), owner, chosen).problem
    mapping = to_pyvrp(search_problem, relax_breaks=bool(missing))
    try:
        start = start_solution(mapping, search_problem, plans, chosen)
    except (RuntimeError, ValueError, IndexError, KeyError):
        return merged
    found = Found(0.0, plans, mapping, start, whole_day=False, chosen=chosen)
    on = search_on(search_problem, found, budget, seed=seed, patience=BORDER_PATIENCE)
    searched = solution_from_plans(
        problem, on.plans, engine="decomposed+pyvrp", runtime_s=0.0, fit_rules=bool(missing), chosen=on.chosen
    )
    searched = dataclasses.replace(searched, details=dict(merged.details, across_borders=True))
    return searched if rank(problem, searched) <= rank(problem, merged) else merged


def border_budget(budget: Budget) -> tuple[Budget, Budget]:
    """The budget split into the districts' part and the search across borders."""
    if not budget.timed:
        return budget, budget
    total = budget.deadline.total_s
    return budget.until(Deadline.after(max(0.0, budget.deadline.left() - BORDER_SHARE * total))), budget
