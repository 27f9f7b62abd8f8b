"""Many-source Dijkstra on two cores gives what one core gives."""

from __future__ import annotations

import numpy as np
from scipy.sparse import random as sparse_random

from binroute import _processes
from binroute.geo import matrix


def test_helper_half_matches_one_core(monkeypatch):
    """With the helper process forced on (the graph shared as mapped files), its rows equal the in-process ones."""
    monkeypatch.setattr(matrix, "_PARALLEL_CELLS", 0)
    monkeypatch.setattr(_processes, "SHARE_MIN_BYTES", 0)
    answered = []
    real = _processes.Helper.result

    def result(*args, **kwargs):
        out = real(*args, **kwargs)
        answered.append(1)  # reached only when the helper answered
        return out

    monkeypatch.setattr(_processes.Helper, "result", result)
    graph = sparse_random(60, 60, density=0.1, random_state=1, format="csr")
    graph.data += 0.5
    sources, columns = np.arange(0, 60, 3), np.arange(60)
    two = matrix.packed_dijkstra(graph, sources, columns)
    one = matrix._dijkstra_here(graph, sources, columns)
    assert np.array_equal(two, one)
    assert answered == [1]  # no error made this process search the helper's half


def test_unpack_by_blocks_gives_seconds_and_metres(monkeypatch):
    """Unpacked a few rows at a time, with or without overwriting, every entry decodes (inf stays inf)."""
    monkeypatch.setattr(matrix, "_ROWS", 3)
    rng = np.random.default_rng(4)
    deci_s, deci_m = rng.integers(0, 10**6, size=(10, 9)), rng.integers(1, 10**6, size=(10, 9))
    packed = deci_s * 2.0**matrix.LEN_BITS + deci_m
    packed[2, 5] = packed[9, 0] = np.inf
    time, dist = matrix.unpack(packed)
    expect_t, expect_d = (
        np.where(np.isfinite(packed), deci_s / 10, np.inf),
        np.where(np.isfinite(packed), deci_m / 10, np.inf),
    )
    assert np.array_equal(time, expect_t) and np.array_equal(dist, expect_d)
    again = packed.copy()
    time2, dist2 = matrix.unpack(again, overwrite=True)
    assert time2 is again and np.array_equal(time2, expect_t) and np.array_equal(dist2, expect_d)


def test_node_method_by_row_blocks_equals_one_block(sample_net, monkeypatch):
    """Combining the ways in and out a few rows at a time gives the matrices of one full-size pass."""
    from .helpers import HEAVY, random_stops

    snapped = random_stops(sample_net, 25, seed=6)
    rg = matrix.routing_graph(sample_net, HEAVY)
    whole = matrix.travel_matrices(rg, snapped, method="nodes")
    monkeypatch.setattr(matrix, "_ROWS", 4)
    blocks = matrix.travel_matrices(rg, snapped, method="nodes")
    assert np.array_equal(whole[0], blocks[0]) and np.array_equal(whole[1], blocks[1])


def _island_osm(tmp_path):
    """A square of streets, and a street behind a 7.5-tonne bridge off its north-east corner."""
    nodes = {1: (24.000, 60.000), 2: (24.002, 60.000), 3: (24.002, 60.001), 4: (24.000, 60.001),
             5: (24.003, 60.002), 6: (24.004, 60.002)}  # fmt: skip
    ways = {10: ([1, 2, 3, 4, 1], {}), 11: ([3, 5], {"maxweight": "7.5", "bridge": "yes"}), 12: ([5, 6], {})}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="binroute-tests">']
    lines += [f'<node id="{k}" version="1" lat="{lat}" lon="{lon}"/>' for k, (lon, lat) in nodes.items()]
    for way, (refs, tags) in ways.items():
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in {"highway": "residential", **tags}.items())
        lines.append(f'<way id="{way}" version="1">{body}</way>')
    path = tmp_path / "island.osm"
    path.write_text("\n".join([*lines, "</osm>"]))
    return path


def test_drivable_core_leaves_out_streets_a_lorry_cannot_reach(tmp_path):
    """Behind a bridge too weak for the lorry a street is an island: not in its core, so no stop snaps there."""
    from binroute.geo import VehicleProfile, load_network, routing_graph, snap_points

    net = load_network(_island_osm(tmp_path), cache=False)
    behind = {e for e in range(net.n_edges) if {5, 6} == set(net.node_osmid[[net.edge_u[e], net.edge_v[e]]])}
    bridge = {e for e in range(net.n_edges) if {3, 5} == set(net.node_osmid[[net.edge_u[e], net.edge_v[e]]])}
    assert len(behind) == 2 and len(bridge) == 2
    lorry, van = routing_graph(net, VehicleProfile()), routing_graph(net, VehicleProfile(name="van", weight_t=3.0))
    assert matrix.drivable_core(van).all()
    core = matrix.drivable_core(lorry)
    assert not core[sorted(behind | bridge)].any() and core.sum() == net.n_edges - 4
    at = np.array([24.0039]), np.array([60.0021])  # a bin on the street behind the bridge
    snapped = snap_points(net, *at, allowed=core, max_distance_m=500)
    assert int(snapped.edge[0]) not in behind | bridge
    time, _ = matrix.travel_matrices(
        lorry, snap_points(net, *(np.r_[at[0], 24.001], np.r_[at[1], 60.0]), allowed=core, max_distance_m=500)
    )
    assert np.isfinite(time).all()  # snapped in the core, the bin is reachable and can be left
