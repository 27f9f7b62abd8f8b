"""The OR-Tools model of refuse collection.

All index bookkeeping (``RoutingIndexManager``) stays in this module. Nodes
are: the depots vehicles start or end at, the bins that some vehicle can
serve, and copies of each disposal site (one per possible tip) so a vehicle
can tip as often as it needs. Each capacity dimension resets at a tip through
its slack: a tip's demand is minus the largest capacity and the slack lets
the load after it be anything from zero up.

The last tip of the day is folded into the drive home: the arc from a bin to
the depot runs through the best disposal site for that vehicle (drive, tip,
drive on). That keeps every single-bin insertion feasible, which local
search needs, and the tip is written out as a visit when the plan is read.

A bin with alternative locations (:attr:`~binroute.routing.problem.Bin.locations`)
has one node per location, tied in one disjunction that allows at most one
of them (with the required bin's large penalty, or an optional bin's prize,
for leaving them all); the visit read back is at the node's location. A warm
start serves such a bin at ``SolveParams.warm_locations``'s location, else at
the one nearest to the stop before it.
"""

from __future__ import annotations

import math
import time as clock
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from ..cost import with_cost
from ..deadline import Budget
from ..errors import InfeasibleProblem, ProblemError
from ..feasibility import explain_unserved, home_via_site, reachable_at, servable
from ..limits import SolveParams
from ..problem import HORIZON_S, Problem, Vehicle
from ..schedule import fitting_stops
from ..solution import BIN, DEPOT, TIP, BreakPlan, Route, Solution, Unserved, Visit

#: Costs are multiplied by this and rounded, as OR-Tools wants integers.
COST_SCALE = 1000
#: Penalty (in cost units) for leaving a required bin: more than any route costs.
REQUIRED_PENALTY = 10**8
MAX_TIPS_PER_VEHICLE = 12
TIP_TOKEN_COST = 1
#: The search keeps at least this share of the time left when :func:`solve_ortools` is called.
MIN_SEARCH_SHARE = 0.25

_STATUS = {
    0: "not_solved",
    1: "success",
    2: "success_limit_reached",
    3: "fail",
    4: "fail_timeout",
    5: "invalid",
    6: "infeasible",
    7: "optimal",
}


@dataclass
class _Nodes:
    """Node layout of the OR-Tools model."""

    location: list[int]
    kind: list[str]
    ref: list[int]  # index into depots, bins or facilities
    depot_node: dict[int, int]
    bin_nodes: dict[int, list[int]]  # one node per location of the bin, its primary location first
    tip_nodes: dict[int, list[int]]


def _tips_needed(problem: Problem, allowed: dict[int, list[int]]) -> dict[int, int]:
    """Upper estimate of the tips each vehicle may need (the last one is implicit)."""
    out: dict[int, int] = {}
    for v, veh in enumerate(problem.vehicles):
        totals = [0] * len(problem.dimensions)
        for b, vs in allowed.items():
            if v in vs:
                for d, x in enumerate(problem.bins[b].demand):
                    totals[d] += x
        if veh.max_load_per_day is not None:
            totals = [min(t, c) for t, c in zip(totals, veh.max_load_per_day, strict=True)]
        trips = max((math.ceil(t / c) if c > 0 else 1) for t, c in zip(totals, veh.capacity, strict=True))
        out[v] = min(MAX_TIPS_PER_VEHICLE, max(trips, 1))
    return out


def _tips_overall(problem: Problem, allowed: dict[int, list[int]]) -> int:
    """Tips the whole fleet can need: all the work divided by the smallest lorry, plus one each."""
    need = 0
    for d in range(len(problem.dimensions)):
        total = sum(problem.bins[b].demand[d] for b in allowed)
        smallest = min((v.capacity[d] for v in problem.vehicles if v.capacity[d] > 0), default=1)
        need = max(need, math.ceil(total / smallest))
    return need + len(problem.vehicles)


