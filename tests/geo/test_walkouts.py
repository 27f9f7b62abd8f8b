"""Walk-outs: a bin near the mouth of a dead end is fetched while the lorry waits on the through street.

Every town is drawn by hand (:mod:`.walkout_town`); the model's walk-outs
(:mod:`binroute.geo.walkouts`) are checked against the independent walk-out
check (:mod:`binroute.geo.walk_audit`) and the turn audit
(:mod:`binroute.geo.audit`), which read the OSM file by themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from binroute.geo import (
    TurnPathFinder,
    TurnRules,
    VehicleProfile,
    add_walking,
    core_edges,
    load_network,
    routing_graph,
    snap_points,
    turn_graph,
    walk_outs,
)
from binroute.geo.audit import forbidden_turns, read_turn_facts, u_turns
from binroute.geo.kerbside import WALK_OUT, SlotLayout, stop_places
from binroute.geo.walk_audit import WalkOutChecker, WalkOutStop

from .walkout_town import in_spur, in_spur_11, write_town

#: A place on the ring's north side (between 3 and 4), where drives start and end.
NORTH_SIDE = (24.001, 60.00103)


def _model(path, points, *, side="right", within_m=25.0):
    net = load_network(path, cache=False)
    tg = turn_graph(routing_graph(net, VehicleProfile()), TurnRules(driving_side=side))
    lon, lat = zip(*points, strict=True)
    snapped = snap_points(net, np.array(lon), np.array(lat), allowed=core_edges(tg))
    walks = walk_outs(tg, snapped, within_m=within_m)
    n = len(points)
    sp = stop_places(
        snapped,
        directed=np.ones(n, dtype=bool),
        kerb=np.zeros(n, dtype=bool),
        driving_side=side,
        length_m=net.length_m,
        walk_outs=walks,
    )
    return net, tg, walks, sp


def test_a_bin_10_m_into_a_dead_end_gets_a_walk_out_and_one_60_m_in_does_not(tmp_path):
    """10 m in (3 m from the street): walk-outs from both directions of the through street, about 13 m
    each way; 60 m in: none. The walk-out is a place on the through street, after the bin's two directions."""
    path = write_town(tmp_path / "town.osm")
    net, _, walks, sp = _model(path, [in_spur(10), in_spur(60)])
    assert walks.of(1) == []
    assert len(walks.of(0)) == 2
    assert np.allclose(walks.walk_m[walks.of(0)], 13.0, atol=0.5)
    mouth = {int(net.node_osmid[m]) for m in walks.mouth}
    assert mouth == {5}
    assert {net.highway[e] for e in walks.edge} == {"residential"}
    assert [sp.side[p] for p in sp.of(0)][-2:] == [WALK_OUT, WALK_OUT]
    assert sp.walk(sp.of(0)[-1]) == pytest.approx(float(walks.walk_m[walks.of(0)[-1]]))
    # From the kerb side (driving east, the dead end on the right) nothing is crossed; from the other, the
    # through street itself (residential: allowed).
    assert sorted(walks.crossings.tolist()) == [0, 1]


def test_the_setting_bounds_the_walk(tmp_path):
    """With a 10-m setting the bin 13 m from the mouth gets no walk-out; with 0 nothing does."""
    path = write_town(tmp_path / "town.osm")
    assert len(_model(path, [in_spur(10)], within_m=10.0)[2]) == 0
    assert len(_model(path, [in_spur(10)], within_m=0.0)[2]) == 0
    with pytest.raises(ValueError, match="within_m"):
        _model(path, [in_spur(10)], within_m=-1.0)


@pytest.mark.parametrize(
    ("side", "north", "walked"),
    [("right", True, False), ("right", False, True), ("left", True, True), ("left", False, False)],
)
def test_never_across_a_primary_road(tmp_path, side, north, walked):
    """A one-way primary ring driven eastward past the dead end: a walk-out only where the dead end is on the
    lorry's kerb side; on the other side the crew would cross the primary road."""
    path = write_town(tmp_path / "town.osm", ring="primary", oneway=True, north=north)
    _, _, walks, _ = _model(path, [in_spur(10, north=north)], side=side)
    assert (len(walks) > 0) == walked


