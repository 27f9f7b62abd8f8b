"""The turn-aware road model: restrictions, U-turns, turns across traffic and kerbside visits.

Every network here is drawn by hand in the test as OSM XML; drives are
checked against the model's own answer and against the independent audit
(:mod:`binroute.geo.audit`), which reads the same file by itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from binroute.geo import (
    TurnPathFinder,
    TurnRules,
    VehicleProfile,
    core_edges,
    load_network,
    routing_graph,
    snap_points,
    turn_graph,
    turn_matrices,
)
from binroute.geo.audit import arrival_side, forbidden_turns, read_turn_facts, u_turns
from binroute.geo.kerbside import KERB, kerb_required, stop_places
from binroute.geo.restrictions import raw_restriction
from binroute.geo.turns import CROSS

#: A crossroads C with four arms of about 110 m: N, E, S, W (each a dead end).
NODES = {
    1: (24.0000, 60.0000),  # C
    2: (24.0000, 60.0010),  # N
    3: (24.0020, 60.0000),  # E
    4: (24.0000, 59.9990),  # S
    5: (24.0020 - 0.0040, 60.0000),  # W
    6: (24.0010, 60.0000),  # M, between C and E
}
ARMS = {21: (4, 1), 22: (1, 2), 12: (1, 6, 3), 11: (1, 5)}


def _xml(tmp_path, *, relations=(), highway=None, node_tags=None, oneway=(), extra=None):
    """Write the crossroads with the given restriction relations, tags and extra ways; return the file.

    An extra way may name a node not in :data:`NODES`: it is left out of the file, as a clipped extract
    leaves out what is beyond its edge.
    """
    highway = highway or {}
    node_tags = node_tags or {}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="binroute-tests">']
    for ref, (lon, lat) in NODES.items():
        tags = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in node_tags.get(ref, {}).items())
        lines.append(f'<node id="{ref}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{tags}</node>')
    for way, refs in {**ARMS, **(extra or {})}.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tags = f'<tag k="highway" v="{highway.get(way, "residential")}"/>'
        if way in oneway:
            tags += '<tag k="oneway" v="yes"/>'
        lines.append(f'<way id="{way}" version="1">{nds}{tags}</way>')
    for k, (kind, frm, via, to) in enumerate(relations):
        lines.append(
            f'<relation id="{900 + k}" version="1"><member type="way" ref="{frm}" role="from"/>'
            f'<member type="node" ref="{via}" role="via"/><member type="way" ref="{to}" role="to"/>'
            f'<tag k="type" v="restriction"/><tag k="restriction" v="{kind}"/></relation>'
        )
    lines.append("</osm>")
    path = tmp_path / "crossroads.osm"
    path.write_text("\n".join(lines))
    return path


def _setup(path, rules=None, *, points, directed=None, kerb=None):
    net = load_network(path, cache=False)
    rg = routing_graph(net, VehicleProfile())
    tg = turn_graph(rg, rules)
    lon, lat = zip(*points, strict=True)
    snapped = snap_points(net, np.array(lon), np.array(lat), allowed=core_edges(tg))
    n = len(points)
    sp = stop_places(
        snapped,
        directed=np.ones(n, dtype=bool) if directed is None else np.asarray(directed),
        kerb=np.zeros(n, dtype=bool) if kerb is None else np.asarray(kerb),
        driving_side=(rules or TurnRules()).driving_side,
        length_m=net.length_m,
    )
    return net, tg, snapped, sp


def _place_heading(net, sp, point, toward_node):
    """The place of ``point`` whose edge drives toward OSM node ``toward_node``."""
    for p in sp.of(point):
        e = int(sp.places.edge[sp.places.place == p][0])
        if net.node_osmid[net.edge_v[e]] == toward_node:
            return p
    raise AssertionError(f"point {point} has no place toward {toward_node}")


def _drive_and_audit(path, tg, sp, p, q):
    drive = TurnPathFinder(tg, sp.places).drive(p, q)
    facts = read_turn_facts(path)
    return drive, forbidden_turns(facts, drive.coords), u_turns(facts, drive.coords)


# A bin on the south arm (driven north) and one on the west arm (driven west).
SOUTH, WEST = (24.00003, 59.9995), (23.9990, 60.00003)


def test_no_left_turn_forces_a_detour(tmp_path):
    """No left turn from the south arm into the west arm: the lorry goes on and comes back, legally."""
    plain = _xml(tmp_path)
    net, tg, _, sp = _setup(plain, points=[SOUTH, WEST])
    a, b = _place_heading(net, sp, 0, 1), _place_heading(net, sp, 1, 5)
    free = turn_matrices(tg, sp.places)[0][a, b]
    banned = _xml(tmp_path, relations=[("no_left_turn", 21, 1, 11)])
    net, tg, _, sp = _setup(banned, points=[SOUTH, WEST])
    a, b = _place_heading(net, sp, 0, 1), _place_heading(net, sp, 1, 5)
    assert net.stats["restrictions_used"] == 1 and tg.banned == 1
    detour = turn_matrices(tg, sp.places)[0][a, b]
    assert detour > free + 60  # a U-turn at a dead end and back
    drive, illegal, turns = _drive_and_audit(banned, tg, sp, a, b)
    assert illegal == []
    assert [r for _, r in turns] == ["dead end"] and [r for _, r in drive.u_turns] == ["dead end"]


def test_the_audit_sees_a_forbidden_turn(tmp_path):
    """The independent audit flags the left turn when a drive makes it (so it can fail)."""
    banned = _xml(tmp_path, relations=[("no_left_turn", 21, 1, 11)])
    facts = read_turn_facts(banned)
    left = np.array([NODES[4], NODES[1], NODES[5]])
    assert [kind for _, kind, _ in forbidden_turns(facts, left)] == ["no_left_turn"]
    assert forbidden_turns(facts, np.array([NODES[4], NODES[1], NODES[2]])) == []


def test_only_straight_on(tmp_path):
    """Only straight on from the south arm: east and west are reached through the north arm's end."""
    path = _xml(tmp_path, relations=[("only_straight_on", 21, 1, 22)])
    net, tg, _, sp = _setup(path, points=[SOUTH, WEST])
    a, b = _place_heading(net, sp, 0, 1), _place_heading(net, sp, 1, 5)
    drive, illegal, turns = _drive_and_audit(path, tg, sp, a, b)
    assert illegal == [] and [r for _, r in turns] == ["dead end"]
    # The U-turn is at the north arm's end, the only way round.
    node = drive.u_turns[0][0]
    assert net.node_osmid[node] == 2


