"""The OR-Tools model: every constraint on a case that breaks without it."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from binroute.routing import (
    Bin,
    Break,
    Depot,
    Facility,
    Limits,
    ProblemError,
    SolveParams,
    TimeWindow,
    Vehicle,
    check_solution,
    solve,
)
from binroute.routing.cost import rank
from binroute.routing.deadline import Budget
from binroute.routing.solution import TIP, Visit

from .helpers import make_problem, make_vehicle

EXACT = Limits(solution_limit=2000, time_limit_s=None)
FAST = Limits(solution_limit=200)


def solved(problem, limits=EXACT, **params):
    params.setdefault("engine", "ortools")
    solution = solve(problem, limits=limits, params=SolveParams(**params))
    report = check_solution(problem, solution)
    assert report.ok, str(report)
    return solution


def brute_force_cvrp(points, demands, capacity, n_vehicles):
    """Optimal CVRP cost by enumeration (tiny instances only)."""
    p = np.asarray(points, dtype=float)
    dist = np.abs(p[:, None] - p[None, :]).sum(-1)
    customers = list(range(1, len(points)))

    def tour(group):
        if not group:
            return 0.0
        return min(
            dist[0, perm[0]] + sum(dist[a, b] for a, b in itertools.pairwise(perm)) + dist[perm[-1], 0]
            for perm in itertools.permutations(group)
        )

    best = np.inf
    for assign in itertools.product(range(n_vehicles), repeat=len(customers)):
        groups = [[c for c, v in zip(customers, assign, strict=True) if v == k] for k in range(n_vehicles)]
        if any(sum(demands[c - 1] for c in g) > capacity for g in groups):
            continue
        best = min(best, sum(tour(g) for g in groups))
    return best


def test_known_optimum_matches_brute_force():
    """On a 6-customer CVRP the solver finds the enumerated optimum."""
    rng = np.random.default_rng(7)
    points = [(0, 0)] + [tuple(rng.integers(-50, 50, 2)) for _ in range(6)]
    demands = [int(x) for x in rng.integers(1, 5, 6)]
    bins = [Bin(f"c{i}", i, (demands[i - 1],)) for i in range(1, 7)]
    vehicles = [make_vehicle(f"v{k}", cap=(9,)) for k in range(2)]
    problem = make_problem(points, bins, vehicles)
    solution = solved(problem)
    assert solution.distance == brute_force_cvrp(points, demands, 9, 2)


def test_capacity_binds():
    """Two bins that fit one lorry cost 22; with room for one, two routes cost 42."""
    points = [(0, 0), (10, 0), (10, 1)]
    bins = [Bin("a", 1, (1,)), Bin("b", 2, (1,))]
    assert solved(make_problem(points, bins, [make_vehicle("v1", (2,)), make_vehicle("v2", (2,))])).distance == 22
    small = solved(make_problem(points, bins, [make_vehicle("v1", (1,)), make_vehicle("v2", (1,))]))
    assert small.distance == 42
    assert all(len(r.bins) == 1 for r in small.routes)


def test_weight_and_volume_both_bind():
    """A second capacity dimension (litres) forces a split the first (kg) would not."""
    points = [(0, 0), (10, 0), (10, 1)]
    bins = [Bin("a", 1, (1, 60)), Bin("b", 2, (1, 60))]
    vehicles = [make_vehicle("v1", (10, 100)), make_vehicle("v2", (10, 100))]
    solution = solved(make_problem(points, bins, vehicles, dims=("kg", "litres")))
    assert solution.vehicles_used == 2


def test_tips_when_full_and_before_returning(tip_problem):
    """Six bins with room for three: two tips, the last one before the depot."""
    solution = solved(tip_problem)
    route = solution.routes[0]
    assert len(route.bins) == 6
    assert route.tips == 2
    assert route.visits[-2].kind == TIP
    loads = [v.load_after[0] for v in route.visits]
    assert max(loads) <= 3


def test_choice_between_disposal_sites():
    """The vehicle tips at the nearer of two sites that accept its stream, never at one that refuses it."""
    points = [(0, 0), (200, 0), (20, 0), (30, 0), (25, 0)]
    fac = [
        Facility("FAR", 1, frozenset({"general"})),
        Facility("NEAR", 2, frozenset({"general"})),
        Facility("GLASS", 4, frozenset({"glass"})),
    ]
    bins = [Bin("a", 3, (1,))]
    solution = solved(make_problem(points, bins, [make_vehicle()], facilities=fac))
    assert [v.id for v in solution.routes[0].visits if v.kind == TIP] == ["NEAR"]


def test_facility_opening_hours():
    """A site closed until 500 makes the vehicle wait to tip."""
    points = [(0, 0), (10, 0), (5, 0)]
    fac = [Facility("F", 1, frozenset({"general"}), TimeWindow(500, 2000), service_s=10)]
    solution = solved(make_problem(points, [Bin("a", 2, (1,))], [make_vehicle()], facilities=fac))
    tip = next(v for v in solution.routes[0].visits if v.kind == TIP)
    assert tip.start_s >= 500


def test_time_window_order():
    """A bin open only early is served first and inside its window."""
    points = [(0, 0), (10, 0), (0, 10)]
    bins = [Bin("late", 1, (1,), window=TimeWindow(50, 100)), Bin("early", 2, (1,), window=TimeWindow(0, 12))]
    solution = solved(make_problem(points, bins, [make_vehicle()]))
    visits = [v for v in solution.routes[0].visits if v.kind == "bin"]
    assert [v.id for v in visits] == ["early", "late"]
    assert visits[1].start_s >= 50


def test_unreachable_window_is_explained():
    """A window that closes before any vehicle can arrive leaves the bin unserved with that reason."""
    points = [(0, 0), (100, 0)]
    problem = make_problem(points, [Bin("x", 1, (1,), window=TimeWindow(0, 50))], [make_vehicle()])
    solution = solved(problem, Limits(time_limit_s=0.5))
    assert solution.unserved[0].bin_id == "x"
    assert "time window" in solution.unserved[0].reason


def test_shift_end_forces_second_vehicle():
    """Work longer than one shift is shared between two crews."""
    points = [(0, 0), (100, 0), (0, 100)]
    bins = [Bin("a", 1, (1,), service_s=10), Bin("b", 2, (1,), service_s=10)]
    vehicles = [make_vehicle("v1", shift=TimeWindow(0, 250)), make_vehicle("v2", shift=TimeWindow(0, 250))]
    solution = solved(make_problem(points, bins, vehicles))
    assert solution.vehicles_used == 2
    assert all(r.end_s <= 250 for r in solution.routes)


def test_max_duration():
    """A cap on working time splits the work like a short shift."""
    points = [(0, 0), (100, 0), (0, 100)]
    bins = [Bin("a", 1, (1,)), Bin("b", 2, (1,))]
    vehicles = [make_vehicle("v1", max_duration_s=250), make_vehicle("v2", max_duration_s=250)]
    assert solved(make_problem(points, bins, vehicles)).vehicles_used == 2


def test_break_is_placed_inside_its_window():
    """A 30-unit break starting 100..150 is taken during a 400-unit day."""
    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    bins = [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)]
    veh = make_vehicle(break_=Break(100, 150, 30))
    solution = solved(make_problem(points, bins, [veh]))
    route = solution.routes[0]
    assert route.break_ is not None
    assert 100 <= route.break_.start_s <= 150
    assert route.end_s >= 400 + 30


def test_streams_and_mixed_fleet():
    """A recycling bin goes on the recycling lorry only."""
    points = [(0, 0), (10, 0), (0, 10)]
    bins = [Bin("g", 1, (1,), stream="general"), Bin("r", 2, (1,), stream="recycling")]
    vehicles = [make_vehicle("gen"), make_vehicle("rec", streams=frozenset({"recycling"}))]
    solution = solved(make_problem(points, bins, vehicles))
    assert solution.route_of("gen").bins == ["g"]
    assert solution.route_of("rec").bins == ["r"]


def test_no_vehicle_for_stream_is_explained():
    """A stream no vehicle carries is reported, not silently dropped."""
    problem = make_problem([(0, 0), (1, 0)], [Bin("o", 1, (1,), stream="organic")], [make_vehicle()])
    solution = solved(problem, Limits(time_limit_s=0.5))
    assert "organic" in solution.unserved[0].reason


def test_several_depots():
    """Each crew serves the bins near its own depot and returns there."""
    points = [(0, 0), (1000, 0), (10, 0), (1010, 0)]
    depots = [Depot("WEST", 0), Depot("EAST", 1)]
    bins = [Bin("w", 2, (1,)), Bin("e", 3, (1,))]
    vehicles = [make_vehicle("vw", depot=0), make_vehicle("ve", depot=1)]
    solution = solved(make_problem(points, bins, vehicles, depots=depots))
    assert solution.route_of("vw").bins == ["w"]
    assert solution.route_of("ve").visits[-1].id == "EAST"
    assert solution.distance == 40


def test_fixed_cost_uses_fewer_vehicles():
    """With a fixed cost per vehicle used, one lorry does both bins."""
    points = [(0, 0), (10, 0), (-10, 0)]
    bins = [Bin("a", 1, (1,)), Bin("b", 2, (1,))]
    vehicles = [make_vehicle("v1", fixed_cost=1000), make_vehicle("v2", fixed_cost=1000)]
    assert solved(make_problem(points, bins, vehicles)).vehicles_used == 1


def test_optional_bins_follow_their_prize():
    """A far optional bin is skipped for a small prize and collected for a large one."""
    points = [(0, 0), (10, 0), (500, 0)]
    base = [Bin("near", 1, (1,))]
    cheap = make_problem(points, [*base, Bin("far", 2, (1,), required=False, prize=10)], [make_vehicle()])
    dear = make_problem(points, [*base, Bin("far", 2, (1,), required=False, prize=5000)], [make_vehicle()])
    s1, s2 = solved(cheap), solved(dear)
    assert "far" not in s1.served() and "prize" in s1.unserved[0].reason
    assert "far" in s2.served()


def test_max_lifts():
    """A limit of two lifts per crew spreads four bins over two lorries."""
    points = [(0, 0), (10, 0), (11, 0), (12, 0), (13, 0)]
    bins = [Bin(f"b{i}", i, (1,)) for i in range(1, 5)]
    vehicles = [make_vehicle("v1", max_lifts=2), make_vehicle("v2", max_lifts=2)]
    solution = solved(make_problem(points, bins, vehicles))
    assert sorted(len(r.bins) for r in solution.routes) == [2, 2]


def test_tonnage_per_day(tip_problem):
    """A day limit on load collected leaves the rest to a second crew."""
    v = tip_problem.vehicles[0]
    vehicles = (dataclasses.replace(v, max_load_per_day=(4,)), dataclasses.replace(v, id="v2", max_load_per_day=(4,)))
    problem = dataclasses.replace(tip_problem, vehicles=vehicles)
    solution = solved(problem)
    assert solution.vehicles_used == 2
    assert all(len(r.bins) <= 4 for r in solution.routes)
    assert not solution.unserved


def test_balance_evens_out_hours():
    """With a balance weight the two crews' days differ less."""
    points = [(0, 0)] + [(10 * i, 0) for i in range(1, 7)]
    bins = [Bin(f"b{i}", i, (1,), service_s=50) for i in range(1, 7)]
    vehicles = [make_vehicle("v1", cost_per_hour=1), make_vehicle("v2", cost_per_hour=1)]
    plain = solved(make_problem(points, bins, vehicles))
    even = solved(make_problem(points, bins, vehicles, balance_weight=100_000))
    spread = lambda s: max(r.duration_s for r in s.routes) - min(r.duration_s for r in s.routes)  # noqa: E731
    assert spread(even) < spread(plain)


