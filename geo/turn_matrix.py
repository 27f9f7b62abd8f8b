"""Travel matrices of the turn-aware model: fastest legal drives between places, turns included.

The *state graph* (:func:`state_graph`) is the turn graph
(:class:`~binroute.geo.turns.TurnGraph`) with two nodes per place, one to
arrive at and one to leave from; a matrix row is a search from a place's
leaving node, by Dijkstra on the state graph or by the turn graph's
contraction hierarchy (:mod:`binroute.geo.paths`), with the very same
numbers either way (:func:`turn_matrix_rows`, :func:`turn_matrices`).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
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


#: Place-by-place matrices kept in this process and beside the network's file (:func:`kept_place_matrices`):
#: at most this many cells over all graphs kept in memory (two int32 arrays: 8 bytes a cell, 160 MB), a
#: job of more places than fit is searched whole and not kept. A day's plan and its re-plans share their
#: places, so a re-plan searches only the places the plan did not have (a crew's position at a bin it had
#: not planned, a bin reported overflowing).
KEPT_CELLS = 20_000_000
#: Graphs (city, vehicle profile, turn rules) whose matrices are kept at once, the least recent dropped.
KEPT_GRAPHS = 4


@dataclass
class _Kept:
    """One graph's kept places (rows in order) and their whole seconds and metres."""

    places: Places
    index: dict[bytes, int]
    time: NDArray[np.int32]
    dist: NDArray[np.int32]


_KEPT: OrderedDict[tuple[str, int], _Kept] = OrderedDict()
_KEPT_LOCK = threading.Lock()
#: Searches made by :func:`kept_place_matrices`, one per place searched from (a row) or to (a column):
#: what the kept matrices save shows here (tests, benchmarks).
SEARCHES = Counter[str]()


def forget_kept_matrices() -> None:
    """Drop every kept matrix (and zero :data:`SEARCHES`)."""
    with _KEPT_LOCK:
        _KEPT.clear()
        SEARCHES.clear()


def _graph_digest(tg: TurnGraph) -> str:
    """A digest of everything a drive between two places depends on: the states, transitions and edges."""
    digest = hashlib.sha256(repr(len(tg.state_edge)).encode())
    for a in (tg.state_edge, *transition_arcs(tg), tg.rg.edge_time, tg.rg.net.length_m):
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def _place_keys(places: Places) -> list[bytes]:
    """Per place, its entries (edge, t) in order as bytes: equal keys, equal drives to and from every place."""
    order = np.lexsort((places.t, places.edge, places.place))
    edge, t, place = places.edge[order], places.t[order], places.place[order]
    cuts = np.searchsorted(place, np.arange(places.n_places + 1))
    edge, t = np.ascontiguousarray(edge, dtype=np.int64), np.ascontiguousarray(t, dtype=np.float64)
    return [edge[a:b].tobytes() + t[a:b].tobytes() for a, b in itertools.pairwise(cuts)]


