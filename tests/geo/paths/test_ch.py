"""Contraction hierarchies (:mod:`.paths`) give exactly Dijkstra's answers, alone and as turn-aware matrices.

Every graph is built in the test: random digraphs with packed-style
weights, and a small street grid with one-way streets, a turn restriction,
a street out of reach and places sharing edges. Dijkstra (scipy) is the
reference; the hierarchy must match it to the last bit, ``inf`` included.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from binroute.geo import Places, TurnRules, VehicleProfile, load_network, routing_graph, turn_graph, turn_matrix_rows
from binroute.geo.matrix import LEN_BITS
from binroute.geo.paths import contract_graph, scan_sources, target_buckets

from .helpers import grid_xml


def _random_graph(rng, n, m):
    """Arcs with packed weights (deci-seconds above LEN_BITS, decimetres below): ties in time are common."""
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w = rng.integers(0, 30, m) * 2.0**LEN_BITS + rng.integers(1, 500, m)
    return u, v, w


def _reference(n, u, v, w):
    """Dijkstra's all-pairs answer on the graph (lightest of parallel arcs, loops dropped)."""
    keep = u != v
    keys = u[keep] * n + v[keep]
    order = np.lexsort((w[keep], keys))
    keys, w = keys[order], w[keep][order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    graph = csr_matrix((w[first], (keys[first] // n, keys[first] % n)), shape=(n, n))
    return dijkstra(graph, directed=True)


@pytest.mark.parametrize("core_degree", [2, 6, 1000])
def test_hierarchy_distances_equal_dijkstra_on_random_graphs(core_degree):
    """Node to node, on sparse and dense random digraphs, with and without a core left uncontracted."""
    rng = np.random.default_rng(7)
    for _ in range(12):
        n = int(rng.integers(2, 70))
        u, v, w = _random_graph(rng, n, int(rng.integers(0, 4 * n)))
        h = contract_graph(n, u, v, w, core_degree=core_degree)
        ptr, node, zero = np.arange(n + 1), np.arange(n), np.zeros(n)
        out = np.full((n, n), np.inf)
        scan_sources(h, target_buckets(h, ptr, node, zero), ptr, node, zero, out)
        np.testing.assert_array_equal(out, _reference(n, u, v, w))


def test_sources_and_targets_on_several_nodes_at_a_cost():
    """A source starting on several nodes at a cost, a target ending on several: as Dijkstra with them added."""
    rng = np.random.default_rng(3)
    n, k = 60, 9
    u, v, w = _random_graph(rng, n, 150)
    h = contract_graph(n, u, v, w, core_degree=8)
    s_ptr = np.concatenate([[0], np.cumsum(rng.integers(1, 4, k))])
    t_ptr = np.concatenate([[0], np.cumsum(rng.integers(1, 4, k))])
    s_node, t_node = rng.integers(0, n, s_ptr[-1]), rng.integers(0, n, t_ptr[-1])
    s_w = rng.integers(0, 9, s_ptr[-1]) * 2.0**LEN_BITS + 1
    t_w = rng.integers(0, 9, t_ptr[-1]) * 2.0**LEN_BITS + 1
    out = np.full((k, k), np.inf)
    scan_sources(h, target_buckets(h, t_ptr, t_node, t_w), s_ptr, s_node, s_w, out)
    # The reference: sources n..n+k-1 and targets n+k..n+2k-1 as nodes of the graph.
    src = np.repeat(np.arange(k), np.diff(s_ptr)) + n
    tgt = np.repeat(np.arange(k), np.diff(t_ptr)) + n + k
    full = _reference(
        n + 2 * k, np.concatenate([u, src, t_node]), np.concatenate([v, s_node, tgt]), np.concatenate([w, s_w, t_w])
    )
    np.testing.assert_array_equal(out, full[n : n + k, n + k :])


def test_bad_input_is_refused_with_a_clear_message():
    """Mismatched arrays, nodes out of range and negative weights are errors, not crashes."""
    with pytest.raises(ValueError, match="same length"):
        contract_graph(3, np.array([0]), np.array([1, 2]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        contract_graph(3, np.array([0]), np.array([3]), np.array([1.0]))
    with pytest.raises(ValueError, match="not negative"):
        contract_graph(3, np.array([0]), np.array([1]), np.array([-1.0]))


def _matrices(tg, places, method, block):
    n = places.n_places
    time, dist = np.empty((n, n)), np.empty((n, n))
    for rows, t, d in turn_matrix_rows(tg, places, method=method, block=block):
        time[rows], dist[rows] = t, d
    return time, dist


@pytest.mark.parametrize("u_turns", ["dead_ends", "penalised"])
def test_turn_matrices_by_hierarchy_equal_dijkstra(tmp_path, u_turns):
    """Places on a grid with restrictions: same edge (before, after, the very same spot), a yard with two
    entries, a place on a street the lorry may not drive: the hierarchy's seconds and metres are Dijkstra's exactly."""
    net = load_network(grid_xml(tmp_path), cache=False)
    tg = turn_graph(routing_graph(net, VehicleProfile()), TurnRules(u_turns=u_turns))
    assert tg.banned > 0
    rng = np.random.default_rng(11)
    driven = np.flatnonzero(np.isfinite(tg.rg.edge_time))
    cut_off = int(np.flatnonzero(~np.isfinite(tg.rg.edge_time))[0])
    edge = np.concatenate([rng.choice(driven, 30), [driven[0], driven[0], driven[0], driven[1], driven[2], cut_off]])
    t = np.concatenate([rng.uniform(0, 1, 30), [0.2, 0.7, 0.7, 0.5, 0.5, 0.5]])
    place = np.concatenate([np.arange(30), [30, 31, 32, 33, 33, 34]])  # place 33: a yard with two entries
    places = Places(edge=edge, t=t, place=place, n_places=35)
    ref_t, ref_d = _matrices(tg, places, "dijkstra", 35)
    ch_t, ch_d = _matrices(tg, places, "ch", 8)
    np.testing.assert_array_equal(ch_t, ref_t)
    np.testing.assert_array_equal(ch_d, ref_d)
    assert np.isinf(ch_t[34, :34]).all() and np.isinf(ch_t[:34, 34]).all()
    assert ch_t[30, 31] < np.inf and ch_t[31, 32] == 0.0 and ch_t[32, 31] == 0.0


def test_auto_builds_the_hierarchy_only_within_its_work_limit(tmp_path, monkeypatch):
    """``auto`` builds the hierarchy when the work limit allows, keeps it, and gives up once when it does not."""
    import binroute.geo.turn_matrix as turn_matrix

    net = load_network(grid_xml(tmp_path, size=4), cache=False)
    driven = np.flatnonzero(np.isfinite(routing_graph(net, VehicleProfile()).edge_time))[:5]
    places = Places(edge=driven, t=np.full(5, 0.5), place=np.arange(5), n_places=5)
    monkeypatch.setattr(turn_matrix, "CH_MIN_CELLS", 0)
    monkeypatch.setattr(turn_matrix, "CH_WORK_PER_CELL", 1e-6)
    tg = turn_graph(routing_graph(net, VehicleProfile()))
    small = _matrices(tg, places, "auto", 5)
    assert tg.store.hierarchy is None and tg.store.gave_up_at == 0
    monkeypatch.setattr(turn_matrix, "CH_WORK_PER_CELL", 1e6)
    monkeypatch.setattr(turn_matrix, "CH_WORK_PER_STATE", 1e-6)  # the cap per state binds whatever the job's size
    _matrices(tg, places, "auto", 5)
    assert tg.store.hierarchy is None
    monkeypatch.setattr(turn_matrix, "CH_WORK_PER_STATE", 1e6)
    big = _matrices(tg, places, "auto", 5)
    assert tg.store.hierarchy is not None and tg.hierarchy.work > 0
    np.testing.assert_array_equal(small[0], big[0])
    np.testing.assert_array_equal(small[1], big[1])
    assert contract_graph(3, np.array([0, 1]), np.array([1, 2]), np.array([1.0, 1.0]), work_limit=0) is None


def test_unknown_matrix_method_is_refused(tmp_path):
    """An unknown method is a clear error naming the choices."""
    net = load_network(grid_xml(tmp_path, size=3), cache=False)
    tg = turn_graph(routing_graph(net, VehicleProfile()))
    places = Places(edge=np.array([0]), t=np.array([0.5]), place=np.array([0]), n_places=1)
    with pytest.raises(ValueError, match="method must be one of"):
        next(turn_matrix_rows(tg, places, method="astar"))


def test_two_threads_may_query_at_once():
    """Two threads scanning at the same time (two plans in one server) get the right answers, no abort."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    n = 80
    u, v, w = _random_graph(rng, n, 300)
    h = contract_graph(n, u, v, w)
    ptr, node, zero = np.arange(n + 1), np.arange(n), np.zeros(n)
    buckets = target_buckets(h, ptr, node, zero)

    def scan(_):
        out = np.full((n, n), np.inf)
        scan_sources(h, buckets, ptr, node, zero, out)
        return out

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(scan, range(8)))
    for out in answers:
        np.testing.assert_array_equal(out, _reference(n, u, v, w))


def test_auto_searches_without_a_hierarchy_whose_core_is_too_big_to_pay(tmp_path, monkeypatch):
    """A hierarchy kept in memory is still not used when its core costs its searches more than Dijkstra's."""
    import binroute.geo.turn_matrix as turn_matrix
    from binroute.geo.turn_matrix import queries_pay
    from binroute.geo.turns import transition_arcs

    net = load_network(grid_xml(tmp_path, size=5), cache=False)
    tg = turn_graph(routing_graph(net, VehicleProfile()))
    driven = np.flatnonzero(np.isfinite(tg.rg.edge_time))[:6]
    places = Places(edge=driven, t=np.full(6, 0.3), place=np.arange(6), n_places=6)
    tail, head, weight = transition_arcs(tg)
    all_core = contract_graph(len(tg.state_edge), tail, head, weight, core_degree=0)
    assert all_core is not None and all_core.core.mean() > 0.8 and not queries_pay(all_core, tg)
    assert queries_pay(tg.hierarchy, tg)  # a 5 x 5 grid contracts completely
    tg.store.hierarchy = all_core
    used = []
    real = turn_matrix._hierarchy_rows
    monkeypatch.setattr(turn_matrix, "_hierarchy_rows", lambda *a: used.append(1) or real(*a))
    by_auto = _matrices(tg, places, "auto", 6)
    assert used == []
    np.testing.assert_array_equal(by_auto[0], _matrices(tg, places, "ch", 6)[0])  # the core is still exact
    assert used == [1]
