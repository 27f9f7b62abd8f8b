"""``solve(problem) -> Solution``: the one entry point to every engine.

:func:`solve` turns the caller's :class:`~binroute.routing.limits.Limits` into one
:class:`~binroute.routing.deadline.Budget` (an absolute deadline, and the solution limit
if any) and hands it to the engine. Every plan it returns is costed by
:func:`binroute.routing.cost.plan_cost`, and plans are compared with
:func:`binroute.routing.cost.rank` (fewer required bins left, then lower cost).

Engines:

* ``ortools``: OR-Tools' routing library with guided local search; expresses
  every constraint binroute knows (:mod:`binroute.routing.engines.ortools`).
* ``pyvrp``: PyVRP's iterated local search; much better routes, but no driver
  breaks, lift or daily load limits with tips, or workload balance
  (:mod:`binroute.routing.engines.pyvrp`).
* ``auto`` (default): when PyVRP can express the whole problem, PyVRP alone.
  Otherwise a pipeline per round: PyVRP finds routes with each shift
  shortened by its break (:data:`PYVRP_SHARE` of the round's time); OR-Tools
  reads them as a warm start, places the breaks and polishes with the full
  constraint set; our own scheduling (:func:`binroute.routing.schedule.fitted_route`:
  cut each route to what keeps every rule, place the break) makes a second
  plan from PyVRP's routes, and the better of the two is kept. When
  OR-Tools cannot restore the warm start, PyVRP searches on from its best
  solution with the time left. Required bins left behind while lorries
  stand idle then go to a short PyVRP round on just those bins and lorries.
  The time is spent in rounds of :data:`ROUND_S_PER_BIN` seconds per bin
  (at least :data:`ROUND_MIN_S`), each from a new seed; the best round wins.
  When vehicles tip and have daily load or lift limits, every second round
  of the second core uses PyVRP's whole-day formulation (day totals exact,
  tips placed afterwards by :func:`binroute.routing.engines.tips.insert_tips`).

With a time limit of at least :data:`PARALLEL_MIN_S` seconds on a machine
with two cores, ``auto`` runs its search twice at once, the second in a
helper process (:mod:`binroute._processes`) with the next seed and the same
deadline, and keeps the better plan. A solution limit without a time limit
is a deterministic run: one core, one round, no wall clock (but a backstop,
see :data:`binroute.routing.deadline.BACKSTOP_FACTOR`).

Bins with alternative locations (:attr:`binroute.routing.Bin.locations`) are served
once, at one of them, by every engine. The location PyVRP chose for each bin
travels with its plans (``Found.chosen``): into our own scheduling, and into
OR-Tools' warm start as ``SolveParams.warm_locations``, so the polished plan
starts from the same kerbside visits. Last, whatever the engine, each route
keeps its order of stops while every bin's direction and every tip's site
are chosen again, exactly for that order (:func:`binroute.routing.directions.polish_directions`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time as clock
from collections.abc import Callable, Mapping
from typing import Any

from binroute._processes import start_helper

from .cost import rank, with_cost
from .deadline import Budget, Deadline
from .decompose import borders, priced
from .decompose import day as decompose
from .decompose.compact import compact_enough
from .decompose.districts import District
from .departures import polish_departures
from .directions import polish_directions
from .engines.ortools import WarmStartRejected, solve_ortools
from .engines.pyvrp import search, search_on, solve_pyvrp, unsupported
from .limits import Limits, SolveParams
from .problem import Problem
from .schedule import solution_from_plans
from .solution import BIN, Solution

#: Share of a round's time PyVRP gets before OR-Tools polishes its routes.
PYVRP_SHARE = 0.7
#: Shortest time limit for which a second search in a helper process pays for its start-up.
PARALLEL_MIN_S = 5.0
#: How long past the time limit to wait for the helper before dropping its result:
#: this share of the limit, but at least :data:`HELPER_GRACE_MIN_S` (start-up, model building).
HELPER_GRACE_SHARE = 0.2
HELPER_GRACE_MIN_S = 5.0
#: Length of one round of the combination (PyVRP, then OR-Tools), per bin.
#: PyVRP settles on a 100-bin day within a few seconds and OR-Tools' polish
#: within a few more, after which a longer search rarely leaves its basin; a
#: budget of several rounds is better spent restarting from new seeds
#: (measured on Kim's 102-stop day: 15-s rounds from six seeds ended between
#: 149.3 and 156.4 miles, and more time on one seed did not move it).
ROUND_S_PER_BIN = 0.15
#: Shortest round of the combination.
ROUND_MIN_S = 10.0


#: Share of a round's time kept for scheduling PyVRP's routes when OR-Tools gives up.
FIT_RESERVE_SHARE = 0.05
#: Share of the time limit the spare-lorry round may take (at least :data:`SPARE_MIN_S`).
SPARE_SHARE = 0.05
SPARE_MIN_S = 1.0
#: Shortest round: even a round started at the deadline gets this long.
ROUND_FLOOR_S = 0.5


def _two_cores(budget: Budget) -> bool:
    """Whether a search with ``budget`` runs a second search in a helper process."""
    return (os.cpu_count() or 1) >= 2 and budget.timed and budget.deadline.total_s >= PARALLEL_MIN_S


def _on_two_cores(
    budget: Budget, job: str, args: tuple[object, ...], other: tuple[object, ...], *, other_job: str | None = None
) -> list[Any]:
    """Run ``JOBS[job](*args)`` here and, when worth it, ``JOBS[other_job or job](*other)`` in a helper process.

    Only a timed budget of at least :data:`PARALLEL_MIN_S` on two cores uses
    the helper. Returns the results that finished (the helper's is dropped if
    it fails or overruns the deadline by more than a grace period).
    """
    if not _two_cores(budget):
        return [JOBS[job](*args)]
    # The matrices travel as mapped files, not copies.
    with start_helper(JOBS[other_job or job], *other) as helper:
        grace = max(HELPER_GRACE_MIN_S, HELPER_GRACE_SHARE * budget.deadline.total_s)
        results = [JOBS[job](*args)]
        with contextlib.suppress(Exception):  # the helper failed or overran: its result is dropped
            results.append(helper.result(budget.deadline.left() + grace))
    return results


def _pyvrp_alone(problem: Problem, budget: Budget, seed: int) -> Solution:
    """PyVRP on the whole problem (it can express every rule of it)."""
    found = search(problem, budget, seed=seed)
    return solution_from_plans(problem, found.plans, engine="pyvrp", runtime_s=0.0, chosen=found.chosen)


def _combined(
    problem: Problem, budget: Budget, params: SolveParams, missing: list[str], *, whole_day: bool = False
) -> Solution:
    """One round on one core: PyVRP with breaks relaxed, then OR-Tools from its routes or our own scheduling.

    ``whole_day`` picks PyVRP's formulation for daily limits with tips (see
    :func:`~binroute.routing.engines.pyvrp.to_pyvrp`).
    """
    found = search(problem, budget.share(PYVRP_SHARE), seed=params.seed, relax_breaks=True, whole_day=whole_day)
    plans, chosen = found.plans, found.chosen
    warm = {
        problem.vehicles[v].id: [
            problem.bins[ref].id if kind == BIN else problem.facilities[ref].id for kind, ref in stops
        ]
        for v, stops, _ in plans
    }
    # OR-Tools starts each bin at the location PyVRP served it at.
    warm_locations = {problem.bins[b].id: loc for b, loc in chosen.items()}
    try:
        polished: Solution | None = solve_ortools(
            problem,
            budget=budget,
            params=dataclasses.replace(params, warm_start=warm, warm_locations=warm_locations, engine="ortools"),
            cold_after_warm=False,
        )
    except WarmStartRejected:
        # OR-Tools could not restore the routes (it sometimes cannot place breaks in
        # a given order, or on a large day within its time): our scheduling instead,
        # after PyVRP searches on with what is left, bar a little for the scheduling.
        polished = None
        if budget.timed:
            left = budget.deadline.left() - FIT_RESERVE_SHARE * budget.deadline.total_s
            if left >= 1.0:
                on = search_on(problem, found, budget.until(Deadline.after(left)), seed=params.seed)
                plans, chosen = on.plans, on.chosen
    details: dict[str, object] = {"combined_for": missing, "seed": params.seed, "whole_day": whole_day}
    best = solution_from_plans(
        problem, plans, engine="pyvrp+schedule", runtime_s=0.0, fit_rules=True, details=details, chosen=chosen
    )
    if polished is not None:
        polished = dataclasses.replace(polished, engine="pyvrp+ortools", details=dict(polished.details, **details))
        if rank(problem, polished) <= rank(problem, best):
            best = polished
    return _with_spare_lorries(problem, best, budget, params.seed)


def _with_spare_lorries(problem: Problem, solution: Solution, budget: Budget, seed: int) -> Solution:
    """Give required bins the plan left behind to lorries it does not use.

    Cutting routes to fit breaks and daily limits can leave bins behind on a
    large day while lorries stand idle; a short PyVRP round on just those
    bins and lorries (:data:`SPARE_SHARE` of the time limit, at least
    :data:`SPARE_MIN_S`, even past the deadline), scheduled with the breaks,
    collects what it can.
    """
    left = {u.bin_id for u in solution.unserved if u.required}
    idle = {r.vehicle_id for r in solution.routes if not r.used}
    if not left or not idle:
        return solution
    sub = dataclasses.replace(
        problem,
        bins=tuple(b for b in problem.bins if b.id in left),
        vehicles=tuple(v for v in problem.vehicles if v.id in idle),
    )
    if budget.timed:
        budget = Budget(Deadline.after(max(SPARE_MIN_S, SPARE_SHARE * budget.deadline.total_s)))
    found = search(sub, budget, seed=seed, relax_breaks=True)
    extra = solution_from_plans(sub, found.plans, engine="", runtime_s=0.0, fit_rules=True, chosen=found.chosen)
    placed = set(extra.served())
    if not placed:
        return solution
    new_routes = {r.vehicle_id: r for r in extra.routes if r.used}
    routes = tuple(new_routes.get(r.vehicle_id, r) for r in solution.routes)
    unserved = tuple(u for u in solution.unserved if u.bin_id not in placed)
    details = dict(solution.details, spare_lorries=len(new_routes), bins_on_spare_lorries=len(placed))
    return with_cost(problem, dataclasses.replace(solution, routes=routes, unserved=unserved, details=details))


def _restarts(
    problem: Problem, budget: Budget, params: SolveParams, missing: list[str], *, whole_day: bool = False
) -> Solution:
    """:func:`_combined` in rounds of :data:`ROUND_S_PER_BIN` seconds per bin, a new seed each; the best plan wins.

    Seeds step by two from ``params.seed``, so the two cores (seeds ``s`` and
    ``s + 1``) never repeat each other's rounds. With ``whole_day`` every
    second round uses that formulation. A deterministic (untimed) budget
    gets one round of the usual formulation.
    """
    if not budget.timed:
        return _combined(problem, budget, params, missing)
    round_s = max(ROUND_MIN_S, ROUND_S_PER_BIN * len(problem.bins))
    rounds = max(1, int(budget.deadline.total_s // round_s))
    best: Solution | None = None
    for k in range(rounds):
        if best is not None and budget.deadline.left() < ROUND_MIN_S / 2:
            break
        share = budget.share(1 / (rounds - k))
        if share.deadline.left() < ROUND_FLOOR_S:
            share = Budget(Deadline.after(ROUND_FLOOR_S), budget.solution_limit)
        seed = params.seed + 2 * k
        # The whole-day formulation is the rougher one (tips planned afterwards):
        # every other round, never the only one.
        found = _combined(
            problem, share, dataclasses.replace(params, seed=seed), missing, whole_day=whole_day and k % 2 == 1
        )
        found = dataclasses.replace(found, details=dict(found.details, round=k + 1, rounds=rounds))
        if best is None or rank(problem, found) < rank(problem, best):
            best = found
    assert best is not None
    return best


def _one_core(problem: Problem, budget: Budget, params: SolveParams) -> Solution:
    """The ``auto`` engine on this core only: PyVRP alone when it can express the problem, else rounds."""
    missing = unsupported(problem)
    if not missing:
        return _pyvrp_alone(problem, budget, params.seed)
    return _restarts(problem, budget, params, missing)


def _districts(parts: list[Problem], budget: Budget, params: SolveParams) -> list[Solution]:
    """Solve ``parts`` one after another on this core.

    Each gets an equal share of the time left, but at most
    :data:`binroute.routing.decompose.day.DISTRICT_S_PER_BIN` seconds per bin.
    """
    out = []
    for k, part in enumerate(parts):
        share = budget.share(1 / (len(parts) - k))
        if budget.timed:
            cap = max(ROUND_FLOOR_S, decompose.DISTRICT_S_PER_BIN * len(part.bins))
            share = share.until(Deadline.after(min(cap, share.deadline.left())))
            if share.deadline.left() < ROUND_FLOOR_S:
                share = Budget(Deadline.after(ROUND_FLOOR_S), budget.solution_limit)
        out.append(_one_core(part, share, params))
    return out


def _usual_indices(problem: Problem, usual: Mapping[str, str] | None) -> dict[int, int]:
    """``usual`` (vehicle id by bin id) as vehicle index by bin index, for the bins and vehicles of ``problem``."""
    if not usual:
        return {}
    vehicle_at = {v.id: i for i, v in enumerate(problem.vehicles)}
    return {b: vehicle_at[usual[item.id]] for b, item in enumerate(problem.bins) if usual.get(item.id) in vehicle_at}


def _crew_changes(problem: Problem, solution: Solution, params: SolveParams, lent: set[str]) -> dict[str, str]:
    """Why each served bin with a usual crew is served by another (bin id -> reason)."""
    usual = params.usual_crews or {}
    out = {}
    out_today = {v.id for v in problem.vehicles}
    working = {r.vehicle_id for r in solution.routes if r.used}
    for b in borders.moved_bins(solution, usual):
        if usual[b] not in out_today:
            out[b] = "usual crew not out today"
        elif usual[b] not in working:
            out[b] = "usual crew not needed today: the others' days hold the work"
        elif b in lent:
            out[b] = "usual crew's district full: lent to a neighbour"
        else:
            out[b] = f"moved by the search: saves at least {params.move_saving:g} of the plan's cost"
    return out


def _decomposed(problem: Problem, budget: Budget, params: SolveParams) -> Solution:
    """A day in districts on both cores, then a search across borders (:mod:`.decompose.day`).

    The number of districts comes from an estimate of the work (or the usual
    crews); on a day below :data:`binroute.routing.decompose.DECOMPOSE_MIN_BINS`
    bins one district fewer is tried too (the estimate keeps a margin, and a
    lorry more than needed costs a crew's day), and the better plan
    (:func:`binroute.routing.decompose.borders.stay_rank`: the plan's cost, moves
    off the usual crews priced) is kept. On such a day each try takes at most
    :data:`binroute.routing.decompose.day.DISTRICT_S_PER_BIN` seconds per bin
    of the day (its search across borders included), so the whole-day search
    with a price on mixing (:func:`_priced_whole_day`) has time to run: it
    moves a small day's borders where that saves driving, in place of the
    border pairs, and gets :data:`PRICED_SHARE` of the time limit at least.
    On two cores the districts of such a day run on this core while the
    other searches the whole day freely; that free plan is tidied into
    areas in the second half (:func:`_priced_whole_day`). Big days and days
    with usual crews get the border pairs.
    """
    usual = _usual_indices(problem, params.usual_crews)
    regional, whole = decompose.border_budget(budget)
    small = len(problem.bins) <= decompose.DECOMPOSE_MIN_BINS
    if small and not usual and budget.timed:
        # The priced whole-day search improves on the districts from a plan they give within seconds.
        keep = PRICED_SHARE * budget.deadline.total_s
        regional = regional.until(Deadline.after(max(0.0, budget.deadline.left() - keep)))
    tries = [decompose.districts(problem, usual)]
    if len(problem.bins) <= decompose.DECOMPOSE_MIN_BINS and len(tries[0]) >= 2:
        fewer = decompose.districts(problem, usual, fewer=1)
        if len(fewer) < len(tries[0]):
            tries.append(fewer)
    free: Solution | None = None
    if small and not usual and _two_cores(budget):
        # The districts on this core; a free whole-day search on the other, tidied later (_priced_whole_day).
        other = dataclasses.replace(params, seed=params.seed + 1)
        found = _on_two_cores(
            regional,
            "district_tries",
            (problem, tries, regional, whole, params, True),
            (problem, regional, other),
            other_job="one_core",
        )
        (best, lent), free = found[0], (found[1] if len(found) > 1 else None)
    else:
        best, lent = _district_tries(problem, tries, regional, whole, params, False)
    best = dataclasses.replace(best, details=dict(best.details, district_counts_tried=[len(t) for t in tries]))
    if small and not usual:
        # A small day's borders move in one search of the whole day with a price on mixing, not pair by pair.
        best = _with_spare_lorries(problem, best, budget, params.seed)
        best = _priced_whole_day(problem, best, budget, params, free)
    else:
        best = _border_pairs(problem, best, budget.share(BORDER_SHARE), params)
        best = _with_spare_lorries(problem, best, budget, params.seed)
    if params.usual_crews:
        best = dataclasses.replace(
            best, details=dict(best.details, crew_changes=_crew_changes(problem, best, params, lent))
        )
    return best


def _district_tries(
    problem: Problem, tries: list[list[District]], regional: Budget, whole: Budget, params: SolveParams, alone: bool
) -> tuple[Solution, set[str]]:
    """Each split of ``tries`` routed in districts (:func:`_in_districts`); the best plan and the bins it lent.

    ``alone``: on this core only (the other runs a free search meanwhile).
    """
    small = len(problem.bins) <= decompose.DECOMPOSE_MIN_BINS
    best: Solution | None = None
    lent: set[str] = set()
    ids, saving = params.usual_crews or {}, params.move_saving
    for k, split in enumerate(tries):
        part = 1 / (len(tries) - k)
        mine, across = regional.share(part), whole.share(part)
        if small and regional.timed:
            # A try takes about what searching its bins in districts takes, not all the time left (a
            # try of one district searched the whole day on both cores, then across borders, until
            # the deadline): the small day's priced whole-day search comes after.
            cap = Deadline.after(max(ROUND_FLOOR_S, decompose.DISTRICT_S_PER_BIN * len(problem.bins)))
            mine, across = mine.until(cap), across.until(cap)
        found = _in_districts(problem, split, mine, across, params, alone=alone)
        if best is None or borders.stay_rank(problem, found, ids, saving) < borders.stay_rank(
            problem, best, ids, saving
        ):
            best, lent = found, {problem.bins[b].id for d in split for b in d.borrowed}
    assert best is not None
    return best, lent


#: Shortest time left after the districts for which a small day also gets the priced whole-day search.
PRICED_MIN_S = 1.0
#: Share of a small day's time limit kept from the districts for the priced whole-day search.
PRICED_SHARE = 0.5


def _priced_whole_day(
    problem: Problem, districted: Solution, budget: Budget, params: SolveParams, free: Solution | None = None
) -> Solution:
    """The districts' plan, or a cheaper one compact enough: a priced search here, a free plan tidied on the other core.

    Here :func:`binroute.routing.decompose.priced.priced_search` with the
    time the districts left: the whole day from the districts' plan, a bin
    of another district at a price. On the second core, when worth it,
    ``free`` (the free whole-day search that ran beside the districts)
    tidied into areas (:func:`binroute.routing.decompose.priced.tidied_search`),
    or without it a free whole-day search (one core's ``auto``). The free
    and the tidied plans count only when their rounds are compact enough
    (:func:`binroute.routing.decompose.compact.compact_enough`: territory
    overlap at most ``params.max_overlap`` or the districts', whichever is
    larger): on days whose bins are far apart a free plan's rounds are
    compact anyway, and a free plan's few stray bins often cost less to
    tidy than the districts' borders cost to move (measured in the
    benchmarks README, issue #30). The best ranked plan wins.
    """
    if budget.timed and budget.deadline.left() < PRICED_MIN_S:
        return districted
    mine = (problem, districted, budget, params.seed, params.max_overlap)
    other = dataclasses.replace(params, seed=params.seed + 1)
    if free is not None:
        found = _on_two_cores(
            budget, "priced", mine, (problem, free, budget, other.seed, params.max_overlap), other_job="tidied"
        )
        candidates = [free, *found[1:]]
    else:
        found = _on_two_cores(budget, "priced", mine, (problem, budget, other), other_job="one_core")
        candidates = found[1:]
    return _best_compact(problem, districted, found[0], candidates, params.max_overlap)


def _best_compact(
    problem: Problem, districted: Solution, searched: Solution, candidates: list[Solution], max_overlap: float
) -> Solution:
    """The best ranked of ``searched`` and the ``candidates`` compact enough and better than ``districted``.

    A candidate's rounds must be compact enough to replace the districts'
    (:func:`binroute.routing.decompose.compact.compact_enough`); the plan kept
    carries the districts' and the search's details, and
    ``free_kept_over_districts`` when a candidate won.
    """
    plans = [searched]
    for plan in candidates:
        if compact_enough(problem, plan, districted, max_overlap) and rank(problem, plan) < rank(problem, districted):
            details = dict(districted.details, **searched.details, free_kept_over_districts=True)
            if "tidied" in plan.details:
                details["tidied"] = plan.details["tidied"]
            plans.append(dataclasses.replace(plan, details=details))
    return min(plans, key=lambda solution: rank(problem, solution))


def _in_districts(
    problem: Problem,
    split: list[District],
    regional: Budget,
    whole: Budget,
    params: SolveParams,
    *,
    alone: bool = False,
) -> Solution:
    """The day routed district by district (``regional``), merged, then searched across borders if bins are left."""
    found = [decompose.restricted(problem, d.bins, [d.vehicle]) for d in split]
    order = sorted(range(len(found)), key=lambda i: -len(found[i].problem.bins))
    if len(found) == 1:  # one district: its lorry's day searched as a whole day would be (on both cores unless alone)
        one = _one_core if alone else _whole_day
        parts, solved = found, [one(found[0].problem, regional, params)]
    elif _two_cores(regional) and not alone:
        mine, theirs = order[0::2], order[1::2]
        other = dataclasses.replace(params, seed=params.seed + 1)
        results = _on_two_cores(
            regional,
            "districts",
            ([found[i].problem for i in mine], regional, params),
            ([found[i].problem for i in theirs], regional, other),
        )
        if len(results) < 2:  # the helper failed: its districts get a short search here
            quick = Budget(Deadline.after(max(SPARE_MIN_S, SPARE_SHARE * regional.deadline.total_s)))
            results.append(_districts([found[i].problem for i in theirs], quick, params))
        parts, solved = [found[i] for i in mine + theirs], [*results[0], *results[1]]
    else:
        parts = [found[i] for i in order]
        solved = _districts([p.problem for p in parts], regional, params)
    plans, chosen = decompose.merged_plans(problem, parts, solved)
    missing = unsupported(problem)
    details: dict[str, object] = {"districts": len(parts), "district_bins": sorted(len(p.problem.bins) for p in parts)}
    merged = solution_from_plans(
        problem, plans, engine="decomposed", runtime_s=0.0, fit_rules=bool(missing), chosen=chosen, details=details
    )
    if any(u.required for u in merged.unserved):
        return decompose.across_borders(problem, merged, plans, chosen, whole, params.seed)
    return merged


#: Most rounds of the search across borders on a deterministic (untimed) budget.
BORDER_ROUNDS_UNTIMED = 3
#: Share of the time the districts left that the search across borders may use: a big day the
#: districts route early still comes back early (its first rounds save the most; see the README).
BORDER_SHARE = 0.5


def _border_pairs(problem: Problem, solution: Solution, budget: Budget, params: SolveParams) -> Solution:
    """Re-solve neighbouring rounds two at a time until the budget is spent (:mod:`.decompose.borders`).

    Each round takes a matching of neighbouring pairs (longest border first,
    none tried since either of its rounds last changed) and searches them,
    half in the helper process. New routes are kept when the whole day ranks
    better with them. Stops when no pair is left to try, when a round saves
    less than :data:`binroute.routing.decompose.borders.ROUND_MIN_GAIN` of the plan's cost, or
    when less than :data:`binroute.routing.decompose.borders.PAIR_MIN_S` is left; an untimed
    budget gets at most :data:`BORDER_ROUNDS_UNTIMED` rounds.
    """
    tried: set[tuple[int, int]] = set()
    kept = searched = rounds = 0
    began = clock.perf_counter()
    costs = [round(solution.objective, 1)]
    while budget.deadline.left() >= 2 * borders.PAIR_MIN_S:
        if not budget.timed and rounds >= BORDER_ROUNDS_UNTIMED:
            break
        pairs = borders.matching(borders.neighbour_pairs(problem, solution), tried)
        if not pairs:
            break
        usual, saving = params.usual_crews or {}, params.move_saving
        jobs = [borders.pair_job(problem, solution, a, b, usual=usual, move_saving=saving) for a, b in pairs]
        seed = params.seed + 2 * len(pairs) * rounds
        mine, theirs = jobs[0::2], jobs[1::2]
        if theirs and _two_cores(budget):
            results = _on_two_cores(budget, "border_pairs", (mine, budget, seed), (theirs, budget, seed + len(mine)))
            found = [*results[0], *(results[1] if len(results) > 1 else [None] * len(theirs))]
            order = [*pairs[0::2], *pairs[1::2]]
            jobs = [*mine, *theirs]
        else:
            found, order = borders.improve_pairs(jobs, budget, seed), pairs
        changed: set[int] = set()
        for (a, b), job, new in zip(order, jobs, found, strict=True):
            searched += 1
            tried.add((a, b))
            if new is None:
                continue
            by_id = {r.vehicle_id: r for r in borders.to_day(job, new.routes)}
            routes = list(solution.routes)
            for k in (a, b):
                routes[k] = by_id[routes[k].vehicle_id]
            candidate = with_cost(problem, dataclasses.replace(solution, routes=tuple(routes)))
            if borders.stay_rank(problem, candidate, usual, saving) < borders.stay_rank(
                problem, solution, usual, saving
            ):
                solution, kept = candidate, kept + 1
                changed |= {a, b}
        # A round that changed is worth pairing again with its other neighbours.
        tried = {(a, b) for a, b in tried if (a, b) in pairs or not ({a, b} & changed)}
        rounds += 1
        costs.append(round(solution.objective, 1))
        if costs[-2] - costs[-1] < borders.ROUND_MIN_GAIN * costs[-2]:
            break  # the borders have settled: more rounds would only polish
    details = dict(
        solution.details,
        border_rounds=rounds,
        border_pairs_searched=searched,
        border_pairs_kept=kept,
        border_round_costs=costs,
        border_s=round(clock.perf_counter() - began, 1),
    )
    return dataclasses.replace(solution, details=details)


def _restarts_whole_day(problem: Problem, budget: Budget, params: SolveParams, missing: list[str]) -> Solution:
    """:func:`_restarts` with the whole-day formulation every second round."""
    return _restarts(problem, budget, params, missing, whole_day=True)


#: What the helper process can be asked to run (by :func:`_on_two_cores`).
JOBS: dict[str, Callable[..., Any]] = {
    "pyvrp": _pyvrp_alone,
    "combined": _restarts,
    "combined_whole_day": _restarts_whole_day,
    "districts": _districts,
    "border_pairs": borders.improve_pairs,
    "priced": priced.priced_search,
    "tidied": priced.tidied_search,
    "district_tries": _district_tries,
    "one_core": _one_core,
}


def solve(problem: Problem, *, limits: Limits | None = None, params: SolveParams | None = None) -> Solution:
    """Plan routes for ``problem``.

    Parameters
    ----------
    problem
        The validated problem.
    limits
        When to stop (defaults to a time limit that scales with size). The
        deadline starts now.
    params
        Engine and search settings (``engine`` is ``"auto"`` unless set).

    Returns
    -------
    Solution
        Routes per vehicle (unused vehicles included, depot to depot), the bins
        left unserved with a reason, the plan's cost
        (:func:`binroute.routing.cost.plan_cost`) as ``objective``, status and runtime.

    Raises
    ------
    InfeasibleProblem
        When no plan at all satisfies the vehicles' shifts and depot hours.
    ProblemError
        When ``engine="pyvrp"`` is asked for constraints it cannot express.
    """
    began = clock.perf_counter()
    params = params or SolveParams()
    budget = Budget.from_limits(limits or Limits(), len(problem.bins))
    if params.engine == "ortools":
        best = solve_ortools(problem, budget=budget, params=params)
    elif params.engine == "pyvrp":
        best = solve_pyvrp(problem, budget=budget, params=params)
    else:
        best = _auto(problem, budget, params)
    # Every engine's plan, last: each bin's direction and each tip's site, exactly for the final order.
    best = polish_directions(problem, best)
    # Then each route leaves as late as keeps its rules, so its crew does not wait at a bin for its window.
    best = polish_departures(problem, best)
    return dataclasses.replace(best, runtime_s=clock.perf_counter() - began)


def _auto(problem: Problem, budget: Budget, params: SolveParams) -> Solution:
    """The ``auto`` engine (see the module notes)."""
    big = len(problem.bins) > decompose.DECOMPOSE_MIN_BINS
    if big or (params.rounds == "districts" and decompose.crews_share_work(problem)):
        return _decomposed(problem, budget, params)
    return _whole_day(problem, budget, params)


def _whole_day(problem: Problem, budget: Budget, params: SolveParams) -> Solution:
    """One search over the whole day, on both cores when worth it (PyVRP alone, or the combination)."""
    seed, other = params.seed, params.seed + 1
    missing = unsupported(problem)
    if not missing:
        found = _on_two_cores(budget, "pyvrp", (problem, budget, seed), (problem, budget, other))
        return min(found, key=lambda solution: rank(problem, solution))
    # PyVRP cannot hold a day's total across tips; it has two ways to come close,
    # each wrong in a different direction: with daily limits, the second core tries both.
    day_limits = problem.tips and any(
        v.max_load_per_day is not None or v.max_lifts is not None for v in problem.vehicles
    )
    mine = (problem, budget, params, missing)
    theirs = (problem, budget, dataclasses.replace(params, seed=other), missing)
    found = _on_two_cores(
        budget, "combined", mine, theirs, other_job="combined_whole_day" if day_limits else "combined"
    )
    return min(found, key=lambda solution: rank(problem, solution))
