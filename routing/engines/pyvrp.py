"""PyVRP's iterated local search behind the same ``Problem → Solution`` boundary.

Mapped natively: capacities in several dimensions, time windows, service
times, several depots, a mixed fleet with fixed and per-distance/per-hour
costs, optional bins with prizes, disposal sites as reload depots, shift
windows and durations. Streams a vehicle cannot carry become an extra load
dimension with zero capacity. The last tip of the day is folded into the
drive home, as in the OR-Tools model: each vehicle ends at a virtual depot
whose distance from every place is the way home through the best site.
Required bins are required clients first. When that search finds no plan
that serves them all within a share of the budget (the fleet is too small
for the day), it gives up and the rest of the budget goes to a search in
which required bins are optional with a prize larger than any detour, so an
over-full day still gives a plan (and the unserved bins are explained).
Optional prizes alone would be simpler, but on tightly packed days the
search then finds it cheaper to drop a bin than to pack the lorries
(measured on X-n524-k153: 5 customers dropped).

Lift and daily load limits are exact when a vehicle makes one trip a day
(no disposal sites): they tighten its capacity, lifts becoming one more load
dimension. With tips, PyVRP resets every load dimension at a reload, so a
limit on the day's total cannot be stated; two approximations are offered
instead, each wrong in a different direction. The default keeps the tips in
the search and ignores the day totals; ``whole_day`` keeps the day totals
exact (the vehicle's capacity is the day's limit, with no reloads) and
leaves the tips out of the search; each route then gets its tips where they
cost least (:func:`insert_tips`). Driver breaks and workload balance are not
expressible; ``engine="auto"`` hands such problems on to OR-Tools (see
:mod:`binroute.routing.solver`).

A bin with alternative locations (:attr:`~binroute.routing.problem.Bin.locations`)
becomes one optional client per location, tied together in a mutually
exclusive :class:`pyvrp.ClientGroup`: a required group (required bins in the
strict search) is visited exactly once, an optional one at most once, each
client carrying the bin's prize. Bins with one location are single clients
as before. The location each bin was served at is read back as ``chosen``
(bin index to location) alongside the plans.
"""

from __future__ import annotations

import dataclasses
import math
import time as clock
import warnings
from dataclasses import dataclass, field

import numpy as np
import pyvrp
from pyvrp import ActivityType, Client, ClientGroup, Depot, Location, ProblemData, VehicleType
from pyvrp.exceptions import PenaltyBoundWarning

from ..deadline import Budget, GiveUp, criterion_for
from ..errors import ProblemError
from ..feasibility import _home_via_site, servable
from ..limits import SolveParams
from ..problem import Problem, Vehicle
from ..schedule import Plans, solution_from_plans
from ..solution import BIN, TIP, Solution, Unserved
from .tips import insert_tips

MAX_RELOADS = 12
LARGE = 10**9
#: Granular neighbourhoods: PyVRP's local search considers, for each client,
#: only its nearest ``num_neighbours`` others. PyVRP's default (50) up to
#: :data:`NEIGHBOURS_FULL_UP_TO` clients; above that it shrinks with the
#: square root of the day's size, to :data:`NEIGHBOURS_MIN` at the least, so
#: time per iteration and the neighbour lists grow about linearly.
NEIGHBOURS_MAX = 50
NEIGHBOURS_MIN = 20
NEIGHBOURS_FULL_UP_TO = 1000
#: Share of the budget after which a search with required bins, still without
#: a plan that serves them all, gives up for the optional-with-prize search.
GIVE_UP_SHARE = 0.25


