"""Improve a decomposed day across its districts' borders, two neighbouring rounds at a time.

A day routed in districts (:mod:`binroute.routing.decompose.day`) has one round per
lorry, each the best its search found for its own bins; nothing yet moves a
bin to the neighbouring round that passes closer to it, or trades border
streets between two lorries. This module does, one pair of neighbouring
rounds at a time:

* **Neighbours** (:func:`neighbour_pairs`): two rounds are neighbours when
  bins of one have bins of the other among their :data:`NEIGHBOURS` nearest
  (by round-trip time); the more such bins, the longer their border.
* **Only border bins move** (:func:`pinned`): in a pair's problem, a bin
  with none of the other round's bins among its :data:`BORDER_NEIGHBOURS`
  nearest stays with its lorry (it gets a stream only that lorry carries,
  which PyVRP already expresses); the others may change lorry. So the
  border moves by a street or two per search and the rounds stay districts:
  a search free to move any bin trades single bins deep into the other
  district, each saving a little, and the rounds' territories overlap.
* **A pair's search** (:func:`improve_pair`): the two rounds' bins and the
  two lorries as a problem of their own (:func:`binroute.routing.decompose.day.restricted`,
  matrices of only their locations), PyVRP's search warm-started from the
  two current routes, until its share of the budget is spent or
  :data:`PAIR_PATIENCE` iterations bring nothing better. Rules PyVRP cannot
  express are kept as in the rest of ``auto``: breaks relaxed in the search,
  then each route cut to what keeps every rule and the break placed.
* **Kept only when better and still two districts**: the result must pass
  the independent checker (:func:`binroute.routing.check.check_solution`), serve
  every bin the pair served, rank no worse than the pair's current routes
  (:func:`binroute.routing.cost.rank`; the caller checks the whole day again), and
  not mix the two rounds much more than before: :func:`mixing`, the share
  of the pair's bins whose nearest bin of the pair is on the other round,
  may grow by at most :data:`MIX_SLACK`. Routing knows no coordinates, so
  this stands in for the territory overlap of :mod:`binroute.geo.territory`: two
  compact districts mix only along their border; interleaved rounds mix
  everywhere.

Pairs that share no lorry are independent, so the caller runs a matching
of them at once, half on each core (:func:`binroute.routing.solver._decomposed`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..check import check_solution
from ..cost import rank
from ..deadline import Budget, Deadline
from ..engines.pyvrp import Found, search_on, to_pyvrp, unsupported
from ..problem import Problem
from ..schedule import Plans, solution_from_plans
from ..solution import BIN, TIP, Route, Solution
from .day import Part, restricted, start_solution

#: Nearest bins looked at per bin to find which rounds are neighbours.
NEIGHBOURS = 5
#: Nearest bins of the pair looked at per bin to tell a border bin (may change lorry) from an inner one.
BORDER_NEIGHBOURS = 8
#: Iterations without a better plan after which a pair's search stops.
PAIR_PATIENCE = 1000
#: Most seconds per bin a pair's search may take.
PAIR_S_PER_BIN = 0.04
#: How much a pair's :func:`mixing` may grow for its new routes to be kept.
MIX_SLACK = 0.05
#: A round of pairs saving less than this share of the plan's cost is the last.
ROUND_MIN_GAIN = 0.001
#: Shortest search worth starting for a pair (s).
PAIR_MIN_S = 0.5
#: Rows of the bins' time matrix read at a time.
_BLOCK = 1024


@dataclass(frozen=True)
class PairJob:
    """Two neighbouring rounds as a problem of their own, with their current routes in its indices.

    ``usual`` (vehicle id by bin id) and ``move_saving`` price a bin served
    away from its usual crew (:func:`stay_rank`).
    """

    part: Part
    plans: Plans
    chosen: dict[int, int]
    usual: Mapping[str, str] = dataclasses.field(default_factory=dict)
    move_saving: float = 0.0


def moved_bins(solution: Solution, usual: Mapping[str, str]) -> list[str]:
    """The served bins with a usual crew (vehicle id by bin id) that another crew serves."""
    return [
        v.id
        for r in solution.routes
        for v in r.visits
        if v.kind == BIN and v.id in usual and usual[v.id] != r.vehicle_id
    ]


def stay_rank(problem: Problem, solution: Solution, usual: Mapping[str, str], saving: float) -> tuple[int, float]:
    """:func:`binroute.routing.cost.rank` with ``saving`` added to the cost per bin away from its usual crew.

    So a plan that moves bins off their usual crews ranks better only when
    it saves at least ``saving`` per bin moved.
    """
    left, cost = rank(problem, solution)
    return left, cost + saving * len(moved_bins(solution, usual)) if usual else cost


def _times(problem: Problem) -> NDArray[np.integer]:
    return problem.matrices[next(iter(problem.matrices))].time_s


def served_locations(solution: Solution) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per served bin, the location it is served at and the index of the route serving it."""
    locs, owner = [], []
    for k, route in enumerate(solution.routes):
        for visit in route.visits:
            if visit.kind == BIN:
                locs.append(visit.location)
                owner.append(k)
    return np.array(locs, dtype=np.int64), np.array(owner, dtype=np.int64)


