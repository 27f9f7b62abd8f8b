"""Re-planning mid-day: crews from their positions with what they have left; kept stops unless moving saves a lot."""

from __future__ import annotations

import dataclasses

import pytest

from binroute.routing import (
    Bin,
    Break,
    CrewNow,
    Facility,
    Limits,
    ProblemError,
    SolveParams,
    TimeWindow,
    check_solution,
    fleet_shortfall,
    midday_problem,
    replan,
    replan_time_limit,
    solve,
)
from binroute.routing.cost import moved_bins, plan_cost
from binroute.routing.midday import REPLAN_MAX_S, REPLAN_MIN_S, _warm, pinned, with_crews
from binroute.routing.schedule import fitting_stops
from binroute.routing.solution import TIP

from .helpers import make_problem, make_vehicle

#: Depot at 0, west bins at 1..4 (x = -10..-40), east bins at 5..8 (x = 10..40), a site at 9.
POINTS = [(0, 0), *((-10 * i, 5) for i in range(1, 5)), *((10 * i, 5) for i in range(1, 5)), (0, -10)]
WEST, EAST = ["w1", "w2", "w3", "w4"], ["e1", "e2", "e3", "e4"]
LIMITS = Limits(solution_limit=200, time_limit_s=None)
PARAMS = SolveParams(engine="ortools", seed=0)


def _morning(**vehicle):
    bins = [Bin(b, i + 1, (1,), service_s=5) for i, b in enumerate(WEST + EAST)]
    vehicles = [make_vehicle("v1", cap=(10,), **vehicle), make_vehicle("v2", cap=(10,), **vehicle)]
    site = Facility("F", 9, frozenset({"general"}), service_s=10)
    return make_problem(POINTS, bins, vehicles, facilities=[site])


def _left(problem, done):
    return [b for b in problem.bins if b.id not in done]


def _served_by(solution):
    return {b: r.vehicle_id for r in solution.routes for b in r.bins}


def test_crews_keep_their_stops_and_the_plan_checks_out():
    """Each crew keeps its remaining bins from where it is; the checker passes on the re-planned routes."""
    morning = _morning()
    crews = [CrewNow("v1", 1, (1,), 1, tuple(WEST[1:])), CrewNow("v2", 5, (1,), 1, tuple(EAST[1:]))]
    rest = midday_problem(morning, crews, _left(morning, {"w1", "e1"}), now_s=100)
    keeps = {b: c.vehicle_id for c in crews for b in c.keeps}
    out = replan(rest, keeps, limits=LIMITS, params=PARAMS)
    assert check_solution(rest, out.solution, require_all=True).ok
    assert out.choice == "keep"
    assert _served_by(out.solution) == keeps
    for route in out.solution.routes:
        assert route.visits[0].location == (1 if route.vehicle_id == "v1" else 5)
        assert route.visits[0].departure_s >= 100


def test_a_broken_down_lorry_s_stops_go_to_the_others():
    """Without v1 (broken down), v2 collects every bin left, its own and v1's, and the plan checks out."""
    morning = _morning()
    crews = [CrewNow("v2", 5, (0,), 0, tuple(EAST[1:]))]
    rest = midday_problem(morning, crews, _left(morning, {"w1", "e1"}), now_s=100)
    out = replan(rest, {b: "v2" for b in EAST[1:]}, limits=LIMITS, params=PARAMS)
    assert check_solution(rest, out.solution, require_all=True).ok
    assert set(_served_by(out.solution)) == set(WEST[1:] + EAST[1:])
    assert [v.id for v in rest.vehicles] == ["v2"]


def test_stops_move_when_moving_saves_a_lot():
    """Crews holding each other's far side of town: with a small moving penalty the plan that saves most and
    moves fewest is taken (one crew hands its three stops over and drives home); never above the threshold."""
    morning = _morning()
    crews = [CrewNow("v1", 1, (0,), 0, tuple(EAST[1:])), CrewNow("v2", 5, (0,), 0, tuple(WEST[1:]))]
    rest = midday_problem(morning, crews, _left(morning, {"w1", "e1"}), now_s=100)
    keeps = {b: c.vehicle_id for c in crews for b in c.keeps}
    out = replan(rest, keeps, limits=LIMITS, params=PARAMS, keep_unless_saves=0.01, move_cost=1.0)
    assert check_solution(rest, out.solution, require_all=True).ok
    assert out.choice == "move" and out.moved_rank[1] < out.kept_rank[1]
    assert len(out.moves) == 3 and len({new for _, new in out.moves.values()}) == 1
    assert replan(rest, keeps, limits=LIMITS, params=PARAMS, keep_unless_saves=0.01).choice == "keep"
    never = replan(rest, keeps, limits=LIMITS, params=PARAMS, keep_unless_saves=1.0)
    assert never.choice == "keep" and _served_by(never.solution) == keeps