def unsupported(problem: Problem) -> list[str]:
    """The constraints of ``problem`` that PyVRP cannot express."""
    out = []
    if any(v.break_ for v in problem.vehicles):
        out.append("driver breaks")
    if problem.tips and any(v.max_lifts is not None for v in problem.vehicles):
        out.append("lift limits")
    if problem.tips and any(v.max_load_per_day is not None for v in problem.vehicles):
        out.append("daily load limits")
    if problem.balance_weight:
        out.append("workload balance")
    if problem.move_cost and any(b.crew is not None for b in problem.bins):
        out.append("moving penalty")
    if any(v.out for v in problem.vehicles):
        out.append("crews already out")
    return out


@dataclass(frozen=True)
class _Mapping:
    data: ProblemData
    client_bin: list[int]  # PyVRP client index -> problem bin index
    client_location: list[int]  # PyVRP client index -> the location (one of the bin's) it stands for
    n_garages: int
    n_sites: int
    type_vehicles: list[list[int]]  # PyVRP vehicle type -> problem vehicle indices
    allowed: dict[int, list[int]]
    pre_unserved: list[Unserved]
    #: Cap on PyVRP's penalty per unit of excess load or lateness: above a
    #: required bin's prize, so that dropping a bin beats breaking a rule.
    max_penalty: float


def _cost_scale(problem: Problem) -> float:
    """Multiplier that makes the cheapest cost coefficient about 10 integer units.

    PyVRP wants integer costs; much larger units than this push its penalty
    terms against their bounds, much smaller ones lose precision.
    """
    coefs = [
        c
        for v in problem.vehicles
        for c in (v.cost_per_distance, v.cost_per_hour / 3600, v.overtime_per_hour / 3600)
        if c > 0
    ]
    if not coefs:
        return 1.0
    return 10.0 / min(coefs)


def _max_reloads(problem: Problem, v: Vehicle) -> int:
    """Tips before the last one; a daily load limit bounds how many trips are worth making."""
    if not problem.tips:
        return 0
    if v.max_load_per_day is None:
        return MAX_RELOADS
    trips = max(math.ceil(day / cap) if cap else 1 for day, cap in zip(v.max_load_per_day, v.capacity, strict=True))
    return max(0, min(MAX_RELOADS, trips - 1))


def _capacity(problem: Problem, v: Vehicle, whole_day: bool) -> list[int]:
    """``v``'s capacity per load dimension as PyVRP sees it (see the module notes)."""
    day = v.max_load_per_day
    if not problem.tips:
        # One trip a day: the day's limit is the trip's.
        return [min(c, d) for c, d in zip(v.capacity, day, strict=True)] if day else list(v.capacity)
    if whole_day:
        # The day as one trip: its limit, or as much as the most tips allowed carry.
        return list(day) if day else [c * (MAX_RELOADS + 1) for c in v.capacity]
    return list(v.capacity)


def _tip_time_share(problem: Problem, profile: str) -> dict[tuple[int, int], int]:
    """Per bin and location, its share of the time the tips it causes will take (for the whole-day formulation).

    A bin filling a fraction of the lorry causes that fraction of a tip: the
    site's service time and the drive there and back from the bin, at the
    nearest site that takes its stream. Without it, routes planned with no
    tips overrun the shift once their tips are put in.
    """
    m = problem.matrices[profile]
    biggest = [max(v.capacity[d] for v in problem.vehicles) for d in range(len(problem.dimensions))]
    share = {}
    for b, item in enumerate(problem.bins):
        part = max((q / c for q, c in zip(item.demand, biggest, strict=True) if c > 0), default=0.0)
        for loc in item.locations:
            trips = [
                int(m.time_s[loc, f.location]) + f.service_s + int(m.time_s[f.location, loc])
                for f in problem.facilities
                if item.stream in f.streams
            ]
            share[b, loc] = round(part * min(trips)) if trips else 0
    return share


def _vehicle_key(v: Vehicle, relax_s: int) -> tuple[object, ...]:
    return (
        v.start_depot,
        v.end_depot,
        v.capacity,
        v.max_load_per_day,
        v.max_lifts,
        v.profile,
        v.streams,
        v.shift,
        v.max_duration_s,
        relax_s,
        v.fixed_cost,
        v.cost_per_distance,
        v.cost_per_hour,
        v.paid_duration_s,
        v.overtime_per_hour,
        v.max_distance,
    )


