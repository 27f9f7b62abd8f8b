"""Re-planning the rest of a day: each crew from where it is, with what it has left of its shift and its lorry.

:func:`midday_problem` turns the morning's problem into the afternoon's: one
vehicle per crew still out, starting at its position now (a depot of its own at
that location), its shift and break from now, its room reduced by what is on
board, the bins still to collect. :func:`replan` solves it twice: once with
every remaining bin kept by its crew (each pinned to the crew through a stream
only that crew carries), from each crew's remaining order, and once free but
with a moving penalty per stop that changes crew (:func:`with_crews`), from the
kept plan; when both leave required bins that had no crew (a breakdown's
stops that fit only once the others' routes are rebuilt), a third solve builds
the routes anew with the same penalty. It takes the moved plan only when it
leaves fewer required bins or saves a stated share of the cost, so crews keep
their stops unless moving them saves a lot, and a crew that cannot do all its
stops gives up as few as it can. Each solve's time grows with the stops left
(:func:`replan_time_limit`). All go through :func:`~binroute.routing.solve`
and the one cost of :mod:`.cost`; the caller checks the result against the unpinned problem with
:func:`~binroute.routing.check_solution`.

A lorry part full keeps its reduced room for the rest of the day (after a tip
as well): cautious, since the engines start every vehicle empty; one too full
for its remaining stops tips first instead (:func:`midday_problem`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .cost import rank, with_cost
from .errors import InfeasibleProblem, ProblemError
from .limits import Limits, SolveParams
from .problem import HORIZON_S, Bin, Break, Depot, Problem, TimeWindow, Vehicle
from .solution import BIN, TIP, Route, Solution
from .solver import solve

#: The stream suffix that pins a bin to one crew in the kept variant: ``general@RCV1``.
PIN = "@"
#: The default moving penalty: the cost of driving this many km (at the dearest cost per distance
#: of the crews out). A stop changes crew only when that saves more, or when its crew cannot do it;
#: and the plan must save ``keep_unless_saves`` as well. (The sample's stops cost about 0.3 km each.)
MOVE_KM = 2.0
#: Each re-plan solve's search time per stop left, and its floor and ceiling (:func:`replan_time_limit`). The
#: search starts from the crews' routes, so it needs far less than a morning plan
#: (:func:`binroute.routing.default_time_limit`: 0.1 s a stop); the floor leaves a small day time to
#: move stops, the ceiling keeps a big day's re-plan to seconds.
REPLAN_S_PER_STOP = 0.008
REPLAN_MIN_S = 1.0
REPLAN_MAX_S = 5.0
#: A fresh solve (routes built anew, when the others leave required bins with no crew) has this times the
#: time: it must find a first solution before it can improve one.
FRESH_FACTOR = 2.0
#: A part-full lorry tips before anything else when its room left is below this share of its capacity
#: (or below what its remaining stops need).
TIP_FIRST_ROOM = 0.25


@dataclass(frozen=True)
class CrewNow:
    """Where one crew is and what it has left.

    Parameters
    ----------
    vehicle_id
        A vehicle of the morning's problem.
    location
        Its matrix location now.
    load
        What is on board now, per capacity dimension.
    lifts
        Bins it has emptied so far (counted against ``max_lifts``).
    keeps
        The remaining bins it had in the current plan (ids), which it keeps unless moving them saves a lot.
    """

    vehicle_id: str
    location: int
    load: tuple[int, ...] = ()
    lifts: int = 0
    keeps: tuple[str, ...] = ()


def _break_from(brk: Break | None, now_s: int) -> Break | None:
    """A break still to take from ``now_s``: its window cut to start now at the earliest; none once it is past."""
    if brk is None or now_s > brk.latest_start_s:
        return None
    return Break(max(brk.earliest_start_s, now_s), brk.latest_start_s, brk.duration_s)


def _after_tipping(problem: Problem, vehicle: Vehicle, location: int, now_s: int) -> tuple[int, int]:
    """Where and when ``vehicle`` is ready again after driving from ``location`` to tip at the site done soonest."""
    m = problem.matrix(vehicle)
    best: tuple[int, int] | None = None
    for i in problem.facilities_for(vehicle):
        site = problem.facilities[i]
        ready = max(now_s + int(m.time_s[location, site.location]), site.window.start_s) + site.service_s
        if best is None or ready < best[1]:
            best = (site.location, ready)
    assert best is not None  # the problem checked every vehicle has a site
    return best


def _less(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(limit - used, 0)


def midday_problem(problem: Problem, crews: Sequence[CrewNow], bins: Sequence[Bin], now_s: int) -> Problem:
    """The rest of the day as a problem: ``crews`` from their positions at ``now_s``, ``bins`` still to collect.

    Each crew's vehicle starts at a depot of its own at its location (``<id>@now``)
    and ends at its own depot; its shift starts at ``now_s`` (a crew whose shift is
    over is left out), its break is the part of its window still ahead, its
    limits on duration, paid time and lifts are reduced by what it has used, and
    its day cost is zero (paid already, so emptying a crew saves nothing) and its
    drive home is costed even with no stops left (``Vehicle.out``). Its
    capacity is reduced by its load; but where lorries tip and a part-full one has
    less room than its remaining stops need (or under :data:`TIP_FIRST_ROOM` of its
    capacity), it tips first: it starts empty at the site it is done at soonest,
    when it is done there.

    Raises
    ------
    ProblemError
        For a crew that is not a vehicle of ``problem`` or that is given twice.
    """
    vehicles = {v.id: v for v in problem.vehicles}
    demand = {b.id: b.demand for b in bins}
    depots = list(problem.depots)
    out: list[Vehicle] = []
    for crew in crews:
        if crew.vehicle_id not in vehicles:
            raise ProblemError(f"crew {crew.vehicle_id} is not a vehicle of the problem")
        v = vehicles[crew.vehicle_id]
        elapsed = max(now_s - v.shift.start_s, 0)
        load = crew.load or (0,) * len(v.capacity)
        room = tuple(max(c - x, 0) for c, x in zip(v.capacity, load, strict=True))
        need = [sum(demand[b][k] for b in crew.keeps if b in demand) for k in range(len(v.capacity))]
        location, start_s = crew.location, max(now_s, v.shift.start_s)
        if (
            problem.tips
            and any(load)
            and any(n > r or r < c * TIP_FIRST_ROOM for n, r, c in zip(need, room, v.capacity, strict=True))
        ):
            location, start_s = _after_tipping(problem, v, crew.location, start_s)
            room = v.capacity
        if start_s >= v.shift.end_s:
            continue
        depots.append(Depot(f"{v.id}@now", location, TimeWindow(0, HORIZON_S)))
        out.append(
            dataclasses.replace(
                v,
                start_depot=len(depots) - 1,
                capacity=room,
                fixed_cost=0.0,  # the crew-day is under way: its day cost is paid whatever the rest of it holds
                out=True,  # and it drives home whatever it is given
                shift=TimeWindow(start_s, v.shift.end_s),
                break_=_break_from(v.break_, now_s),
                max_duration_s=_less(v.max_duration_s, elapsed),
                paid_duration_s=_less(v.paid_duration_s, elapsed),
                max_lifts=_less(v.max_lifts, crew.lifts),
            )
        )
    if len({v.id for v in out}) != len(out):
        raise ProblemError("a crew is given twice")
    if not out:
        raise ProblemError("no crew has any shift left")
    return dataclasses.replace(problem, depots=tuple(depots), vehicles=tuple(out), bins=tuple(bins))


def pinned(problem: Problem, keeps: Mapping[str, str]) -> Problem:
    """``problem`` with each bin of ``keeps`` (bin id -> vehicle id) open only to that vehicle.

    A pinned bin's stream becomes ``<stream>@<vehicle>``; the vehicle carries its
    streams pinned to itself too, and every site that takes a stream takes its
    pinned forms, so tipping is unchanged.
    """
    streams = {b.stream for b in problem.bins}
    ids = [v.id for v in problem.vehicles]
    bins = tuple(
        dataclasses.replace(b, stream=f"{b.stream}{PIN}{keeps[b.id]}") if b.id in keeps and keeps[b.id] in ids else b
        for b in problem.bins
    )
    vehicles = tuple(
        dataclasses.replace(v, streams=v.streams | {f"{s}{PIN}{v.id}" for s in v.streams}) for v in problem.vehicles
    )
    facilities = tuple(
        dataclasses.replace(f, streams=f.streams | {f"{s}{PIN}{vid}" for s in f.streams | streams for vid in ids})
        for f in problem.facilities
    )
    return dataclasses.replace(problem, bins=bins, vehicles=vehicles, facilities=facilities)


def _stops(route: Route) -> list[str]:
    """A route's bins and tips in order, less the tips after its last bin (the engines fold the last tip into
    the drive home). Without its tips a route that tips on the way is too full to restore."""
    stops = [v.id for v in route.visits if v.kind in (BIN, TIP)]
    kinds = [v.kind for v in route.visits if v.kind in (BIN, TIP)]
    last = max((i for i, k in enumerate(kinds) if k == BIN), default=-1)
    return stops[: last + 1]


def _warm(params: SolveParams, solution: Solution) -> SolveParams:
    """``params`` starting from ``solution``'s routes (bins and tips), each bin at the location it was served at."""
    warm = {r.vehicle_id: _stops(r) for r in solution.routes if r.used}
    where = {v.id: v.location for r in solution.routes for v in r.visits if v.kind == BIN}
    return dataclasses.replace(params, warm_start=warm, warm_locations=where)