def _layout(problem: Problem, allowed: dict[int, list[int]]) -> _Nodes:
    nodes = _Nodes([], [], [], {}, {}, {})

    def add(kind: str, ref: int, location: int) -> int:
        nodes.location.append(location)
        nodes.kind.append(kind)
        nodes.ref.append(ref)
        return len(nodes.location) - 1

    for veh in problem.vehicles:
        for d in (veh.start_depot, veh.end_depot):
            if d not in nodes.depot_node:
                nodes.depot_node[d] = add(DEPOT, d, problem.depots[d].location)
    for b in sorted(allowed):
        nodes.bin_nodes[b] = [add(BIN, b, loc) for loc in problem.bins[b].locations]
    if problem.tips:
        need = _tips_needed(problem, allowed)
        overall = _tips_overall(problem, allowed)
        for f, _fac in enumerate(problem.facilities):
            users = sum(need[v] for v, veh in enumerate(problem.vehicles) if f in problem.facilities_for(veh))
            copies = min(users, overall)
            nodes.tip_nodes[f] = [add(TIP, f, problem.facilities[f].location) for _ in range(copies)]
    return nodes


def _service(problem: Problem, nodes: _Nodes) -> list[int]:
    out = []
    for kind, ref in zip(nodes.kind, nodes.ref, strict=True):
        if kind == BIN:
            out.append(problem.bins[ref].service_s)
        elif kind == TIP:
            out.append(problem.facilities[ref].service_s)
        else:
            out.append(0)
    return out


def _search_parameters(
    problem: Problem, budget: Budget, params: SolveParams
) -> pywrapcp.DefaultRoutingSearchParameters:
    """OR-Tools' search settings; the time limit is set just before the search (see :func:`solve_ortools`)."""
    search = pywrapcp.DefaultRoutingSearchParameters()
    first = params.first_solution
    if first == "auto":
        constrained = problem.tips or any(b.window for b in problem.bins) or any(v.break_ for v in problem.vehicles)
        first = "PARALLEL_CHEAPEST_INSERTION" if constrained else "PATH_CHEAPEST_ARC"
    search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    search.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic)
    search.time_limit.FromMilliseconds(int(budget.deadline.total_s * 1000))
    if budget.solution_limit is not None:
        search.solution_limit = budget.solution_limit
    search.log_search = params.log_search
    return search