def to_pyvrp(
    problem: Problem, *, relax_breaks: bool = False, strict: bool = False, whole_day: bool = False
) -> _Mapping:
    """Build PyVRP data for ``problem``.

    With ``relax_breaks`` each vehicle's shift is shortened by its break, so
    routes leave room for OR-Tools to place the break afterwards. With
    ``strict`` required bins are required clients; otherwise they are optional
    with a prize larger than any detour. With ``whole_day`` (only meaningful
    when vehicles tip) routes have no tips but keep the day's load and lift
    limits; :func:`insert_tips` adds the tips afterwards.
    """
    reloads = problem.tips and not whole_day
    count_lifts = not reloads and any(v.max_lifts is not None for v in problem.vehicles)
    allowed, pre_unserved = servable(problem)
    garages, sites = problem.depots, problem.facilities
    ends: list[tuple[int, tuple[int, ...]]] = []
    if problem.tips:
        ends = sorted({(v.end_depot, tuple(problem.facilities_for(v))) for v in problem.vehicles})
    profiles = list(problem.matrices)
    # PyVRP gets only the locations in use (depots, sites, the servable bins'
    # locations), so a region of a big day costs memory for its own size only.
    used = np.unique(
        np.array(
            [d.location for d in garages]
            + [f.location for f in sites]
            + [loc for b in allowed for loc in problem.bins[b].locations],
            dtype=np.int64,
        )
    )
    here = {int(loc): k for k, loc in enumerate(used)}
    n = len(used)
    dist_mats, dur_mats = [], []
    for name in profiles:
        m = problem.matrices[name]
        size = n + len(ends)
        dist = np.zeros((size, size), dtype=np.int64)
        dur = np.zeros((size, size), dtype=np.int64)
        dist[:n, :n], dur[:n, :n] = m.distance[np.ix_(used, used)], m.time_s[np.ix_(used, used)]
        for k, (end_depot, site_ids) in enumerate(ends):
            home_t, home_d, _ = _home_via_site(problem, name, site_ids)
            loc = garages[end_depot].location
            dur[:n, n + k], dist[:n, n + k] = home_t[used, end_depot], home_d[used, end_depot]
            dur[n + k, :n], dist[n + k, :n] = m.time_s[loc, used], m.distance[loc, used]
            dur[n + k, n + k] = dist[n + k, n + k] = 0
        np.minimum(dist, LARGE, out=dist)
        np.minimum(dur, LARGE, out=dur)
        dist_mats.append(dist)
        dur_mats.append(dur)
    scale = _cost_scale(problem)
    streams = sorted({problem.bins[b].stream for b in allowed} | {s for v in problem.vehicles for s in v.streams})
    # A required bin is worth more than any detour (distance and time) or extra vehicle.
    far = max(m.largest_reachable("distance") for m in problem.matrices.values())
    slow = max(m.largest_reachable("time_s") for m in problem.matrices.values())
    per_m = max(max(v.cost_per_distance for v in problem.vehicles) * scale, 1)
    per_s = max(v.cost_per_hour + v.overtime_per_hour for v in problem.vehicles) / 3600 * scale
    longest_service = max((b.service_s for b in problem.bins), default=0)
    fixed = max(v.fixed_cost for v in problem.vehicles) * scale
    must_prize = int(4 * (far * per_m + (slow + longest_service) * per_s) + 2 * fixed + 10**6)
    tip_time = _tip_time_share(problem, profiles[0]) if whole_day and problem.tips else {}
    clients: list[Client] = []
    client_bin: list[int] = []
    client_location: list[int] = []
    client_groups: list[ClientGroup] = []
    for b in sorted(allowed):
        item = problem.bins[b]
        indicator = [1 if s == item.stream else 0 for s in streams]
        w = item.window
        required = strict and item.required
        # One client per location; a bin with several is a mutually exclusive group of optional clients.
        group = len(client_groups) if item.alternatives else None
        if group is not None:
            members = list(range(len(clients), len(clients) + len(item.locations)))
            client_groups.append(ClientGroup(clients=members, required=required, name=item.id))
        for loc in item.locations:
            clients.append(
                Client(
                    location=here[loc],
                    pickup=[*item.demand, *indicator, *([1] if count_lifts else [])],
                    service_duration=item.service_s + tip_time.get((b, loc), 0),
                    tw_early=w.start_s if w else 0,
                    tw_late=w.end_s if w else LARGE,
                    prize=must_prize if item.required else round(item.prize * scale),
                    required=required and group is None,
                    group=group,
                    name=item.id,
                )
            )
            client_bin.append(b)
            client_location.append(loc)
    depots = [
        Depot(location=here[d.location], tw_early=d.window.start_s, tw_late=d.window.end_s, name=d.id) for d in garages
    ]
    depots += [
        Depot(
            location=here[f.location],
            tw_early=f.window.start_s,
            tw_late=f.window.end_s,
            service_duration=f.service_s,
            name=f.id,
        )
        for f in sites
    ]
    for k, (end_depot, site_ids) in enumerate(ends):
        m = problem.matrices[profiles[0]]
        latest = max(
            sites[f].window.end_s + int(m.time_s[sites[f].location, garages[end_depot].location]) for f in site_ids
        )
        depots.append(
            Depot(
                location=n + k,
                tw_early=garages[end_depot].window.start_s,
                tw_late=min(garages[end_depot].window.end_s, latest),
                name=f"home:{garages[end_depot].id}",
            )
        )
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, v in enumerate(problem.vehicles):
        relax = v.break_.duration_s if (relax_breaks and v.break_) else 0
        groups.setdefault(_vehicle_key(v, relax), []).append(i)
    types, type_vehicles = [], []
    for members in groups.values():
        v = problem.vehicles[members[0]]
        relax = v.break_.duration_s if (relax_breaks and v.break_) else 0
        site_ids = tuple(problem.facilities_for(v))
        end = len(garages) + len(sites) + ends.index((v.end_depot, site_ids)) if problem.tips else v.end_depot
        start_w, end_w = garages[v.start_depot].window, garages[v.end_depot].window
        shift = v.max_duration_s - relax if v.max_duration_s is not None else LARGE
        # Overtime (routing.cost.overtime_hours): work beyond the paid shift, up to the hard limit.
        paid = v.paid_duration_s - relax if v.paid_duration_s is not None and v.overtime_per_hour else None
        overtime = paid is not None and paid < shift
        types.append(
            VehicleType(
                num_available=len(members),
                capacity=[
                    *_capacity(problem, v, whole_day),
                    *[len(problem.bins) + 1 if s in v.streams else 0 for s in streams],
                    *([v.max_lifts if v.max_lifts is not None else len(problem.bins)] if count_lifts else []),
                ],
                start_depot=v.start_depot,
                end_depot=end,
                fixed_cost=round(v.fixed_cost * scale),
                tw_early=max(v.shift.start_s, start_w.start_s),
                tw_late=max(v.shift.start_s, min(v.shift.end_s, end_w.end_s) - relax),
                shift_duration=max(paid if overtime and paid is not None else shift, 0),
                max_overtime=shift - max(paid, 0) if overtime and paid is not None else 0,
                unit_overtime_cost=round(v.overtime_per_hour / 3600 * scale) if overtime else 0,
                max_distance=v.max_distance if v.max_distance is not None else LARGE,
                unit_distance_cost=round(v.cost_per_distance * scale),
                unit_duration_cost=round(v.cost_per_hour / 3600 * scale),
                profile=profiles.index(v.profile),
                reload_depots=[len(garages) + f for f in site_ids] if reloads else [],
                max_reloads=_max_reloads(problem, v) if reloads else 0,
                name=v.id,
            )
        )
        type_vehicles.append(members)
    locations = [Location(0.0, 0.0) for _ in range(n + len(ends))]
    data = ProblemData(locations, clients, depots, types, dist_mats, dur_mats, client_groups)  # type: ignore[arg-type]  # stubs say ndarray[int]
    del dist_mats, dur_mats  # PyVRP holds its own copy
    max_penalty = max(pyvrp.PenaltyParams().max_penalty, 2.0 * must_prize)
    return _Mapping(
        data, client_bin, client_location, len(garages), len(sites), type_vehicles, allowed, pre_unserved, max_penalty
    )