def _drive(tg, sp, p, q):
    return TurnPathFinder(tg, sp.places).drive(p, q)


def test_the_walk_out_drive_passes_the_turn_audit_and_the_independent_check(tmp_path):
    """Driving to the walk-out spot and on makes no U-turn and no forbidden turn (audit), and the independent
    check finds the walk short, off main roads and the lorry on a through street; it does find fault with a
    shorter setting."""
    path = write_town(tmp_path / "town.osm")
    _, tg, _, sp = _model(path, [in_spur(10), NORTH_SIDE])
    facts = read_turn_facts(path)
    checker = WalkOutChecker(facts, within_m=25.0)
    start = sp.of(1)[0]
    for p in (q for q in sp.of(0) if sp.side[q] == WALK_OUT):
        there, back = _drive(tg, sp, start, p), _drive(tg, sp, p, start)
        for drive in (there, back):
            assert drive.u_turns == ()
            assert forbidden_turns(facts, drive.coords) == [] and u_turns(facts, drive.coords) == []
        stop = WalkOutStop("B", there.coords, *in_spur(10))
        assert checker.check(stop) == []
        assert any("over 5 m" in f for f in WalkOutChecker(facts, within_m=5.0).check(stop))


def test_the_independent_check_sees_a_walk_across_a_primary_road(tmp_path):
    """A lorry stopped eastbound on a one-way primary ring with the dead end on its left: the check says the
    walk crosses a main road (the model never offers this spot)."""
    path = write_town(tmp_path / "town.osm", ring="primary", oneway=True, north=True)
    _, tg, walks, sp = _model(path, [(24.0009, 60.00003), NORTH_SIDE])
    assert len(walks) == 0
    lorry = _drive(tg, sp, sp.of(1)[0], sp.of(0)[0])  # to just before the dead end's mouth, driving east
    faults = WalkOutChecker(read_turn_facts(path), within_m=200.0).check(
        WalkOutStop("B", lorry.coords, *in_spur(10, north=True))
    )
    assert any("crosses a main road" in f for f in faults)


@pytest.mark.parametrize("circle", [True, False])
def test_a_turning_circle_is_a_turning_place_not_reversing(tmp_path, circle):
    """Serving a bin 60 m into a dead end: with a turning circle mapped at its end the U-turn is at a turning
    place (no reversing), without one it is a dead-end reversing manoeuvre; the audit agrees."""
    path = write_town(tmp_path / "town.osm", turning_circle_at_11=circle)
    _, tg, _, sp = _model(path, [in_spur_11(60), NORTH_SIDE])
    start = sp.of(1)[0]
    reasons = []
    facts = read_turn_facts(path)
    for p in sp.of(0):
        for drive in (_drive(tg, sp, start, p), _drive(tg, sp, p, start)):
            reasons += [r for _, r in drive.u_turns]
            assert [r for _, r in u_turns(facts, drive.coords)] == [r for _, r in drive.u_turns]
    assert set(reasons) == ({"turning place"} if circle else {"dead end"})


def test_walk_time_goes_half_on_the_way_in_and_half_on_the_way_out():
    """The walk's seconds are split between arcs into and out of the walk-out slot; no drive stays no drive."""
    time = np.array([[0, 10, 99], [10, 0, 20], [99, 20, 0]], dtype=np.int32)
    add_walking(time, np.array([1]), np.array([51.0]), cap=99)
    assert time.tolist() == [[0, 36, 99], [35, 0, 45], [99, 46, 0]]


def test_walk_out_slots_come_after_the_two_directions():
    """A layout reserves a point's walk-out slots after its two directed ones, and fills them in order."""
    layout = SlotLayout.for_points(np.array([False, True, True]), np.array([0, 2, 0]))
    assert layout.count.tolist() == [1, 4, 2]
    assert layout.slots_of(1) == [1, 2, 3, 4]
