"""The routing problem: an immutable description of one day's collection work.

Times are integer seconds from midnight of the planning day; distances are
integers in the problem's distance unit (metres in the real pipeline; the
benchmark's own unit when reading benchmark files). ``Problem`` validates
itself when built, so the solver and the checker can trust it.

A bin may be reachable at more than one location: a bin on a two-way street
can be served while driving past it in either direction, each direction a
separate location (a directed kerbside visit) in the travel matrices.
``Bin.alternatives`` lists the further locations; every engine serves the
bin exactly once, at whichever of ``Bin.locations`` suits the route, and the
:class:`~binroute.routing.solution.Visit` records the location actually used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ProblemError

DAY_S = 86_400
HORIZON_S = 2 * DAY_S


@dataclass(frozen=True)
class TimeWindow:
    """Service may start at ``start_s`` at the earliest and ``end_s`` at the latest."""

    start_s: int = 0
    end_s: int = HORIZON_S

    def __post_init__(self) -> None:
        if self.end_s < self.start_s:
            raise ProblemError(f"time window ends ({self.end_s}) before it starts ({self.start_s})")


#: Rows converted at a time by :meth:`Matrix.from_float` (bounds its float temporaries).
_FROM_FLOAT_ROWS = 1024


def _as_int32(name: str, values: np.ndarray) -> NDArray[np.int32]:
    """``values`` as int32, without a copy when they already are; a ProblemError if an entry does not fit."""
    arr = np.asarray(values)
    if arr.dtype == np.int32:
        return arr
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ProblemError(f"matrix {name}: entries must be integers, not {arr.dtype} (see Matrix.from_float)")
    info = np.iinfo(np.int32)
    if arr.size:
        for pick, bound in ((np.argmax, info.max), (np.argmin, info.min)):
            at = np.unravel_index(int(pick(arr)), arr.shape)
            value = int(arr[at])
            if (value > bound) if bound > 0 else (value < bound):
                raise ProblemError(
                    f"matrix {name}: entry {list(map(int, at))} = {value} does not fit in 32 bits "
                    f"(at most {info.max}); mark unreachable pairs with Matrix.UNREACHABLE ({Matrix.UNREACHABLE})"
                )
    return arr.astype(np.int32)


@dataclass(frozen=True)
class Matrix:
    """Travel time (s) and distance between locations for one vehicle profile.

    Both are held as int32 (seconds and metres fit: 2**31 s is 68 years,
    2**31 m is 2.1 million km), half the memory of int64 on a big day.
    Integer input of another type is converted once; an entry that does not
    fit raises :class:`~binroute.routing.errors.ProblemError` naming the matrix and
    the entry (never a silent wrap), as does a negative entry. Int32 input is
    kept as is, not copied.
    Unreachable pairs hold ``UNREACHABLE``. Sums of entries should be taken
    in int64 (``int(...)`` or ``.astype(np.int64)``): two ``UNREACHABLE``
    plus a little overflow int32.
    """

    time_s: NDArray[np.integer[Any]]  # int32 once built
    distance: NDArray[np.integer[Any]]

    UNREACHABLE = 10**9

    def __post_init__(self) -> None:
        for name in ("time_s", "distance"):
            values = _as_int32(name, getattr(self, name))
            if values.size and int(values.min()) < 0:  # checked once here, not by every Problem sharing the matrix
                raise ProblemError(f"matrix {name}: has negative entries")
            object.__setattr__(self, name, values)

    @classmethod
    def from_float(cls, time_s: np.ndarray, distance: np.ndarray) -> Matrix:
        """Round float matrices (``inf`` = unreachable, anything above ``UNREACHABLE`` too) to int32.

        Converted a block of rows at a time, so no full-size float temporary is made.
        """
        out = []
        for name, values in (("time_s", time_s), ("distance", distance)):
            values = np.asarray(values)
            if values.ndim != 2:
                raise ProblemError(f"matrix {name}: needs two dimensions, not {values.ndim}")
            if np.isnan(values).any():
                raise ProblemError(f"matrix {name}: has NaN entries")
            if (values < 0).any():
                raise ProblemError(f"matrix {name}: has negative entries")
            res = np.empty(values.shape, dtype=np.int32)
            for r in range(0, values.shape[0], _FROM_FLOAT_ROWS):
                block = np.rint(values[r : r + _FROM_FLOAT_ROWS])
                np.minimum(block, cls.UNREACHABLE, out=block)  # inf too
                res[r : r + _FROM_FLOAT_ROWS] = block
            out.append(res)
        return cls(out[0], out[1])

    def largest_reachable(self, which: str) -> int:
        """The largest entry of ``"time_s"`` or ``"distance"`` below ``UNREACHABLE`` (0 if none), by blocks of rows."""
        values = getattr(self, which)
        top = 0
        for r in range(0, values.shape[0], _FROM_FLOAT_ROWS):
            block = values[r : r + _FROM_FLOAT_ROWS]
            finite = block[block < self.UNREACHABLE]
            if finite.size:
                top = max(top, int(finite.max()))
        return top


@dataclass(frozen=True)
class Depot:
    id: str
    location: int
    window: TimeWindow = TimeWindow()


@dataclass(frozen=True)
class Facility:
    """A disposal site (transfer station, recycling plant) where vehicles tip."""

    id: str
    location: int
    streams: frozenset[str]
    window: TimeWindow = TimeWindow()
    service_s: int = 900


@dataclass(frozen=True)
class Bin:
    """A bin to collect (a job).

    ``demand`` has one entry per capacity dimension of the problem. A bin with
    ``required=False`` is collected only when its ``prize`` outweighs the cost.
    ``alternatives`` are further locations at which the same bin may be served
    (e.g. the other direction along its street); it is served at exactly one
    of :attr:`locations`, ``location`` being the first. ``crew`` is the vehicle
    that has the bin in a plan under way (a re-plan): serving it with another
    vehicle costs the problem's ``move_cost``.
    """

    id: str
    location: int
    demand: tuple[int, ...]
    stream: str = "general"
    service_s: int = 0
    window: TimeWindow | None = None
    required: bool = True
    prize: float = 0.0
    alternatives: tuple[int, ...] = ()
    crew: str | None = None

    @property
    def locations(self) -> tuple[int, ...]:
        """Every location the bin may be served at: ``location`` first, then ``alternatives``."""
        return (self.location, *self.alternatives)


@dataclass(frozen=True)
class Break:
    """A driver break of ``duration_s`` starting between two times."""

    earliest_start_s: int
    latest_start_s: int
    duration_s: int

    def __post_init__(self) -> None:
        if self.latest_start_s < self.earliest_start_s or self.duration_s < 0:
            raise ProblemError("break: latest start before earliest start, or negative duration")


@dataclass(frozen=True)
class Vehicle:
    """One crew and lorry for the day.

    Costs follow a council's crew day (:func:`binroute.routing.cost.route_cost`):
    ``fixed_cost`` is paid once the vehicle is used at all (crew and lorry
    for the day), and covers ``paid_duration_s`` of work; each hour worked
    beyond that costs ``overtime_per_hour`` more. ``cost_per_distance`` is
    per distance unit (fuel and wear), ``cost_per_hour`` per hour worked on
    top of the day cost (0 for a salaried crew; e.g. a lorry hired by the
    hour). ``max_distance`` caps the day's distance (an electric lorry's
    range per charge). ``out`` marks a crew already out on its round (a
    re-plan): it drives home whatever it is given, so its route is costed
    even with no stops, and giving its stops away saves no drive home.
    """

    id: str
    start_depot: int
    end_depot: int
    capacity: tuple[int, ...]
    profile: str = "default"
    streams: frozenset[str] = frozenset({"general"})
    shift: TimeWindow = TimeWindow()
    max_duration_s: int | None = None
    break_: Break | None = None
    fixed_cost: float = 0.0
    cost_per_distance: float = 1.0
    cost_per_hour: float = 0.0
    max_lifts: int | None = None
    max_load_per_day: tuple[int, ...] | None = None
    paid_duration_s: int | None = None
    overtime_per_hour: float = 0.0
    max_distance: int | None = None
    out: bool = False


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything the solver needs, validated once.

    Parameters
    ----------
    matrices
        Travel matrices by vehicle profile name, each ``n_locations`` square.
    depots, facilities, bins, vehicles
        The day's resources and work. When ``facilities`` is not empty every
        vehicle must tip at a site accepting its streams before returning to
        its depot, and may tip as often as it needs; without facilities each
        vehicle makes a single trip (classic CVRP).
    dimensions
        Names of the capacity dimensions (``("kg", "litres")``).
    balance_weight
        Cost per hour of difference between the longest and shortest shift.
    move_cost
        Cost of each bin served by a vehicle other than its ``crew`` (a re-plan's
        moving penalty: a stop changes crew only when that saves more).
    positions
        Each location's planar position, ``(n_locations, 2)`` metres (the
        pipeline's: the stops in the network's metric CRS), or None. Only the
        judging of rounds' compactness reads it (their territory overlap,
        :mod:`binroute.routing.decompose.compact`); without it routing judges
        by which bins are each other's nearest.
    """

    matrices: Mapping[str, Matrix]
    depots: tuple[Depot, ...]
    bins: tuple[Bin, ...]
    vehicles: tuple[Vehicle, ...]
    facilities: tuple[Facility, ...] = ()
    dimensions: tuple[str, ...] = ("load",)
    balance_weight: float = 0.0
    move_cost: float = 0.0
    positions: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def n_locations(self) -> int:
        return next(iter(self.matrices.values())).time_s.shape[0]

    @property
    def tips(self) -> bool:
        """Whether vehicles tip at facilities (and so end the day empty)."""
        return bool(self.facilities)

    def matrix(self, vehicle: Vehicle) -> Matrix:
        return self.matrices[vehicle.profile]

    def facilities_for(self, vehicle: Vehicle) -> list[int]:
        """Indices of the facilities that accept every stream ``vehicle`` carries."""
        return [i for i, f in enumerate(self.facilities) if vehicle.streams <= f.streams]