def num_neighbours(clients: int) -> int:
    """How many nearest neighbours PyVRP's search considers per client on a day of ``clients``."""
    if clients <= NEIGHBOURS_FULL_UP_TO:
        return NEIGHBOURS_MAX
    scaled = NEIGHBOURS_MAX * math.sqrt(NEIGHBOURS_FULL_UP_TO / clients)
    return max(NEIGHBOURS_MIN, round(scaled))


@dataclass(frozen=True)
class Found:
    """What a PyVRP search found, kept so that it can search on from there (:func:`search_on`).

    ``cost`` is PyVRP's own scaled cost, for comparing searches of one
    formulation only; plans are compared with :func:`binroute.routing.cost.rank`.
    ``chosen`` is the location each served bin was served at, by bin index
    (see :mod:`binroute.routing.schedule`).
    """

    cost: float
    plans: Plans
    mapping: _Mapping | None = None
    best: pyvrp.Solution | None = None
    whole_day: bool = False
    chosen: dict[int, int] = field(default_factory=dict)


def _run(
    mapping: _Mapping, stop: pyvrp.stop.StoppingCriterion, seed: int, start: pyvrp.Solution | None = None
) -> tuple[float, bool, Plans, dict[int, int], pyvrp.Solution]:
    """One PyVRP search.

    Returns its cost, whether it is feasible, per used vehicle its stops and
    departure, the location each served bin was served at, and the solution.
    """
    with warnings.catch_warnings():
        # Raised when no plan serves every required bin; search() handles that case.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        params = pyvrp.SolveParams(
            penalty=pyvrp.PenaltyParams(max_penalty=mapping.max_penalty),
            neighbourhood=pyvrp.search.NeighbourhoodParams(num_neighbours=num_neighbours(mapping.data.num_clients)),
        )
        result = pyvrp.solve(
            mapping.data,
            stop=stop,
            seed=seed,
            display=False,
            collect_stats=False,
            params=params,
            initial_solution=start,
        )
    best = result.best
    free = [list(m) for m in mapping.type_vehicles]
    plans = []
    chosen: dict[int, int] = {}
    first_site, first_home = mapping.n_garages, mapping.n_garages + mapping.n_sites
    for route in best.routes():
        stops: list[tuple[str, int]] = []
        schedule = route.schedule()
        for k, act in enumerate(schedule):
            if act.type == ActivityType.CLIENT:
                stops.append((BIN, mapping.client_bin[act.idx]))
                chosen[mapping.client_bin[act.idx]] = mapping.client_location[act.idx]
            elif act.type == ActivityType.DEPOT and 0 < k < len(schedule) - 1 and first_site <= act.idx < first_home:
                stops.append((TIP, act.idx - first_site))
        vehicle = free[route.vehicle_type()].pop(0)
        plans.append((vehicle, stops, int(route.start_time())))
    cost = best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost() + best.uncollected_prizes()
    return float(cost), best.is_feasible(), plans, chosen, best


