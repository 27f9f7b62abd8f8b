"""Loading OSM files into a lorry network, snapping and matrices."""

from __future__ import annotations

import bz2
import itertools
import shutil
import warnings

import networkx as nx
import numpy as np
import pytest

from binroute.geo import (
    FarFromRoadWarning,
    NetworkError,
    load_network,
    routing_graph,
    snap_points,
    travel_matrices,
)
from binroute.geo.matrix import PathFinder, node_matrices
from binroute.geo.network import network_from_graph
from binroute.geo.osm import is_drivable

from .helpers import HEAVY, LIGHT, random_stops


def _node(net, osmid: int) -> int:
    return int(np.flatnonzero(net.node_osmid == osmid)[0])


def _midpoint(net, a: int, b: int) -> tuple[float, float]:
    ia, ib = _node(net, a), _node(net, b)
    return (net.lon[ia] + net.lon[ib]) / 2, (net.lat[ia] + net.lat[ib]) / 2


def test_footways_private_and_buildings_are_dropped(tiny_net):
    """Only lorry-drivable ways become edges."""
    names = set(tiny_net.name)
    assert "Weak Bridge" in names
    assert 10 not in tiny_net.node_osmid  # the private service road's end
    assert tiny_net.n_edges == 22


@pytest.mark.parametrize(
    ("tags", "ok"),
    [
        ({"highway": "residential"}, True),
        ({"highway": "service"}, True),
        ({"highway": "footway"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "steps"}, False),
        ({"highway": "path"}, False),
        ({"highway": "residential", "access": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "residential", "motor_vehicle": "no"}, False),
        ({"highway": "residential", "access": "no", "motor_vehicle": "yes"}, True),
        ({"highway": "residential", "access": "destination"}, True),
        ({"highway": "construction"}, False),
    ],
)
def test_is_drivable(tags, ok):
    """The access rules for refuse lorries."""
    assert is_drivable(tags) is ok


def test_clipped_extract_loads(tiny_net):
    """A way referencing a node outside the extract is cut, not a crash."""
    assert tiny_net.stats["ways_cut"] == 1
    assert 11 in tiny_net.node_osmid


def test_bz2_and_pbf_give_the_same_graph(tiny_osm, tiny_net, tmp_path):
    """Compressed XML loads like plain XML."""
    packed = tmp_path / "tiny.osm.bz2"
    packed.write_bytes(bz2.compress(tiny_osm.read_bytes()))
    net = load_network(packed, cache=False)
    assert net.n_edges == tiny_net.n_edges


def test_pbf_sample_loads(sample_net):
    """The real Helsinki extract (PBF) loads with a strongly connected core."""
    assert sample_net.n_nodes > 300
    g = sample_net.to_networkx(sample_net.length_m)
    assert nx.is_strongly_connected(nx.DiGraph(g))


@pytest.mark.parametrize("content", [b"", b"this is not osm", b"<osm version='0.6'></osm>"])
def test_bad_files_raise_network_error(tmp_path, content):
    """Corrupt, empty or road-less files give one clear error naming the file."""
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(NetworkError, match=r"bad\.osm"):
        load_network(path, cache=False)


def test_missing_file(tmp_path):
    with pytest.raises(NetworkError, match="not found"):
        load_network(tmp_path / "nope.osm.pbf")


def test_cache_round_trip(tiny_osm, tmp_path):
    """A cached network reloads equal to the parsed one."""
    src = tmp_path / "t.osm"
    shutil.copy(tiny_osm, src)
    first = load_network(src)
    assert list(tmp_path.glob("t.osm.*.binroute-cache"))
    again = load_network(src)
    assert np.array_equal(first.edge_u, again.edge_u)
    assert np.allclose(first.length_m, again.length_m)


def test_maxspeed_in_mph_is_used(tiny_net):
    """West Street is tagged 20 mph."""
    west = [e for e in range(tiny_net.n_edges) if tiny_net.name[e] == "West Street"]
    assert np.allclose(tiny_net.speed_kph[west], 32.18688)