def _check_unique(kind: str, ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ProblemError(f"{kind} id {i!r} is used twice")
        seen.add(i)


def _validate(p: Problem) -> None:
    if not p.matrices:
        raise ProblemError("problem has no travel matrices")
    n = None
    for name, m in p.matrices.items():
        if m.time_s.ndim != 2 or m.time_s.shape[0] != m.time_s.shape[1] or m.time_s.shape != m.distance.shape:
            raise ProblemError(f"matrix {name!r} is not square or time and distance differ in shape")
        if n is not None and m.time_s.shape[0] != n:
            raise ProblemError(f"matrix {name!r} has {m.time_s.shape[0]} locations, others {n}")
        n = m.time_s.shape[0]
    assert n is not None
    if p.positions is not None:
        shape = np.shape(p.positions)
        if shape != (n, 2):
            raise ProblemError(f"positions: shape {shape}, expected ({n}, 2): one x, y pair per location")
        if not np.isfinite(p.positions).all():
            raise ProblemError("positions: every x and y must be a finite number")
    if not p.depots:
        raise ProblemError("problem has no depot")
    if not p.vehicles:
        raise ProblemError("problem has no vehicle")
    for kind, items in (("depot", p.depots), ("facility", p.facilities), ("bin", p.bins), ("vehicle", p.vehicles)):
        _check_unique(kind, [x.id for x in items])
    for d in p.depots:
        if not 0 <= d.location < n:
            raise ProblemError(f"depot {d.id}: location {d.location} outside 0..{n - 1}")
    for f in p.facilities:
        if not 0 <= f.location < n:
            raise ProblemError(f"facility {f.id}: location {f.location} outside 0..{n - 1}")
        if f.service_s < 0:
            raise ProblemError(f"facility {f.id}: negative tipping time")
    k = len(p.dimensions)
    vehicle_ids = {v.id for v in p.vehicles}
    for b in p.bins:
        if not 0 <= b.location < n:
            raise ProblemError(f"bin {b.id}: location {b.location} outside 0..{n - 1}")
        for alt in b.alternatives:
            if not 0 <= alt < n:
                raise ProblemError(f"bin {b.id}: alternative location {alt} outside 0..{n - 1}")
        if len(set(b.locations)) != len(b.locations):
            raise ProblemError(
                f"bin {b.id}: alternatives {b.alternatives} repeat a location (each must differ from "
                f"location {b.location} and from the others)"
            )
        if len(b.demand) != k or any(x < 0 for x in b.demand):
            raise ProblemError(f"bin {b.id}: demand {b.demand} must be {k} non-negative numbers")
        if b.service_s < 0 or b.prize < 0:
            raise ProblemError(f"bin {b.id}: negative service time or prize")
        if b.crew is not None and b.crew not in vehicle_ids:
            raise ProblemError(f"bin {b.id}: crew {b.crew!r} is not a vehicle of the problem")
    if p.move_cost < 0:
        raise ProblemError(f"move_cost {p.move_cost} is negative")
    for v in p.vehicles:
        if v.profile not in p.matrices:
            raise ProblemError(f"vehicle {v.id}: no matrix for profile {v.profile!r}")
        for which in (v.start_depot, v.end_depot):
            if not 0 <= which < len(p.depots):
                raise ProblemError(f"vehicle {v.id}: depot index {which} does not exist")
        if len(v.capacity) != k or any(c < 0 for c in v.capacity):
            raise ProblemError(f"vehicle {v.id}: capacity {v.capacity} must be {k} non-negative numbers")
        if v.paid_duration_s is not None and v.paid_duration_s < 0:
            raise ProblemError(f"vehicle {v.id}: negative paid_duration_s {v.paid_duration_s}")
        if v.max_distance is not None and v.max_distance <= 0:
            raise ProblemError(f"vehicle {v.id}: max_distance {v.max_distance} must be positive")
        if min(v.fixed_cost, v.cost_per_distance, v.cost_per_hour, v.overtime_per_hour) < 0:
            raise ProblemError(f"vehicle {v.id}: negative cost")
        if v.max_load_per_day is not None and len(v.max_load_per_day) != k:
            raise ProblemError(f"vehicle {v.id}: max_load_per_day needs {k} numbers")
        if p.tips and not p.facilities_for(v):
            raise ProblemError(f"vehicle {v.id}: no disposal site accepts all of its streams {sorted(v.streams)}")