def search(
    problem: Problem, budget: Budget, *, seed: int, relax_breaks: bool = False, whole_day: bool = False
) -> Found:
    """Run PyVRP until ``budget`` is spent; per used vehicle, the stops and departure time.

    Required bins are required first; if no plan serves them all by
    :data:`GIVE_UP_SHARE` of the budget, the rest of the budget goes to the
    search where they are optional with a large prize. With ``relax_breaks``
    shifts are shortened by their breaks (see :func:`to_pyvrp`); with
    ``whole_day`` the tips are placed afterwards by
    :func:`~binroute.routing.engines.tips.insert_tips`. Building the data counts against the
    budget's deadline.

    When lorries cost a day each (``fixed_cost``) and the plan found might
    fit in one lorry fewer, the day is searched again without its smallest
    round (:func:`_one_lorry_fewer`): PyVRP's search seldom empties a route
    of its own accord.
    """
    strict = to_pyvrp(problem, relax_breaks=relax_breaks, strict=True, whole_day=whole_day)
    if not strict.client_bin:
        return Found(0.0, [])
    mapping = strict
    fewer = len(problem.vehicles) > 1 and any(v.fixed_cost > 0 for v in problem.vehicles)
    main = budget.share(1 - FEWER_SHARE) if fewer else budget
    cost, feasible, plans, chosen, best = _run(strict, GiveUp(main, GIVE_UP_SHARE), seed)
    data = strict.data
    optional = not feasible and (any(c.required for c in data.clients()) or any(g.required for g in data.groups()))
    if optional:
        mapping = to_pyvrp(problem, relax_breaks=relax_breaks, whole_day=whole_day)
        cost, _, plans, chosen, best = _run(mapping, criterion_for(budget), seed)
    found = Found(cost, _with_tips(problem, plans, chosen, whole_day), mapping, best, whole_day, chosen)
    if fewer and not optional:  # a day no plan serves whole has spent the budget on the optional formulation
        found = _one_lorry_fewer(problem, found, budget, seed=seed, relax_breaks=relax_breaks)
    return found


