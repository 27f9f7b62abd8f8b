"""Travel-time and distance matrices, and the street paths between stops.

Shortest paths run on a :mod:`scipy.sparse.csgraph` graph per vehicle profile
(vectorised C Dijkstra from many sources at once). Stops sit *on* edges, not
at nodes: a stop at fraction ``t`` of edge ``u→v`` is reached by driving to
``u`` and ``t`` of the edge, and left by driving the rest of the edge to
``v``; on two-way streets the opposite edge gives a second way in and out.
Distances are those of the fastest path, found by pointer doubling on the
shortest-path tree, so memory stays O(stops² + chunk × nodes).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from binroute._processes import start_helper

from .geojson import cut_line, line_through
from .network import FloatArray, RoadNetwork, VehicleProfile
from .paths.dial import bucket_dijkstra, usable
from .snap import Snapped

_ZERO = 1e-9  # csgraph treats explicit zeros as missing edges
_CHUNK_CELLS = 20_000_000  # chunk × nodes cells per Dijkstra batch


@dataclass(frozen=True)
class RoutingGraph:
    """A network prepared for shortest paths for one vehicle profile."""

    net: RoadNetwork
    profile: VehicleProfile
    edge_time: FloatArray  # per network edge, inf where the profile may not drive
    csr: csr_matrix
    pair_keys: NDArray[np.int64]  # sorted u * n + v of the graph's arcs
    pair_edge: NDArray[np.int64]  # the fastest network edge for each arc


def routing_graph(net: RoadNetwork, profile: VehicleProfile) -> RoutingGraph:
    """Prepare ``net`` for shortest paths of vehicles like ``profile``."""
    time = net.travel_time_s(profile)
    ok = np.flatnonzero(np.isfinite(time))
    n = net.n_nodes
    keys = net.edge_u[ok] * n + net.edge_v[ok]
    order = np.lexsort((time[ok], keys))
    keys, edges = keys[order], ok[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, edges = keys[first], edges[first]
    weights = np.maximum(time[edges], _ZERO)
    csr = csr_matrix((weights, (keys // n, keys % n)), shape=(n, n))
    return RoutingGraph(net, profile, time, csr, keys, edges)


def drivable_core(rg: RoutingGraph) -> NDArray[np.bool_]:
    """The edges of the largest part of the network this profile can drive in which every node reaches every other.

    The network is strongly connected for cars, but a lorry's restrictions
    (weight, height, ``hgv=no``) can cut pieces off: a street behind a weak
    bridge, a yard reached through a low underpass. A stop snapped there is
    unreachable, or can never leave; stops are snapped only to these edges
    (the turn-aware model's :func:`binroute.geo.turns.core_edges` does the same with
    turns obeyed).
    """
    driven = np.isfinite(rg.edge_time)
    if not driven.any():
        return driven
    _, label = connected_components(rg.csr, directed=True, connection="strong")
    sizes = np.bincount(label[rg.net.edge_u[driven]], minlength=label.max() + 1)
    core = label == int(np.argmax(sizes))
    return driven & core[rg.net.edge_u] & core[rg.net.edge_v]


@dataclass(frozen=True)
class _Access:
    """Per stop, up to two ways onto the network (the edge and its twin)."""

    edge: NDArray[np.int64]  # (P, 2), -1 where absent
    t: FloatArray  # (P, 2)
    out_node: NDArray[np.int64]
    out_time: FloatArray
    out_dist: FloatArray
    in_node: NDArray[np.int64]
    in_time: FloatArray
    in_dist: FloatArray


def _access(rg: RoutingGraph, snapped: Snapped) -> _Access:
    net = rg.net
    edge = np.column_stack([snapped.edge, snapped.twin])
    t = np.column_stack([snapped.t, 1.0 - snapped.t])
    valid = edge >= 0
    safe = np.where(valid, edge, 0)
    w = np.where(valid, rg.edge_time[safe], np.inf)
    usable = valid & np.isfinite(w)
    w = np.where(usable, w, 0.0)
    length = net.length_m[safe]
    return _Access(
        edge=np.where(usable, edge, -1),
        t=t,
        out_node=net.edge_v[safe],
        out_time=np.where(usable, (1.0 - t) * w, np.inf),
        out_dist=(1.0 - t) * length,
        in_node=net.edge_u[safe],
        in_time=np.where(usable, t * w, np.inf),
        in_dist=t * length,
    )


def _edge_length_between(rg: RoutingGraph, u: NDArray[np.int64], v: NDArray[np.int64]) -> FloatArray:
    keys = u * rg.net.n_nodes + v
    pos = np.searchsorted(rg.pair_keys, keys)
    return rg.net.length_m[rg.pair_edge[np.clip(pos, 0, len(rg.pair_keys) - 1)]]


def _tree_lengths(rg: RoutingGraph, pred: NDArray[np.int32]) -> FloatArray:
    """Length of the tree path from each Dijkstra source to every node."""
    n = pred.shape[1]
    cols = np.broadcast_to(np.arange(n), pred.shape)
    has = pred >= 0
    ptr = np.where(has, pred, cols).astype(np.int64)
    acc = np.zeros(pred.shape, dtype=float)
    acc[has] = _edge_length_between(rg, pred[has].astype(np.int64), cols[has])
    while True:
        nxt = np.take_along_axis(ptr, ptr, axis=1)
        if np.array_equal(nxt, ptr):
            return acc
        acc = acc + np.take_along_axis(acc, ptr, axis=1)
        ptr = nxt


def node_matrices(
    rg: RoutingGraph,
    sources: NDArray[np.int64],
    targets: NDArray[np.int64],
    *,
    with_distance: bool = True,
) -> tuple[FloatArray, FloatArray | None]:
    """Fastest-path seconds (and metres along them) between network nodes."""
    n = rg.net.n_nodes
    time = np.empty((len(sources), len(targets)))
    dist = np.empty((len(sources), len(targets))) if with_distance else None
    chunk = max(1, min(len(sources), _CHUNK_CELLS // max(n, 1)))
    for start in range(0, len(sources), chunk):
        idx = sources[start : start + chunk]
        if with_distance:
            full, pred = dijkstra(rg.csr, directed=True, indices=idx, return_predecessors=True)
            assert dist is not None
            dist[start : start + chunk] = _tree_lengths(rg, pred)[:, targets]
        else:
            full = dijkstra(rg.csr, directed=True, indices=idx)
        time[start : start + chunk] = full[:, targets]
    return time, dist


#: Travel time and length ride in one float64 weight: deci-seconds above this many
#: bits, decimetres below. Sums of integers stay exact up to 2**53, so paths up to
#: 107,000 km and 9.7 days are decoded exactly, with one Dijkstra run.
LEN_BITS = 30


def _stop_graph(rg: RoutingGraph, acc: _Access) -> csr_matrix:
    """The road graph plus one node per stop (index ``n + i``), with packed weights.

    A stop node has arcs out to the end of its edge (and of its twin) and in
    from their starts; stops on the same directed edge are chained in order,
    so a drive straight on from one to the next is also a path.
    """
    net = rg.net
    n, p = net.n_nodes, acc.edge.shape[0]
    heads, tails, secs, metres = (
        [rg.pair_keys // n],
        [rg.pair_keys % n],
        [rg.edge_time[rg.pair_edge]],
        [net.length_m[rg.pair_edge]],
    )
    stop = n + np.arange(p)
    for k in range(2):
        ok = acc.edge[:, k] >= 0
        heads += [stop[ok], acc.in_node[ok, k]]
        tails += [acc.out_node[ok, k], stop[ok]]
        secs += [acc.out_time[ok, k], acc.in_time[ok, k]]
        metres += [acc.out_dist[ok, k], acc.in_dist[ok, k]]
    edge = np.concatenate([acc.edge[:, 0], acc.edge[:, 1]])
    t = np.concatenate([acc.t[:, 0], acc.t[:, 1]])
    who = np.concatenate([stop, stop])
    ok = edge >= 0
    order = np.lexsort((t[ok], edge[ok]))
    e_s, t_s, w_s = edge[ok][order], t[ok][order], who[ok][order]
    chain = np.flatnonzero(e_s[1:] == e_s[:-1])
    frac = t_s[chain + 1] - t_s[chain]
    heads.append(w_s[chain])
    tails.append(w_s[chain + 1])
    secs.append(frac * rg.edge_time[e_s[chain]])
    metres.append(frac * net.length_m[e_s[chain]])
    # Stops at the very same spot reach each other both ways for free.
    tie = chain[frac <= 0]
    heads.append(w_s[tie + 1])
    tails.append(w_s[tie])
    secs.append(np.zeros(len(tie)))
    metres.append(np.zeros(len(tie)))
    u, v = np.concatenate(heads), np.concatenate(tails)
    packed = np.rint(np.concatenate(secs) * 10) * 2.0**LEN_BITS + np.maximum(np.rint(np.concatenate(metres) * 10), 1)
    keys = u * (n + p) + v
    order = np.lexsort((packed, keys))
    keys, packed = keys[order], packed[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, packed = keys[first], packed[first]
    return csr_matrix((packed, (keys // (n + p), keys % (n + p))), shape=(n + p, n + p))


def pack(seconds: FloatArray, metres: FloatArray) -> FloatArray:
    """Seconds and metres packed into one weight (see :data:`LEN_BITS`; :func:`unpack` reads them back)."""
    return np.rint(seconds * 10) * 2.0**LEN_BITS + np.maximum(np.rint(metres * 10), 1)


#: Rows of a stops × stops matrix unpacked or combined at a time (bounds the float temporaries).
_ROWS = 512


def unpack(packed: FloatArray, *, overwrite: bool = False) -> tuple[FloatArray, FloatArray]:
    """Packed weights back to seconds and metres (``inf`` stays ``inf``).

    Works a block of :data:`_ROWS` rows at a time, so the only full-size
    arrays are the two answers; with ``overwrite`` the seconds are written
    over ``packed`` itself (one full-size array less, for a big matrix).
    """
    packed = np.asarray(packed, dtype=float)
    time = packed if overwrite else np.empty(packed.shape)
    dist = np.empty(packed.shape)
    scale = 2.0**LEN_BITS
    for r in range(0, max(packed.shape[0], 1) if packed.ndim else 1, _ROWS):
        block = packed[r : r + _ROWS] if packed.ndim else packed
        finite = np.isfinite(block)
        safe = np.where(finite, block, 0.0)
        deci_s = np.floor(safe / scale)
        metres = np.where(finite, (safe - deci_s * scale) / 10.0, np.inf)
        seconds = np.where(finite, deci_s / 10.0, np.inf)
        if packed.ndim:
            dist[r : r + _ROWS], time[r : r + _ROWS] = metres, seconds
        else:
            dist[...], time[...] = metres, seconds
    return time, dist


#: Work (sources × graph nodes) above which the second core gets half the sources.
_PARALLEL_CELLS = 20_000_000
#: Work (sources × graph nodes) from which the bucket queue searches (below, scipy's searches take a few
#: milliseconds and compiled code is not worth loading).
_BUCKET_CELLS = 2_000_000


#: Seconds the helper process may take over its half of a big search before it is dropped.
HELPER_TIMEOUT_S = 3600


#: Search kernels of :func:`packed_dijkstra`.
KERNELS = ("auto", "buckets", "heap")


def packed_dijkstra(
    graph: csr_matrix, sources: NDArray[np.int64], columns: NDArray[np.int64], *, kernel: str = "auto"
) -> FloatArray:
    """Rows of shortest packed weights from ``sources``, read at ``columns``; two cores on big jobs.

    Big jobs search with a bucket queue (:mod:`binroute.geo.paths.dial`: 2.5-3.5 times
    faster than scipy's heap on street networks, both cores sharing the
    graph); small ones, and graphs with an arc too heavy for the buckets,
    with scipy (:func:`heap_dijkstra`). Both give the very same numbers.
    ``kernel``: ``"buckets"`` or ``"heap"`` forces one (``"buckets"`` on a
    graph it cannot search still uses the heap).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    big = kernel == "buckets" or (kernel == "auto" and len(sources) * graph.shape[0] >= _BUCKET_CELLS)
    if big and usable(graph, 2.0**LEN_BITS):
        return bucket_dijkstra(graph, sources, columns, 2.0**LEN_BITS)
    return heap_dijkstra(graph, sources, columns)


