"""Contraction hierarchies: building one (Geisberger et al. 2008).

A contraction hierarchy orders a directed graph's nodes by importance and
removes them one by one, least important first; removing ``v`` adds a
*shortcut* ``u → w`` for each drive ``u → v → w`` that no other drive of at
most its weight (a *witness*, found by a bounded Dijkstra search) replaces.
Every shortest path is then an upward part followed by a downward part, so
a search from a source needs only the arcs up the hierarchy, and one from a
target only the arcs down it, each settling a few hundred nodes instead of
the whole graph (the searches: :mod:`.many_to_many`; keeping a hierarchy on
disk: :mod:`.cache`).

On a street grid the graph left after contracting most nodes is dense and
contracting it costs far more than searching it, so contraction stops when
the next node has more than ``core_degree`` arcs: the rest is the *core*,
which the searches cross as plain Dijkstra.

The loops are compiled with numba (``cache=True``: compiled once per
machine, then loaded in a fraction of a second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from ..network import FloatArray
from .heap import heap_pop, heap_set

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
    size = heap_set(keys, nodes, pos, size, source, 0.0)
    while size > 0 and pending > 0:
        v, d, size = heap_pop(keys, nodes, pos, size)
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
                size = heap_set(keys, nodes, pos, size, x, nd)
    while size > 0:  # empty the heap for the next search
        _, _, size = heap_pop(keys, nodes, pos, size)
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
        size = heap_set(p_keys, p_nodes, p_pos, size, v, prio)
    rank = np.empty(n, np.int64)
    core = np.zeros(n, np.bool_)
    up_from, up_to, up_w = np.empty(m + n, np.int64), np.empty(m + n, np.int64), np.empty(m + n)
    dn_from, dn_to, dn_w = np.empty(m + n, np.int64), np.empty(m + n, np.int64), np.empty(m + n)
    n_up, n_dn, r = 0, 0, 0
    neighbours = np.empty(2 * n, np.int64)
    while size > 0:
        v, _, size = heap_pop(p_keys, p_nodes, p_pos, size)
        out_off, out_len, out_to, out_w = out[0], out[1], out[3], out[4]
        in_off, in_len, in_to, in_w = inn[0], inn[1], inn[3], inn[4]
        if in_len[v] + out_len[v] > core_degree:
            size = heap_set(p_keys, p_nodes, p_pos, size, v, 0.0)
            break
        if 0 <= work_limit < work[0]:
            return rank[:0], core[:0], up_from[:0], up_to[:0], up_w[:0], dn_from[:0], dn_to[:0], dn_w[:0], -1
        sc_u, sc_w, sc_c = _shortcuts(v, out, inn, max_settled, scratch)
        prio = _priority(len(sc_u), in_len[v] + out_len[v], deleted[v])
        if size > 0 and prio > p_keys[0]:
            size = heap_set(p_keys, p_nodes, p_pos, size, v, prio)
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
            size = heap_set(p_keys, p_nodes, p_pos, size, x, prio)
    # What is left is the core: ranked above everything contracted, its arcs all kept (as up arcs).
    out_off, out_len, out_to, out_w = out[0], out[1], out[3], out[4]
    while size > 0:
        v, _, size = heap_pop(p_keys, p_nodes, p_pos, size)
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