#: Share of a search (of its time; a deterministic search gets this share of its iterations more) given
#: to the same day without its smallest round, when lorries cost a day each (:func:`_one_lorry_fewer`).
#: Measured on the sample's turn-aware day: PyVRP alone kept 3 lorries in 3 seeds of 4 where 2 serve
#: every bin (a crew day, 450, against a few km).
FEWER_SHARE = 0.25


def _working_s(v: Vehicle) -> int:
    """The longest day ``v`` may work: its shift (or its limit, if shorter), less its break."""
    day = v.shift.end_s - v.shift.start_s
    if v.max_duration_s is not None:
        day = min(day, v.max_duration_s)
    return day - (v.break_.duration_s if v.break_ else 0)


def _fewer_vehicles(problem: Problem, found: Found) -> list[int] | None:
    """The lorries to try the day with (those used, less the one with the fewest bins), or ``None``.

    ``None`` when fewer than two are used, when the used lorries cost
    nothing a day, or when the plan's routes, end to end, would not fit in
    the other lorries' working days (then one fewer cannot serve the day).
    """
    if found.best is None or len(found.plans) < 2:
        return None
    used = [v for v, _, _ in found.plans]
    if all(problem.vehicles[v].fixed_cost <= 0 for v in used):
        return None
    smallest = min(found.plans, key=lambda plan: sum(kind == BIN for kind, _ in plan[1]))[0]
    keep = [v for v in used if v != smallest]
    work = sum(route.duration() for route in found.best.routes())
    return keep if work <= sum(_working_s(problem.vehicles[v]) for v in keep) else None