def test_deterministic_with_solution_limit(tip_problem):
    """The same problem and limits give the same routes."""
    a = solved(tip_problem, FAST)
    b = solved(tip_problem, FAST)
    assert [r.visits for r in a.routes] == [r.visits for r in b.routes]


def test_warm_start_is_used(tip_problem):
    """A given plan is read in as the first solution."""
    start = {"v1": ["b1", "b2", "b3", "F", "b4", "b5", "b6", "F"]}
    solution = solved(tip_problem, Limits(solution_limit=1), warm_start=start)
    assert solution.routes[0].bins == ["b1", "b2", "b3", "b4", "b5", "b6"]


def test_warm_start_is_restored_with_vehicles_at_several_depots():
    """With each vehicle at a depot of its own (a re-plan's crews where they are), the warm start's routes are read
    in whole and each vehicle first serves its own (OR-Tools reads routes as indices, which are not the nodes)."""
    points = [(0, 0), (100, 0), (-100, 0), *((10 * i, 5) for i in range(1, 5)), *((-10 * i, 5) for i in range(1, 5))]
    depots = [Depot("home", 0), Depot("v1@now", 1), Depot("v2@now", 2)]
    bins = [Bin(f"e{i}", 2 + i, (1,)) for i in range(1, 5)] + [Bin(f"w{i}", 6 + i, (1,)) for i in range(1, 5)]
    vehicles = [make_vehicle(v, depot=d, end_depot=0) for v, d in (("v1", 1), ("v2", 2))]
    problem = make_problem(points, bins, vehicles, depots=depots)
    start = {"v1": ["e4", "e3", "e2", "e1"], "v2": ["w4", "w3", "w2", "w1"]}
    solution = solved(problem, Limits(solution_limit=1), warm_start=start)
    assert solution.details["warm_start_trimmed"] == 0
    assert {r.vehicle_id: r.bins for r in solution.routes} == start


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda vs: [v for v in vs if v.kind != TIP], "must tip first"),
        (lambda vs: [*vs[:2], vs[1], *vs[2:]], "served twice"),
        (lambda vs: [vs[0], dataclasses.replace(vs[1], start_s=0, arrival_s=0), *vs[2:]], "drive needs"),
        (
            lambda vs: [vs[0]] + [dataclasses.replace(v, load_after=(0,)) if v.kind == "bin" else v for v in vs[1:]],
            "replay gives",
        ),
    ],
)
def test_checker_catches_broken_solutions(tip_problem, mutate, message):
    """The independent checker flags a missing tip, a double visit, a teleport and a false load."""
    solution = solved(tip_problem, FAST)
    route = solution.routes[0]
    broken_visits: list[Visit] = mutate(list(route.visits))
    broken = dataclasses.replace(solution, routes=(dataclasses.replace(route, visits=tuple(broken_visits)),))
    report = check_solution(tip_problem, broken)
    assert not report.ok
    assert message in str(report)


