"""Many one-to-many shortest-path searches on packed weights, with a bucket queue (Dial 1969).

The matrices' weights (:mod:`binroute.geo.matrix`) pack a drive's deci-seconds above
:data:`~binroute.geo.matrix.LEN_BITS` bits and its decimetres below, so their
order is that of time first, then length. A search keeps the nodes it has
reached in one bucket per whole deci-second, a circular array as wide as the
heaviest arc, and takes them bucket by bucket: putting a node in a bucket or
moving it to another is O(1), where a binary or Fibonacci heap pays a
logarithm on every arc. Inside one bucket the nodes differ only in length;
they are taken in any order and a node is taken again if a drive of the same
deci-seconds but shorter reaches it later (label correcting within the
bucket), so the answers are exactly Dijkstra's packed distances, not an
approximation. A search stops once every asked-for node is final.

Both cores search, half the sources each, sharing the graph (threads, no
copies). The loops are compiled with numba (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from ..network import FloatArray
from .lock import PARALLEL_LOCK

IntArray = NDArray[np.int64]

#: Buckets above which a graph's heaviest arc makes the queue too wide (about an 11-day arc at
#: 0.1 s per bucket; 128 MB per search); :func:`usable` says no and callers use a heap.
MAX_BUCKETS = 1 << 24


#: Scratch of one search: distances (``inf`` between searches), touched nodes, when each target was
#: last counted final, the buckets' first entries, and per entry its next entry, node and distance.
Scratch = tuple[FloatArray, IntArray, IntArray, IntArray, IntArray, IntArray, FloatArray]


@numba.njit(cache=True)
def _compact(scratch: Scratch, scale: float) -> int:
    """Rewrite the pool with only the queued entries that are not stale (nodes since reached by a shorter
    drive); returns its new use. Rare: the pool has room for every arc and node once."""
    dist, _, _, head, nxt, enode, ekey = scratch
    nb = len(head)
    keep_node, keep_key = [0], [0.0]
    keep_node.pop()
    keep_key.pop()
    for b in range(nb):
        e = head[b]
        while e >= 0:
            if ekey[e] == dist[enode[e]]:
                keep_node.append(enode[e])
                keep_key.append(ekey[e])
            e = nxt[e]
        head[b] = -1
    for e in range(len(keep_node)):
        enode[e], ekey[e] = keep_node[e], keep_key[e]
        b = int(keep_key[e] / scale) % nb
        nxt[e], head[b] = head[b], e
    return len(keep_node)


@numba.njit(cache=True)
def _search(
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    source: int,
    is_target: NDArray[np.bool_],
    n_targets: int,
    scale: float,
    scratch: Scratch,
    stamp: int,
) -> int:
    """Distances from ``source`` into ``scratch[0]`` (touched nodes listed in ``scratch[1]``); returns how many."""
    dist, touched, counted, head, nxt, enode, ekey = scratch
    nb, cap = len(head), len(enode)
    dist[source] = 0.0
    touched[0] = source
    n_touched = 1
    head[0], nxt[0], enode[0], ekey[0] = 0, -1, source, 0.0
    used = 1
    left = n_targets
    cur = 0
    last = 0 if left == 0 else -1  # the bucket that settles the last target: the search ends with it
    pending = 1  # entries in the buckets, stale ones included
    while pending > 0:
        b = cur % nb
        e = head[b]
        if e < 0:
            if cur == last:
                break
            cur += 1
            continue
        head[b] = nxt[e]
        pending -= 1
        v, d = enode[e], ekey[e]
        if d != dist[v]:
            continue  # stale: v was reached by a shorter drive since
        if is_target[v] and counted[v] != stamp:
            counted[v] = stamp
            left -= 1
            if left == 0:
                last = cur
        if used + indptr[v + 1] - indptr[v] > cap:
            used = pending = _compact(scratch, scale)
        for i in range(indptr[v], indptr[v + 1]):
            x = indices[i]
            nd = d + data[i]
            if nd < dist[x]:
                if dist[x] == np.inf:
                    touched[n_touched] = x
                    n_touched += 1
                dist[x] = nd
                bx = int(nd / scale) % nb
                enode[used], ekey[used], nxt[used] = x, nd, head[bx]
                head[bx] = used
                used += 1
                pending += 1
    for k in range(used):  # stopped early: empty the buckets for the next search
        head[int(ekey[k] / scale) % nb] = -1
    return n_touched


@numba.njit(cache=True, parallel=True)
def _all(
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    sources: IntArray,
    columns: IntArray,
    is_target: NDArray[np.bool_],
    n_targets: int,
    scale: float,
    n_buckets: int,
    out: FloatArray,
    parts: int,
    cap: int,
) -> None:
    n = len(indptr) - 1
    n_src = len(sources)
    for part in numba.prange(parts):
        scratch = (
            np.full(n, np.inf),
            np.empty(n, np.int64),
            np.zeros(n, np.int64),
            np.full(n_buckets, -1, np.int64),
            np.empty(cap, np.int64),
            np.empty(cap, np.int64),
            np.empty(cap),
        )
        dist, touched = scratch[0], scratch[1]
        for p in range(part * n_src // parts, (part + 1) * n_src // parts):
            n_touched = _search(indptr, indices, data, sources[p], is_target, n_targets, scale, scratch, p + 1)
            row = out[p]
            for j in range(len(columns)):
                row[j] = dist[columns[j]]
            for k in range(n_touched):
                dist[touched[k]] = np.inf


def buckets_needed(graph: csr_matrix, scale: float) -> int:
    """Buckets a search on ``graph`` needs: one more than its heaviest arc's whole units of ``scale``."""
    return int(graph.data.max() // scale) + 1 if graph.nnz else 1


def usable(graph: csr_matrix, scale: float) -> bool:
    """Whether :func:`bucket_dijkstra` can search ``graph`` (non-negative finite weights, a queue not too wide)."""
    if graph.nnz == 0:
        return True
    data = graph.data
    return bool(np.isfinite(data).all() and data.min() >= 0 and buckets_needed(graph, scale) <= MAX_BUCKETS)


def bucket_dijkstra(
    graph: csr_matrix, sources: IntArray, columns: IntArray, scale: float, *, pool: int | None = None
) -> FloatArray:
    """Rows of shortest distances from ``sources`` read at ``columns`` (``inf`` where unreachable).

    ``graph``'s weights are non-negative whole numbers below 2**53 (so sums
    are exact) whose units of ``scale`` order them into buckets (packed
    weights: ``2**LEN_BITS``); see :func:`usable`. ``pool``: queue entries
    per search (default one per arc and node; fewer make the search drop
    stale entries more often, never fewer than the graph's nodes plus its
    largest out-degree).
    """
    n = graph.shape[0]
    sources = np.ascontiguousarray(sources, dtype=np.int64)
    columns = np.ascontiguousarray(columns, dtype=np.int64)
    for name, nodes in (("sources", sources), ("columns", columns)):
        if len(nodes) and (nodes.min() < 0 or nodes.max() >= n):
            raise ValueError(f"bucket_dijkstra: {name} must be nodes of the graph (0..{n - 1})")
    out = np.empty((len(sources), len(columns)))
    if len(sources) == 0:
        return out
    is_target = np.zeros(n, dtype=bool)
    is_target[columns] = True
    parts = max(1, min(numba.get_num_threads(), len(sources)))
    index = np.int32 if graph.nnz < 2**31 else np.int64
    degree = int(np.diff(graph.indptr).max()) if n else 0
    cap = max(pool if pool is not None else graph.nnz + n, n + degree + 1)
    with PARALLEL_LOCK:  # numba's default thread pool must not be entered by two threads at once
        _all(
            graph.indptr.astype(index),
            graph.indices.astype(index),
            np.ascontiguousarray(graph.data, dtype=np.float64),
            sources,
            columns,
            is_target,
            int(is_target.sum()),
            float(scale),
            buckets_needed(graph, scale),
            out,
            parts,
            cap,
        )
    return out