def _whole(seconds: FloatArray, metres: FloatArray, cap: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Seconds and metres rounded to whole units (ties to even) and capped at ``cap`` (``inf``: ``cap``)."""
    out = []
    for block in (seconds, metres):
        np.rint(block, out=block)
        np.minimum(block, cap, out=block)
        out.append(block.astype(np.int32))
    return out[0], out[1]


def _searched(tg: TurnGraph, places: Places, cap: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Every place's row (:func:`turn_matrix_rows`), whole and capped."""
    n = places.n_places
    time, dist = np.empty((n, n), dtype=np.int32), np.empty((n, n), dtype=np.int32)
    for rows, t, d in turn_matrix_rows(tg, places):
        time[rows], dist[rows] = _whole(t, d, cap)
    SEARCHES["rows"] += n
    return time, dist


def _joined(a: Places, b: Places) -> Places:
    """The places of ``a``, then those of ``b``."""
    return Places(
        np.concatenate([a.edge, b.edge]),
        np.concatenate([a.t, b.t]),
        np.concatenate([a.place, b.place + a.n_places]),
        a.n_places + b.n_places,
    )


def _subset(places: Places, keep: IntArray) -> Places:
    """Places ``keep`` of ``places``, renumbered in that order."""
    new = np.full(places.n_places, -1, dtype=np.int64)
    new[keep] = np.arange(len(keep))
    mine = new[places.place] >= 0
    order = np.argsort(new[places.place][mine], kind="stable")
    return Places(places.edge[mine][order], places.t[mine][order], new[places.place][mine][order], len(keep))


def kept_place_matrices(tg: TurnGraph, places: Places, cap: int) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Whole seconds and metres of the fastest legal drives between ``places`` (rounded, capped at ``cap``,
    which also stands for no drive; the diagonal as searched), reusing what this process kept for the graph.

    A place is its entries; the drive between two places depends on them and
    on the graph alone (a drive never passes through a place), so the places
    kept from an earlier job of the same graph (a day's plan) are read, and
    only new places are searched: a row from each (forward) and a column to
    each (backward, on the reversed state graph); the new places join those
    kept. The same numbers as searching every place (packed weights are whole
    numbers). Jobs too big to keep (:data:`KEPT_CELLS`) are searched whole.
    The arrays returned are read-only.
    """
    n = places.n_places
    if n * n > KEPT_CELLS:
        return _searched(tg, places, cap)
    graph = (_graph_digest(tg), cap)
    keys = _place_keys(places)
    with _KEPT_LOCK:
        kept = _KEPT.get(graph)
        if kept is not None:
            _KEPT.move_to_end(graph)
    file = _kept_file(tg, graph)
    changed = False
    if kept is None and file is not None:
        kept = _read_kept(file)
    if kept is None:
        changed = True
        time, dist = _searched(tg, places, cap)
        kept = _Kept(places, {}, time, dist)
        for i, k in enumerate(keys):
            kept.index.setdefault(k, i)
    else:
        fresh: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k not in kept.index:
                fresh.setdefault(k, i)
        changed = bool(fresh)
        too_many = (kept.places.n_places + len(fresh)) ** 2 > KEPT_CELLS or 2 * len(fresh) >= n
        if fresh and too_many:  # too many to keep, or searching these alone costs less: these alone
            time, dist = _searched(tg, places, cap)
            kept = _Kept(places, {}, time, dist)
            for i, k in enumerate(keys):
                kept.index.setdefault(k, i)
        elif fresh:
            kept = _extended(tg, kept, _subset(places, np.array(list(fresh.values()), dtype=np.int64)), fresh, cap)
    idx = np.array([kept.index[k] for k in keys], dtype=np.int64)
    if changed and file is not None and kept.time.size <= KEPT_CELLS:
        _write_kept(file, kept)
    with _KEPT_LOCK:
        if kept.time.size <= KEPT_CELLS:
            kept.time.flags.writeable = kept.dist.flags.writeable = False
            _KEPT[graph] = kept
            _KEPT.move_to_end(graph)
            while len(_KEPT) > KEPT_GRAPHS or sum(k.time.size for k in _KEPT.values()) > KEPT_CELLS:
                _KEPT.popitem(last=False)
    if len(idx) == kept.time.shape[0] and np.array_equal(idx, np.arange(len(idx))):
        return kept.time, kept.dist
    at = np.ix_(idx, idx)
    time, dist = kept.time[at], kept.dist[at]
    _twins(tg, places, idx, time, dist, cap)
    return time, dist


def _twins(
    tg: TurnGraph, places: Places, idx: IntArray, time: NDArray[np.int32], dist: NDArray[np.int32], cap: int
) -> None:
    """Between two places at the very same spot (the same entries: one kept row), 0 both ways where they lie on a
    driven edge (as a whole search gives, :func:`_place_arcs`), else no drive; in place."""
    order = np.argsort(idx, kind="stable")
    cuts = np.flatnonzero(np.diff(idx[order])) + 1
    for group in np.split(order, cuts):
        if len(group) < 2:
            continue
        driven = np.isfinite(tg.rg.edge_time[places.edge[places.place == group[0]]]).any()
        diag_t, diag_d = time[group, group], dist[group, group]
        time[np.ix_(group, group)] = dist[np.ix_(group, group)] = 0 if driven else cap
        time[group, group], dist[group, group] = diag_t, diag_d


def _kept_file(tg: TurnGraph, graph: tuple[str, int]) -> Path | None:
    """Where ``tg``'s kept matrices are kept on disk: beside its network's file (``None``: no file), named by
    the graph's digest, so that the plan's process and a later re-plan's share them."""
    source = tg.rg.net.source
    path = Path(source) if source else None
    if path is None or not path.is_file():
        return None
    return path.with_name(f"{path.name}.{graph[0][:16]}-{graph[1]}.binroute-drives.npz")


def _read_kept(file: Path) -> _Kept | None:
    """The kept matrices in ``file``; ``None`` when there is none or it cannot be read (searched again)."""
    try:
        with np.load(file) as z:
            places = Places(z["edge"], z["t"], z["place"], int(z["n_places"]))
            time, dist = z["time"], z["dist"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if time.shape != dist.shape or time.shape != (places.n_places, places.n_places):
        return None
    index: dict[bytes, int] = {}
    for i, k in enumerate(_place_keys(places)):
        index.setdefault(k, i)
    return _Kept(places, index, time, dist)


def _write_kept(file: Path, kept: _Kept) -> None:
    """Write ``kept`` to ``file`` whole or not at all (a file of another process's name first, then renamed);
    a disk that refuses it costs only the next job's searches."""
    tmp = file.with_name(f"{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    p = kept.places
    try:
        with tmp.open("wb") as out:
            np.savez(out, edge=p.edge, t=p.t, place=p.place, n_places=p.n_places, time=kept.time, dist=kept.dist)
        os.replace(tmp, file)
    except OSError:
        tmp.unlink(missing_ok=True)


def _extended(tg: TurnGraph, kept: _Kept, new: Places, keys: dict[bytes, int], cap: int) -> _Kept:
    """``kept`` with ``new`` places joined: a forward search from each new place and a backward one to it."""
    m, k = kept.places.n_places, new.n_places
    union = _joined(kept.places, new)
    graph = state_graph(tg, union)
    arrive = len(tg.state_edge) + np.arange(m + k)
    leave = arrive + m + k
    rows = _whole(*_driven(unpack(packed_dijkstra(graph, leave[m:], arrive), overwrite=True)), cap)
    cols = _whole(*_driven(unpack(packed_dijkstra(graph.T.tocsr(), arrive[m:], leave), overwrite=True)), cap)
    SEARCHES["rows"] += k
    SEARCHES["columns"] += k
    out = []
    for old, row, col in zip((kept.time, kept.dist), rows, cols, strict=True):
        whole = np.empty((m + k, m + k), dtype=np.int32)
        whole[:m, :m] = old
        whole[m:, :] = row
        whole[:, m:] = col.T
        out.append(whole)
    index = dict(kept.index)
    index.update({key: m + j for j, key in enumerate(keys)})
    return _Kept(union, index, out[0], out[1])


def _driven(searched: tuple[FloatArray, FloatArray]) -> tuple[FloatArray, FloatArray]:
    """Searched seconds and metres with the seconds as driven (:func:`~.turns.driven_seconds`)."""
    return driven_seconds(searched[0]), searched[1]