def test_checker_catches_capacity_and_window():
    """Overload and a window miss are violations."""
    points = [(0, 0), (10, 0), (10, 1)]
    bins = [Bin("a", 1, (2,)), Bin("b", 2, (2,), window=TimeWindow(0, 5))]
    problem = make_problem(points, bins, [make_vehicle("v1", (3,))])
    v = [
        Visit("depot", "D", 0, 0, 0, 0, (0,)),
        Visit("bin", "a", 1, 10, 10, 10, (2,)),
        Visit("bin", "b", 2, 11, 11, 11, (4,)),
        Visit("depot", "D", 0, 22, 22, 22, (4,)),
    ]
    from binroute.routing import Route, Solution

    report = check_solution(problem, Solution(routes=(Route("v1", tuple(v), distance=22),)))
    text = str(report)
    assert "exceeds capacity" in text and "outside its window" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(bins=(Bin("a", 9, (1,)),)), "outside"),
        (dict(bins=(Bin("a", 1, (-1,)),)), "non-negative"),
        (dict(bins=(Bin("a", 1, (1,)), Bin("a", 2, (1,)))), "used twice"),
        (dict(vehicles=(Vehicle("v", 0, 0, (1,), profile="truck"),)), "no matrix"),
        (dict(vehicles=()), "no vehicle"),
    ],
)
def test_problem_validation(change, message):
    """A bad problem fails when built, naming what is wrong."""
    args = dict(points=[(0, 0), (1, 0), (2, 0)], bins=[Bin("a", 1, (1,))], vehicles=[make_vehicle()])
    args.update({k: list(v) for k, v in change.items()})
    with pytest.raises(ProblemError, match=message):
        make_problem(args["points"], args["bins"], args["vehicles"])


