"""Travel matrices of the turn-aware model: fastest legal drives between places, turns included.

The *state graph* (:func:`state_graph`) is the turn graph
(:class:`~binroute.geo.turns.TurnGraph`) with two nodes per place, one to
arrive at and one to leave from; a matrix row is a search from a place's
leaving node, by Dijkstra on the state graph or by the turn graph's
contraction hierarchy (:mod:`binroute.geo.paths`), with the very same
numbers either way (:func:`turn_matrix_rows`, :func:`turn_matrices`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from .matrix import pack, packed_dijkstra, unpack
from .network import FloatArray, IntArray
from .paths import Hierarchy, scan_sources, target_buckets
from .turns import Places, TurnGraph, driven_seconds, hierarchy_within, search_cost, transition_arcs


@dataclass(frozen=True)
class _PlaceArcs:
    """The arcs of the state graph that touch places, with packed weights (see :func:`state_graph`)."""

    #: Leaving place ``leave_place`` onto state ``leave_state`` (the rest of its edge, then a turn).
    leave_place: IntArray
    leave_state: IntArray
    leave_w: FloatArray
    #: Arriving at place ``arrive_place`` from the start of state ``arrive_state`` (its edge).
    arrive_state: IntArray
    arrive_place: IntArray
    arrive_w: FloatArray
    #: Leaving ``direct_from`` and arriving at ``direct_to`` further along the same edge.
    direct_from: IntArray
    direct_to: IntArray
    direct_w: FloatArray


def _place_arcs(tg: TurnGraph, places: Places) -> _PlaceArcs:
    """How places are left, reached, and reach each other along one edge (places on undriven edges: none)."""
    net, time = tg.rg.net, tg.rg.edge_time
    e, t, node = places.edge, places.t, places.place
    ok = np.isfinite(time[e])
    e, t, node = e[ok], t[ok], node[ok]
    # Leave: the rest of the edge, then any transition out of it.
    order = np.argsort(tg.t_from, kind="stable")
    t_from = tg.t_from[order]
    lo, hi = np.searchsorted(t_from, e, side="left"), np.searchsorted(t_from, e, side="right")
    count = hi - lo
    pick = order[np.repeat(lo, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)]
    turn = search_cost(tg)[pick]
    leave_w = pack(np.repeat((1 - t) * time[e], count) + turn, np.repeat((1 - t) * net.length_m[e], count))
    # Places on one edge, in order: driving on from one reaches every later one.
    by = np.lexsort((t, e))
    es, ts, ns = e[by], t[by], node[by]
    heads, tails, secs, metres = [], [], [], []
    gap = 1
    while True:
        chain = np.flatnonzero(es[gap:] == es[:-gap]) if gap < len(es) else np.zeros(0, dtype=np.int64)
        if len(chain) == 0:
            break
        frac = ts[chain + gap] - ts[chain]
        heads.append(ns[chain])
        tails.append(ns[chain + gap])
        secs.append(frac * time[es[chain]])
        metres.append(frac * net.length_m[es[chain]])
        tie = chain[frac <= 0]  # places at the very same spot reach each other both ways
        heads.append(ns[tie + gap])
        tails.append(ns[tie])
        secs.append(np.zeros(len(tie)))
        metres.append(np.zeros(len(tie)))
        gap += 1
    empty = np.zeros(0, dtype=np.int64)
    return _PlaceArcs(
        leave_place=np.repeat(node, count),
        leave_state=tg.t_to[pick],
        leave_w=leave_w,
        arrive_state=e,
        arrive_place=node,
        arrive_w=pack(t * time[e], t * net.length_m[e]),
        direct_from=np.concatenate([empty, *heads]),
        direct_to=np.concatenate([empty, *tails]),
        direct_w=pack(np.concatenate([np.zeros(0), *secs]), np.concatenate([np.zeros(0), *metres])),
    )


def state_graph(tg: TurnGraph, places: Places) -> csr_matrix:
    """Nodes ``0..S-1``: at the start of state s (see :attr:`TurnGraph.state_edge`); ``S + p``: arriving
    at place p; ``S + P + p``: leaving it. A drive never passes *through* a place (a depot yard is not a
    place to turn round on the way elsewhere).
    """
    n_e, n_p = len(tg.state_edge), places.n_places
    arcs = _place_arcs(tg, places)
    t_u, t_v, t_w = transition_arcs(tg)
    u = np.concatenate([t_u, arcs.arrive_state, n_e + n_p + arcs.leave_place, n_e + n_p + arcs.direct_from])
    v = np.concatenate([t_v, n_e + arcs.arrive_place, arcs.leave_state, n_e + arcs.direct_to])
    packed = np.concatenate([t_w, arcs.arrive_w, arcs.leave_w, arcs.direct_w])
    size = n_e + 2 * n_p
    keys = u * size + v
    order = np.lexsort((packed, keys))
    keys, packed = keys[order], packed[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, packed = keys[first], packed[first]
    return csr_matrix((packed, (keys // size, keys % size)), shape=(size, size))


#: Places whose rows one search covers: its packed rows and their metres (twice this many × places × 8
#: bytes: 0.5 GB at 15,700 places) are the only full-width float arrays of a turn-aware matrix job,
#: however many places it has. Both cores share each block's searches, so smaller blocks cost nothing.
ROWS_PER_SEARCH = 2048


#: Matrix methods of :func:`turn_matrix_rows`.
TURN_MATRIX_METHODS = ("auto", "ch", "dijkstra")
#: ``method="auto"`` tries the hierarchy on jobs of at least this many places × states (below, the
#: searches take well under a second and compiled code is not worth loading).
CH_MIN_CELLS = 5_000_000
#: Work (nodes reached by witness searches) the hierarchy may cost per place × state of the Dijkstra
#: searches it replaces. One unit costs about what 3.5 cells of those searches do (bucket queue, two
#: cores; Milan and a 224 × 224 grid), so a build takes at most about a third of their time, and a job
#: whose build gives up (a street grid) at most about 1.3 times its searches. A build that finishes is
#: kept on disk, and every later job of the city reads it and answers in a fraction of a second; one
#: that gives up is noted beside the network with its limit, so only a bigger job tries again. A real
#: city's hierarchy (Milan: 527 units per state) comes from its first job of about 5,300 places.
CH_WORK_PER_CELL = 0.1
#: Whatever the job's size, a build stops at this much work per state. A real city's states cost a few
#: hundred units each (Milan: 527); a street grid's about 3,000 (224 × 224), and what it builds has a
#: core too big for its searches to pay (:func:`queries_pay`), so going on would only waste the time.
CH_WORK_PER_STATE = 1000


#: What a forward search of the hierarchy pays per node and arc of its core (Dijkstra with a heap,
#: :func:`binroute.geo.paths.scan_sources`), in units of what a Dijkstra search of the whole state graph pays per
#: state and transition (a bucket queue, :mod:`binroute.geo.paths.dial`): about 3.5 measured, rounded up.
CORE_SEARCH_COST = 4.0


def queries_pay(hierarchy: Hierarchy, tg: TurnGraph) -> bool:
    """Whether searching ``hierarchy`` beats one Dijkstra search of ``tg``'s whole state graph per place.

    Every forward search of the hierarchy crosses its whole core: a real
    city's core is a few hundred states (Milan: 562 of 71,650), a street
    grid's a third of them with more arcs than the whole graph (224 × 224:
    55,000 states and 743,000 arcs), where plain Dijkstra is faster.
    """
    core_work = int(hierarchy.core.sum()) + int(np.diff(hierarchy.up_off)[hierarchy.core].sum())
    return CORE_SEARCH_COST * core_work < len(tg.state_edge) + len(tg.t_from)


def turn_matrix_rows(
    tg: TurnGraph, places: Places, *, block: int = ROWS_PER_SEARCH, method: str = "auto"
) -> Iterator[tuple[slice, FloatArray, FloatArray]]:
    """The rows of :func:`turn_matrices` a block of places at a time: ``(rows, seconds, metres)``.

    The diagonal is not set to 0 here. A caller filling its own arrays
    (whole seconds, another layout) never holds the float matrices whole;
    each block's arrays are new and the caller's to overwrite.

    ``method``: ``"dijkstra"`` runs one Dijkstra per place on the state
    graph; ``"ch"`` queries the graph's contraction hierarchy
    (:attr:`TurnGraph.hierarchy`, built on first use and kept, in memory
    and on disk) with buckets, many-to-many; ``"auto"`` takes the
    hierarchy when it is already in memory, and for big jobs
    (:data:`CH_MIN_CELLS`) when it is on disk or its build stays within
    :data:`CH_WORK_PER_CELL` and :data:`CH_WORK_PER_STATE`, unless its
    core is too big for its searches to pay (:func:`queries_pay`). Both give the very same numbers.
    """
    if method not in TURN_MATRIX_METHODS:
        raise ValueError(f"method must be one of {TURN_MATRIX_METHODS}, not {method!r}")
    if method == "auto":
        cells = places.n_places * len(tg.state_edge)
        hierarchy = tg.store.hierarchy
        if hierarchy is None and cells >= CH_MIN_CELLS:
            budget = min(CH_WORK_PER_CELL * cells, CH_WORK_PER_STATE * len(tg.state_edge))
            hierarchy = hierarchy_within(tg, int(budget))
        method = "ch" if hierarchy is not None and queries_pay(hierarchy, tg) else "dijkstra"
    if method == "ch":
        yield from _hierarchy_rows(tg, places, block)
        return
    graph = state_graph(tg, places)
    arrive = len(tg.state_edge) + np.arange(places.n_places)
    leave = arrive + places.n_places
    for r in range(0, places.n_places, block):
        rows = slice(r, min(r + block, places.n_places))
        time, dist = unpack(packed_dijkstra(graph, leave[rows], arrive), overwrite=True)
        yield rows, driven_seconds(time), dist


def _by_place(place: IntArray, state: IntArray, w: FloatArray, n_places: int) -> tuple[IntArray, IntArray, FloatArray]:
    """Initial labels grouped by place (CSR): place ``p`` starts at ``state[k]`` for ``k`` in ``ptr[p]:ptr[p+1]``."""
    order = np.argsort(place, kind="stable")
    ptr = np.zeros(n_places + 1, dtype=np.int64)
    np.cumsum(np.bincount(place, minlength=n_places), out=ptr[1:])
    return ptr, state[order], w[order]


def _hierarchy_rows(tg: TurnGraph, places: Places, block: int) -> Iterator[tuple[slice, FloatArray, FloatArray]]:
    """:func:`turn_matrix_rows` by the hierarchy: places are labels on states, drives along one edge are added."""
    n = places.n_places
    arcs = _place_arcs(tg, places)
    h = tg.hierarchy
    buckets = target_buckets(h, *_by_place(arcs.arrive_place, arcs.arrive_state, arcs.arrive_w, n))
    s_ptr, s_state, s_w = _by_place(arcs.leave_place, arcs.leave_state, arcs.leave_w, n)
    for r in range(0, n, block):
        stop = min(r + block, n)
        packed = np.full((stop - r, n), np.inf)
        mine = (arcs.direct_from >= r) & (arcs.direct_from < stop)
        np.minimum.at(packed, (arcs.direct_from[mine] - r, arcs.direct_to[mine]), arcs.direct_w[mine])
        lo, hi = s_ptr[r], s_ptr[stop]
        scan_sources(h, buckets, s_ptr[r : stop + 1] - lo, s_state[lo:hi], s_w[lo:hi], packed)
        time, dist = unpack(packed, overwrite=True)
        yield slice(r, stop), driven_seconds(time), dist


def turn_matrices(tg: TurnGraph, places: Places, *, method: str = "auto") -> tuple[FloatArray, FloatArray]:
    """Directed travel-time (s) and distance (m) matrices between places, turns included.

    Entry ``[p, q]`` is the fastest legal drive from place ``p`` to place
    ``q``: leaving ``p`` in the direction of one of its entries, obeying
    every restriction and the U-turn rule, paying each turn's cost;
    ``inf`` where there is none. Distances are those of the fastest drive.
    ``method``: as for :func:`turn_matrix_rows`.
    """
    n = places.n_places
    time, dist = np.empty((n, n)), np.empty((n, n))
    for rows, t, d in turn_matrix_rows(tg, places, method=method):
        time[rows], dist[rows] = t, d
    np.fill_diagonal(time, 0.0)
    np.fill_diagonal(dist, 0.0)
    return time, dist
