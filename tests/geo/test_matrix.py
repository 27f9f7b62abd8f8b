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