def test_one_way_street_makes_matrix_asymmetric(tiny_net):
    """A→B along the one-way street is direct; B→A must go around."""
    a = _midpoint(tiny_net, 4, 5)
    b = _midpoint(tiny_net, 5, 6)
    snapped = snap_points(tiny_net, [a[0], b[0]], [a[1], b[1]])
    time, dist = travel_matrices(routing_graph(tiny_net, LIGHT), snapped)
    assert dist[0, 1] == pytest.approx(111.2, abs=1.0)
    assert dist[1, 0] > 3 * dist[0, 1]
    assert time[1, 0] > time[0, 1]


def test_weight_limit_is_avoided_by_heavy_vehicle(tiny_net):
    """The 7.5 t bridge is used by a light van and avoided by a 26 t lorry."""
    a = _midpoint(tiny_net, 1, 2)
    b = _midpoint(tiny_net, 5, 8)
    snapped = snap_points(tiny_net, [a[0], b[0]], [a[1], b[1]])
    _, light = travel_matrices(routing_graph(tiny_net, LIGHT), snapped)
    _, heavy = travel_matrices(routing_graph(tiny_net, HEAVY), snapped)
    assert light[0, 1] == pytest.approx(55.6 + 111.2 + 55.6, abs=1.0)
    assert heavy[0, 1] == pytest.approx(55.6 + 111.2 + 111.2 + 55.6, abs=1.0)


def test_node_matrices_equal_networkx(sample_net):
    """Vectorised Dijkstra equals networkx shortest paths (time and length)."""
    rg = routing_graph(sample_net, HEAVY)
    g = sample_net.to_networkx(rg.edge_time)
    simple = nx.DiGraph()
    simple.add_nodes_from(g.nodes)
    for u, v, d in g.edges(data=True):
        if not simple.has_edge(u, v) or simple[u][v]["travel_time"] > d["travel_time"]:
            simple.add_edge(u, v, **d)
    sources = np.arange(0, sample_net.n_nodes, 37)
    targets = np.arange(sample_net.n_nodes)
    time, dist = node_matrices(rg, sources, targets)
    for i, s in enumerate(sources):
        lengths, paths = nx.single_source_dijkstra(simple, int(s), weight="travel_time")
        for t, value in lengths.items():
            assert time[i, t] == pytest.approx(value, abs=1e-6)
            path = paths[t]
            metres = sum(simple[u][v]["length"] for u, v in itertools.pairwise(path))
            assert dist[i, t] == pytest.approx(metres, abs=1e-6)


def test_point_in_the_sea_is_reported(tiny_net):
    """A bin far from every road warns with its id instead of snapping silently."""
    with pytest.warns(FarFromRoadWarning, match="SEA1"):
        snapped = snap_points(tiny_net, [24.001, 25.0], [60.0001, 59.5], ids=["OK1", "SEA1"])
    assert snapped.far(150) == ["SEA1"]