class _Model:
    """Builds the OR-Tools model for a problem and reads solutions back."""

    def __init__(self, problem: Problem, params: SolveParams) -> None:
        self.problem = problem
        self.params = params
        self.allowed, self.pre_unserved = servable(problem)
        self.nodes = _layout(problem, self.allowed)
        n = len(self.nodes.location)
        starts = [self.nodes.depot_node[v.start_depot] for v in problem.vehicles]
        ends = [self.nodes.depot_node[v.end_depot] for v in problem.vehicles]
        self.manager = pywrapcp.RoutingIndexManager(n, len(problem.vehicles), starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.service = _service(problem, self.nodes)
        self.breaks: dict[int, pywrapcp.IntervalVar] = {}
        self._add_costs()
        self._add_time()
        self._add_capacities()
        self._add_day_limits()
        self._add_assignment_rules()
        self._add_moves()

    # -- helpers ---------------------------------------------------------
    def _node_matrix(self, veh: Vehicle, what: str) -> np.ndarray:
        """Node-to-node transits for ``veh``: ``"time"`` (with service) or ``"distance"``."""
        p = self.problem
        m = p.matrix(veh)
        loc = np.asarray(self.nodes.location)
        base = m.time_s if what == "time" else m.distance
        sub = base[np.ix_(loc, loc)].astype(np.int64)
        if p.tips:
            kinds = np.asarray(self.nodes.kind)
            time_home, dist_home, _ = home_via_site(p, veh)
            home = time_home if what == "time" else dist_home
            depot_cols = [n for n, k in enumerate(kinds) if k == DEPOT]
            depot_of = {n: self.nodes.ref[n] for n in depot_cols}
            rows = np.flatnonzero(kinds == BIN)
            for col in depot_cols:
                sub[rows, col] = home[loc[rows], depot_of[col]]
        if what == "time":
            sub = sub + np.asarray(self.service, dtype=np.int64)[:, None]
        return sub

    def _group(self, veh: Vehicle) -> tuple[str, tuple[int, ...]]:
        """What a vehicle's transits depend on: its road profile and, where lorries tip, the sites it may use.

        Not its streams as such: a re-plan gives every crew streams of its own (its pinned stops), and a
        matrix per crew took seconds to build on a big day.
        """
        p = self.problem
        return (veh.profile, tuple(p.facilities_for(veh)) if p.tips else ())

    def _transits(self, what: str) -> list[int]:
        """Per vehicle, the registered transit of :meth:`_node_matrix` ``what`` (one per vehicle group)."""
        cache: dict[tuple[str, tuple[int, ...]], int] = {}
        out = []
        for veh in self.problem.vehicles:
            key = self._group(veh)
            if key not in cache:
                cache[key] = self.routing.RegisterTransitMatrix(self._node_matrix(veh, what).tolist())
            out.append(cache[key])
        return out

    def index(self, node: int) -> int:
        return int(self.manager.NodeToIndex(node))

    # -- model parts -------------------------------------------------------
    def _add_costs(self) -> None:
        p, r = self.problem, self.routing
        cache: dict[tuple[object, ...], int] = {}
        for v, veh in enumerate(p.vehicles):
            key = (*self._group(veh), veh.cost_per_distance)
            if key not in cache:
                dist = self._node_matrix(veh, "distance").astype(float)
                arcs = np.rint(dist * veh.cost_per_distance * COST_SCALE).astype(np.int64)
                # A token cost per tip, so a plan never tips twice in a row for nothing.
                arcs[np.asarray(self.nodes.kind) == TIP, :] += TIP_TOKEN_COST
                cache[key] = r.RegisterTransitMatrix(arcs.tolist())
            r.SetArcCostEvaluatorOfVehicle(cache[key], v)
            if veh.out:  # a crew out drives home anyway: an empty route costs its way home
                r.SetVehicleUsedWhenEmpty(True, v)
            if veh.fixed_cost:
                r.SetFixedCostOfVehicle(round(veh.fixed_cost * COST_SCALE), v)

    def _add_time(self) -> None:
        p, r = self.problem, self.routing
        r.AddDimensionWithVehicleTransits(self._transits("time"), HORIZON_S, HORIZON_S, False, "time")
        time = r.GetDimensionOrDie("time")
        self.time = time
        for node, (kind, ref) in enumerate(zip(self.nodes.kind, self.nodes.ref, strict=True)):
            if kind == BIN:
                window = p.bins[ref].window
                if window is not None:
                    time.CumulVar(self.index(node)).SetRange(window.start_s, window.end_s)
            elif kind == TIP:
                fac = p.facilities[ref]
                latest = max(fac.window.start_s, fac.window.end_s - fac.service_s)
                time.CumulVar(self.index(node)).SetRange(fac.window.start_s, latest)
        solver = r.solver()
        visit_transits = [0] * r.Size()
        for index in range(r.Size()):
            visit_transits[index] = self.service[self.manager.IndexToNode(index)]
        for v, veh in enumerate(p.vehicles):
            start_depot, end_depot = p.depots[veh.start_depot], p.depots[veh.end_depot]
            lo = max(veh.shift.start_s, start_depot.window.start_s)
            hi = min(veh.shift.end_s, end_depot.window.end_s)
            time.CumulVar(r.Start(v)).SetRange(lo, max(lo, min(veh.shift.end_s, start_depot.window.end_s)))
            if p.tips:
                # The last tip, folded into the drive home, must happen while a site is open.
                end_loc = end_depot.location
                latest_home = max(
                    p.facilities[f].window.end_s + int(p.matrix(veh).time_s[p.facilities[f].location, end_loc])
                    for f in p.facilities_for(veh)
                )
                hi = min(hi, latest_home)
                earliest_home = min(
                    p.facilities[f].window.start_s
                    + p.facilities[f].service_s
                    + int(p.matrix(veh).time_s[p.facilities[f].location, end_loc])
                    for f in p.facilities_for(veh)
                )
                if earliest_home > lo:
                    solver.Add(time.CumulVar(r.End(v)) >= earliest_home * r.ActiveVehicleVar(v))
            time.CumulVar(r.End(v)).SetRange(lo, max(lo, hi))
            if veh.max_duration_s is not None:
                time.SetSpanUpperBoundForVehicle(veh.max_duration_s, v)
            if veh.cost_per_hour:
                time.SetSpanCostCoefficientForVehicle(round(veh.cost_per_hour * COST_SCALE / 3600), v)
            if veh.paid_duration_s is not None and veh.overtime_per_hour:
                # Overtime: each second worked beyond the paid shift (routing.cost.overtime_hours).
                overtime = pywrapcp.BoundCost(veh.paid_duration_s, round(veh.overtime_per_hour * COST_SCALE / 3600))
                time.SetSoftSpanUpperBoundForVehicle(overtime, v)
            r.AddVariableMinimizedByFinalizer(time.CumulVar(r.Start(v)))
            r.AddVariableMinimizedByFinalizer(time.CumulVar(r.End(v)))
            if veh.break_ is not None:
                b = veh.break_
                interval = solver.FixedDurationIntervalVar(
                    b.earliest_start_s, b.latest_start_s, b.duration_s, False, f"break {veh.id}"
                )
                self.breaks[v] = interval
                time.SetBreakIntervalsOfVehicle([interval], v, visit_transits)
        if p.balance_weight:
            time.SetGlobalSpanCostCoefficient(round(p.balance_weight * COST_SCALE / 3600))

    def _add_capacities(self) -> None:
        p, r = self.problem, self.routing
        self.capacity_dims = []
        for d, name in enumerate(p.dimensions):
            biggest = max(veh.capacity[d] for veh in p.vehicles)
            demand = []
            for kind, ref in zip(self.nodes.kind, self.nodes.ref, strict=True):
                if kind == BIN:
                    demand.append(p.bins[ref].demand[d])
                elif kind == TIP:
                    demand.append(-biggest)
                else:
                    demand.append(0)
            cb = r.RegisterUnaryTransitVector(demand)
            slack = biggest if p.tips else 0
            r.AddDimensionWithVehicleCapacity(cb, slack, [veh.capacity[d] for veh in p.vehicles], True, f"cap:{name}")
            dim = r.GetDimensionOrDie(f"cap:{name}")
            self.capacity_dims.append(dim)
            if p.tips:
                for node, kind in enumerate(self.nodes.kind):
                    if kind != TIP and node not in self.nodes.depot_node.values():
                        dim.SlackVar(self.index(node)).SetValue(0)
                for v in range(len(p.vehicles)):
                    dim.SlackVar(r.Start(v)).SetValue(0)

    def _add_day_limits(self) -> None:
        p, r = self.problem, self.routing
        if any(veh.max_lifts is not None for veh in p.vehicles):
            ones = [1 if k == BIN else 0 for k in self.nodes.kind]
            cb = r.RegisterUnaryTransitVector(ones)
            caps = [veh.max_lifts if veh.max_lifts is not None else len(p.bins) for veh in p.vehicles]
            r.AddDimensionWithVehicleCapacity(cb, 0, caps, True, "lifts")
        for d, name in enumerate(p.dimensions):
            if not any(veh.max_load_per_day is not None for veh in p.vehicles):
                break
            demand = [
                p.bins[ref].demand[d] if k == BIN else 0 for k, ref in zip(self.nodes.kind, self.nodes.ref, strict=True)
            ]
            total = sum(demand)
            caps = [veh.max_load_per_day[d] if veh.max_load_per_day is not None else total for veh in p.vehicles]
            cb = r.RegisterUnaryTransitVector(demand)
            r.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"day:{name}")
        if any(veh.max_distance is not None for veh in p.vehicles):
            caps = [veh.max_distance if veh.max_distance is not None else 2**31 - 1 for veh in p.vehicles]
            r.AddDimensionWithVehicleTransitAndCapacity(self._transits("distance"), 0, caps, True, "range")

    def _add_assignment_rules(self) -> None:
        p, r = self.problem, self.routing
        n_veh = len(p.vehicles)
        # Leaving a required bin must cost more than serving it anywhere can.
        longest = max(m.largest_reachable("distance") for m in p.matrices.values())
        dearest = max(v.cost_per_distance for v in p.vehicles) * COST_SCALE
        fixed = max(v.fixed_cost for v in p.vehicles) * COST_SCALE
        hourly = max(v.cost_per_hour + v.overtime_per_hour for v in p.vehicles) * COST_SCALE * HORIZON_S / 3600
        self.required_penalty = int(max(REQUIRED_PENALTY, 4 * longest * dearest + 2 * (fixed + hourly) + 10**6))
        for b, nodes in self.nodes.bin_nodes.items():
            item = p.bins[b]
            indices = [self.index(node) for node in nodes]
            for idx, loc in zip(indices, item.locations, strict=True):
                allowed = self.allowed[b]
                if item.alternatives:
                    allowed = [v for v in allowed if reachable_at(p, p.vehicles[v], loc)]
                if len(allowed) < n_veh:
                    r.VehicleVar(idx).SetValues([-1, *allowed])
            penalty = self.required_penalty if item.required else round(item.prize * COST_SCALE)
            # At most one of the bin's locations; leaving them all costs the penalty.
            r.AddDisjunction(indices, penalty, 1)
        for f, tip_nodes in self.nodes.tip_nodes.items():
            users = [v for v, veh in enumerate(p.vehicles) if f in p.facilities_for(veh)]
            for node in tip_nodes:
                idx = self.index(node)
                if len(users) < n_veh:
                    r.VehicleVar(idx).SetValues([-1, *users])
                r.AddDisjunction([idx], 0)

    def _add_moves(self) -> None:
        """The moving penalty: a dimension counting each vehicle's bins of another crew, priced at ``move_cost``."""
        p, r = self.problem, self.routing
        if not p.move_cost or all(b.crew is None for b in p.bins):
            return
        nodes = zip(self.nodes.kind, self.nodes.ref, strict=True)
        crew = [p.bins[ref].crew if kind == BIN else None for kind, ref in nodes]
        evaluators = [
            r.RegisterUnaryTransitVector([int(c is not None and c != veh.id) for c in crew]) for veh in p.vehicles
        ]
        r.AddDimensionWithVehicleTransits(evaluators, 0, len(p.bins) + 1, True, "moves")
        r.GetDimensionOrDie("moves").SetSpanCostCoefficientForAllVehicles(round(p.move_cost * COST_SCALE))

    # -- warm start --------------------------------------------------------
    def warm_routes(self) -> list[list[int]] | None:
        """The warm start's routes as routing indices (what ``ReadAssignmentFromRoutes`` reads, not nodes: they
        differ where vehicles start at several depots), each bin at its chosen location, cut to what keeps every
        rule."""
        start = self.params.warm_start
        if not start:
            return None
        chosen = self._warm_locations(start)
        start = self._trim_warm(start, chosen)
        bin_index = {self.problem.bins[b].id: b for b in self.nodes.bin_nodes}
        free = {self.problem.facilities[f].id: list(nodes) for f, nodes in self.nodes.tip_nodes.items()}
        routes = []
        for v, veh in enumerate(self.problem.vehicles):
            route = []
            for stop in start.get(veh.id, []):
                if stop in bin_index and v in self.allowed[bin_index[stop]]:
                    b = bin_index.pop(stop)
                    route.append(self.index(self.nodes.bin_nodes[b][self.problem.bins[b].locations.index(chosen[b])]))
                elif free.get(stop):
                    route.append(self.index(free[stop].pop(0)))
            routes.append(route)
        return routes

    def _warm_locations(self, start: Mapping[str, Sequence[str]]) -> dict[int, int]:
        """Per warm-start bin, the location to start it at (see the module notes)."""
        p = self.problem
        given = self.params.warm_locations or {}
        bins = {b.id: i for i, b in enumerate(p.bins)}
        sites = {f.id: f.location for f in p.facilities}
        chosen: dict[int, int] = {}
        for veh in p.vehicles:
            time_s = p.matrix(veh).time_s
            prev = p.depots[veh.start_depot].location
            for stop in start.get(veh.id, []):
                if stop in sites:
                    prev = sites[stop]
                if stop not in bins:
                    continue
                item = p.bins[bins[stop]]
                loc = given.get(stop)
                if loc is None:
                    loc = min(item.locations, key=lambda x: int(time_s[prev, x]))
                elif loc not in item.locations:
                    raise ProblemError(f"warm start: bin {stop} has no location {loc} (it has {item.locations})")
                chosen[bins[stop]] = prev = loc
        return chosen

    def _trim_warm(self, start: Mapping[str, Sequence[str]], chosen: Mapping[int, int]) -> dict[str, list[str]]:
        """Cut each warm route to what keeps every rule (breaks included): its longest fitting prefix, a few
        stops that do not fit left out on the way (:func:`~binroute.routing.schedule.fitting_stops`)."""
        p = self.problem
        bins = {b.id: i for i, b in enumerate(p.bins)}
        sites = {f.id: i for i, f in enumerate(p.facilities)}
        out: dict[str, list[str]] = {}
        self.trimmed = 0
        for v, veh in enumerate(p.vehicles):
            ids = [x for x in start.get(veh.id, []) if x in bins or x in sites]
            stops = [(BIN, bins[x]) if x in bins else (TIP, sites[x]) for x in ids]
            keep = fitting_stops(p, v, stops, chosen=chosen)
            self.trimmed += len(ids) - len(keep)
            out[veh.id] = [ids[i] for i in keep]
        return out

    # -- reading back ------------------------------------------------------
    def _final_visit(self, veh: Vehicle, last: Visit, depot_loc: int, dims: int, brk: BreakPlan | None) -> Visit:
        """The tip on the way home after the last bin.

        OR-Tools sees the drive home via the site as one arc and may place
        the break anywhere in it; a break that begins before the tip would
        is taken before driving on to the tip.
        """
        p = self.problem
        _, _, site = home_via_site(p, veh)
        depot_index = next(i for i, d in enumerate(p.depots) if d.location == depot_loc)
        fac = p.facilities[int(site[last.location, depot_index])]
        drive = int(p.matrix(veh).time_s[last.location, fac.location])
        leave = last.departure_s
        if brk is not None and leave <= brk.start_s < leave + drive:
            leave = brk.start_s + brk.duration_s
        arrival = leave + drive
        start = max(arrival, fac.window.start_s)
        return Visit(TIP, fac.id, fac.location, arrival, start, start + fac.service_s, (0,) * dims)

    def read(self, assignment: pywrapcp.Assignment) -> tuple[list[Route], set[int]]:
        p, r = self.problem, self.routing
        routes: list[Route] = []
        served: set[int] = set()
        dims = len(p.dimensions)
        breaks: dict[str, BreakPlan] = {}
        intervals = assignment.IntervalVarContainer()
        for i in range(intervals.Size()):
            element = intervals.Element(i)
            if element.PerformedValue():
                breaks[element.Var().Name()] = BreakPlan(int(element.StartValue()), int(element.DurationValue()))
        for v, veh in enumerate(p.vehicles):
            m = p.matrix(veh)
            brk = breaks.get(f"break {veh.id}") if v in self.breaks else None
            index = r.Start(v)
            visits: list[Visit] = []
            load = [0] * dims
            prev: Visit | None = None
            distance = 0
            while True:
                node = self.manager.IndexToNode(index)
                kind, ref, loc = self.nodes.kind[node], self.nodes.ref[node], self.nodes.location[node]
                start = int(assignment.Value(self.time.CumulVar(index)))
                if kind == BIN:
                    item = p.bins[ref]
                    served.add(ref)
                    load = [a + b for a, b in zip(load, item.demand, strict=True)]
                    stop_id = item.id
                elif kind == TIP:
                    load = [0] * dims
                    stop_id = p.facilities[ref].id
                else:
                    stop_id = p.depots[ref].id
                if kind == DEPOT and prev is not None and prev.kind == BIN and p.tips:
                    prev = self._final_visit(veh, prev, loc, dims, brk)
                    visits.append(prev)
                    load = [0] * dims
                    distance += int(m.distance[visits[-2].location, prev.location])
                if prev is None:
                    arrival = start
                else:
                    arrival = prev.departure_s + int(m.time_s[prev.location, loc])
                    distance += int(m.distance[prev.location, loc])
                visit = Visit(kind, stop_id, loc, arrival, start, start + self.service[node], tuple(load))
                visits.append(visit)
                prev = visit
                if r.IsEnd(index):
                    break
                index = assignment.Value(r.NextVar(index))
            used = len(visits) > 2
            routes.append(Route(veh.id, tuple(visits), brk if used else None, distance))
        return routes, served