def heap_dijkstra(graph: csr_matrix, sources: NDArray[np.int64], columns: NDArray[np.int64]) -> FloatArray:
    """:func:`packed_dijkstra` by scipy's Dijkstra (a heap), on two processes for big jobs: for graphs
    :func:`binroute.geo.paths.dial.usable` refuses (an arc too heavy for the buckets), and to compare with the buckets.

    The helper process (:mod:`binroute._processes`) searches the second half
    of the sources in the same bounded chunks as this process; its rows are
    read straight into the answer, so neither side holds a full sources ×
    graph-nodes array or a copy of the other's half. Should the helper fail,
    its half is searched here.
    """
    if len(sources) < 2 or len(sources) * graph.shape[0] < _PARALLEL_CELLS or (os.cpu_count() or 1) < 2:
        return _dijkstra_here(graph, sources, columns)
    half = len(sources) // 2
    out = np.empty((len(sources), len(columns)))
    with start_helper(_dijkstra_here, graph, sources[half:], columns) as helper:
        out[:half] = _dijkstra_here(graph, sources[:half], columns)
        try:
            helper.result(HELPER_TIMEOUT_S, into=out[half:])
        except Exception:  # whatever went wrong there (a timeout, a dead helper): its half is searched here
            out[half:] = _dijkstra_here(graph, sources[half:], columns)
    return out