def test_no_reversal_in_the_middle_of_a_street(tmp_path):
    """Between two bins on a two-way street, no drive reverses mid-street; the only U-turns are at dead ends."""
    path = _xml(tmp_path)
    points = [(24.0005, 60.00003), (24.0015, 59.99997), SOUTH, WEST]
    _, tg, _, sp = _setup(path, points=points)
    finder = TurnPathFinder(tg, sp.places)
    facts = read_turn_facts(path)
    for p in range(sp.places.n_places):
        for q in range(sp.places.n_places):
            if p != q:
                coords = finder.drive(p, q).coords
                assert {r for _, r in u_turns(facts, coords)} <= {"dead end"}, (p, q)


def test_cul_de_sac_u_turn_allowed(tmp_path):
    """From the east arm driven east to the same bin driven west: one U-turn, at the dead end."""
    path = _xml(tmp_path)
    net, tg, _, sp = _setup(path, points=[(24.0015, 60.00003)])
    east, west = _place_heading(net, sp, 0, 3), _place_heading(net, sp, 0, 1)
    drive, illegal, turns = _drive_and_audit(path, tg, sp, east, west)
    assert illegal == []
    assert [r for _, r in drive.u_turns] == ["dead end"] and [r for _, r in turns] == ["dead end"]
    assert net.node_osmid[drive.u_turns[0][0]] == 3


def test_turning_circle_lets_the_lorry_turn_before_the_end(tmp_path):
    """A turning circle mapped mid-street: the U-turn happens there, not at the street's end."""
    path = _xml(tmp_path, node_tags={6: {"highway": "turning_circle"}})
    net, tg, _, sp = _setup(path, points=[(24.0005, 60.00003)])
    assert net.stats["turning_places"] == 1
    east, west = _place_heading(net, sp, 0, 6), _place_heading(net, sp, 0, 1)
    drive, _, turns = _drive_and_audit(path, tg, sp, east, west)
    assert [r for _, r in drive.u_turns] == ["turning place"] and [r for _, r in turns] == ["turning place"]


