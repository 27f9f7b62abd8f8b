"""A lorry turns round at a dead end only on a drive that needs to: never as a short cut between through streets.

The town is drawn by hand as OSM XML: two junctions X and Y joined by three
streets (a theta: the middle one straight, the others bowing 300 m north
and south), and a 30-m dead end beyond Y. Every drive is checked by the
independent audit (:mod:`binroute.geo.audit`), which reads the file itself.
"""

from __future__ import annotations

import numpy as np

from binroute.geo import (
    TurnPathFinder,
    VehicleProfile,
    core_edges,
    load_network,
    routing_graph,
    snap_points,
    turn_graph,
    turn_matrices,
)
from binroute.geo.audit import forbidden_turns, read_turn_facts, u_turns
from binroute.geo.kerbside import stop_places
from binroute.geo.turns import REVERSING_WEIGHT_S, TurnRules

LON0, LAT0 = 24.0, 60.0
M_LON, M_LAT = 1 / 55_660, 1 / 111_320  # degrees per metre at 60° N


def _at(x: float, y: float) -> tuple[float, float]:
    return LON0 + x * M_LON, LAT0 + y * M_LAT


NODES = {1: (0, 0), 2: (100, 0), 3: (200, 0), 4: (100, 300), 5: (100, -300), 6: (230, 0)}
WAYS = {10: (1, 2, 3), 11: (1, 4, 3), 12: (1, 5, 3), 13: (3, 6)}  # X=1, Y=3; 13 is the dead end


def _town(tmp_path):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="binroute-tests">']
    for ref, (x, y) in NODES.items():
        lon, lat = _at(x, y)
        lines.append(f'<node id="{ref}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for way, refs in WAYS.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{way}" version="1">{nds}<tag k="highway" v="residential"/></way>')
    lines.append("</osm>")
    path = tmp_path / "theta.osm"
    path.write_text("\n".join(lines))
    return path


def _places(tmp_path, points):
    path = _town(tmp_path)
    net = load_network(path, cache=False)
    tg = turn_graph(routing_graph(net, VehicleProfile()), TurnRules())
    lon, lat = zip(*(_at(x, y) for x, y in points), strict=True)
    snapped = snap_points(net, np.array(lon), np.array(lat), allowed=core_edges(tg))
    n = len(points)
    sp = stop_places(
        snapped, directed=np.ones(n, bool), kerb=np.zeros(n, bool), driving_side="right", length_m=net.length_m
    )
    return path, net, tg, sp


def _heading(net, sp, point, toward):
    """The place of ``point`` whose edge drives toward OSM node ``toward``."""
    return next(
        p for p in sp.of(point) if net.node_osmid[net.edge_v[sp.places.edge[sp.places.place == p][0]]] == toward
    )


def _drive(path, tg, sp, p, q):
    drive = TurnPathFinder(tg, sp.places).drive(p, q)
    facts = read_turn_facts(path)
    return drive, forbidden_turns(facts, drive.coords), u_turns(facts, drive.coords)


def test_no_reversal_as_a_short_cut_between_through_streets(tmp_path):
    """From one side of the middle street to the other: round the theta, not into the dead end and back.

    Turning round in the dead end (30 m in, a minute's turn) is far quicker
    than the two bows (1.3 km); it is still not taken, and the matrix gives
    the drive's own seconds.
    """
    path, net, tg, sp = _places(tmp_path, [(150, 0), (160, 0)])
    east, west = _heading(net, sp, 0, 3), _heading(net, sp, 1, 1)
    time, dist = turn_matrices(tg, sp.places)
    drive, illegal, turns = _drive(path, tg, sp, east, west)
    assert illegal == [] and turns == [] and drive.u_turns == ()
    assert dist[east, west] > 1_200
    assert time[east, west] < REVERSING_WEIGHT_S  # seconds driven, no weight left in
    assert np.isclose(time[east, west], tg.rg.edge_time[list(drive.edges)].sum(), rtol=0.2)


def test_a_drive_out_of_a_dead_end_it_served_turns_round_there(tmp_path):
    """A stop in the dead end, driven in: the drive on turns round once, at that dead end, and costs its seconds."""
    path, net, tg, sp = _places(tmp_path, [(215, 0), (150, 0)])
    inside, back = _heading(net, sp, 0, 6), _heading(net, sp, 1, 1)
    time, dist = turn_matrices(tg, sp.places)
    drive, illegal, turns = _drive(path, tg, sp, inside, back)
    assert illegal == [] and [r for _, r in turns] == ["dead end"]
    assert [r for _, r in drive.u_turns] == ["dead end"]
    assert dist[inside, back] < 200
    assert TurnRules().u_turn_s < time[inside, back] < TurnRules().u_turn_s + 60