def nearest_bins(problem: Problem, locs: NDArray[np.int64], k: int) -> NDArray[np.int64]:
    """Per location of ``locs``, the positions in ``locs`` of its ``k`` nearest others (round-trip time)."""
    t = _times(problem)
    k = min(k, len(locs) - 1)
    out = np.empty((len(locs), max(k, 0)), dtype=np.int64)
    if k <= 0:
        return out
    for r in range(0, len(locs), _BLOCK):
        rows = locs[r : r + _BLOCK]
        block = t[np.ix_(rows, locs)].astype(np.int64) + t[np.ix_(locs, rows)].T.astype(np.int64)
        block[np.arange(len(rows)), np.arange(len(rows)) + r] = np.iinfo(np.int64).max
        out[r : r + _BLOCK] = np.argpartition(block, k - 1, axis=1)[:, :k]
    return out


def neighbour_pairs(problem: Problem, solution: Solution) -> list[tuple[int, int, int]]:
    """Pairs of routes (indices into ``solution.routes``) whose bins are near each other, longest border first.

    Returns ``(a, b, border)`` with ``a < b``; ``border`` counts the bins of
    either round with a bin of the other among their :data:`NEIGHBOURS`
    nearest.
    """
    locs, owner = served_locations(solution)
    if len(locs) < 2:
        return []
    near = owner[nearest_bins(problem, locs, NEIGHBOURS)]
    border: dict[tuple[int, int], int] = {}
    for b in range(len(locs)):
        for other in set(near[b].tolist()) - {int(owner[b])}:
            key = (min(int(owner[b]), other), max(int(owner[b]), other))
            border[key] = border.get(key, 0) + 1
    return sorted(((a, b, n) for (a, b), n in border.items()), key=lambda x: (-x[2], x[0], x[1]))


