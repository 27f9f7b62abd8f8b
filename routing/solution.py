"""What a solve returns: routes with their schedule and loads, and what was left."""

from __future__ import annotations

from dataclasses import dataclass, field

DEPOT, BIN, TIP = "depot", "bin", "tip"


@dataclass(frozen=True)
class Visit:
    """A stop on a route.

    ``arrival_s`` is when the vehicle gets there, ``start_s`` when service
    starts (later when it waits for a window), ``departure_s`` when it leaves.
    ``load_after`` is the load on board after the stop, per capacity dimension.
    """

    kind: str
    id: str
    location: int
    arrival_s: int
    start_s: int
    departure_s: int
    load_after: tuple[int, ...]


@dataclass(frozen=True)
class BreakPlan:
    start_s: int
    duration_s: int


@dataclass(frozen=True)
class Route:
    """One vehicle's day: depot, bins and tips in order, depot."""

    vehicle_id: str
    visits: tuple[Visit, ...]
    break_: BreakPlan | None = None
    distance: int = 0

    @property
    def used(self) -> bool:
        return any(v.kind != DEPOT for v in self.visits)

    @property
    def bins(self) -> list[str]:
        return [v.id for v in self.visits if v.kind == BIN]

    @property
    def tips(self) -> int:
        return sum(v.kind == TIP for v in self.visits)

    @property
    def start_s(self) -> int:
        return self.visits[0].departure_s

    @property
    def end_s(self) -> int:
        return self.visits[-1].arrival_s

    @property
    def duration_s(self) -> int:
        return self.end_s - self.start_s if self.used else 0

    def trips(self) -> list[list[Visit]]:
        """Split the route into trips, each ending at a tip or the depot."""
        out: list[list[Visit]] = [[self.visits[0]]]
        for visit in self.visits[1:]:
            out[-1].append(visit)
            if visit.kind == TIP:
                out.append([visit])
        return [t for t in out if len(t) > 1]


@dataclass(frozen=True)
class Unserved:
    bin_id: str
    reason: str
    required: bool = True


@dataclass(frozen=True)
class Solution:
    """The result of :func:`binroute.routing.solve`.

    ``objective`` is the plan's cost (:func:`binroute.routing.cost.plan_cost`),
    the same measure whichever engine made the plan.
    """

    routes: tuple[Route, ...]
    unserved: tuple[Unserved, ...] = ()
    objective: float = 0.0
    status: str = "unknown"
    runtime_s: float = 0.0
    engine: str = "ortools"
    details: dict[str, object] = field(default_factory=dict)

    @property
    def distance(self) -> int:
        return sum(r.distance for r in self.routes)

    @property
    def vehicles_used(self) -> int:
        return sum(r.used for r in self.routes)

    def route_of(self, vehicle_id: str) -> Route:
        for r in self.routes:
            if r.vehicle_id == vehicle_id:
                return r
        raise KeyError(vehicle_id)

    def served(self) -> list[str]:
        return [b for r in self.routes for b in r.bins]