def _dijkstra_here(graph: csr_matrix, sources: NDArray[np.int64], columns: NDArray[np.int64]) -> FloatArray:
    """Rows of :func:`heap_dijkstra` in this process, a bounded chunk of sources at a time."""
    out = np.empty((len(sources), len(columns)))
    chunk = max(1, min(len(sources), _CHUNK_CELLS // max(graph.shape[0], 1)))
    for start in range(0, len(sources), chunk):
        out[start : start + chunk] = dijkstra(graph, directed=True, indices=sources[start : start + chunk])[:, columns]
    return out


def _via_stop_nodes(rg: RoutingGraph, acc: _Access, kernel: str) -> tuple[FloatArray, FloatArray]:
    n, p = rg.net.n_nodes, acc.edge.shape[0]
    stops = n + np.arange(p)
    return unpack(packed_dijkstra(_stop_graph(rg, acc), stops, stops, kernel=kernel), overwrite=True)


def _via_road_nodes(rg: RoutingGraph, acc: _Access, kernel: str) -> tuple[FloatArray, FloatArray]:
    """Dijkstra from the distinct edge ends, then the best of the four ways out of a and into b."""
    net, p = rg.net, acc.edge.shape[0]
    packed_w = np.rint(rg.edge_time[rg.pair_edge] * 10) * 2.0**LEN_BITS + np.maximum(
        np.rint(net.length_m[rg.pair_edge] * 10), 1
    )
    graph = csr_matrix((packed_w, (rg.pair_keys // net.n_nodes, rg.pair_keys % net.n_nodes)), shape=(net.n_nodes,) * 2)
    src, src_inv = np.unique(acc.out_node, return_inverse=True)
    tgt, tgt_inv = np.unique(acc.in_node, return_inverse=True)
    node_t, node_d = unpack(packed_dijkstra(graph, src, tgt, kernel=kernel), overwrite=True)
    src_inv, tgt_inv = src_inv.reshape(p, 2), tgt_inv.reshape(p, 2)
    best_t = np.full((p, p), np.inf)
    best_d = np.full((p, p), np.inf)
    for r in range(0, p, _ROWS):  # a block of rows at a time: no full-size temporaries
        a = slice(r, min(r + _ROWS, p))
        row_t, row_d = best_t[a], best_d[a]
        for k in range(2):
            for m in range(2):
                pair = np.ix_(src_inv[a, k], tgt_inv[:, m])
                cand_t = acc.out_time[a, k, None] + node_t[pair] + acc.in_time[None, :, m]
                cand_d = acc.out_dist[a, k, None] + node_d[pair] + acc.in_dist[None, :, m]
                same = (acc.edge[a, k, None] == acc.edge[None, :, m]) & (acc.t[a, k, None] <= acc.t[None, :, m])
                same &= acc.edge[a, k, None] >= 0
                if same.any():
                    e = np.maximum(acc.edge[a, k], 0)
                    frac = acc.t[None, :, m] - acc.t[a, k, None]
                    direct_t = np.where(same, frac * rg.edge_time[e][:, None], np.inf)
                    cand_d = np.where(direct_t < cand_t, frac * net.length_m[e][:, None], cand_d)
                    cand_t = np.minimum(cand_t, direct_t)
                cand_t[acc.edge[a, k] < 0, :] = np.inf
                cand_t[:, acc.edge[:, m] < 0] = np.inf
                better = cand_t < row_t
                row_t[better] = cand_t[better]
                row_d[better] = cand_d[better]
    return best_t, best_d


def travel_matrices(
    rg: RoutingGraph, snapped: Snapped, *, method: str = "auto", kernel: str = "auto"
) -> tuple[FloatArray, FloatArray]:
    """Directed travel-time (s) and distance (m) matrices between snapped stops.

    Entry ``[a, b]`` is the fastest drive from stop ``a`` to stop ``b`` (times to
    0.1 s per arc; the distance is that of the fastest drive, to 0.1 m per
    arc); one-way streets make it differ from ``[b, a]``. Unreachable pairs
    are ``inf``.

    ``method``: ``"stops"`` runs one Dijkstra per stop on the road graph with
    the stops added as nodes; ``"nodes"`` runs one per distinct edge end on
    the plain road graph and combines the ways in and out; ``"auto"`` picks
    the cheaper (many stops on a small graph favour ``"nodes"``).
    ``kernel``: the searches' queue (see :func:`packed_dijkstra`).
    """
    acc = _access(rg, snapped)
    n, p = rg.net.n_nodes, len(snapped)
    if method == "auto":
        distinct = len(np.unique(acc.out_node))
        method = "nodes" if distinct * n < p * (n + p) else "stops"
    time, dist = _via_road_nodes(rg, acc, kernel) if method == "nodes" else _via_stop_nodes(rg, acc, kernel)
    np.fill_diagonal(time, 0.0)
    np.fill_diagonal(dist, 0.0)
    return time, dist


class PathFinder:
    """Recover the street geometry between consecutive stops.

    Dijkstra trees are computed once per departure node and reused.
    """

    def __init__(self, rg: RoutingGraph, snapped: Snapped) -> None:
        self.rg = rg
        self.snapped = snapped
        self.acc = _access(rg, snapped)
        self._pred: dict[int, tuple[FloatArray, NDArray[np.int32]]] = {}

    def _tree(self, node: int) -> tuple[FloatArray, NDArray[np.int32]]:
        if node not in self._pred:
            dist, pred = dijkstra(self.rg.csr, directed=True, indices=node, return_predecessors=True)
            self._pred[node] = (dist, pred)
        return self._pred[node]

    def _edge_line(self, e: int, t0: float, t1: float) -> FloatArray:
        coords = self.rg.net.geometry[e]
        if t0 <= 0.0 and t1 >= 1.0:
            return coords
        return cut_line(coords, t0, t1)

    def path(self, a: int, b: int) -> FloatArray:
        """Lon/lat coordinates of the fastest drive from stop ``a`` to stop ``b``."""
        acc = self.acc
        best: tuple[float, list[FloatArray]] = (np.inf, [])
        for k in range(2):
            ea = int(acc.edge[a, k])
            if ea < 0:
                continue
            for m in range(2):
                eb = int(acc.edge[b, m])
                if eb < 0:
                    continue
                ta, tb = float(acc.t[a, k]), float(acc.t[b, m])
                if ea == eb and ta <= tb:
                    cost = (tb - ta) * self.rg.edge_time[ea]
                    if cost < best[0]:
                        best = (cost, [self._edge_line(ea, ta, tb)])
                    continue
                dist, pred = self._tree(int(acc.out_node[a, k]))
                target = int(acc.in_node[b, m])
                cost = acc.out_time[a, k] + dist[target] + acc.in_time[b, m]
                if not cost < best[0]:
                    continue
                nodes = [target]
                while pred[nodes[-1]] >= 0:
                    nodes.append(int(pred[nodes[-1]]))
                nodes.reverse()
                pieces = [self._edge_line(ea, ta, 1.0)]
                if len(nodes) > 1:
                    us = np.array(nodes[:-1], dtype=np.int64)
                    vs = np.array(nodes[1:], dtype=np.int64)
                    pos = np.searchsorted(self.rg.pair_keys, us * self.rg.net.n_nodes + vs)
                    pieces.extend(self.rg.net.geometry[int(e)] for e in self.rg.pair_edge[pos])
                pieces.append(self._edge_line(eb, 0.0, tb))
                best = (cost, pieces)
        if not best[1]:
            raise ValueError(f"no drivable path from stop {self.snapped.ids[a]} to {self.snapped.ids[b]}")
        coords = np.vstack(best[1])
        keep = np.ones(len(coords), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)
        return coords[keep]

    def route(self, stops: list[int]) -> FloatArray:
        """Coordinates of a drive through ``stops`` in order."""
        if len(stops) < 2:
            i = stops[0]
            return np.array([[self.snapped.lon[i], self.snapped.lat[i]]] * 2)
        return line_through(self.path(a, b) for a, b in itertools.pairwise(stops))
