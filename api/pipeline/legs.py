"""The drives of a solved plan: every leg of every trip, each searched only as far as it goes.

A turn-aware drive is read off a shortest-path tree grown from the leg's
origin (:class:`binroute.geo.TurnPathFinder`). Grown over the whole city, one tree per
stop made writing a 2,000-stop plan take most of a minute; but the travel
matrix already says how long each leg is, so each origin's tree is grown only
up to its longest leg in the plan (one search per origin, however many legs
leave it, e.g. a depot's) and dropped once its last leg is drawn. A tree
stopped early is the same tree up to that cost, so the drives are the ones
an unbounded search gives.

The finder grows, keeps and forgets the bounded trees
(:meth:`binroute.geo.TurnPathFinder.grow`); this module decides how far each origin's
search goes and when its tree may go.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterator

import numpy as np

from binroute.routing import Solution

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
    """Bounded shortest-path trees kept by the turn-aware finders, one per origin, while needed."""

    def __init__(self, travel: Travel, trips: dict[str, list[list[int]]]) -> None:
        self.travel = travel
        #: Per (profile, origin slot): its longest leg in seconds, and how many of its legs are left.
        self.reach: dict[tuple[str, int], float] = {}
        self.left: Counter[tuple[str, int]] = Counter()
        self.ours: set[tuple[str, int]] = set()
        if travel.model != "turns":
            return  # node-based drives search the smaller road graph, trees shared by many stops
        for vehicle_id, trip_locations in trips.items():
            name = travel.profiles[vehicle_id].name
            time_s = travel.matrices[name].time_s  # whole seconds: a leg may take up to half a second more
            for locations in trip_locations:
                for a, b in itertools.pairwise(locations):
                    key = (name, a)
                    self.reach[key] = max(self.reach.get(key, 0.0), float(time_s[a, b]) + 1.0)
                    self.left[key] += 1

    @contextlib.contextmanager
    def grown(self, vehicle_id: str, a: int, b: int) -> Iterator[None]:
        """While the leg from slot ``a`` to ``b`` is drawn, its origin's bounded tree is kept by the finder."""
        name = self.travel.profiles[vehicle_id].name
        key = (name, a)
        if key not in self.reach:
            yield
            return
        model = self.travel.kerbside[name]
        finder, place, target = model.finder, model.place(a), model.place(b)
        if key not in self.ours and np.isfinite(self.reach[key]):
            finder.grow(place, self.reach[key])
            self.ours.add(key)
        if key in self.ours and not finder.reaches(place, target):
            # A drive that turns round at a dead end weighs more than its seconds (geo.turns.search_cost):
            # the leg searches the whole network, and that tree, still ours, is dropped after the last leg.
            finder.forget(place)
        try:
            yield
        finally:
            self.left[key] -= 1
            if self.left[key] == 0 and key in self.ours:
                finder.forget(place)
                self.ours.discard(key)