def with_crews(problem: Problem, keeps: Mapping[str, str], move_cost: float) -> Problem:
    """``problem`` with each bin of ``keeps`` (bin id -> vehicle id) given its crew, and ``move_cost`` per bin moved.

    A bin whose crew is not a vehicle of ``problem`` (one that broke down) has no crew: it moves freely.
    """
    ids = {v.id for v in problem.vehicles}
    bins = tuple(dataclasses.replace(b, crew=keeps[b.id]) if keeps.get(b.id) in ids else b for b in problem.bins)
    return dataclasses.replace(problem, bins=bins, move_cost=move_cost)


def replan_time_limit(n_stops: int) -> float:
    """The time limit of each of a re-plan's solves for ``n_stops`` stops left: :data:`REPLAN_S_PER_STOP` a stop
    within :data:`REPLAN_MIN_S` and :data:`REPLAN_MAX_S` (a fresh solve has :data:`FRESH_FACTOR` times this)."""
    return float(min(REPLAN_MAX_S, max(REPLAN_MIN_S, REPLAN_S_PER_STOP * n_stops)))


@dataclass(frozen=True)
class Replan:
    """A re-planned rest of the day: the chosen solution, which variant, both ranks, and the stops moved.

    ``kept_rank`` and ``moved_rank`` are the plans' ranks in the problem as given (the
    routes' cost, without the moving penalty the moved solve searched with);
    ``moves`` maps each bin that changed crew to its (old, new) crew; ``fresh`` says
    whether the moved plan is the fresh solve's (routes built anew, see :func:`replan`).
    """

    solution: Solution
    choice: str  # "keep" or "move"
    kept_rank: tuple[int, float]
    moved_rank: tuple[int, float]
    move_cost: float = 0.0
    moves: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    fresh: bool = False


