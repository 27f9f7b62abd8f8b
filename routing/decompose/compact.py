"""How compact a plan's rounds are, judged inside routing, and a free plan's rounds tidied into areas.

* :func:`overlap`: the territory overlap of the plan's rounds that collect a
  common stream, on the problem's planar positions
  (:attr:`binroute.routing.Problem.positions`), measured exactly as
  ``plan.json``'s ``territory_overlap_same_stream`` (:mod:`binroute._territory`).
  None when the problem has no positions.
* :func:`compact_enough`: whether a candidate plan's rounds are compact
  enough to replace a reference plan's: their overlap at most the council's
  ``max_overlap`` (:attr:`binroute.routing.SolveParams.max_overlap`) or the
  reference's own, whichever is larger. Without positions, routing's
  stand-in: the share of bins whose nearest served bin is on another round
  (:func:`binroute.routing.decompose.borders.mixing`) at most the
  reference's plus a slack.
* :func:`tidy_owners`: each served bin's lorry as the majority of its
  :data:`TIDY_NEIGHBOURS` nearest served bins' (repeated until nothing
  changes): a free plan's rounds with their strays given to the round
  around them. :func:`binroute.routing.decompose.priced.tidied_search`
  searches on from the free plan with those areas priced.
"""

from __future__ import annotations

import numpy as np

from binroute._territory import overlap_share

from ..problem import Problem
from ..solution import BIN, Solution
from .borders import mixing, nearest_bins, served_locations

#: How far around its stops a round's territory reaches (m): ``plan.json``'s measure.
TERRITORY_BUFFER_M = 25.0
#: Served bins (beside itself) whose lorries vote on a bin's area in :func:`tidy_owners`.
TIDY_NEIGHBOURS = 10
#: Shares of :func:`binroute.routing.decompose.priced.mixing_prices` a bin served outside its tidied area
#: pays, lightest first: the next only while the rounds overlap more than allowed. A light nudge keeps a
#: free plan's cost (on Milan's 1,000-bin day 1 a quarter of the price tidied to overlap 0.11-0.20 at the
#: free plan's km, the whole price cost 2-3% more km; checked on the other days, benchmarks README).
TIDY_PRICE_WEIGHTS = (0.25, 0.5, 1.0)
#: Most passes of the vote in :func:`tidy_owners` (it settles within a few).
TIDY_PASSES = 20


def overlap(problem: Problem, solution: Solution) -> float | None:
    """Territory overlap of ``solution``'s rounds that collect a common stream; None without positions."""
    if problem.positions is None:
        return None
    stream = {b.id: b.stream for b in problem.bins}
    rounds, groups = [], []
    for route in solution.routes:
        locs = [v.location for v in route.visits if v.kind == BIN]
        rounds.append(problem.positions[locs] if locs else np.empty((0, 2)))
        groups.append(frozenset(stream[v.id] for v in route.visits if v.kind == BIN))
    return overlap_share(rounds, TERRITORY_BUFFER_M, groups)


def compact_enough(
    problem: Problem, candidate: Solution, reference: Solution, max_overlap: float, *, mix_slack: float = 0.0
) -> bool:
    """Whether ``candidate``'s rounds are compact enough to replace ``reference``'s (see the module notes)."""
    mine, theirs = overlap(problem, candidate), overlap(problem, reference)
    if mine is None or theirs is None:
        return mixing(problem, candidate) <= mixing(problem, reference) + mix_slack
    return mine <= max(max_overlap, theirs)


def tidy_owners(problem: Problem, solution: Solution) -> dict[int, int]:
    """Per served bin (index), the vehicle (index) most of its nearest served bins (and itself) are on.

    A bin keeps its lorry unless a strict majority of the vote names another.
    """
    vehicle_at = {v.id: i for i, v in enumerate(problem.vehicles)}
    bin_at = {b.id: i for i, b in enumerate(problem.bins)}
    locs, route_of = served_locations(solution)
    ids = [v.id for r in solution.routes for v in r.visits if v.kind == BIN]
    own = np.array([vehicle_at[solution.routes[k].vehicle_id] for k in route_of], dtype=np.int64)
    if len(locs) < 2:
        return {bin_at[b]: int(o) for b, o in zip(ids, own, strict=True)}
    near = nearest_bins(problem, locs, TIDY_NEIGHBOURS)
    majority = (near.shape[1] + 1) // 2 + 1  # strictly more than half of the votes (the bin's own included)
    for _ in range(TIDY_PASSES):
        votes = np.concatenate([own[:, None], own[near]], axis=1)
        counts = np.stack([(votes == v).sum(axis=1) for v in range(len(problem.vehicles))], axis=1)
        top = counts.argmax(axis=1)
        new = np.where(counts.max(axis=1) >= majority, top, own)
        if (new == own).all():
            break
        own = new
    return {bin_at[b]: int(o) for b, o in zip(ids, own, strict=True)}