def test_u_turns_forbidden_without_a_place_but_priced_when_asked(tmp_path):
    """Without a turning place mid-street the U-turn there is impossible; ``penalised`` allows it at a price."""
    path = _xml(tmp_path)
    net = load_network(path, cache=False)
    rg = routing_graph(net, VehicleProfile())
    strict = turn_graph(rg)
    assert strict.u_turns_forbidden > 0
    lax = turn_graph(rg, TurnRules(u_turns="penalised", u_turn_penalty_s=500))
    assert len(lax.t_from) == len(strict.t_from) + strict.u_turns_forbidden
    assert lax.t_cost.max() == 500


def test_kerbside_bin_on_a_main_road_has_one_direction(tmp_path):
    """On a primary road a bin north of the street is served driving west (right-hand traffic) or east (left)."""
    path = _xml(tmp_path, highway={12: "primary"})
    north_of_east_arm = (24.0015, 60.00003)
    for side, toward in (("right", 1), ("left", 3)):
        rules = TurnRules(driving_side=side)
        net, tg, snapped, _ = _setup(path, rules, points=[north_of_east_arm])
        kerb = kerb_required(net, snapped, ["auto"])
        assert kerb.tolist() == [True]
        _, _, _, sp = _setup(path, rules, points=[north_of_east_arm], kerb=kerb)
        assert sp.places.n_places == 1 and sp.side == (KERB,)
        e = int(sp.places.edge[0])
        assert net.node_osmid[net.edge_v[e]] in (toward, 6)  # C, or M on the way to E
        # Independently: arriving at the stop, the bin is on the kerb side.
        leg = TurnPathFinder(tg, sp.places)
        assert leg is not None
        drive_end = net.geometry[e]
        assert arrival_side(drive_end, *north_of_east_arm) == side


def test_residential_bin_may_be_served_either_way_unless_marked_kerb(tmp_path):
    """On a residential street both directions are offered; ``side=kerb`` keeps only the kerb side."""
    path = _xml(tmp_path)
    point = (24.0015, 60.00003)
    net, _, snapped, sp = _setup(path, points=[point])
    assert kerb_required(net, snapped, ["auto"]).tolist() == [False] and sp.places.n_places == 2
    _, _, _, kerb_only = _setup(path, points=[point], kerb=kerb_required(net, snapped, ["kerb"]))
    assert kerb_only.places.n_places == 1


def test_one_way_street_has_one_direction(tmp_path):
    """A bin on a one-way street is visited in the street's direction only."""
    path = _xml(tmp_path, oneway=(22,), extra={30: (2, 3)})  # north arm one way, then on to the east arm
    net, _, _, sp = _setup(path, points=[(24.00003, 60.0005), SOUTH])
    assert len(sp.of(0)) == 1
    e = int(sp.places.edge[sp.places.place == sp.of(0)[0]][0])
    assert net.node_osmid[net.edge_v[e]] == 2


@pytest.mark.parametrize(("side", "cross_to"), [("right", 11), ("left", 12)])
def test_turns_across_traffic_depend_on_the_driving_side(tmp_path, side, cross_to):
    """Coming north from the south arm, the turn west crosses traffic on the right, east on the left."""
    path = _xml(tmp_path)
    net = load_network(path, cache=False)
    tg = turn_graph(routing_graph(net, VehicleProfile()), TurnRules(driving_side=side, cross_traffic_s=12))
    ways = {e: int(net.ways_of(e)[0]) for e in range(net.n_edges)}
    north = next(e for e, w in ways.items() if w == 21 and net.node_osmid[net.edge_v[e]] == 1)
    out = {
        ways[int(b)]: (int(k), float(c))
        for a, b, k, c in zip(tg.t_from, tg.t_to, tg.t_kind, tg.t_cost, strict=True)
        if a == north
    }
    assert out[cross_to][0] == CROSS and out[cross_to][1] == pytest.approx(14)
    assert out[22][1] == 0 and 21 not in out  # straight on is free; no U-turn at a crossroads