def test_the_afternoon_has_the_shift_break_and_room_left():
    """Shift from now, the break still ahead (none once past), room less the load, no day cost; a done crew is out."""
    morning = _morning(break_=Break(200, 300, 30), max_lifts=6, fixed_cost=500.0)
    crews = [CrewNow("v1", 1, (4,), 2), CrewNow("v2", 5, (0,), 0)]
    rest = midday_problem(morning, crews, morning.bins, now_s=250)
    v1 = rest.vehicles[0]
    assert v1.shift == TimeWindow(250, 100_000)
    assert v1.break_ == Break(250, 300, 30)
    assert v1.capacity == (6,) and v1.max_lifts == 4 and v1.fixed_cost == 0.0
    assert rest.depots[v1.start_depot].location == 1 and v1.end_depot == 0
    assert midday_problem(morning, crews, morning.bins, now_s=400).vehicles[0].break_ is None
    assert midday_problem(morning, crews, morning.bins, now_s=99_999).vehicles[0].shift.start_s == 99_999
    with pytest.raises(ProblemError, match="no crew"):
        midday_problem(morning, crews, morning.bins, now_s=100_000)
    with pytest.raises(ProblemError, match="not a vehicle"):
        midday_problem(morning, [CrewNow("v9", 1)], morning.bins, now_s=0)


def test_pinning_opens_a_bin_to_its_crew_only():
    """A pinned bin's stream is carried by its crew alone, and the site takes it."""
    morning = _morning()
    p = pinned(morning, {"w1": "v2"})
    w1 = next(b for b in p.bins if b.id == "w1")
    assert w1.stream == "general@v2"
    assert [w1.stream in v.streams for v in p.vehicles] == [False, True]
    assert all(w1.stream in f.streams for f in p.facilities)


def test_a_lorry_too_full_for_its_stops_tips_first():
    """With 8 of 10 on board and 3 to collect, the crew starts empty at the site once it has tipped there."""
    morning = _morning()
    crews = [CrewNow("v1", 1, (8,), 1, tuple(WEST[1:]))]
    rest = midday_problem(morning, crews, _left(morning, {"w1"}), now_s=100)
    v1 = rest.vehicles[0]
    assert rest.depots[v1.start_depot].location == 9
    assert v1.capacity == (10,)
    assert v1.shift.start_s == 100 + 25 + 10  # drive from (-10, 5) to (0, -10), then the site's 10 s
    out = replan(rest, {b: "v1" for b in WEST[1:]}, limits=LIMITS, params=PARAMS)
    assert check_solution(rest, out.solution, require_all=False).ok
    roomy = midday_problem(morning, [CrewNow("v1", 1, (5,), 1, tuple(WEST[1:]))], morning.bins, now_s=100)
    assert roomy.vehicles[0].capacity == (5,) and roomy.depots[roomy.vehicles[0].start_depot].location == 1


def test_the_kept_solve_starts_from_the_crews_current_order():
    """Given each crew's remaining order (bins and a tip), the kept plan keeps every stop with its crew, feasibly."""
    morning = _morning()
    crews = [CrewNow("v1", 1, (1,), 1, tuple(WEST[1:])), CrewNow("v2", 5, (1,), 1, tuple(EAST[1:]))]
    rest = midday_problem(morning, crews, _left(morning, {"w1", "e1"}), now_s=100)
    keeps = {b: c.vehicle_id for c in crews for b in c.keeps}
    routes = {"v1": ("w2", "w3", "F", "w4"), "v2": ("e4", "e3", "e2")}
    out = replan(rest, keeps, limits=LIMITS, params=PARAMS, routes=routes)
    assert check_solution(rest, out.solution, require_all=True).ok
    assert out.choice == "keep" and _served_by(out.solution) == keeps


