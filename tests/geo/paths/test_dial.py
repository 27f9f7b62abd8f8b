"""The bucket-queue searches (geo.dial) give exactly scipy's Dijkstra distances on packed weights."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from binroute.geo.matrix import LEN_BITS, heap_dijkstra, packed_dijkstra
from binroute.geo.paths.dial import MAX_BUCKETS, bucket_dijkstra, usable

SCALE = 2.0**LEN_BITS


def _graph(n: int, arcs: int, seed: int, *, zero_share: float = 0.0) -> csr_matrix:
    """A random directed graph with packed weights: whole deci-seconds (some 0) above, decimetres below."""
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, n, arcs), rng.integers(0, n, arcs)
    keep = u != v
    u, v = u[keep], v[keep]
    secs = rng.integers(1, 300, len(u)).astype(float)
    secs[rng.random(len(u)) < zero_share] = 0.0  # same deci-second, shorter or longer: ties inside a bucket
    packed = secs * SCALE + rng.integers(1, 5_000, len(u))
    keys = u * n + v
    order = np.lexsort((packed, keys))
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    keys, packed = keys[order][first], packed[order][first]
    return csr_matrix((packed, (keys // n, keys % n)), shape=(n, n))


def _scipy(graph: csr_matrix, sources: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return dijkstra(graph, directed=True, indices=sources)[:, columns]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("zero_share", [0.0, 0.3, 0.9])
def test_same_distances_as_scipy(seed: int, zero_share: float) -> None:
    graph = _graph(300, 1_200, seed, zero_share=zero_share)
    rng = np.random.default_rng(seed + 10)
    sources = rng.integers(0, 300, 40)
    columns = rng.permutation(300)[:50]
    got = bucket_dijkstra(graph, sources, columns, SCALE)
    assert np.array_equal(got, _scipy(graph, sources, columns))  # exact, not close: same sums, same order


def test_unreachable_columns_stay_infinite_and_repeated_columns_and_sources() -> None:
    # Two components: 0-1-2 and 3-4; node 5 has no arcs at all.
    u, v = np.array([0, 1, 2, 3, 4]), np.array([1, 2, 0, 4, 3])
    w = np.array([5, 7, 1, 2, 3]) * SCALE + 11
    graph = csr_matrix((w, (u, v)), shape=(6, 6))
    sources = np.array([0, 3, 0, 5])
    columns = np.array([2, 4, 2, 5, 0])
    got = bucket_dijkstra(graph, sources, columns, SCALE)
    assert np.array_equal(got, _scipy(graph, sources, columns))
    assert np.isinf(got[0, 1]) and got[0, 0] == 12 * SCALE + 22 and got[3, 3] == 0


def test_a_tiny_pool_drops_stale_entries_and_still_answers_exactly() -> None:
    graph = _graph(200, 2_000, 5, zero_share=0.5)
    sources, columns = np.arange(0, 200, 7), np.arange(200)
    got = bucket_dijkstra(graph, sources, columns, SCALE, pool=1)  # raised to nodes + largest out-degree + 1
    assert np.array_equal(got, _scipy(graph, sources, columns))


def test_stops_early_without_changing_the_answer_for_the_next_source() -> None:
    # A long path: the first source's targets are near, so its search ends with later buckets still queued.
    n = 400
    u = np.arange(n - 1)
    graph = csr_matrix((np.full(n - 1, 3 * SCALE + 7), (u, u + 1)), shape=(n, n))
    sources, columns = np.array([0, 1, 0, 2]), np.array([1, 2, 3])
    got = bucket_dijkstra(graph, sources, columns, SCALE)
    assert np.array_equal(got, _scipy(graph, sources, columns))


def test_bad_nodes_are_a_clear_error_and_huge_arcs_go_to_the_heap() -> None:
    graph = _graph(50, 200, 3)
    with pytest.raises(ValueError, match="sources must be nodes of the graph"):
        bucket_dijkstra(graph, np.array([50]), np.array([0]), SCALE)
    with pytest.raises(ValueError, match="columns must be nodes of the graph"):
        bucket_dijkstra(graph, np.array([0]), np.array([-1]), SCALE)
    ferry = graph.copy()
    ferry.data[0] = (MAX_BUCKETS + 5) * SCALE  # an arc wider than the queue may be
    assert usable(graph, SCALE) and not usable(ferry, SCALE)
    sources, columns = np.arange(50), np.arange(50)
    assert np.array_equal(packed_dijkstra(ferry, sources, columns), heap_dijkstra(ferry, sources, columns))


def test_packed_dijkstra_buckets_agree_with_the_heap_on_a_big_job() -> None:
    graph = _graph(3_000, 12_000, 7, zero_share=0.1)
    sources, columns = np.arange(0, 3_000, 3), np.arange(0, 3_000, 2)  # 3 million cells: buckets
    assert np.array_equal(packed_dijkstra(graph, sources, columns), heap_dijkstra(graph, sources, columns))


def test_both_road_models_give_the_same_matrices_by_buckets_as_by_the_heap(sample_net, monkeypatch):
    """The sample city: node-based matrices (both methods) and turn-aware ones, forced onto each queue."""
    from binroute.geo import (
        VehicleProfile,
        core_edges,
        kerb_required,
        matrix,
        routing_graph,
        snap_points,
        stop_places,
        travel_matrices,
        turn_graph,
        turn_matrices,
    )

    rng = np.random.default_rng(3)
    lon = rng.uniform(sample_net.lon.min(), sample_net.lon.max(), 40)
    lat = rng.uniform(sample_net.lat.min(), sample_net.lat.max(), 40)
    rg = routing_graph(sample_net, VehicleProfile())
    with pytest.warns():
        snapped = snap_points(sample_net, lon, lat)
    for method in ("nodes", "stops"):
        heap = travel_matrices(rg, snapped, method=method, kernel="heap")
        buckets = travel_matrices(rg, snapped, method=method, kernel="buckets")
        assert np.array_equal(heap[0], buckets[0]) and np.array_equal(heap[1], buckets[1])
    tg = turn_graph(rg)
    with pytest.warns():
        kerb_snapped = snap_points(sample_net, lon, lat, allowed=core_edges(tg))
    places = stop_places(
        kerb_snapped, directed=np.ones(40, bool), kerb=kerb_required(sample_net, kerb_snapped, ["auto"] * 40)
    )
    heap = turn_matrices(tg, places.places, method="dijkstra")  # a small job: the heap
    monkeypatch.setattr(matrix, "_BUCKET_CELLS", 0)
    buckets = turn_matrices(tg, places.places, method="dijkstra")
    assert np.array_equal(heap[0], buckets[0]) and np.array_equal(heap[1], buckets[1])
    with pytest.raises(ValueError, match="kernel must be one of"):
        travel_matrices(rg, snapped, kernel="fibonacci")
