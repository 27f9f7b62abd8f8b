"""A whole-day search with a price on mixing: any lorry may serve any bin, a bin of another's district at a price.

Hard districts (:mod:`.day`) make compact rounds, but each lorry then
searches only its own bins, and a border moves only through the pairs of
:mod:`.borders`, a street or two at a time. On a small day the free search
of the whole day often finds rounds needing a little less driving and crew
time than the districts', but its rounds interleave. This module searches
the whole day at once, warm-started from the districts' plan, every lorry
free to serve any bin, with a price on mixing:

* **The price** (:func:`mixing_prices`): a lorry's drive into a bin of
  another lorry's district costs, on top of its distance, the distance from
  the nearest bin of its own district to that bin. A bin just across a
  border costs about one drive between neighbouring bins, and changes lorry
  when that saves more than it costs; a bin deep in another district costs
  about its depth, and stays. The price has no constant to set: its unit
  is the day's own distances. Bins of no district (left out of the
  districts' plan), depots and sites cost nothing extra, and a lorry the
  districts' plan does not use searches unpriced (on a day of one
  district, the search is the one lorry's day searched on from its plan,
  other lorries free to take part of it).
* **One set of roads per lorry** (:func:`priced_problem`): each lorry gets a
  routing profile of its own, the day's distances plus its prices (the
  durations shared), so PyVRP reads one distance matrix per vehicle type
  and OR-Tools one arc-cost evaluator per vehicle. The prices steer the
  search only: the plan found is scheduled and costed on the day's own
  matrices (:func:`binroute.routing.schedule.solution_from_plans`).
* **Kept when better and still districts** (:func:`priced_search`): it
  must rank better (:func:`binroute.routing.cost.rank`) than the districts'
  plan and mix no more than it plus
  :data:`binroute.routing.decompose.borders.MIX_SLACK`
  (:func:`binroute.routing.decompose.borders.mixing`, standing in for the
  territory overlap). From the districts' plan, which costs the same priced
  as unpriced, every plan the search keeps costs less priced, so it drives
  less than the districts' plan did.

The priced matrices are one distance matrix per lorry of the locations in
use; above :data:`PRICED_MAX_BYTES` of them the search is skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from ..cost import rank
from ..deadline import Budget
from ..engines.pyvrp import Found, search_on, to_pyvrp, unsupported
from ..problem import Matrix, Problem
from ..schedule import solution_from_plans
from ..solution import BIN, Solution
from .borders import MIX_SLACK, mixing
from .day import plans_of, restricted, start_solution

#: Most bytes the lorries' priced distance matrices (int32, one per lorry) may take together.
PRICED_MAX_BYTES = 256 * 2**20


def mixing_prices(problem: Problem, owner: Mapping[int, int], chosen: Mapping[int, int]) -> NDArray[np.int64]:
    """Per lorry and location, what serving there costs it on top of the drive (see the module notes).

    Parameters
    ----------
    problem
        The day.
    owner
        The lorry (vehicle index) whose district each bin (index) is in; bins not in it are in no district.
    chosen
        The location each bin of ``owner`` is served at.

    Returns
    -------
    numpy.ndarray
        ``(vehicles, locations)``: 0 at the locations of the lorry's own bins and wherever no other
        district's bin stands; elsewhere the distance (the lorry's profile) from the nearest location of its
        district to there.
    """
    n = problem.n_locations
    out = np.zeros((len(problem.vehicles), n), dtype=np.int64)
    theirs = np.zeros((len(problem.vehicles), n), dtype=bool)
    mine = np.zeros((len(problem.vehicles), n), dtype=bool)
    for b, v in owner.items():
        theirs[:, list(problem.bins[b].locations)] = True
        mine[v, list(problem.bins[b].locations)] = True
    for v, vehicle in enumerate(problem.vehicles):
        own = np.array(sorted({chosen[b] for b, w in owner.items() if w == v}), dtype=np.int64)
        priced = np.flatnonzero(theirs[v] & ~mine[v])
        if not len(own) or not len(priced):
            continue
        dist = problem.matrix(vehicle).distance
        out[v, priced] = np.minimum(dist[np.ix_(own, priced)].astype(np.int64).min(axis=0), Matrix.UNREACHABLE)
    return out


def priced_problem(problem: Problem, owner: Mapping[int, int], chosen: Mapping[int, int]) -> Problem:
    """``problem`` with a profile per lorry whose distances into other districts' bins carry :func:`mixing_prices`.

    A lorry that pays nothing per distance, or has a distance limit (the
    prices would count against it), keeps its profile and searches unpriced.
    """
    prices = mixing_prices(problem, owner, chosen)
    matrices = dict(problem.matrices)
    vehicles = []
    for v, vehicle in enumerate(problem.vehicles):
        if not prices[v].any() or vehicle.cost_per_distance <= 0 or vehicle.max_distance is not None:
            vehicles.append(vehicle)
            continue
        base = problem.matrix(vehicle)
        reachable = base.distance < Matrix.UNREACHABLE
        priced = np.minimum(base.distance + prices[v][None, :], Matrix.UNREACHABLE - 1)
        dist = np.where(reachable, priced, base.distance)
        np.fill_diagonal(dist, np.diagonal(base.distance))  # staying at a location: no drive into it, no price
        name = f"{vehicle.profile}|priced for {vehicle.id}"
        matrices[name] = Matrix(base.time_s, dist.astype(np.int32))
        vehicles.append(dataclasses.replace(vehicle, profile=name))
    return dataclasses.replace(problem, matrices=matrices, vehicles=tuple(vehicles))


def _priced_bytes(n_locations: int, n_vehicles: int) -> int:
    return 4 * n_locations * n_locations * n_vehicles


def priced_search(problem: Problem, districted: Solution, budget: Budget, seed: int) -> Solution:
    """PyVRP's search of the whole day from the districts' plan, with a price on mixing (see the module notes).

    Parameters
    ----------
    problem
        The day.
    districted
        The districts' plan: each bin it serves is in the district of the lorry serving it.
    budget
        When to stop (a solution limit makes it deterministic).
    seed
        The search's seed.

    Returns
    -------
    Solution
        The searched plan when it ranks better and mixes no more than allowed, else ``districted``;
        ``details["priced_search"]`` says which, and how many bins changed lorry.
    """
    plans, chosen = plans_of(problem, districted)

    def skipped(why: str) -> Solution:
        return dataclasses.replace(districted, details=dict(districted.details, priced_search={"skipped": why}))

    if not plans:
        return skipped("no rounds")
    if budget.timed and budget.deadline.left() < 1.0:
        return skipped("no time left")
    owner = {ref: v for v, stops, _ in plans for kind, ref in stops if kind == BIN}
    part = restricted(problem, range(len(problem.bins)), range(len(problem.vehicles)))
    if _priced_bytes(len(part.locations), len(problem.vehicles)) > PRICED_MAX_BYTES:
        return skipped("matrices too big")
    here = {int(loc): k for k, loc in enumerate(part.locations)}
    local = {b: here[loc] for b, loc in chosen.items()}
    priced = priced_problem(part.problem, owner, local)
    missing = unsupported(problem)
    mapping = to_pyvrp(priced, relax_breaks=bool(missing))
    try:
        start = start_solution(mapping, priced, plans, local)
    except (RuntimeError, ValueError, IndexError, KeyError) as error:
        return skipped(f"no start from the districts' plan: {error}")
    on = search_on(priced, Found(0.0, plans, mapping, start, chosen=local), budget, seed=seed)
    found = {b: int(part.locations[loc]) for b, loc in on.chosen.items()}
    moved = sum(owner.get(ref, v) != v for v, stops, _ in on.plans for kind, ref in stops if kind == BIN)
    searched = solution_from_plans(
        problem, on.plans, engine="decomposed+priced", runtime_s=0.0, fit_rules=bool(missing), chosen=found
    )
    better = rank(problem, searched) < rank(problem, districted)
    # With every bin on its lorry the areas are the districts' (only kerb sides may change, which moves
    # the nearest-bin proxy on days of two streams: the sample's day 2 was refused for that).
    compact = moved == 0 or mixing(problem, searched) <= mixing(problem, districted) + MIX_SLACK
    note = {"kept": better and compact, "moved": moved, "better": better, "compact": compact}
    if not (better and compact):
        return dataclasses.replace(districted, details=dict(districted.details, priced_search=note))
    return dataclasses.replace(searched, details=dict(districted.details, priced_search=note))
