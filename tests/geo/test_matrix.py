"""Many-source Dijkstra on two cores gives what one core gives."""

from __future__ import annotations

import numpy as np
from scipy.sparse import random as sparse_random

from geo import matrix


def test_helper_half_matches_one_core(monkeypatch):
    """With the helper process forced on, the rows equal the in-process ones."""
    monkeypatch.setattr(matrix, "_PARALLEL_CELLS", 0)
    graph = sparse_random(60, 60, density=0.1, random_state=1, format="csr")
    graph.data += 0.5
    sources, columns = np.arange(0, 60, 3), np.arange(60)
    two = matrix.packed_dijkstra(graph, sources, columns)
    one = matrix._dijkstra_here(graph, sources, columns)
    assert np.array_equal(two, one)


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
    from tests.geo.test_network import HEAVY, random_stops

    snapped = random_stops(sample_net, 25, seed=6)
    rg = matrix.routing_graph(sample_net, HEAVY)
    whole = matrix.travel_matrices(rg, snapped, method="nodes")
    monkeypatch.setattr(matrix, "_ROWS", 4)
    blocks = matrix.travel_matrices(rg, snapped, method="nodes")
    assert np.array_equal(whole[0], blocks[0]) and np.array_equal(whole[1], blocks[1])


def test_helper_rows_are_read_into_the_answer_or_refused(tmp_path):
    """A .npy of the right shape is read into the given rows; a wrong shape or type is refused."""
    rows = np.arange(12.0).reshape(3, 4) / 7
    np.save(tmp_path / "a.npy", rows)
    out = np.zeros((5, 4))
    assert matrix._read_npy_into(tmp_path / "a.npy", out[2:])
    assert np.array_equal(out[2:], rows) and not out[:2].any()
    assert not matrix._read_npy_into(tmp_path / "a.npy", np.zeros((2, 4)))
    np.save(tmp_path / "b.npy", rows.astype(np.float32))
    assert not matrix._read_npy_into(tmp_path / "b.npy", np.zeros((3, 4)))