def test_vehicle_without_accepting_site_is_an_error():
    """Tipping is required but no site takes the vehicle's stream."""
    with pytest.raises(ProblemError, match="no disposal site"):
        make_problem([(0, 0), (1, 0)], [], [make_vehicle()], facilities=[Facility("G", 1, frozenset({"glass"}))])


@pytest.mark.parametrize("engine", ["ortools", "pyvrp", "auto"])
def test_every_engine_finds_the_known_optimum(engine):
    """All engines reach the enumerated optimum of a small CVRP (``auto`` searching the whole day, not districts)."""
    rng = np.random.default_rng(11)
    points = [(0, 0)] + [tuple(rng.integers(-50, 50, 2)) for _ in range(6)]
    demands = [int(x) for x in rng.integers(1, 5, 6)]
    bins = [Bin(f"c{i}", i, (demands[i - 1],)) for i in range(1, 7)]
    problem = make_problem(points, bins, [make_vehicle(f"v{k}", cap=(9,)) for k in range(2)])
    solution = solved(problem, Limits(solution_limit=200), engine=engine, rounds="free")
    assert solution.distance == brute_force_cvrp(points, demands, 9, 2)


def _streams_problem():
    points = [(0, 0), (10, 0), (0, 10)]
    bins = [Bin("g", 1, (1,), stream="general"), Bin("r", 2, (1,), stream="recycling")]
    return make_problem(points, bins, [make_vehicle("gen"), make_vehicle("rec", streams=frozenset({"recycling"}))])