def test_only_the_stops_a_crew_cannot_do_move():
    """A crew whose shift ends too soon keeps what it can do; only the rest goes to another crew (with a moving
    penalty above what giving away its last stop would save: its trip to the tip)."""
    site = Facility("F", 9, frozenset({"general"}), service_s=10)
    bins = [Bin(b, i + 1, (1,), service_s=5) for i, b in enumerate(WEST + EAST)]
    short = make_vehicle("v1", cap=(10,), shift=TimeWindow(0, 175))
    morning = make_problem(POINTS, bins, [short, make_vehicle("v2", cap=(10,))], facilities=[site])
    crews = [CrewNow("v1", 1, (0,), 1, tuple(WEST[1:])), CrewNow("v2", 5, (0,), 1, tuple(EAST[1:]))]
    rest = midday_problem(morning, crews, _left(morning, {"w1", "e1"}), now_s=100)
    keeps = {b: c.vehicle_id for c in crews for b in c.keeps}
    out = replan(rest, keeps, limits=LIMITS, params=PARAMS, keep_unless_saves=0.5, move_cost=100.0)
    assert check_solution(rest, out.solution, require_all=True).ok
    served = _served_by(out.solution)
    assert out.choice == "move" and out.kept_rank[0] > 0 and out.moved_rank[0] == 0
    assert served["w2"] == "v1" and {served["w3"], served["w4"]} == {"v2"}
    assert all(served[b] == "v2" for b in EAST[1:])
    assert out.moves == {"w3": ("v1", "v2"), "w4": ("v1", "v2")}


def test_a_stop_moves_only_when_it_saves_more_than_the_moving_penalty():
    """v1 holds one bin on v2's side: free of penalty it goes to v2; with a penalty above the saving it stays."""
    morning = _morning()
    crews = [CrewNow("v1", 1, (0,), 1, ("w2", "w3", "w4", "e4")), CrewNow("v2", 5, (0,), 1, ("e2", "e3"))]
    rest = midday_problem(morning, crews, _left(morning, {"w1", "e1"}), now_s=100)
    keeps = {b: c.vehicle_id for c in crews for b in c.keeps}
    free = replan(rest, keeps, limits=LIMITS, params=PARAMS, keep_unless_saves=0.0, move_cost=0.0)
    assert free.choice == "move" and free.moves["e4"] == ("v1", "v2")
    dear = replan(rest, keeps, limits=LIMITS, params=PARAMS, keep_unless_saves=0.0, move_cost=1_000.0)
    assert dear.moves == {} and _served_by(dear.solution) == keeps
    assert check_solution(rest, dear.solution, require_all=True).ok


def test_the_moving_penalty_is_part_of_the_plan_cost():
    """Each bin served by another vehicle than its crew adds ``move_cost``; a crew must be a vehicle."""
    morning = _morning()
    rest = midday_problem(morning, [CrewNow("v1", 1), CrewNow("v2", 5)], _left(morning, {"w1", "e1"}), now_s=100)
    keeps = {b: "v1" for b in WEST[1:]} | {b: "v2" for b in EAST[1:]} | {"w1": "gone"}
    out = replan(rest, keeps, limits=LIMITS, params=PARAMS)
    crewed = with_crews(rest, {b: "v2" for b in WEST[1:]}, 7.0)
    assert {b.crew for b in crewed.bins if b.id in EAST} == {None}
    assert moved_bins(crewed, out.solution) == [b for r in out.solution.routes for b in r.bins if b in WEST]
    assert plan_cost(crewed, out.solution) == pytest.approx(plan_cost(rest, out.solution) + 7.0 * 3)
    with pytest.raises(ProblemError, match="crew 'v9' is not a vehicle"):
        with_crews(rest, {}, 1.0).__class__(**{**vars(rest), "bins": (Bin("x", 1, (1,), crew="v9"),)})


def _breakdown(v2_shift_end: int):
    """v1 (general) broke down with w2..w4 left; v2 (general and recycling, out at e1 until ``v2_shift_end``)
    keeps the recycling e2..e4; v3 (recycling only) is at the depot with nothing left."""
    site = Facility("F", 9, frozenset({"general", "recycling"}), service_s=10)
    bins = [Bin(b, i + 1, (1,), service_s=5, stream="general") for i, b in enumerate(WEST)]
    bins += [Bin(b, i + 5, (1,), service_s=5, stream="recycling") for i, b in enumerate(EAST)]
    both = frozenset({"general", "recycling"})
    vehicles = [
        make_vehicle("v1", cap=(10,)),
        make_vehicle("v2", cap=(10,), streams=both, shift=TimeWindow(0, v2_shift_end)),
        make_vehicle("v3", cap=(10,), streams=frozenset({"recycling"})),
    ]
    morning = make_problem(POINTS, bins, vehicles, facilities=[site])
    crews = [CrewNow("v2", 5, (0,), 1, tuple(EAST[1:])), CrewNow("v3", 0, (0,), 0, ())]
    rest = midday_problem(morning, crews, _left(morning, {"w1", "e1"}), now_s=100)
    keeps = {b: "v2" for b in EAST[1:]}
    routes = {"v2": tuple(EAST[1:])}
    return rest, keeps, routes


