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
from ..limits import MAX_OVERLAP
from ..problem import Matrix, Problem
from ..schedule import solution_from_plans
from ..solution import BIN, Solution
from .borders import MIX_SLACK
from .compact import TIDY_PRICE_WEIGHTS, compact_enough, overlap, tidy_owners
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


def priced_problem(
    problem: Problem, owner: Mapping[int, int], chosen: Mapping[int, int], weight: float = 1.0
) -> Problem:
    """``problem`` with a profile per lorry whose distances into other districts' bins carry :func:`mixing_prices`.

    ``weight`` scales the prices (1: a bin's whole depth into another district).

    A lorry that pays nothing per distance, or has a distance limit (the
    prices would count against it), keeps its profile and searches unpriced.
    """
    prices = np.round(mixing_prices(problem, owner, chosen) * weight).astype(np.int64)
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


def _search_priced(
    problem: Problem,
    start: Solution,
    owner: Mapping[int, int] | None,
    budget: Budget,
    seed: int,
    engine: str,
    weight: float = 1.0,
) -> tuple[Solution, int] | str:
    """PyVRP's search of the whole day from ``start``, a bin outside its ``owner``'s area at a price.

    ``owner`` (vehicle index by bin index) defaults to the lorry serving
    each bin in ``start``. Returns the plan found, costed on the day's own
    matrices, and how many bins it serves on a lorry other than their
    owner; or why it did not search. ``weight`` scales the prices.
    """
    plans, chosen = plans_of(problem, start)
    if not plans:
        return "no rounds"
    if budget.timed and budget.deadline.left() < 1.0:
        return "no time left"
    if owner is None:
        owner = {ref: v for v, stops, _ in plans for kind, ref in stops if kind == BIN}
    part = restricted(problem, range(len(problem.bins)), range(len(problem.vehicles)))
    if _priced_bytes(len(part.locations), len(problem.vehicles)) > PRICED_MAX_BYTES:
        return "matrices too big"
    here = {int(loc): k for k, loc in enumerate(part.locations)}
    local = {b: here[loc] for b, loc in chosen.items()}
    priced = priced_problem(part.problem, owner, local, weight)
    missing = unsupported(problem)
    mapping = to_pyvrp(priced, relax_breaks=bool(missing))
    try:
        first = start_solution(mapping, priced, plans, local)
    except (RuntimeError, ValueError, IndexError, KeyError) as error:
        return f"no start from the plan: {error}"
    on = search_on(priced, Found(0.0, plans, mapping, first, chosen=local), budget, seed=seed)
    found = {b: int(part.locations[loc]) for b, loc in on.chosen.items()}
    moved = sum(owner.get(ref, v) != v for v, stops, _ in on.plans for kind, ref in stops if kind == BIN)
    searched = solution_from_plans(
        problem, on.plans, engine=engine, runtime_s=0.0, fit_rules=bool(missing), chosen=found
    )
    return searched, moved


def priced_search(
    problem: Problem, districted: Solution, budget: Budget, seed: int, max_overlap: float = MAX_OVERLAP
) -> Solution:
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
    max_overlap
        The territory overlap the council accepts (:func:`.compact.compact_enough`).

    Returns
    -------
    Solution
        The searched plan when it ranks better and is as compact as allowed, else ``districted``;
        ``details["priced_search"]`` says which, and how many bins changed lorry.
    """
    found = _search_priced(problem, districted, None, budget, seed, "decomposed+priced")
    if isinstance(found, str):
        return dataclasses.replace(districted, details=dict(districted.details, priced_search={"skipped": found}))
    searched, moved = found
    better = rank(problem, searched) < rank(problem, districted)
    # With every bin on its lorry the areas are the districts' (only kerb sides may change, which moves
    # the nearest-bin proxy on days of two streams: the sample's day 2 was refused for that).
    compact = moved == 0 or compact_enough(problem, searched, districted, max_overlap, mix_slack=MIX_SLACK)
    note = {"kept": better and compact, "moved": moved, "better": better, "compact": compact}
    if not (better and compact):
        return dataclasses.replace(districted, details=dict(districted.details, priced_search=note))
    return dataclasses.replace(searched, details=dict(districted.details, priced_search=note))


def tidied_search(
    problem: Problem, free: Solution, budget: Budget, seed: int, max_overlap: float = MAX_OVERLAP
) -> Solution:
    """A free plan's rounds tidied into areas: searched on from ``free`` with :func:`.compact.tidy_owners` priced.

    Each served bin's area is the lorry most of its nearest served bins are
    on; a bin served outside its area pays a share of :func:`mixing_prices`.
    The search starts with the lightest share of
    :data:`.compact.TIDY_PRICE_WEIGHTS`, a nudge rather than a wall: the free
    plan's rounds are close to their best already, so it goes on improving
    them and hands a stray to the round around it where that costs less
    than its price. While the rounds still overlap more than
    ``max_overlap`` (:func:`.compact.overlap`), each next stage votes the
    areas again and searches on with the next, heavier share; once they
    do not, the stage takes the rest of the time at its share. Without
    positions the first share takes all the time.

    Returns the plan found (``details["tidied"]``: bins whose area changed
    at the first vote, the price's share at the end, and bins still outside
    their area), or ``free`` when the search could not run
    (``details["tidied"]["skipped"]``). The caller judges it
    (:func:`.compact.compact_enough`).
    """
    vehicle_at = {v.id: i for i, v in enumerate(problem.vehicles)}
    bin_at = {b.id: i for i, b in enumerate(problem.bins)}
    weights = TIDY_PRICE_WEIGHTS if problem.positions is not None else TIDY_PRICE_WEIGHTS[:1]
    plan, note = free, dict[str, object]()
    for k, weight in enumerate(weights):
        owner = tidy_owners(problem, plan)
        if k == 0:
            changed = (owner[bin_at[b]] != vehicle_at[r.vehicle_id] for r in free.routes for b in r.bins)
            note["areas_changed"] = sum(changed)
        last = k == len(weights) - 1
        stage = budget if last else budget.share(1 / (len(weights) - k))
        found = _search_priced(problem, plan, owner, stage, seed + k, "tidied+priced", weight)
        if isinstance(found, str):
            if k == 0:
                return dataclasses.replace(free, details=dict(free.details, tidied={"skipped": found}))
            break
        plan, note["outside_area"] = found
        note["price_share"] = weight
        share = overlap(problem, plan)
        if last or share is None or share <= max_overlap:
            if not last and budget.timed and budget.deadline.left() >= 1.0:  # the rest of the time at this share
                owner = tidy_owners(problem, plan)
                more = _search_priced(problem, plan, owner, budget, seed + k + 1, "tidied+priced", weight)
                if not isinstance(more, str):
                    plan, note["outside_area"] = more
            break
    return dataclasses.replace(plan, details=dict(free.details, tidied=note))