def _feasible_start(routing: pywrapcp.RoutingModel, warm: list[list[int]]) -> tuple[pywrapcp.Assignment | None, int]:
    """Read warm-start routes, trimming each to its longest feasible prefix when needed.

    Routes from an engine that does not know every constraint (breaks, lift
    or tonnage limits) may break some; the bins cut off are left unperformed
    for the local search to insert again. Returns the assignment and how many
    stops were cut.
    """
    initial = routing.ReadAssignmentFromRoutes(warm, True)
    if initial is not None:
        return initial, 0
    kept, trimmed = [], 0
    for v, route in enumerate(warm):
        lo, hi = 0, len(route)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            trial: list[list[int]] = [[] for _ in warm]
            trial[v] = route[:mid]
            if routing.ReadAssignmentFromRoutes(trial, True) is not None:
                lo = mid
            else:
                hi = mid - 1
        kept.append(route[:lo])
        trimmed += len(route) - lo
    return routing.ReadAssignmentFromRoutes(kept, True), trimmed


class WarmStartRejected(Exception):
    """OR-Tools could not restore the warm start, and no cold search was wanted."""


def solve_ortools(problem: Problem, *, budget: Budget, params: SolveParams, cold_after_warm: bool = True) -> Solution:
    """Solve ``problem`` with OR-Tools' routing library (see module docstring).

    Building the model and restoring a warm start (seconds on a large day)
    count against the budget's deadline; the search itself keeps at least
    :data:`MIN_SEARCH_SHARE` of the time the budget had when this was
    called, so a late start still searches a little.

    With ``cold_after_warm=False`` a warm start OR-Tools cannot restore
    raises :class:`WarmStartRejected` instead of starting a cold search with
    what is left of the time (the caller has a better plan to fall back on).
    """
    began = clock.perf_counter()
    floor = MIN_SEARCH_SHARE * budget.deadline.left()
    model = _Model(problem, params)
    search = _search_parameters(problem, budget, params)

    def on_time() -> None:
        # The model, the warm start and a failed restore count against the deadline.
        search.time_limit.FromMilliseconds(int(max(budget.deadline.left(), floor) * 1000))

    routing = model.routing
    warm = model.warm_routes()
    assignment = None
    trimmed = 0
    warm_used = False
    if warm is not None:
        routing.CloseModelWithParameters(search)
        initial, trimmed = _feasible_start(routing, warm)
        trimmed += model.trimmed
        if initial is not None:
            on_time()
            assignment = routing.SolveFromAssignmentWithParameters(initial, search)
            if assignment is None:  # no time left to search from it (a big day on a busy machine): it is the plan
                assignment = initial
        warm_used = assignment is not None
    if assignment is None and warm is not None and not cold_after_warm:
        raise WarmStartRejected(f"{trimmed} stops cut, restore failed")
    if assignment is None:
        on_time()
        assignment = routing.SolveWithParameters(search)
    status = _STATUS.get(routing.status(), str(routing.status()))
    if assignment is None:
        raise InfeasibleProblem(
            "OR-Tools found no plan: vehicle shifts, depot hours or break windows contradict each other "
            f"(solver status {status})"
        )
    routes, served = model.read(assignment)
    unserved = list(model.pre_unserved)
    for b, item in enumerate(problem.bins):
        if b in model.allowed and b not in served:
            unserved.append(Unserved(item.id, explain_unserved(problem, item, model.allowed[b]), item.required))
    details: dict[str, object] = {"search_objective": assignment.ObjectiveValue() / COST_SCALE}
    if warm is not None:
        details |= {"warm_start_trimmed": trimmed, "warm_start_used": warm_used}
    solution = Solution(
        routes=tuple(routes),
        unserved=tuple(unserved),
        status=status,
        runtime_s=clock.perf_counter() - began,
        engine="ortools",
        details=details,
    )
    return with_cost(problem, solution)