def test_a_breakdown_s_stops_are_all_served_when_the_others_have_room():
    """Only v2 carries v1's general bins, and it cannot do them and its own stops in its shift: its recycling
    stops go to v3 (which has room) so that it can take v1's. Every required bin is served once, checked."""
    rest, keeps, routes = _breakdown(250)
    out = replan(rest, keeps, limits=LIMITS, params=PARAMS, routes=routes)
    assert out.kept_rank[0] > 0 and out.moved_rank[0] == 0 and out.choice == "move"
    assert check_solution(rest, out.solution, require_all=True).ok
    served = _served_by(out.solution)
    assert sorted(served) == sorted(WEST[1:] + EAST[1:])
    assert {b: served[b] for b in WEST[1:]} == dict.fromkeys(WEST[1:], "v2")
    assert out.moves == {b: ("v2", "v3") for b in EAST[1:]}


def test_a_breakdown_the_others_cannot_absorb_is_said_to_be_the_fleet_s_shortfall():
    """With v2's shift too short for all three of v1's bins (each alone fits), the re-plan serves what it can,
    feasibly, and the bin left is the fleet's shortfall (the crews were full), not one no lorry could reach."""
    rest, keeps, routes = _breakdown(230)
    out = replan(rest, keeps, limits=LIMITS, params=PARAMS, routes=routes)
    assert check_solution(rest, out.solution).ok
    left = {u.bin_id for u in out.solution.unserved if u.required}
    assert left == {"w4"}
    assert all(served == "v3" for b, served in _served_by(out.solution).items() if b in EAST)
    short = fleet_shortfall(rest, out.solution)
    assert short is not None and set(short.bins) == left and "crews are full" in short.message()


def test_the_re_plan_s_time_limit_grows_with_the_stops_left():
    """Each solve's default time: a floor for a small day, 8 ms a stop, a ceiling for a big one."""
    assert replan_time_limit(10) == REPLAN_MIN_S
    assert replan_time_limit(500) == pytest.approx(4.0)
    assert replan_time_limit(100_000) == REPLAN_MAX_S


def test_a_late_crew_s_missed_window_costs_that_bin_not_the_rest_of_its_route():
    """The warm start of a crew whose route passes a bin it can no longer reach in its window leaves that bin out
    and keeps every stop after it (it cut the route there: the kept solve then dropped 99 of 136 stops)."""
    bins = [Bin(b, i + 1, (1,), service_s=5) for i, b in enumerate(WEST)]
    bins[1] = Bin("w2", 2, (1,), service_s=5, window=TimeWindow(0, 50))
    problem = make_problem(POINTS, bins, [make_vehicle("v1", cap=(10,))])
    stops = [("bin", i) for i in range(4)]
    assert fitting_stops(problem, 0, stops) == [0, 1, 2, 3]
    late = midday_problem(problem, [CrewNow("v1", 0, (0,), 0, tuple(WEST))], bins, now_s=100)
    assert fitting_stops(late, 0, stops) == [0, 2, 3]
    assert fitting_stops(late, 0, stops, skips=0) == [0]
    out = solve(late, limits=Limits(solution_limit=1), params=SolveParams(engine="ortools", warm_start={"v1": WEST}))
    assert out.details["warm_start_trimmed"] == 1 and out.routes[0].bins[:3] == ["w1", "w3", "w4"]


def test_the_moved_solve_starts_from_the_kept_plan_with_its_tips():
    """A kept route that tips on the way is restored whole in the moved solve (its tips were left out, and a
    route without them is too full to restore)."""
    morning = _morning()
    crews = [CrewNow("v1", 0, (0,), 0, tuple(WEST)), CrewNow("v2", 0, (0,), 0, tuple(EAST))]
    small = midday_problem(morning, crews, morning.bins, now_s=0)
    small = dataclasses.replace(small, vehicles=tuple(dataclasses.replace(v, capacity=(2,)) for v in small.vehicles))
    kept = solve(small, limits=LIMITS, params=PARAMS)
    assert any(v.kind == TIP for r in kept.routes for v in r.visits[1:-2])  # a tip between bins
    again = solve(small, limits=Limits(solution_limit=1), params=_warm(PARAMS, kept))
    assert again.details["warm_start_trimmed"] == 0
    assert [r.bins for r in again.routes] == [r.bins for r in kept.routes]
