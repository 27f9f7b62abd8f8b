"""The bucket many-to-many query on a contraction hierarchy (Knopp et al. 2007).

Many-to-many (:func:`target_buckets`, :func:`scan_sources`): a backward
upward search from every target leaves ``(target, distance)`` in a bucket
at every node it settles; a forward upward search from every source reads
the buckets of the nodes it settles. The weights are any non-negative
floats whose sums are exact (here the packed time-and-length weights of
:mod:`binroute.geo.matrix`: integers below 2**53), so the answers are those of
Dijkstra to the last bit, not approximations.

A backward search stops at the core nodes it reaches (they get buckets); a
forward search goes on through the core as plain Dijkstra, so every path
(up, across the core, down) is still found.

Sources and targets are given as *initial labels* (a source may start on
several nodes at once, each at a cost): a place of the turn-aware model
is not a node of the hierarchy, so the hierarchy depends only on the
network, the vehicle profile and the turn rules, and is built once.

The loops are compiled with numba (``cache=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from ..network import FloatArray
from .ch import Arcs, Hierarchy, IntArray
from .heap import heap_pop, heap_set
from .lock import PARALLEL_LOCK


@dataclass(frozen=True)
class Buckets:
    """What the backward searches from a set of targets left at each node (CSR by node)."""

    n_targets: int
    offset: IntArray
    target: NDArray[np.int32]
    dist: FloatArray


@numba.njit(cache=True)
def _search_scratch(n: int) -> tuple[FloatArray, IntArray, FloatArray, IntArray, IntArray, IntArray, FloatArray]:
    """Arrays one search at a time reuses: distances (all ``inf`` between searches), touched nodes, the heap,
    and the settled nodes and their distances."""
    dist = np.full(n, np.inf)
    keys, nodes, pos = np.empty(n), np.empty(n, np.int64), np.full(n, -1, np.int64)
    return dist, np.empty(n, np.int64), keys, nodes, pos, np.empty(n, np.int64), np.empty(n)


@numba.njit(cache=True)
def _upward(
    start_node: IntArray,
    start_w: FloatArray,
    go: Arcs,
    stall: Arcs,
    scratch: tuple[FloatArray, IntArray, FloatArray, IntArray, IntArray, IntArray, FloatArray],
    core: NDArray[np.bool_],
    expand_core: bool,
) -> int:
    """One upward search with stall-on-demand; returns how many nodes it settled unstalled (in ``scratch``'s
    last two arrays, with their distances). Core nodes are settled but not left unless ``expand_core``.

    ``go``: the arcs it follows; ``stall``: the arcs the other way, which stall a node reached more cheaply
    from above than by the search."""
    go_off, go_to, go_w = go
    stall_off, stall_to, stall_w = stall
    dist, touched, keys, nodes, pos, space_node, space_dist = scratch
    n_touched, size = 0, 0
    for k in range(len(start_node)):
        x, c = start_node[k], start_w[k]
        if c < dist[x]:
            if dist[x] == np.inf:
                touched[n_touched] = x
                n_touched += 1
            dist[x] = c
            size = heap_set(keys, nodes, pos, size, x, c)
    n_space = 0
    while size > 0:
        v, d, size = heap_pop(keys, nodes, pos, size)
        stalled = False
        for i in range(stall_off[v], stall_off[v + 1]):
            if dist[stall_to[i]] + stall_w[i] < d:
                stalled = True
                break
        if stalled:
            continue
        space_node[n_space], space_dist[n_space] = v, d
        n_space += 1
        if core[v] and not expand_core:
            continue
        for i in range(go_off[v], go_off[v + 1]):
            x = go_to[i]
            nd = d + go_w[i]
            if nd < dist[x]:
                if dist[x] == np.inf:
                    touched[n_touched] = x
                    n_touched += 1
                dist[x] = nd
                size = heap_set(keys, nodes, pos, size, x, nd)
    for i in range(n_touched):
        dist[touched[i]] = np.inf
    return n_space


@numba.njit(cache=True)
def _backward_all(
    n: int,
    up: Arcs,
    down: Arcs,
    t_ptr: IntArray,
    t_node: IntArray,
    t_w: FloatArray,
    core: NDArray[np.bool_],
) -> tuple[IntArray, NDArray[np.int32], FloatArray]:
    """The buckets of all targets, by node (counting sort of every search's settled nodes)."""
    scratch = _search_scratch(n)
    space_node, space_dist = scratch[5], scratch[6]
    cap = 1024
    e_node, e_tgt, e_dist = np.empty(cap, np.int64), np.empty(cap, np.int32), np.empty(cap)
    used = 0
    for q in range(len(t_ptr) - 1):
        s, t = t_ptr[q], t_ptr[q + 1]
        n_space = _upward(t_node[s:t], t_w[s:t], down, up, scratch, core, False)
        if used + n_space > cap:
            cap = max(2 * cap, used + n_space)
            e_node2, e_tgt2, e_dist2 = np.empty(cap, np.int64), np.empty(cap, np.int32), np.empty(cap)
            e_node2[:used], e_tgt2[:used], e_dist2[:used] = e_node[:used], e_tgt[:used], e_dist[:used]
            e_node, e_tgt, e_dist = e_node2, e_tgt2, e_dist2
        e_node[used : used + n_space] = space_node[:n_space]
        e_tgt[used : used + n_space] = q
        e_dist[used : used + n_space] = space_dist[:n_space]
        used += n_space
    offset = np.zeros(n + 1, np.int64)
    for i in range(used):
        offset[e_node[i] + 1] += 1
    for v in range(n):
        offset[v + 1] += offset[v]
    fill = offset[:-1].copy()
    target, bdist = np.empty(used, np.int32), np.empty(used)
    for i in range(used):
        j = fill[e_node[i]]
        target[j], bdist[j] = e_tgt[i], e_dist[i]
        fill[e_node[i]] += 1
    return offset, target, bdist


@numba.njit(cache=True, parallel=True)
def _forward_all(
    n: int,
    up: Arcs,
    down: Arcs,
    s_ptr: IntArray,
    s_node: IntArray,
    s_w: FloatArray,
    b_off: IntArray,
    b_tgt: NDArray[np.int32],
    b_dist: FloatArray,
    out: FloatArray,
    parts: int,
    core: NDArray[np.bool_],
) -> None:
    n_src = len(s_ptr) - 1
    for part in numba.prange(parts):
        scratch = _search_scratch(n)
        space_node, space_dist = scratch[5], scratch[6]
        for p in range(part * n_src // parts, (part + 1) * n_src // parts):
            s, t = s_ptr[p], s_ptr[p + 1]
            n_space = _upward(s_node[s:t], s_w[s:t], up, down, scratch, core, True)
            row = out[p]
            for k in range(n_space):
                v, d = space_node[k], space_dist[k]
                for j in range(b_off[v], b_off[v + 1]):
                    c = d + b_dist[j]
                    q = b_tgt[j]
                    if c < row[q]:
                        row[q] = c


def _labels(ptr: IntArray, node: IntArray, w: FloatArray, n_nodes: int) -> tuple[IntArray, IntArray, FloatArray]:
    ptr = np.ascontiguousarray(ptr, dtype=np.int64)
    node = np.ascontiguousarray(node, dtype=np.int64)
    w = np.ascontiguousarray(w, dtype=np.float64)
    if len(ptr) == 0 or ptr[0] != 0 or ptr[-1] != len(node) or len(node) != len(w) or np.any(np.diff(ptr) < 0):
        raise ValueError("labels: ptr must run from 0 to len(node) without decreasing, and node and w match")
    if len(node) and (node.min() < 0 or node.max() >= n_nodes):
        raise ValueError(f"labels: a node is outside 0..{n_nodes - 1}")
    return ptr, node, w


def target_buckets(h: Hierarchy, ptr: IntArray, node: IntArray, w: FloatArray) -> Buckets:
    """Run the backward search from every target and keep what it leaves at each node.

    Parameters
    ----------
    h
        The hierarchy.
    ptr, node, w
        Target ``q`` is reached at cost ``w[k]`` from node ``node[k]`` for
        ``k`` in ``ptr[q]:ptr[q+1]`` (CSR; a target may end several nodes).

    Returns
    -------
    Buckets
        Memory: one int32 and one float64 per node settled per target.
    """
    ptr, node, w = _labels(ptr, node, w, h.n_nodes)
    off, tgt, dist = _backward_all(h.n_nodes, h.up, h.down, ptr, node, w, h.core)
    return Buckets(len(ptr) - 1, off, tgt, dist)


def scan_sources(h: Hierarchy, buckets: Buckets, ptr: IntArray, node: IntArray, w: FloatArray, out: FloatArray) -> None:
    """Lower ``out[p, q]`` to the shortest distance from source ``p`` to target ``q`` (``inf`` stays if none).

    Source ``p`` starts at node ``node[k]`` at cost ``w[k]`` for ``k`` in
    ``ptr[p]:ptr[p+1]``. ``out`` (sources × targets, C-contiguous float64)
    is only lowered, so a caller can seed it with drives the hierarchy does
    not hold. Both cores search, half the sources each.
    """
    ptr, node, w = _labels(ptr, node, w, h.n_nodes)
    if out.shape != (len(ptr) - 1, buckets.n_targets) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError("scan_sources: out must be a C-contiguous float64 array of sources × targets")
    with PARALLEL_LOCK:  # numba's default thread pool must not be entered by two threads at once
        _scan_here(h, buckets, ptr, node, w, out)


def _scan_here(h: Hierarchy, buckets: Buckets, ptr: IntArray, node: IntArray, w: FloatArray, out: FloatArray) -> None:
    _forward_all(
        h.n_nodes,
        h.up,
        h.down,
        ptr,
        node,
        w,
        buckets.offset,
        buckets.target,
        buckets.dist,
        out,
        max(1, min(numba.get_num_threads(), len(ptr) - 1)),
        h.core,
    )