def _fresh_limits(limits: Limits) -> Limits:
    """A fresh solve's limits: :data:`FRESH_FACTOR` times the time, the same solution limit."""
    if limits.time_limit_s is None:
        return limits
    return dataclasses.replace(limits, time_limit_s=limits.time_limit_s * FRESH_FACTOR)


def replan(
    problem: Problem,
    keeps: Mapping[str, str],
    *,
    limits: Limits | None = None,
    params: SolveParams,
    keep_unless_saves: float = 0.10,
    routes: Mapping[str, Sequence[str]] | None = None,
    move_cost: float | None = None,
) -> Replan:
    """Solve the rest of the day, keeping each bin of ``keeps`` with its crew unless moving saves a lot.

    Two solves, and a third when both leave required bins with no crew. The kept solve pins
    every bin to its crew and starts from each crew's remaining order (``routes``). The moved solve
    starts from the kept plan with every bin free, but each bin served by another crew than
    its own costs ``move_cost`` (:func:`with_crews`): a stop moves only when that saves more
    than the penalty, and when a crew cannot do all its stops (late, or too full) the search
    moves as few and as cheap ones as it can instead of leaving them. When the moved plan
    leaves required bins that had no crew (a broken-down lorry's, or bins added to the day:
    the others' routes must often be rebuilt around them, which moving one stop at a time
    from the kept plan seldom finds), a fresh solve builds the routes anew with the same
    moving penalty, and is the moved plan when it ranks better with the penalty counted.
    (Not for a crew's own stops: rebuilding every route to serve one bin a late crew can no
    longer reach would move tens of stops.) The moved plan is then taken only when it
    leaves fewer required bins or its routes save ``keep_unless_saves``.

    Parameters
    ----------
    problem
        The rest of the day (:func:`midday_problem`).
    keeps
        Bin id -> the crew that had it.
    limits
        Each solve's limits (the fresh solve has :data:`FRESH_FACTOR` times the time); default a time
        limit of :func:`replan_time_limit` for the stops left.
    params
        Engine and seed; the moved solve starts from the kept plan.
    keep_unless_saves
        The share of the kept plan's cost the moved plan must save to be taken when both leave
        as many required bins (0.10: 10 %).
    routes
        Each crew's remaining stops in the current plan's order (bin and site ids), where the kept
        solve starts: the kept plan is then at least as good as going on with the current one.
    move_cost
        The penalty per stop that changes crew; default the cost of driving :data:`MOVE_KM`.

    Returns
    -------
    Replan
        The moved plan when it leaves fewer required bins, or as many and costs at
        most ``1 - keep_unless_saves`` of the kept plan; else the kept plan.
    """
    if limits is None:
        limits = Limits(time_limit_s=replan_time_limit(len(problem.bins)))
    start = dataclasses.replace(params, warm_start=dict(routes)) if routes else params
    kept = solve(pinned(problem, keeps), limits=limits, params=start)
    if move_cost is None:
        move_cost = MOVE_KM * 1000 * max(v.cost_per_distance for v in problem.vehicles)
    crewed = with_crews(problem, keeps, move_cost)
    kept = with_cost(problem, kept)
    moved = solve(crewed, limits=limits, params=_warm(params, kept))
    fresh = False
    if any(u.required and u.bin_id not in keeps for u in moved.unserved):
        try:
            anew = solve(crewed, limits=_fresh_limits(limits), params=params)
        except InfeasibleProblem:  # no first solution within its time: the moved plan stands
            anew = None
        if anew is not None and rank(crewed, anew) < rank(crewed, moved):
            moved, fresh = anew, True
    moved = with_cost(problem, moved)
    kept_rank, moved_rank = rank(problem, kept), rank(problem, moved)
    better = moved_rank[0] < kept_rank[0] or (
        moved_rank[0] == kept_rank[0] and moved_rank[1] <= kept_rank[1] * (1 - keep_unless_saves)
    )
    chosen = moved if better else kept
    crew = {b.id: b.crew for b in crewed.bins if b.crew is not None}
    moves = {
        b: (crew[b], r.vehicle_id) for r in chosen.routes for b in r.bins if crew.get(b, r.vehicle_id) != r.vehicle_id
    }
    return Replan(chosen, "move" if better else "keep", kept_rank, moved_rank, move_cost, moves, fresh and better)
