"""An indexed binary min-heap for compiled searches (the contraction hierarchy's Dijkstra searches).

Three arrays the caller owns: ``keys`` and ``nodes`` hold the heap's entries
in heap order, ``pos[node]`` where a node sits in them (``-1``: not in the
heap), so a node's key can be lowered or raised in place. The functions are
compiled with numba (``cache=True``) and called from other compiled code.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from ..network import FloatArray

IntArray = NDArray[np.int64]


@numba.njit(cache=True)
def _sift_up(keys: FloatArray, nodes: IntArray, pos: IntArray, i: int) -> None:
    """Move the entry at ``i`` up to its place."""
    key, node = keys[i], nodes[i]
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i], nodes[i] = keys[parent], nodes[parent]
        pos[nodes[i]] = i
        i = parent
    keys[i], nodes[i] = key, node
    pos[node] = i


@numba.njit(cache=True)
def _sift_down(keys: FloatArray, nodes: IntArray, pos: IntArray, i: int, size: int) -> None:
    """Move the entry at ``i`` down to its place."""
    key, node = keys[i], nodes[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i], nodes[i] = keys[child], nodes[child]
        pos[nodes[i]] = i
        i = child
    keys[i], nodes[i] = key, node
    pos[node] = i


@numba.njit(cache=True)
def heap_set(keys: FloatArray, nodes: IntArray, pos: IntArray, size: int, node: int, key: float) -> int:
    """Insert ``node`` or change its key (either way); returns the new size."""
    i = pos[node]
    if i < 0:
        keys[size], nodes[size] = key, node
        _sift_up(keys, nodes, pos, size)
        return size + 1
    old = keys[i]
    keys[i] = key
    if key < old:
        _sift_up(keys, nodes, pos, i)
    else:
        _sift_down(keys, nodes, pos, i, size)
    return size


@numba.njit(cache=True)
def heap_pop(keys: FloatArray, nodes: IntArray, pos: IntArray, size: int) -> tuple[int, float, int]:
    """Take the node of least key off the heap; returns it, its key and the new size."""
    node, key = nodes[0], keys[0]
    pos[node] = -1
    size -= 1
    if size > 0:
        keys[0], nodes[0] = keys[size], nodes[size]
        _sift_down(keys, nodes, pos, 0, size)
    return node, key, size