@pytest.mark.parametrize(
    ("tags", "members", "expected"),
    [
        (
            {"type": "restriction", "restriction": "no_left_turn"},
            [("w", 1, "from"), ("n", 2, "via")],
            "no from or no to way",
        ),
        (
            {"type": "restriction", "restriction": "give_way"},
            [("w", 1, "from"), ("n", 2, "via"), ("w", 3, "to")],
            "unknown",
        ),
        ({"type": "restriction", "restriction": "no_left_turn"}, [("w", 1, "from"), ("w", 3, "to")], "via"),
    ],
)
def test_malformed_restrictions_are_marked_not_fatal(tags, members, expected):
    """Missing members or unknown kinds are recorded as a problem, to be skipped and counted."""
    raw = raw_restriction(1, tags, members)
    assert raw is not None and expected in raw.problem


def test_restriction_outside_a_clipped_extract_is_counted(tmp_path):
    """A relation naming a way the extract does not have is skipped and counted, never a crash."""
    path = _xml(tmp_path, relations=[("no_left_turn", 21, 1, 999), ("no_right_turn", 21, 77, 12)])
    net = load_network(path, cache=False)
    assert net.stats["restrictions"] == 2 and net.stats["restrictions_outside"] == 2 and net.stats["turn_bans"] == 0


def test_hgv_only_restrictions_bind_lorries_only():
    """``restriction:hgv`` binds a heavy lorry; ``except=hgv`` frees it."""
    members = [("w", 1, "from"), ("n", 2, "via"), ("w", 3, "to")]
    hgv = raw_restriction(1, {"type": "restriction", "restriction:hgv": "no_left_turn"}, members)
    freed = raw_restriction(1, {"type": "restriction", "restriction": "no_left_turn", "except": "psv;hgv"}, members)
    bus = raw_restriction(1, {"type": "restriction", "restriction:bus": "no_left_turn"}, members)
    assert hgv is not None and hgv.scope == 1
    assert freed is not None and freed.scope == 2
    assert bus is None


def test_slots_give_every_profile_the_same_layout(tmp_path):
    """Two directions per bin, one per yard; a profile's places land in their point's slots, the rest unreachable."""
    from binroute.geo.kerbside import SlotLayout, kerbside_model, slot_of_places

    path = _xml(tmp_path, highway={12: "primary"})
    points = [NODES[4], (24.0015, 60.00003), WEST]  # a depot yard, a kerbside bin, a residential bin
    net, tg, snapped, _ = _setup(path, points=points)
    directed = np.array([False, True, True])
    kerb = kerb_required(net, snapped, ["either", "auto", "auto"])
    sp = stop_places(snapped, directed=directed, kerb=kerb)
    layout = SlotLayout.for_points(directed)
    assert layout.n_slots == 5 and layout.slots_of(1) == [1, 2]
    slots = slot_of_places(layout, sp)
    assert slots.tolist() == [0, 1, 3, 4]  # the kerbside bin has one place: slot 2 stays empty
    cap = 10**9
    model = kerbside_model(tg, snapped, layout, directed=directed, kerb=kerb)
    time, dist = model.whole_matrices(cap)
    assert time.dtype == dist.dtype == np.int32
    assert (time[2, [0, 1, 3, 4]] == cap).all() and (time[[0, 1, 3, 4], 2] == cap).all()
    t, d = turn_matrices(tg, model.stops.places)
    np.testing.assert_array_equal(time[np.ix_(model.slots, model.slots)], np.rint(t))
    np.testing.assert_array_equal(dist[np.ix_(model.slots, model.slots)], np.rint(d))
    assert (np.diag(time) == 0).all()