def _one_lorry_fewer(problem: Problem, found: Found, budget: Budget, *, seed: int, relax_breaks: bool) -> Found:
    """``found``, or a cheaper plan serving every required bin with one lorry fewer.

    Searches the day with only :func:`_fewer_vehicles` (for the rest of a
    timed ``budget``, or :data:`FEWER_SHARE` of a deterministic one's
    iterations); when that is not worth trying, a timed search goes on from
    ``found`` instead. Costs are compared in money (each formulation's cost
    over its scale).
    """
    keep = _fewer_vehicles(problem, found)
    if keep is None:
        if budget.timed and budget.deadline.left() > 0:
            return search_on(problem, found, budget, seed=seed)
        return found
    rest = budget
    if not budget.timed and budget.solution_limit is not None:
        extra = max(1, math.ceil(FEWER_SHARE * budget.solution_limit))
        rest = Budget(budget.deadline, extra, timed=False)
    sub = dataclasses.replace(problem, vehicles=tuple(problem.vehicles[v] for v in keep))
    mapping = to_pyvrp(sub, relax_breaks=relax_breaks, strict=True, whole_day=found.whole_day)
    # The sub-problem's lorry k is the day's keep[k]: plans and later searches name the day's lorries.
    mapping = dataclasses.replace(
        mapping,
        type_vehicles=[[keep[k] for k in members] for members in mapping.type_vehicles],
        allowed={b: [keep[k] for k in vs] for b, vs in mapping.allowed.items()},
    )
    cost, feasible, plans, chosen, best = _run(mapping, criterion_for(rest), seed)
    required = {b for b in found.chosen if problem.bins[b].required}
    if not feasible or not required <= chosen.keys():
        return found  # a required bin only the dropped lorry could take stays with it
    assert found.best is not None  # _fewer_vehicles checked
    before = _money(problem, found.best, found.chosen, _cost_scale(problem))
    if _money(problem, best, chosen, _cost_scale(sub)) >= before:
        return found
    # PyVRP's cost in the day's units (each formulation scales costs so its cheapest coefficient is about 10).
    cost *= _cost_scale(problem) / _cost_scale(sub)
    return Found(cost, _with_tips(problem, plans, chosen, found.whole_day), mapping, best, found.whole_day, chosen)


def _money(problem: Problem, best: pyvrp.Solution, chosen: dict[int, int], scale: float) -> float:
    """What a PyVRP plan costs in money: its drive, hours and lorries, and the prizes of optional bins left.

    PyVRP's own cost also counts the prizes of the alternative visits a
    bin was not served at, which depend on the formulation.
    """
    driven = (best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost()) / scale
    return driven + sum(b.prize for i, b in enumerate(problem.bins) if not b.required and i not in chosen)


def search_on(problem: Problem, found: Found, budget: Budget, *, seed: int, patience: int | None = None) -> Found:
    """Search on from ``found``'s best solution, with ``found``'s formulation, until ``budget`` is spent.

    With ``patience``, also stop after that many iterations without a better plan.
    """
    if found.mapping is None or found.best is None:
        return found
    cost, _, plans, chosen, best = _run(found.mapping, criterion_for(budget, patience=patience), seed, found.best)
    tipped = _with_tips(problem, plans, chosen, found.whole_day)
    return Found(cost, tipped, found.mapping, best, found.whole_day, chosen)


def _with_tips(problem: Problem, plans: Plans, chosen: dict[int, int], whole_day: bool) -> Plans:
    if not (whole_day and problem.tips):
        return plans
    return [
        (v, insert_tips(problem, v, [ref for kind, ref in stops if kind == BIN], chosen=chosen), t)
        for v, stops, t in plans
    ]


def solve_pyvrp(problem: Problem, *, budget: Budget, params: SolveParams) -> Solution:
    """Solve with PyVRP alone (raises for constraints it cannot express)."""
    missing = unsupported(problem)
    if missing:
        raise ProblemError(f"the pyvrp engine cannot express {', '.join(missing)}; use engine 'auto' or 'ortools'")
    began = clock.perf_counter()
    found = search(problem, budget, seed=params.seed)
    runtime_s = clock.perf_counter() - began
    return solution_from_plans(problem, found.plans, engine="pyvrp", runtime_s=runtime_s, chosen=found.chosen)