def _windows_problem():
    points = [(0, 0), (10, 0), (0, 10)]
    bins = [Bin("late", 1, (1,), window=TimeWindow(50, 100)), Bin("early", 2, (1,), window=TimeWindow(0, 12))]
    return make_problem(points, bins, [make_vehicle()])


def _prize_problem():
    points = [(0, 0), (10, 0), (500, 0)]
    return make_problem(points, [Bin("near", 1, (1,)), Bin("far", 2, (1,), required=False, prize=10)], [make_vehicle()])


def _depots_problem():
    points = [(0, 0), (1000, 0), (10, 0), (1010, 0)]
    return make_problem(
        points,
        [Bin("w", 2, (1,)), Bin("e", 3, (1,))],
        [make_vehicle("vw", depot=0), make_vehicle("ve", depot=1)],
        depots=[Depot("WEST", 0), Depot("EAST", 1)],
    )


@pytest.mark.parametrize("build", [_streams_problem, _windows_problem, _prize_problem, _depots_problem])
def test_pyvrp_engine_keeps_the_rules(build, tip_problem):
    """PyVRP's mapping keeps streams, windows, prizes and several depots; the checker agrees."""
    problem = build()
    solution = solved(problem, Limits(solution_limit=100), engine="pyvrp")
    assert solution.engine == "pyvrp"
    if build is _prize_problem:
        assert "far" not in solution.served()
    else:
        assert not solution.unserved


def test_pyvrp_tips_with_reload_depots(tip_problem):
    """Tips become reload depots: six bins, room for three, a tip before home."""
    solution = solved(tip_problem, Limits(solution_limit=100), engine="pyvrp")
    route = solution.routes[0]
    assert len(route.bins) == 6 and route.tips == 2 and route.visits[-2].kind == TIP


def test_pyvrp_refuses_what_it_cannot_express():
    """Asking PyVRP alone for a driver break is an error that says what to use instead."""
    points = [(0, 0), (100, 0)]
    problem = make_problem(points, [Bin("a", 1, (1,))], [make_vehicle(break_=Break(100, 150, 30))])
    with pytest.raises(ProblemError, match="driver breaks"):
        solve(problem, limits=FAST, params=SolveParams(engine="pyvrp"))


def test_auto_combines_engines_for_breaks():
    """With a break present, auto runs PyVRP then OR-Tools, and the break is kept."""
    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    bins = [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)]
    problem = make_problem(points, bins, [make_vehicle(break_=Break(100, 150, 30))])
    solution = solved(problem, Limits(solution_limit=100), engine="auto")
    assert solution.engine in ("pyvrp+ortools", "pyvrp+schedule")
    assert solution.routes[0].break_ is not None
    assert "driver breaks" in solution.details["combined_for"]


def test_auto_uses_pyvrp_alone_when_it_can(tip_problem):
    solution = solved(tip_problem, Limits(solution_limit=100), engine="auto")
    assert solution.engine == "pyvrp"


def test_same_seed_same_routes_pyvrp(tip_problem):
    """PyVRP with a fixed seed and iteration limit is deterministic."""
    a = solved(tip_problem, Limits(solution_limit=50), engine="pyvrp", seed=3)
    b = solved(tip_problem, Limits(solution_limit=50), engine="pyvrp", seed=3)
    assert [r.visits for r in a.routes] == [r.visits for r in b.routes]


def test_fitted_plans_place_the_break_and_cut_what_does_not_fit():
    """Scheduling given stop orders ourselves places the break and drops bins past the shift."""
    from binroute.routing.schedule import solution_from_plans

    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    bins = [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)]
    problem = make_problem(points, bins, [make_vehicle(break_=Break(100, 150, 30), shift=TimeWindow(0, 330))])
    plan = [(0, [("bin", 0), ("bin", 1), ("bin", 2)], 0)]
    solution = solution_from_plans(problem, plan, engine="test", runtime_s=0, fit_rules=True)
    assert check_solution(problem, solution).ok
    route = solution.routes[0]
    assert route.break_ is not None and 100 <= route.break_.start_s <= 150
    # With the break, b1 and home fit in 330; going on to b2 would end at 430 at the earliest.
    assert route.bins == ["b1"] and route.end_s <= 330
    assert sorted(u.bin_id for u in solution.unserved) == ["b2", "b3"]