def test_snap_records_side_and_distance(tiny_net):
    """Points north and south of an east-west street are on opposite sides."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = snap_points(tiny_net, [24.001, 24.001], [60.00004, 59.99996])
    assert s.distance_m[0] == pytest.approx(4.45, abs=0.2)
    assert s.edge[0] == s.edge[1]
    assert {s.side[0], s.side[1]} == {"left", "right"}


def test_paths_follow_the_streets(tiny_net):
    """The geometry between two stops runs along network edges."""
    a = _midpoint(tiny_net, 1, 2)
    b = _midpoint(tiny_net, 5, 8)
    snapped = snap_points(tiny_net, [a[0], b[0]], [a[1], b[1]])
    coords = PathFinder(routing_graph(tiny_net, HEAVY), snapped).path(0, 1)
    assert coords[0] == pytest.approx([a[0], a[1]], abs=1e-6)
    assert coords[-1] == pytest.approx([b[0], b[1]], abs=1e-6)
    # Heavy route avoids the bridge: never on the bridge's middle longitude x lat band.
    on_bridge = (np.abs(coords[:, 0] - 24.002) < 1e-6) & (coords[:, 1] > 60.0001) & (coords[:, 1] < 60.0009)
    assert not on_bridge.any()


@pytest.mark.parametrize("method", ["stops", "nodes", "auto"])
def test_stop_matrices_match_node_dijkstra(sample_net, method):
    """Both matrix methods equal the fastest of the four ways in and out via node-to-node Dijkstra."""
    from binroute.geo.matrix import _access

    snapped = random_stops(sample_net, 40, seed=5)
    rg = routing_graph(sample_net, HEAVY)
    time, dist = travel_matrices(rg, snapped, method=method)
    acc = _access(rg, snapped)
    nt, _ = node_matrices(rg, np.arange(sample_net.n_nodes), np.arange(sample_net.n_nodes), with_distance=False)
    for a in range(40):
        for b in range(40):
            if a == b:
                continue
            best = np.inf
            for k in range(2):
                for m in range(2):
                    if acc.edge[a, k] < 0 or acc.edge[b, m] < 0:
                        continue
                    if acc.edge[a, k] == acc.edge[b, m] and acc.t[a, k] <= acc.t[b, m]:
                        best = min(best, (acc.t[b, m] - acc.t[a, k]) * rg.edge_time[acc.edge[a, k]])
                    best = min(best, acc.out_time[a, k] + nt[acc.out_node[a, k], acc.in_node[b, m]] + acc.in_time[b, m])
            assert time[a, b] == pytest.approx(best, abs=0.05 * 60 + 0.1), (a, b)
            assert np.isfinite(dist[a, b]) == np.isfinite(best)


def test_point_near_a_cut_off_road_is_reported(tmp_path, tiny_osm):
    """A dead-end one-way spur is cut from the core; a bin beside it is reported by id."""
    text = tiny_osm.read_text().replace(
        "</osm>",
        '<node id="50" version="1" lat="60.0030000" lon="24.0020000"/>\n'
        '<way id="150" version="1"><nd ref="8"/><nd ref="50"/>'
        '<tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>\n</osm>',
    )
    path = tmp_path / "spur.osm"
    path.write_text(text)
    net = load_network(path, cache=False)
    assert 50 not in net.node_osmid and net.stats["detached_edges"] == 1
    from binroute.geo import OutsideNetworkWarning

    with pytest.warns(OutsideNetworkWarning, match="SPUR1"):
        snap_points(net, [24.00201], [60.0028], ids=["SPUR1"])


@pytest.mark.network
def test_graph_from_place_online():
    """A place name downloads a drivable network through osmnx (needs internet; skipped by default)."""
    from binroute.geo import network_from_place

    net = network_from_place("Kirkwall, Orkney, Scotland")
    assert net.n_nodes > 50


def test_matrix_methods_agree_on_distances(sample_net):
    """The two methods give the same times and distances (to the packing's rounding)."""
    snapped = random_stops(sample_net, 60, seed=9)
    rg = routing_graph(sample_net, LIGHT)
    t1, d1 = travel_matrices(rg, snapped, method="stops")
    t2, d2 = travel_matrices(rg, snapped, method="nodes")
    finite = np.isfinite(t1)
    assert np.array_equal(finite, np.isfinite(t2))
    assert np.allclose(t1[finite], t2[finite], atol=3.0)
    assert np.allclose(d1[finite], d2[finite], atol=30.0)


def test_two_core_dijkstra_equals_one_core(sample_net, monkeypatch):
    """Splitting the sources with a helper process gives the same matrices."""
    import binroute.geo.matrix as gm

    snapped = random_stops(sample_net, 30, seed=2)
    rg = routing_graph(sample_net, HEAVY)
    single = travel_matrices(rg, snapped, method="stops")
    monkeypatch.setattr(gm, "_PARALLEL_CELLS", 1)
    split = travel_matrices(rg, snapped, method="stops")
    for a, b in zip(single, split, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("order", [1, -1])
def test_merged_tag_lists_give_one_network_whatever_their_order(order):
    """osmnx merges a simplified edge's differing tags through a set: the list's order must not matter."""
    graph = nx.MultiDiGraph()
    graph.add_node(1, x=24.0, y=60.0)
    graph.add_node(2, x=24.001, y=60.0)
    names, highways, lanes = ["Puistotie", "Kaivokatu"], ["tertiary", "residential"], ["4", "2"]
    graph.add_edge(
        1, 2, length=55.6, osmid=[10, 11], name=names[::order], highway=highways[::order], lanes=lanes[::order]
    )
    net = network_from_graph(graph)
    assert net.name == ("Kaivokatu",)
    assert net.highway == ("residential",)
    assert net.lanes[0] == 1.0  # "2" lanes, half of them this way (two-way)
