"""The drives of a solved plan: every leg of every trip, each searched only as far as it goes.

A turn-aware drive is read off a shortest-path tree grown from the leg's
origin (:class:`geo.TurnPathFinder`). Grown over the whole city, one tree per
stop made writing a 2,000-stop plan take most of a minute; but the travel
matrix already says how long each leg is, so each origin's tree is grown only
up to its longest leg in the plan (one search per origin, however many legs
leave it, e.g. a depot's) and dropped once its last leg is drawn. A tree
stopped early is the same tree up to that cost, so the drives are the ones
an unbounded search gives.

This fills :class:`geo.TurnPathFinder`'s per-origin tree cache from outside,
so it relies on that class's state-graph numbering (leaving place ``p`` is
node ``S + P + p``, arriving at it ``S + p``); a search limit taken by the
finder itself would be the tidier home for it.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterator

import numpy as np
from scipy.sparse.csgraph import dijkstra

from geo.kerbside import KerbsideModel
from geo.matrix import LEN_BITS
from routing import Solution

from .roads import Leg, Travel


def route_legs(solution: Solution, travel: Travel) -> dict[str, list[list[Leg]]]:
    """Per used vehicle, per trip, the drives between its consecutive stops (computed once per plan)."""
    trips = {
        route.vehicle_id: [[v.location for v in trip] for trip in route.trips()]
        for route in solution.routes
        if route.used
    }
    searches = _Searches(travel, trips)
    legs: dict[str, list[list[Leg]]] = {}
    for vehicle_id, trip_locations in trips.items():
        legs[vehicle_id] = []
        for locations in trip_locations:
            drives = []
            for a, b in itertools.pairwise(locations):
                with searches.grown(vehicle_id, a, b):
                    drives.append(travel.leg(vehicle_id, a, b))
            legs[vehicle_id].append(drives)
    return legs


class _Searches:
    """Bounded shortest-path trees in the turn-aware finders' caches, one per origin, kept while needed."""

    def __init__(self, travel: Travel, trips: dict[str, list[list[int]]]) -> None:
        self.travel = travel
        #: Per (profile, origin slot): its longest leg in deci-seconds, and how many of its legs are left.
        self.reach: dict[tuple[str, int], float] = {}
        self.left: Counter[tuple[str, int]] = Counter()
        self.ours: set[tuple[str, int]] = set()
        if travel.model != "turns":
            return  # node-based drives search the smaller road graph, trees shared by many stops
        for vehicle_id, trip_locations in trips.items():
            name = travel.profiles[vehicle_id].name
            time_s = travel.kerbside[name].time_s
            for locations in trip_locations:
                for a, b in itertools.pairwise(locations):
                    key = (name, a)
                    self.reach[key] = max(self.reach.get(key, 0.0), float(np.rint(time_s[a, b] * 10)))
                    self.left[key] += 1

    @contextlib.contextmanager
    def grown(self, vehicle_id: str, a: int, b: int) -> Iterator[None]:
        """While the leg from slot ``a`` to ``b`` is drawn, its origin's bounded tree is in the finder's cache."""
        name = self.travel.profiles[vehicle_id].name
        key = (name, a)
        if key not in self.reach:
            yield
            return
        model = self.travel.kerbside[name]
        trees = model.finder._trees
        place = model.place(a)
        if place not in trees and np.isfinite(self.reach[key]):
            trees[place] = _bounded_tree(model, place, self.reach[key])
            self.ours.add(key)
        target = model.place(b)
        if key in self.ours and target != place and not _reaches(model, trees[place], target):
            del trees[place]  # not expected: the matrix and the search disagree; search unbounded
            self.ours.discard(key)
        try:
            yield
        finally:
            self.left[key] -= 1
            if self.left[key] == 0 and key in self.ours:
                del trees[place]
                self.ours.discard(key)


def _bounded_tree(model: KerbsideModel, place: int, deci_s: float) -> np.ndarray:
    """The predecessor tree of the finder's state graph from leaving ``place``, grown to ``deci_s`` deci-seconds."""
    finder = model.finder
    n_states, n_places = len(finder.tg.state_edge), finder.places.n_places
    # Packed weights (geo.matrix.unpack): deci-seconds above LEN_BITS, deci-metres below, so every
    # drive of at most deci_s deci-seconds weighs less than (deci_s + 1) * 2**LEN_BITS.
    limit = (deci_s + 1) * 2.0**LEN_BITS
    leave = n_states + n_places + place
    _, pred = dijkstra(finder.graph, directed=True, indices=leave, return_predecessors=True, limit=limit)
    return np.asarray(pred)


def _reaches(model: KerbsideModel, pred: np.ndarray, place: int) -> bool:
    """Whether a tree of the finder's state graph reaches the arrival at ``place``."""
    return bool(pred[len(model.finder.tg.state_edge) + place] >= 0)