def test_pyvrp_over_full_day_falls_back_to_prizes():
    """A lorry too small for every required bin: the strict search gives up and the plan explains what is left."""
    points = [(0, 0), (10, 0), (0, 10), (10, 10)]
    bins = [Bin(f"b{i}", i, (4,)) for i in (1, 2, 3)]
    problem = make_problem(points, bins, [make_vehicle(cap=(9,))])
    solution = solved(problem, Limits(solution_limit=50), engine="pyvrp")
    assert len(solution.routes[0].bins) == 2
    assert [u.required for u in solution.unserved] == [True]


def test_strict_search_gives_up_only_without_a_feasible_plan():
    """The required-bins search stops at a quarter of its budget only while it has no feasible plan."""
    from binroute.routing.deadline import INFEASIBLE_COST, Budget, GiveUp

    budget = Budget.from_limits(Limits(solution_limit=4), 3)
    stop = GiveUp(budget, share=0.25)  # 200 iterations, give up after 50
    assert not any(stop(INFEASIBLE_COST) for _ in range(50))
    assert stop(INFEASIBLE_COST)
    patient = GiveUp(budget, share=0.25)
    assert not any(patient(1000) for _ in range(200))
    assert patient(1000)


@pytest.mark.parametrize("job", ["pyvrp", "combined"])
def test_second_core_runs_the_same_job_with_another_seed(job, monkeypatch):
    """The helper process returns its own result (seed + 1) beside ours; both keep every rule."""
    from binroute.routing import solver

    monkeypatch.setattr(solver, "PARALLEL_MIN_S", 0.5)
    monkeypatch.setattr(solver, "HELPER_GRACE_MIN_S", 120.0)  # a busy machine (test workers) starts the helper slowly
    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    bins = [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)]
    problem = make_problem(points, bins, [make_vehicle(break_=Break(100, 150, 30))])
    budget = Budget.from_limits(Limits(time_limit_s=1.0), 3)
    if job == "pyvrp":
        problem = dataclasses.replace(problem, vehicles=(make_vehicle(),))
        args = [(problem, budget, seed) for seed in (0, 1)]
    else:
        args = [(problem, budget, SolveParams(seed=seed), ["driver breaks"]) for seed in (0, 1)]
    results = solver._on_two_cores(budget, job, args[0], args[1])
    assert len(results) == 2
    assert all(check_solution(problem, r, require_all=True).ok for r in results)
    if job == "combined":
        assert [r.details["seed"] for r in results] == [0, 1]
        assert all(r.routes[0].break_ is not None for r in results)


def test_fitted_break_goes_where_the_day_ends_soonest():
    """A break straight after leaving the depot fits too, but means waiting there: take it after b1."""
    from binroute.routing.schedule import fitted_route

    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    bins = [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)]
    problem = make_problem(points, bins, [make_vehicle(break_=Break(100, 150, 30))])
    route = fitted_route(problem, 0, [("bin", 0), ("bin", 1), ("bin", 2)])
    assert route is not None and route.break_ is not None
    assert route.break_.start_s == 100 and route.end_s == 430  # after b1; at the depot it would end at 530


def _line_with_sites(capacity):
    """Four one-unit bins on a line, a site just off the b1-b2 leg and one far away."""
    points = [(0, 0), (10, 0), (20, 0), (30, 0), (40, 0), (15, 5), (35, 30)]
    bins = [Bin(f"b{i}", i, (1,)) for i in range(1, 5)]
    sites = [
        Facility("near", 5, frozenset({"general"}), TimeWindow(0, 10_000)),
        Facility("far", 6, frozenset({"general"}), TimeWindow(0, 10_000)),
    ]
    return make_problem(points, bins, [make_vehicle(cap=(capacity,))], facilities=sites)


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        # Room for three: one tip, where it costs least (10 off the b1-b2 leg, 20 off b2-b3).
        (3, [("bin", 0), ("tip", 0), ("bin", 1), ("bin", 2), ("bin", 3)]),
        # Room for two: one tip after b2 (20) beats two tips, after b1 and b3 (10 + 40).
        (2, [("bin", 0), ("bin", 1), ("tip", 0), ("bin", 2), ("bin", 3)]),
        # Room for all four: the only tip is the drive home's.
        (4, [("bin", 0), ("bin", 1), ("bin", 2), ("bin", 3)]),
    ],
)
def test_insert_tips_splits_a_fixed_order_where_it_costs_least(capacity, expected):
    from binroute.routing.engines.tips import insert_tips

    assert insert_tips(_line_with_sites(capacity), 0, [0, 1, 2, 3]) == expected