def test_matrix_rows_a_block_at_a_time_are_the_whole_matrices(tmp_path):
    """Searching a few places' rows at a time gives the same matrices as one search of every row."""
    from binroute.geo import turn_matrix_rows

    path = _xml(tmp_path)
    points = [(24.0005, 60.00003), (24.0015, 60.00003), (24.0, 59.9992), (24.0, 60.0008), WEST]
    _, tg, _, sp = _setup(path, points=points)
    whole = next(turn_matrix_rows(tg, sp.places, block=sp.places.n_places))
    blocks = list(turn_matrix_rows(tg, sp.places, block=3))
    assert len(blocks) == -(-sp.places.n_places // 3)
    for k in (1, 2):
        np.testing.assert_array_equal(np.vstack([b[k] for b in blocks]), whole[k])


@pytest.mark.parametrize(
    ("tz", "side"),
    [
        ("Europe/London", "left"),
        ("Australia/Sydney", "left"),
        ("Europe/Helsinki", "right"),
        ("America/New_York", "right"),
    ],
)
def test_driving_side_follows_the_fleet_time_zone(tz, side):
    """A fleet in the UK or Australia keeps left by default; elsewhere right."""
    from binroute.geo.kerbside import driving_side_for_timezone

    assert driving_side_for_timezone(tz) == side


def test_via_way_restriction_forbids_the_u_turn_across_the_reservation(tmp_path):
    """A dual carriageway with a gap in the reservation: no U-turn through it from the eastbound side."""
    nodes = {1: (23.990, 60.0), 2: (24.002, 60.0), 3: (24.014, 60.0), 4: (24.014, 60.0002), 5: (24.002, 60.0002)}
    nodes[6] = (23.990, 60.0002)  # a long way round at both ends
    ways = {1: (1, 2, 3), 2: (4, 5, 6), 3: (2, 5), 4: (3, 4), 5: (6, 1)}  # 1 east, 2 west, 3 the gap

    def write(with_restriction: bool):
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
        lines += [f'<node id="{k}" version="1" lat="{lat}" lon="{lon}"/>' for k, (lon, lat) in nodes.items()]
        for w, refs in ways.items():
            nds = "".join(f'<nd ref="{r}"/>' for r in refs)
            lines.append(
                f'<way id="{w}" version="1">{nds}<tag k="highway" v="primary"/><tag k="oneway" v="yes"/></way>'
            )
        if with_restriction:
            lines.append(
                '<relation id="7" version="1"><member type="way" ref="1" role="from"/>'
                '<member type="way" ref="3" role="via"/><member type="way" ref="2" role="to"/>'
                '<tag k="type" v="restriction"/><tag k="restriction" v="no_u_turn"/></relation>'
            )
        path = tmp_path / f"dual{int(with_restriction)}.osm"
        path.write_text("\n".join([*lines, "</osm>"]))
        return path

    points = [(24.001, 59.99997), (24.001, 60.00023)]  # on the eastbound side, then on the westbound side
    results = {}
    for restricted in (False, True):
        net, tg, _, sp = _setup(write(restricted), points=points)
        time = turn_matrices(tg, sp.places)[0]
        drive = TurnPathFinder(tg, sp.places).drive(sp.of(0)[0], sp.of(1)[0])
        gap = {e for e in range(net.n_edges) if int(net.ways_of(e)[0]) == 3}
        results[restricted] = (time[sp.of(0)[0], sp.of(1)[0]], bool(gap & set(drive.edges)), net.stats)
    assert results[False][1] and not results[True][1]
    assert results[True][0] > results[False][0]
    assert results[True][2]["restrictions_via_way"] == 1 and results[True][2]["restrictions_used"] == 1


def test_only_restriction_onto_a_road_outside_the_network_forbids_every_turn(tmp_path):
    """``only_straight_on`` onto a way the extract does not have: no other turn becomes legal."""
    path = _xml(tmp_path, relations=[("only_straight_on", 21, 1, 999)])
    net = load_network(path, cache=False)
    assert net.stats["restrictions_used"] == 1 and net.stats["turn_bans"] == 4  # west, north, east and back


def test_a_road_cut_by_the_extract_is_no_place_to_turn(tmp_path):
    """The east arm goes on beyond the file's edge: no U-turn at its cut end, so it leaves the core;
    the audit agrees."""
    plain = load_network(_xml(tmp_path), cache=False)
    assert plain.stats["cut_ends"] == 0
    path = _xml(tmp_path, extra={40: (3, 7)})  # node 7 is named by way 40 but not in the file
    net = load_network(path, cache=False)
    assert net.stats["cut_ends"] == 1 and net.cut_end[net.node_osmid == 3].all()
    tg = turn_graph(routing_graph(net, VehicleProfile()))
    east = [e for e in range(net.n_edges) if 3 in net.node_osmid[[net.edge_u[e], net.edge_v[e]]]]
    assert len(east) == 2 and not core_edges(tg)[east].any()
    assert core_edges(tg).sum() == net.n_edges - 2  # the other arms keep their dead-end U-turns
    facts = read_turn_facts(path)
    assert facts.cut_ends == {3}
    into_cut = np.array([NODES[1], NODES[6], NODES[3], NODES[6]])
    assert [r for _, r in u_turns(facts, into_cut)] == ["extract edge"]
    into_dead_end = np.array([NODES[1], NODES[2], NODES[1]])
    assert [r for _, r in u_turns(facts, into_dead_end)] == ["dead end"]


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_bin_beyond_the_end_of_a_cul_de_sac_is_passed_on_the_side_the_plan_says(tmp_path, side):
    """A bin just past the east arm's end snaps onto its end node: both visits (before and after the U-turn)
    are passed on the side the model says, read from the drive's geometry by the audit."""
    path = _xml(tmp_path)
    beyond = (24.00215, 60.00002)
    rules = TurnRules(driving_side=side)
    net, tg, snapped, sp = _setup(path, rules, points=[SOUTH, beyond])
    assert snapped.t[1] == pytest.approx(1.0) or snapped.t[1] == pytest.approx(0.0)
    assert len(sp.of(1)) == 2
    finder = TurnPathFinder(tg, sp.places)
    start = _place_heading(net, sp, 0, 1)
    kerb_side, off_side = side, {"right": "left", "left": "right"}[side]
    for p in sp.of(1):
        drive = finder.drive(start, p)
        claimed = kerb_side if sp.side[p] == KERB else off_side
        assert arrival_side(drive.coords, *beyond) == claimed, (p, sp.side[p])
    assert {sp.side[p] for p in sp.of(1)} == {KERB, "off-side"}


def _osm(tmp_path, name, nodes, ways, *, oneway=()):
    """Write residential ways through the given nodes (ways in ``oneway`` one-way); return the file."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [f'<node id="{k}" version="1" lat="{lat}" lon="{lon}"/>' for k, (lon, lat) in nodes.items()]
    for w, refs in ways.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tags = '<tag k="highway" v="residential"/>' + ('<tag k="oneway" v="yes"/>' if w in oneway else "")
        lines.append(f'<way id="{w}" version="1">{nds}{tags}</way>')
    path = tmp_path / f"{name}.osm"
    path.write_text("\n".join([*lines, "</osm>"]))
    return path


def _block_with_spurs(tmp_path):
    """Two blocks side by side (two-way streets 1-2-3, 4-5-6, 1-4, 2-5, 3-6), a dead-end spur east of 3
    (to 7) and one west of 4 (to 8, then 9)."""
    nodes = {1: (24.000, 60.000), 2: (24.002, 60.000), 3: (24.004, 60.000), 7: (24.006, 60.000)}
    nodes.update({4: (24.000, 60.001), 5: (24.002, 60.001), 6: (24.004, 60.001), 8: (23.998, 60.001)})
    nodes[9] = (23.996, 60.001)
    ways = {1: (1, 2, 3), 2: (4, 5, 6), 3: (1, 4), 4: (2, 5), 5: (3, 6), 6: (3, 7), 7: (4, 8, 9)}
    return _osm(tmp_path, "block", nodes, ways)


def test_dead_end_spurs_are_pockets_and_bound_the_u_turns(tmp_path):
    """Each spur is one pocket; a trip serving bins in both needs at least two U-turns, the blocks none."""
    from binroute.geo import u_turn_pockets
    from binroute.geo.kerbside import unavoidable_u_turns

    path = _block_with_spurs(tmp_path)
    on_block, spur_east = (24.001, 60.00003), (24.005, 60.00003)
    spur_west_near, spur_west_far = (23.999, 60.00097), (23.997, 60.00103)
    net, tg, _, sp = _setup(path, points=[on_block, spur_east, spur_west_far, spur_west_near])
    pocket = u_turn_pockets(tg)
    of_way = {w: {int(pocket[e]) for e in range(net.n_edges) if int(net.ways_of(e)[0]) == w} for w in range(1, 8)}
    assert set().union(*(of_way[w] for w in range(1, 6))) == {-1}
    assert len(of_way[6]) == 1 and len(of_way[7]) == 1 and of_way[6] != of_way[7] and -1 not in of_way[6] | of_way[7]
    assert unavoidable_u_turns(sp, pocket, [0]) == 0
    assert unavoidable_u_turns(sp, pocket, [0, 1]) == 1
    assert unavoidable_u_turns(sp, pocket, [1, 2, 3]) == 2  # the west spur's two bins share its pocket
    assert unavoidable_u_turns(sp, pocket, [1, 2, 3], free=[3]) == 1  # a trip starting in the west spur
    # The model agrees: serving the east spur's bin from the block takes a U-turn there.
    finder = TurnPathFinder(tg, sp.places)
    there_and_back = [finder.drive(sp.of(0)[0], p).u_turns + finder.drive(p, sp.of(0)[0]).u_turns for p in sp.of(1)]
    assert min(len(turns) for turns in there_and_back) == 1


def test_a_stop_on_a_bent_street_is_where_the_bin_snapped(tmp_path):
    """An L-shaped street at 60° N: the drive ends at the snapped point, measured on the ground (a degree of
    longitude is half a degree of latitude there), and the bin is on the side the model says."""
    nodes = {1: (24.000, 60.000), 2: (24.004, 60.000), 3: (24.004, 60.001)}
    path = _osm(tmp_path, "bent", nodes, {1: (1, 2, 3)})
    bin_at = (24.0041, 60.0005)  # east of the northern leg
    _, tg, snapped, sp = _setup(path, points=[(24.001, 60.00003), bin_at])
    finder = TurnPathFinder(tg, sp.places)
    for p in sp.of(1):
        drive = finder.drive(sp.of(0)[0], p)
        assert np.allclose(drive.coords[-1], [snapped.lon[1], snapped.lat[1]], rtol=0, atol=2e-6)
        assert arrival_side(drive.coords, *bin_at) == ("right" if sp.side[p] == KERB else "left")


def test_two_carriageways_between_the_same_nodes_are_not_twins(tmp_path):
    """A short dual carriageway (one-way ways 22 m apart, joining at both ends): a bin between them is
    served from the carriageway it snapped to only, with the side read from that carriageway."""
    nodes = {5: (23.998, 60.0), 1: (24.000, 60.0), 3: (24.002, 60.0002), 2: (24.004, 60.0), 6: (24.006, 60.0)}
    nodes[4] = (24.002, 59.9998)
    path = _osm(tmp_path, "dual", nodes, {1: (1, 3, 2), 2: (2, 4, 1), 3: (5, 1), 4: (2, 6)}, oneway=(1, 2))
    net = load_network(path, cache=False)
    carriageways = [e for e in range(net.n_edges) if int(net.ways_of(e)[0]) in (1, 2)]
    assert len(carriageways) == 2 and (net.edge_twin[carriageways] == -1).all()
    bin_at = (24.002, 60.00005)  # nearer the northern (eastbound) carriageway, south of it
    net, tg, _, sp = _setup(path, points=[(23.999, 60.00003), bin_at])
    assert len(sp.of(1)) == 1 and sp.side[sp.of(1)[0]] == KERB
    drive = TurnPathFinder(tg, sp.places).drive(sp.of(0)[0], sp.of(1)[0])
    assert arrival_side(drive.coords, *bin_at) == "right"


def test_a_tree_grown_only_as_far_as_needed_gives_the_same_drives(tmp_path):
    """grow(p, s) keeps the drives of at most s seconds from p exactly; farther places are not reached."""
    path = _xml(tmp_path)
    points = [(24.0005, 60.00003), (24.0015, 60.00003), (24.0, 59.9992), (24.0, 60.0008)]
    _, tg, _, sp = _setup(path, points=points)
    time, _ = turn_matrices(tg, sp.places)
    whole = TurnPathFinder(tg, sp.places)
    bounded = TurnPathFinder(tg, sp.places)
    p = int(sp.of(0)[0])
    reachable = [q for q in range(sp.places.n_places) if q != p and np.isfinite(time[p, q])]
    near, far = min(reachable, key=lambda q: time[p, q]), max(reachable, key=lambda q: time[p, q])
    assert time[p, near] < time[p, far]
    bounded.grow(p, float(time[p, near]))
    assert bounded.reaches(p, near) and not bounded.reaches(p, far)
    np.testing.assert_array_equal(bounded.drive(p, near).coords, whole.drive(p, near).coords)
    bounded.forget(p)
    assert not bounded.reaches(p, near)
    np.testing.assert_array_equal(bounded.drive(p, far).coords, whole.drive(p, far).coords)


def test_a_node_based_drive_on_a_bent_street_ends_where_the_bin_snapped(tmp_path):
    """The node-based model cuts its drives on the ground too (the same L-shaped street at 60° N)."""
    from binroute.geo.matrix import PathFinder

    nodes = {1: (24.000, 60.000), 2: (24.004, 60.000), 3: (24.004, 60.001)}
    path = _osm(tmp_path, "bent", nodes, {1: (1, 2, 3)})
    net = load_network(path, cache=False)
    rg = routing_graph(net, VehicleProfile())
    lon, lat = np.array([24.001, 24.0041]), np.array([60.00003, 60.0005])
    snapped = snap_points(net, lon, lat, allowed=np.isfinite(rg.edge_time))
    coords = PathFinder(rg, snapped).path(0, 1)
    assert np.allclose(coords[0], [snapped.lon[0], snapped.lat[0]], rtol=0, atol=2e-6)
    assert np.allclose(coords[-1], [snapped.lon[1], snapped.lat[1]], rtol=0, atol=2e-6)


def _whole_and_capped(tg, places, cap):
    t, d = turn_matrices(tg, places)
    return [np.minimum(np.rint(a), cap) for a in (t, d)]


def test_kept_matrices_search_only_the_places_not_kept(tmp_path):
    """A later job of the same city reads the places an earlier one searched and searches only its new ones
    (a row from and a column to each), with the very numbers a whole search gives."""
    from binroute.geo import forget_kept_matrices, kept_place_matrices
    from binroute.geo.turn_matrix import SEARCHES

    path = _xml(tmp_path)
    morning = [(24.0005, 60.00003), (24.0015, 60.00003), (24.0, 59.9992), (24.0, 60.0008), WEST]
    cap = 10**9
    forget_kept_matrices()
    try:
        _, tg, _, sp = _setup(path, points=morning)
        n = sp.places.n_places
        time, dist = kept_place_matrices(tg, sp.places, cap)
        assert {"rows": n} == SEARCHES
        want = _whole_and_capped(tg, sp.places, cap)
        off = ~np.eye(n, dtype=bool)
        np.testing.assert_array_equal(time[off], want[0][off])
        np.testing.assert_array_equal(dist[off], want[1][off])
        # The afternoon: two of the morning's points (read, not searched), one twice (two bins at one spot:
        # 0 between them, as a whole search gives), and one new (a graph built again).
        afternoon = [morning[3], (24.0, 59.9996), morning[1], morning[1]]
        _, tg2, _, sp2 = _setup(path, points=afternoon)
        new = len(sp2.of(1))
        time2, dist2 = kept_place_matrices(tg2, sp2.places, cap)
        assert {"rows": n + new, "columns": new} == SEARCHES
        want2 = _whole_and_capped(tg2, sp2.places, cap)
        off2 = ~np.eye(sp2.places.n_places, dtype=bool)
        np.testing.assert_array_equal(time2[off2], want2[0][off2])
        np.testing.assert_array_equal(dist2[off2], want2[1][off2])
        assert (want2[0][off2] < cap).any()  # drives found, not only caps
        # Only kept places: nothing searched.
        kept_place_matrices(tg2, sp.places, cap)
        assert {"rows": n + new, "columns": new} == SEARCHES
        # Another process (this one's memory forgotten) reads them from beside the network's file.
        forget_kept_matrices()
        time3, _ = kept_place_matrices(tg, sp.places, cap)
        assert SEARCHES == {} and list(tmp_path.glob("*.binroute-drives.npz"))
        np.testing.assert_array_equal(time3, time)
        # Another graph (other turn rules) keeps its own.
        _, tg3, _, sp3 = _setup(path, TurnRules(u_turn_s=99.0), points=afternoon)
        kept_place_matrices(tg3, sp3.places, cap)
        assert {"rows": sp3.places.n_places} == SEARCHES
    finally:
        forget_kept_matrices()
