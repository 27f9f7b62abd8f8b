"""Contraction hierarchies and the bucket many-to-many query (Geisberger et al. 2008, Knopp et al. 2007).

A contraction hierarchy orders a directed graph's nodes by importance and
removes them one by one, least important first; removing ``v`` adds a
*shortcut* ``u → w`` for each drive ``u → v → w`` that no other drive of at
most its weight (a *witness*, found by a bounded Dijkstra search) replaces.
Every shortest path is then an upward part followed by a downward part, so
a search from a source needs only the arcs up the hierarchy, and one from a
target only the arcs down it, each settling a few hundred nodes instead of
the whole graph.

Many-to-many (:func:`target_buckets`, :func:`scan_sources`): a backward
upward search from every target leaves ``(target, distance)`` in a bucket
at every node it settles; a forward upward search from every source reads
the buckets of the nodes it settles. The weights are any non-negative
floats whose sums are exact (here the packed time-and-length weights of
:mod:`binroute.geo.matrix`: integers below 2**53), so the answers are those of
Dijkstra to the last bit, not approximations.

On a street grid the graph left after contracting most nodes is dense and
contracting it costs far more than searching it, so contraction stops when
the next node has more than ``core_degree`` arcs: the rest is the *core*. A
backward search stops at the core nodes it reaches (they get buckets); a
forward search goes on through the core as plain Dijkstra, so every path
(up, across the core, down) is still found.

Sources and targets are given as *initial labels* (a source may start on
several nodes at once, each at a cost): a place of the turn-aware model
is not a node of the hierarchy, so the hierarchy depends only on the
network, the vehicle profile and the turn rules, and is built once.

The loops are compiled with numba (``cache=True``: compiled once per
machine, then loaded in a fraction of a second).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
from numpy.typing import NDArray

from ..network import FloatArray

log = logging.getLogger(__name__)

IntArray = NDArray[np.int64]
#: Arcs by node (CSR): ``off[v]:off[v+1]`` index ``to`` (the other ends) and ``w`` (the weights).
Arcs = tuple[IntArray, IntArray, FloatArray]

#: Nodes a witness search may settle before it gives up and the shortcut is kept (more: fewer
#: superfluous shortcuts, slower contraction; either way the distances are exact).
WITNESS_SETTLED = 500
#: The same bound when only counting the shortcuts a node would need (to order the nodes).
SIMULATED_SETTLED = 50
#: Contraction stops when the next node has more arcs than this (see :func:`contract_graph`). On a
#: 224 × 224 street grid's 177,000 states: 16 builds in 80 s and answers 1,574² in 11 s; 10 builds
#: in 16 s but leaves a core of 78,000 states that every forward search crosses (36 s).
CORE_DEGREE = 16
_CORE_PRIORITY = 1e18


#: Held while compiled code runs on several threads: numba's default thread pool (workqueue) aborts the
#: process if two threads of ours (two plans in one server) enter it at once.
PARALLEL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Hierarchy:
    """A contracted graph: per node, its arcs up the hierarchy in both directions (CSR).

    ``up_*[up_off[v]:up_off[v+1]]``: arcs ``v → w`` with ``w`` above ``v``;
    ``down_*[down_off[v]:down_off[v+1]]``: arcs ``u → v`` with ``u`` above
    ``v`` (``down_to`` holds ``u``). Originals and shortcuts alike.
    """

    n_nodes: int
    rank: IntArray
    #: Nodes left uncontracted (their degree grew past ``core_degree``): a backward search stops on
    #: them, a forward search runs Dijkstra among them; their arcs between them are all up arcs.
    core: NDArray[np.bool_]
    up_off: IntArray
    up_to: IntArray
    up_w: FloatArray
    down_off: IntArray
    down_to: IntArray
    down_w: FloatArray
    #: Nodes the witness searches reached while building it (see ``work_limit`` of :func:`contract_graph`).
    work: int = 0

    @property
    def up(self) -> Arcs:
        """The up arcs as one tuple, as the compiled searches take them."""
        return self.up_off, self.up_to, self.up_w

    @property
    def down(self) -> Arcs:
        """The down arcs as one tuple."""
        return self.down_off, self.down_to, self.down_w

    @property
    def n_arcs(self) -> int:
        """Arcs of the hierarchy (originals kept and shortcuts)."""
        return len(self.up_to) + len(self.down_to)


@dataclass(frozen=True)
class Buckets:
    """What the backward searches from a set of targets left at each node (CSR by node)."""

    n_targets: int
    offset: IntArray
    target: NDArray[np.int32]
    dist: FloatArray


# --- an indexed binary min-heap: keys, nodes, and each node's position (-1: not in the heap) ---


@numba.njit(cache=True)
def _sift_up(keys: FloatArray, nodes: IntArray, pos: IntArray, i: int) -> None:
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
def _heap_set(keys: FloatArray, nodes: IntArray, pos: IntArray, size: int, node: int, key: float) -> int:
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
def _heap_pop(keys: FloatArray, nodes: IntArray, pos: IntArray, size: int) -> tuple[int, float, int]:
    node, key = nodes[0], keys[0]
    pos[node] = -1
    size -= 1
    if size > 0:
        keys[0], nodes[0] = keys[size], nodes[size]
        _sift_down(keys, nodes, pos, 0, size)
    return node, key, size


# --- the graph being contracted: per node a growable slice of a shared pool, in each direction ---

#: One direction of the graph being contracted: per node its slice of a shared pool (``off``, ``length``,
#: ``cap``), and per pool slot the arc's other end and weight.
Side = tuple[IntArray, IntArray, IntArray, IntArray, FloatArray]


@numba.njit(cache=True)
def _new_side(n: int, arc_end: IntArray) -> tuple[Side, int]:
    """An empty side with room for each node's arcs (``arc_end``: the arcs' ends on this side) and two more."""
    off, length, cap = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    for x in arc_end:
        cap[x] += 1
    end = 0
    for v in range(n):
        cap[v] += 2
        off[v] = end
        end += cap[v]
    return (off, length, cap, np.empty(2 * end, np.int64), np.empty(2 * end)), end


@numba.njit(cache=True)
def _add_arc(side: Side, end: int, v: int, x: int, c: float) -> tuple[Side, int]:
    """Arc from ``v`` to ``x`` of weight ``c`` (keeps the lighter of parallel arcs); the pool may move."""
    off, length, cap, to, w = side
    start = off[v]
    for i in range(start, start + length[v]):
        if to[i] == x:
            if c < w[i]:
                w[i] = c
            return side, end
    if length[v] == cap[v]:
        new_cap = max(4, 2 * cap[v])
        if end + new_cap > len(to):
            size = max(end + new_cap, 2 * len(to))
            to2, w2 = np.empty(size, np.int64), np.empty(size)
            to2[:end], w2[:end] = to[:end], w[:end]
            to, w = to2, w2
        to[end : end + length[v]] = to[start : start + length[v]]
        w[end : end + length[v]] = w[start : start + length[v]]
        off[v], cap[v] = end, new_cap
        end += new_cap
    to[off[v] + length[v]] = x
    w[off[v] + length[v]] = c
    length[v] += 1
    return (off, length, cap, to, w), end


@numba.njit(cache=True)
def _remove_arc(side: Side, v: int, x: int) -> None:
    off, length, _, to, w = side
    start = off[v]
    last = start + length[v] - 1
    for i in range(start, last + 1):
        if to[i] == x:
            to[i], w[i] = to[last], w[last]
            length[v] -= 1
            return


@numba.njit(cache=True)
def _witness(
    out: Side,
    source: int,
    skip: int,
    limit: float,
    max_settled: int,
    scratch: tuple[FloatArray, IntArray, FloatArray, IntArray, IntArray, IntArray],
) -> int:
    """Dijkstra from ``source`` avoiding ``skip``, up to ``limit``, ``max_settled`` nodes or until every
    head of ``skip``'s arcs is settled; returns #touched.

    ``dist`` holds the (upper bounds of the) distances found; the caller
    resets ``dist[touched[:n]]`` to ``inf``.
    """
    off, length, _, to, w = out
    dist, touched, keys, nodes, pos, _ = scratch
    n_touched, size, settled = 1, 0, 0
    pending = 0
    for j in range(off[skip], off[skip] + length[skip]):
        if to[j] != source:
            pending += 1
    dist[source] = 0.0
    touched[0] = source
    size = _heap_set(keys, nodes, pos, size, source, 0.0)
    while size > 0 and pending > 0:
        v, d, size = _heap_pop(keys, nodes, pos, size)
        if d > limit or settled >= max_settled:
            break
        settled += 1
        for j in range(off[skip], off[skip] + length[skip]):
            if to[j] == v and v != source:
                pending -= 1
        for i in range(off[v], off[v] + length[v]):
            x = to[i]
            if x == skip:
                continue
            nd = d + w[i]
            if nd < dist[x]:
                if dist[x] == np.inf:
                    touched[n_touched] = x
                    n_touched += 1
                dist[x] = nd
                size = _heap_set(keys, nodes, pos, size, x, nd)
    while size > 0:  # empty the heap for the next search
        _, _, size = _heap_pop(keys, nodes, pos, size)
    return n_touched


@numba.njit(cache=True)
def _shortcuts(
    v: int,
    out: Side,
    inn: Side,
    max_settled: int,
    scratch: tuple[FloatArray, IntArray, FloatArray, IntArray, IntArray, IntArray],
) -> tuple[IntArray, IntArray, FloatArray]:
    """The shortcuts contracting ``v`` needs: ``(u, w, weight)`` for each ``u → v → w`` without a witness.

    ``scratch``: a witness search's arrays (see :func:`_witness`) and the work
    counter, which grows by the nodes the searches reach.
    """
    out_off, out_len, _, out_to, out_w = out
    in_off, in_len, _, in_to, in_w = inn
    dist, touched, work = scratch[0], scratch[1], scratch[5]
    n_in, n_out = in_len[v], out_len[v]
    sc_u = np.empty(n_in * n_out, np.int64)
    sc_w = np.empty(n_in * n_out, np.int64)
    sc_c = np.empty(n_in * n_out, np.float64)
    k = 0
    for a in range(in_off[v], in_off[v] + n_in):
        u, cu = in_to[a], in_w[a]
        limit = -1.0
        for b in range(out_off[v], out_off[v] + n_out):
            if out_to[b] != u and cu + out_w[b] > limit:
                limit = cu + out_w[b]
        if limit < 0:
            continue
        n_touched = _witness(out, u, v, limit, max_settled, scratch)
        for b in range(out_off[v], out_off[v] + n_out):
            x = out_to[b]
            if x != u and dist[x] > cu + out_w[b]:
                sc_u[k], sc_w[k], sc_c[k] = u, x, cu + out_w[b]
                k += 1
        for i in range(n_touched):
            dist[touched[i]] = np.inf
        work[0] += n_touched
    return sc_u[:k], sc_w[:k], sc_c[:k]


@numba.njit(cache=True)
def _node_priority(
    v: int,
    core_degree: int,
    deleted: IntArray,
    out: Side,
    inn: Side,
    max_settled: int,
    scratch: tuple[FloatArray, IntArray, FloatArray, IntArray, IntArray, IntArray],
) -> float:
    """``v``'s place in the contraction order now (the core's, past ``core_degree`` arcs)."""
    degree = inn[1][v] + out[1][v]
    if degree > core_degree:
        return _CORE_PRIORITY
    sc, _, _ = _shortcuts(v, out, inn, min(max_settled, SIMULATED_SETTLED), scratch)
    return _priority(len(sc), degree, deleted[v])


@numba.njit(cache=True)
def _priority(shortcuts: int, degree: int, deleted: int) -> float:
    """Edge difference plus deleted neighbours: contract first what adds least and spreads the order."""
    return float(2 * (shortcuts - degree) + deleted)


@numba.njit(cache=True)
def _contract(
    n: int, tail: IntArray, head: IntArray, weight: FloatArray, max_settled: int, core_degree: int, work_limit: int
) -> tuple[IntArray, NDArray[np.bool_], IntArray, IntArray, FloatArray, IntArray, IntArray, FloatArray, int]:
    """Contract nodes until the core; returns ``rank``, ``core``, the up (``v → w``) and down (``u → v``) arcs
    by lower end (a core node's arcs to other core nodes are all up arcs) and the work done (``-1``: the
    ``work_limit`` ran out first, unless it is negative)."""
    m = len(tail)
    out, out_end = _new_side(n, tail)
    inn, in_end = _new_side(n, head)
    for i in range(m):
        if tail[i] != head[i]:
            out, out_end = _add_arc(out, out_end, tail[i], head[i], weight[i])
            inn, in_end = _add_arc(inn, in_end, head[i], tail[i], weight[i])
    keys, nodes, pos = np.empty(n), np.empty(n, np.int64), np.full(n, -1, np.int64)
    work = np.zeros(1, np.int64)
    scratch = (np.full(n, np.inf), np.empty(n, np.int64), keys, nodes, pos, work)
    deleted = np.zeros(n, np.int64)
    # The contraction order: a heap of priorities (lazily updated).
    p_keys, p_nodes, p_pos = np.empty(n), np.empty(n, np.int64), np.full(n, -1, np.int64)
    size = 0
    for v in range(n):
        prio = _node_priority(v, core_degree, deleted, out, inn, max_settled, scratch)
        size = _heap_set(p_keys, p_nodes, p_pos, size, v, prio)
    rank = np.empty(n, np.int64)
    core = np.zeros(n, np.bool_)
    up_from, up_to, up_w = np.empty(m + n, np.int64), np.empty(m + n, np.int64), np.empty(m + n)
    dn_from, dn_to, dn_w = np.empty(m + n, np.int64), np.empty(m + n, np.int64), np.empty(m + n)
    n_up, n_dn, r = 0, 0, 0
    neighbours = np.empty(2 * n, np.int64)
    while size > 0:
        v, _, size = _heap_pop(p_keys, p_nodes, p_pos, size)
        out_off, out_len, out_to, out_w = out[0], out[1], out[3], out[4]
        in_off, in_len, in_to, in_w = inn[0], inn[1], inn[3], inn[4]
        if in_len[v] + out_len[v] > core_degree:
            size = _heap_set(p_keys, p_nodes, p_pos, size, v, 0.0)
            break
        if 0 <= work_limit < work[0]:
            return rank[:0], core[:0], up_from[:0], up_to[:0], up_w[:0], dn_from[:0], dn_to[:0], dn_w[:0], -1
        sc_u, sc_w, sc_c = _shortcuts(v, out, inn, max_settled, scratch)
        prio = _priority(len(sc_u), in_len[v] + out_len[v], deleted[v])
        if size > 0 and prio > p_keys[0]:
            size = _heap_set(p_keys, p_nodes, p_pos, size, v, prio)
            continue
        rank[v] = r
        r += 1
        need = max(n_up + out_len[v], n_dn + in_len[v])
        if need > len(up_from):
            up_from, up_to, up_w = _grown(up_from, n_up), _grown(up_to, n_up), _grown_f(up_w, n_up)
            dn_from, dn_to, dn_w = _grown(dn_from, n_dn), _grown(dn_to, n_dn), _grown_f(dn_w, n_dn)
        k = 0
        for i in range(out_off[v], out_off[v] + out_len[v]):
            x = out_to[i]
            up_from[n_up], up_to[n_up], up_w[n_up] = v, x, out_w[i]
            n_up += 1
            _remove_arc(inn, x, v)
            neighbours[k] = x
            k += 1
        for i in range(in_off[v], in_off[v] + in_len[v]):
            x = in_to[i]
            dn_from[n_dn], dn_to[n_dn], dn_w[n_dn] = v, x, in_w[i]
            n_dn += 1
            _remove_arc(out, x, v)
            neighbours[k] = x
            k += 1
        out_len[v], in_len[v] = 0, 0
        for i in range(len(sc_u)):
            out, out_end = _add_arc(out, out_end, sc_u[i], sc_w[i], sc_c[i])
            inn, in_end = _add_arc(inn, in_end, sc_w[i], sc_u[i], sc_c[i])
        seen = np.unique(neighbours[:k])
        for x in seen:
            deleted[x] += 1
        for x in seen:
            prio = _node_priority(x, core_degree, deleted, out, inn, max_settled, scratch)
            size = _heap_set(p_keys, p_nodes, p_pos, size, x, prio)
    # What is left is the core: ranked above everything contracted, its arcs all kept (as up arcs).
    out_off, out_len, out_to, out_w = out[0], out[1], out[3], out[4]
    while size > 0:
        v, _, size = _heap_pop(p_keys, p_nodes, p_pos, size)
        rank[v] = r
        r += 1
        core[v] = True
        if n_up + out_len[v] > len(up_from):
            up_from, up_to, up_w = _grown(up_from, n_up), _grown(up_to, n_up), _grown_f(up_w, n_up)
        for i in range(out_off[v], out_off[v] + out_len[v]):
            up_from[n_up], up_to[n_up], up_w[n_up] = v, out_to[i], out_w[i]
            n_up += 1
    return rank, core, up_from[:n_up], up_to[:n_up], up_w[:n_up], dn_from[:n_dn], dn_to[:n_dn], dn_w[:n_dn], work[0]


@numba.njit(cache=True)
def _grown(a: IntArray, used: int) -> IntArray:
    out = np.empty(2 * len(a) + 16, a.dtype)
    out[:used] = a[:used]
    return out


@numba.njit(cache=True)
def _grown_f(a: FloatArray, used: int) -> FloatArray:
    out = np.empty(2 * len(a) + 16, a.dtype)
    out[:used] = a[:used]
    return out


def _csr(n: int, lower: IntArray, other: IntArray, w: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    order = np.argsort(lower, kind="stable")
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(lower, minlength=n), out=off[1:])
    return off, np.ascontiguousarray(other[order]), np.ascontiguousarray(w[order])


def contract_graph(
    n_nodes: int,
    tail: IntArray,
    head: IntArray,
    weight: FloatArray,
    *,
    witness_settled: int = WITNESS_SETTLED,
    core_degree: int | None = None,
    work_limit: int | None = None,
) -> Hierarchy | None:
    """Build the contraction hierarchy of a directed graph.

    Parameters
    ----------
    n_nodes
        Nodes ``0 .. n_nodes - 1``.
    tail, head, weight
        The arcs ``tail → head`` and their non-negative weights (parallel
        arcs: the lightest counts; loops are dropped).
    witness_settled
        Nodes a witness search may settle before the shortcut is kept anyway.
    core_degree
        Contraction stops when the next node has more arcs than this; the
        rest is the core (dense parts of grids, where contracting costs
        more than searching).
    work_limit
        Give up (return ``None``) once the witness searches have reached
        this many nodes in all: a street grid takes far more work to
        contract than a real city of the same size, and a caller with a
        cheaper way to its answer can say how much the hierarchy may cost.

    Returns
    -------
    Hierarchy or None
        ``None`` when ``work_limit`` ran out first.

    Raises
    ------
    ValueError
        If the arrays differ in length, a node is out of range or a weight
        is negative or not finite.
    """
    tail = np.ascontiguousarray(tail, dtype=np.int64)
    head = np.ascontiguousarray(head, dtype=np.int64)
    weight = np.ascontiguousarray(weight, dtype=np.float64)
    if not (len(tail) == len(head) == len(weight)):
        raise ValueError("contract_graph: tail, head and weight must have the same length")
    if len(tail) and (min(tail.min(), head.min()) < 0 or max(tail.max(), head.max()) >= n_nodes):
        raise ValueError(f"contract_graph: an arc's node is outside 0..{n_nodes - 1}")
    if len(weight) and not (np.all(np.isfinite(weight)) and weight.min() >= 0):
        raise ValueError("contract_graph: weights must be finite and not negative")
    degree = CORE_DEGREE if core_degree is None else core_degree
    limit = -1 if work_limit is None else max(int(work_limit), 0)
    rank, core, uf, ut, uw, df, dt, dw, work = _contract(n_nodes, tail, head, weight, witness_settled, degree, limit)
    if work < 0:
        return None
    up_off, up_to, up_w = _csr(n_nodes, uf, ut, uw)
    down_off, down_to, down_w = _csr(n_nodes, df, dt, dw)
    return Hierarchy(n_nodes, rank, core, up_off, up_to, up_w, down_off, down_to, down_w, int(work))


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
            size = _heap_set(keys, nodes, pos, size, x, c)
    n_space = 0
    while size > 0:
        v, d, size = _heap_pop(keys, nodes, pos, size)
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
                size = _heap_set(keys, nodes, pos, size, x, nd)
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


# --- on disk: a hierarchy takes seconds to minutes to build and a few megabytes to keep ---

_ARRAYS = ("rank", "core", "up_off", "up_to", "up_w", "down_off", "down_to", "down_w")


def save_hierarchy(h: Hierarchy, path: Path) -> bool:
    """Write ``h`` to ``path`` (``.npz``) atomically: a temporary file in the same folder, then renamed.

    Returns ``False`` (and logs why) when the folder cannot be written: a
    hierarchy not kept is built again next time, never an error.
    """
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        os.fchmod(fd, 0o644)  # a cache others may read, as the network cache beside it (mkstemp makes it 0600)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, n_nodes=np.int64(h.n_nodes), work=np.int64(h.work), **{k: getattr(h, k) for k in _ARRAYS})
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("could not keep the contraction hierarchy in %s: %s", path, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return False


def load_hierarchy(path: Path) -> Hierarchy | None:
    """The hierarchy :func:`save_hierarchy` wrote to ``path``, or ``None`` if absent, unreadable or inconsistent.

    Every index is checked before compiled code may follow it, so a
    truncated or tampered file is rebuilt, never a crash.
    """
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            n = int(data["n_nodes"])
            arrays = {k: np.ascontiguousarray(data[k]) for k in _ARRAYS}
            work = int(data["work"])
        h = Hierarchy(n, **arrays, work=work)  # type: ignore[arg-type]
        if not _consistent(h):
            raise ValueError("inconsistent arrays")
        return h
    except Exception as exc:  # any unreadable file: rebuild it
        log.warning("ignoring unreadable contraction hierarchy %s: %s", path, exc)
        return None


def _consistent(h: Hierarchy) -> bool:
    """Shapes, dtypes and every index of ``h`` in range (what the compiled searches rely on)."""
    n = h.n_nodes
    if h.rank.dtype != np.int64 or h.rank.shape != (n,) or h.core.dtype != np.bool_ or h.core.shape != (n,):
        return False
    for off, to, w in (h.up, h.down):
        if off.dtype != np.int64 or to.dtype != np.int64 or w.dtype != np.float64 or off.shape != (n + 1,):
            return False
        if off[0] != 0 or off[-1] != len(to) or len(w) != len(to) or np.any(np.diff(off) < 0):
            return False
        if len(to) and (to.min() < 0 or to.max() >= n or not np.all(w >= 0) or not np.all(np.isfinite(w))):
            return False
    return True