def _day_limited(tip_problem, **limits):
    v = tip_problem.vehicles[0]
    vehicles = (dataclasses.replace(v, **limits), dataclasses.replace(v, id="v2", **limits))
    return dataclasses.replace(tip_problem, vehicles=vehicles)


def test_whole_day_search_keeps_the_daily_limit_and_tips_where_full(tip_problem):
    """Six bins, three a trip, four a day: two lorries, each tipping before it overflows."""
    from binroute.routing.engines.pyvrp import search, unsupported
    from binroute.routing.schedule import solution_from_plans

    problem = _day_limited(tip_problem, max_load_per_day=(4,))
    assert "daily load limits" in unsupported(problem)
    found = search(problem, Budget.from_limits(Limits(solution_limit=100), 6), seed=0, whole_day=True)
    solution = solution_from_plans(problem, found.plans, engine="test", runtime_s=0)
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
    assert solution.vehicles_used == 2 and sorted(len(r.bins) for r in solution.routes) in ([2, 4], [3, 3])


def test_combined_whole_day_keeps_every_rule(tip_problem):
    """The second core's formulation goes through OR-Tools like the first, break included."""
    from binroute.routing.solver import _combined

    problem = _day_limited(tip_problem, max_load_per_day=(4,), break_=Break(20, 60, 30))
    budget = Budget.from_limits(Limits(solution_limit=100), 6)
    solution = _combined(problem, budget, SolveParams(), ["driver breaks"], whole_day=True)
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
    assert solution.details["whole_day"] is True


def test_pyvrp_alone_keeps_lift_and_day_limits_without_tips():
    """Without tips a lorry makes one trip, so PyVRP states both limits exactly."""
    points = [(0, 0), (10, 0), (11, 0), (12, 0), (13, 0)]
    bins = [Bin(f"b{i}", i, (1,)) for i in range(1, 5)]
    for limit in ({"max_lifts": 2}, {"max_load_per_day": (2,)}):
        problem = make_problem(points, bins, [make_vehicle("v1", **limit), make_vehicle("v2", **limit)])
        solution = solved(problem, Limits(solution_limit=100), engine="pyvrp")
        assert sorted(len(r.bins) for r in solution.routes) == [2, 2], limit


def test_restarts_try_a_new_seed_each_round_and_keep_the_best(monkeypatch):
    from binroute.routing import solver

    monkeypatch.setattr(solver, "ROUND_MIN_S", 0.25)
    monkeypatch.setattr(solver, "ROUND_S_PER_BIN", 0.0)
    found = []
    real = solver._combined

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        found.append(result)
        return result

    monkeypatch.setattr(solver, "_combined", spy)
    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    problem = make_problem(
        points, [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)], [make_vehicle(break_=Break(100, 150, 30))]
    )
    budget = Budget.from_limits(Limits(time_limit_s=1.0, solution_limit=20), 3)
    best = solver._restarts(problem, budget, SolveParams(seed=3), ["breaks"])
    seeds = [r.details["seed"] for r in found]
    assert len(seeds) >= 2 and seeds == list(range(3, 3 + 2 * len(seeds), 2))
    assert best.details["rounds"] == 4 and check_solution(problem, best).ok
    assert rank(problem, best) == min(rank(problem, r) for r in found)