def matching(pairs: Sequence[tuple[int, int, int]], skip: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pairs sharing no route, longest border first (greedy), leaving out those in ``skip``."""
    taken: set[int] = set()
    out = []
    for a, b, _ in pairs:
        if (a, b) in skip or a in taken or b in taken:
            continue
        out.append((a, b))
        taken |= {a, b}
    return out


def mixing(problem: Problem, solution: Solution) -> float:
    """Share of the served bins whose nearest served bin is on another route (0 for one route)."""
    locs, owner = served_locations(solution)
    if len(locs) < 2:
        return 0.0
    nearest = nearest_bins(problem, locs, 1)[:, 0]
    return float(np.mean(owner[nearest] != owner))


def pair_job(
    problem: Problem,
    solution: Solution,
    a: int,
    b: int,
    *,
    usual: Mapping[str, str] | None = None,
    move_saving: float = 0.0,
) -> PairJob:
    """The job for routes ``a`` and ``b`` of ``solution``: their bins and lorries, their routes as plans."""
    vehicle_at = {v.id: i for i, v in enumerate(problem.vehicles)}
    bin_at = {item.id: i for i, item in enumerate(problem.bins)}
    site_at = {f.id: i for i, f in enumerate(problem.facilities)}
    routes = [solution.routes[a], solution.routes[b]]
    bins = [bin_at[v.id] for r in routes for v in r.visits if v.kind == BIN]
    part = restricted(problem, bins, [vehicle_at[r.vehicle_id] for r in routes])
    here = {int(loc): k for k, loc in enumerate(part.locations)}
    sub_bin = {item.id: i for i, item in enumerate(part.problem.bins)}
    plans: Plans = []
    chosen: dict[int, int] = {}
    for k, route in enumerate(routes):
        stops: list[tuple[str, int]] = []
        for visit in route.visits:
            if visit.kind == BIN:
                stops.append((BIN, sub_bin[visit.id]))
                chosen[sub_bin[visit.id]] = here[visit.location]
            elif visit.kind == TIP:
                stops.append((TIP, site_at[visit.id]))
        while stops and stops[-1][0] == TIP:  # the last tip is part of the drive home
            stops.pop()
        plans.append((k, stops, route.start_s))
    owner = {ref: k for k, stops, _ in plans for kind, ref in stops if kind == BIN}
    mine = {item.id for item in part.problem.bins}
    kept = {b: v for b, v in (usual or {}).items() if b in mine}
    return PairJob(pinned(part, owner, chosen), plans, chosen, kept, move_saving)


def pin_stream(stream: str, vehicle: str) -> str:
    """The stream that only ``vehicle`` carries, standing for ``stream`` in a pair's problem."""
    return f"{stream}@{vehicle}"


def pinned(part: Part, owner: dict[int, int], chosen: dict[int, int]) -> Part:
    """``part`` with its inner bins pinned to the lorry (``owner``, by bin) serving them (see the module notes).

    A bin is inner when none of its :data:`BORDER_NEIGHBOURS` nearest bins
    (at the ``chosen`` locations) has another owner; it then gets a stream
    only its lorry carries. The sites accept the pinned streams too.
    """
    sub = part.problem
    bins = sorted(owner)
    locs = np.array([chosen.get(b, sub.bins[b].location) for b in bins], dtype=np.int64)
    mine = np.array([owner[b] for b in bins], dtype=np.int64)
    near = mine[nearest_bins(sub, locs, BORDER_NEIGHBOURS)]
    inner = {b for b, row, k in zip(bins, near, mine, strict=True) if np.all(row == k)}
    ids = [v.id for v in sub.vehicles]
    problem = dataclasses.replace(
        sub,
        bins=tuple(
            dataclasses.replace(item, stream=pin_stream(item.stream, ids[owner[b]])) if b in inner else item
            for b, item in enumerate(sub.bins)
        ),
        vehicles=tuple(
            dataclasses.replace(v, streams=v.streams | {pin_stream(s, v.id) for s in v.streams}) for v in sub.vehicles
        ),
        facilities=tuple(
            dataclasses.replace(f, streams=f.streams | {pin_stream(s, v) for s in f.streams for v in ids})
            for f in sub.facilities
        ),
    )
    return Part(problem, part.locations)


def _current(job: PairJob) -> Solution:
    """The pair's current routes as a solution of its own problem."""
    sub = job.part.problem
    return solution_from_plans(
        sub, job.plans, engine="", runtime_s=0.0, fit_rules=bool(unsupported(sub)), chosen=job.chosen
    )


def improve_pair(job: PairJob, budget: Budget, seed: int) -> Solution | None:
    """PyVRP's search on the pair from its current routes; the new routes if kept (see the module notes), else None.

    The routes returned are in the pair's own problem (``job.part.problem``);
    :func:`to_day` maps them back.
    """
    sub = job.part.problem
    missing = unsupported(sub)
    mapping = to_pyvrp(sub, relax_breaks=bool(missing), strict=True)
    try:
        start = start_solution(mapping, sub, job.plans, job.chosen)
    except (RuntimeError, ValueError, IndexError, KeyError):
        return None
    found = Found(0.0, job.plans, mapping, start, whole_day=False, chosen=job.chosen)
    on = search_on(sub, found, budget, seed=seed, patience=PAIR_PATIENCE)
    if on.best is None or not on.best.is_feasible():
        return None
    new = solution_from_plans(sub, on.plans, engine="", runtime_s=0.0, fit_rules=bool(missing), chosen=on.chosen)
    before = _current(job)
    if not check_solution(sub, new).ok or len(new.served()) < len(before.served()):
        return None
    if stay_rank(sub, new, job.usual, job.move_saving) >= stay_rank(sub, before, job.usual, job.move_saving):
        return None
    if mixing(sub, new) > mixing(sub, before) + MIX_SLACK:
        return None
    return new


def improve_pairs(jobs: Sequence[PairJob], budget: Budget, seed: int) -> list[Solution | None]:
    """:func:`improve_pair` on each job in turn, an equal share of the time left each, capped per bin."""
    out: list[Solution | None] = []
    for k, job in enumerate(jobs):
        share = budget
        if budget.timed:
            cap = PAIR_S_PER_BIN * len(job.part.problem.bins)
            share = budget.share(1 / (len(jobs) - k)).until(Deadline.after(cap))
            if share.deadline.left() < PAIR_MIN_S:
                out.append(None)
                continue
        out.append(improve_pair(job, share, seed + k))
    return out


def to_day(job: PairJob, routes: Sequence[Route]) -> list[Route]:
    """The pair's routes with their locations mapped back to the day's matrices."""
    at = job.part.locations
    return [
        dataclasses.replace(r, visits=tuple(dataclasses.replace(v, location=int(at[v.location])) for v in r.visits))
        for r in routes
    ]