def test_bins_left_behind_go_to_idle_lorries():
    """A plan that left two required bins while a lorry stood idle gets them collected by that lorry."""
    from binroute.routing.schedule import solution_from_plans
    from binroute.routing.solver import _with_spare_lorries

    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    bins = [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)]
    problem = make_problem(points, bins, [make_vehicle("v1", break_=Break(100, 150, 30)), make_vehicle("v2")])
    partial = solution_from_plans(problem, [(0, [("bin", 0)], 0)], engine="t", runtime_s=0, fit_rules=True)
    assert sorted(u.bin_id for u in partial.unserved) == ["b2", "b3"]
    budget = Budget.from_limits(Limits(solution_limit=50), 3)
    repaired = _with_spare_lorries(problem, partial, budget, seed=0)
    report = check_solution(problem, repaired, require_all=True)
    assert report.ok, str(report)
    assert repaired.route_of("v1").bins == ["b1"] and sorted(repaired.route_of("v2").bins) == ["b2", "b3"]
    assert repaired.details["bins_on_spare_lorries"] == 2
    # With no lorry idle there is nothing to do.
    busy = solution_from_plans(problem, [(0, [("bin", 0)], 0), (1, [("bin", 1)], 0)], engine="t", runtime_s=0)
    assert _with_spare_lorries(problem, busy, budget, seed=0) is busy


def test_combined_schedules_itself_when_ortools_rejects_the_warm_start(monkeypatch):
    """No cold OR-Tools search after a failed restore: PyVRP's routes, scheduled by us with the break."""
    from binroute.routing import solver
    from binroute.routing.engines.ortools import WarmStartRejected

    def rejects(*args, **kwargs):
        assert kwargs["cold_after_warm"] is False
        raise WarmStartRejected("restore failed")

    monkeypatch.setattr(solver, "solve_ortools", rejects)
    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    problem = make_problem(
        points, [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)], [make_vehicle(break_=Break(100, 150, 30))]
    )
    solution = solver._combined(
        problem, Budget.from_limits(Limits(solution_limit=50), 3), SolveParams(), ["driver breaks"]
    )
    report = check_solution(problem, solution, require_all=True)
    assert report.ok, str(report)
    assert solution.engine == "pyvrp+schedule" and solution.routes[0].break_ is not None


def test_pyvrp_searches_on_from_where_it_stopped(tip_problem):
    """Searching on starts from the best solution found, so it is never worse, in the same formulation."""
    from binroute.routing.engines.pyvrp import search, search_on

    lorry = dataclasses.replace(tip_problem.vehicles[0], max_load_per_day=(6,))
    problem = dataclasses.replace(tip_problem, vehicles=(lorry,))  # three a trip, six a day: one tip midway
    first = search(problem, Budget.from_limits(Limits(solution_limit=2), 6), seed=0, whole_day=True)
    more = search_on(problem, first, Budget.from_limits(Limits(solution_limit=50), 6), seed=1)
    assert more.cost <= first.cost and more.whole_day
    served = sorted(ref for _, stops, _ in more.plans for kind, ref in stops if kind == "bin")
    assert served == list(range(6))
    assert any(kind == "tip" for _, stops, _ in more.plans for kind, _ in stops)  # tips put back in


def test_helper_processes_ignore_packages_in_the_working_directory(tmp_path, monkeypatch):
    """A folder named like our package in the server's working directory cannot stand in for it."""
    import subprocess
    import sys

    from binroute import _processes

    fake = tmp_path / "binroute"
    fake.mkdir()
    marker = tmp_path / "shadowed"
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (fake / "_processes.py").write_text("")
    plain = subprocess.run(
        [sys.executable, "-m", "binroute._processes"], cwd=tmp_path, capture_output=True, check=False
    )
    assert marker.exists(), plain.stderr  # without -P the fake is imported: the test can fail
    marker.unlink()
    monkeypatch.chdir(tmp_path)
    with _processes.start_helper(sorted, [3, 1, 2]) as helper:
        assert helper.result(60) == [1, 2, 3]  # the real helper ran the call
    assert not marker.exists()


def test_solution_limit_alone_never_starts_a_helper(monkeypatch):
    """A deterministic run stays on one core, one round: no helper process, same routes twice."""
    from binroute.routing import solver

    monkeypatch.setattr(solver, "PARALLEL_MIN_S", 0.0)

    def no_helper(*args, **kwargs):
        raise AssertionError("a helper process was started")

    monkeypatch.setattr(solver, "start_helper", no_helper)
    points = [(0, 0), (100, 0), (100, 100), (0, 100)]
    problem = make_problem(
        points, [Bin(f"b{i}", i, (1,)) for i in (1, 2, 3)], [make_vehicle(break_=Break(100, 150, 30))]
    )
    runs = [solved(problem, Limits(solution_limit=20), engine="auto") for _ in range(2)]
    assert runs[0].routes == runs[1].routes and "round" not in runs[0].details
