"""A turn-aware road model: states are directed road segments, turns have a cost.

As in OSRM and GraphHopper, shortest paths run on an edge-based graph: a
state is "at the start of edge ``e``", and moving on from ``a`` to ``b``
(``b`` leaving the node ``a`` ends at) costs the time to drive ``a`` plus the
turn's cost. That makes three things expressible that a node-based graph
cannot:

* **Turn restrictions** (:mod:`binroute.geo.restrictions`): a forbidden turn is a
  missing transition.
* **U-turns**: a transition from ``a`` straight back along the street it
  came from. Allowed only where the road ends (no other way on; a road that
  ends only because the extract's clip cut it does not count) or a place
  to turn is mapped (``highway=turning_circle``, ``turning_loop``), at the
  cost of :attr:`TurnRules.u_turn_s`; elsewhere forbidden, or with
  ``u_turns="penalised"`` priced at :attr:`TurnRules.u_turn_penalty_s`.
* **Turns across oncoming traffic** (left where traffic keeps right, right
  where it keeps left) cost :attr:`TurnRules.cross_traffic_s` more.

Stops are *places on edges* (:func:`turn_matrices`): a directed kerbside
visit sits on one edge at a fraction of its length; it is reached by
driving that edge and left by driving on along it, so a route never
reverses in the middle of a street. A place with several entries (a depot
yard, a disposal site) may be entered along any and left along any.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from .geojson import cut_line, line_through
from .matrix import LEN_BITS, RoutingGraph, packed_dijkstra, unpack
from .network import FloatArray, IntArray, RoadNetwork
from .paths import ch
from .paths.ch import Hierarchy, contract_graph, load_hierarchy, save_hierarchy, scan_sources, target_buckets
from .restrictions import binding_scopes

log = logging.getLogger(__name__)

DRIVING_SIDES = ("right", "left")
U_TURN_MODES = ("dead_ends", "penalised")
#: Turn classes of a transition.
STRAIGHT, TURN, CROSS, U_DEAD_END, U_TURNING_PLACE, U_ELSEWHERE = range(6)
U_TURN_REASONS = {U_DEAD_END: "dead end", U_TURNING_PLACE: "turning place", U_ELSEWHERE: "no turning place"}
#: Turns sharper than this many degrees count as turns (not straight on).
STRAIGHT_DEG = 30.0
#: A turn across traffic turns at least this many degrees towards it.
CROSS_DEG = 45.0
#: A transition back to the node it came from turns at least this sharply to count as a U-turn.
U_TURN_DEG = 150.0
#: Any transition this sharp is a U-turn (two roads meeting at a hairpin), wherever it leads.
HAIRPIN_DEG = 170.0


@dataclass(frozen=True)
class TurnRules:
    """How turns are priced. The defaults are what a refuse operator expects.

    Parameters
    ----------
    driving_side
        ``"right"`` (most of the world) or ``"left"`` (UK, Ireland,
        Australia, ...): which turns cross oncoming traffic.
    u_turns
        ``"dead_ends"``: U-turns only where the road ends or a turning place
        is mapped; ``"penalised"``: anywhere, at ``u_turn_penalty_s``.
    u_turn_s
        Time of a U-turn where one is allowed (turning head, three-point turn).
    u_turn_penalty_s
        Cost of a U-turn elsewhere, with ``u_turns="penalised"``.
    turn_s
        Time of any turn that is not straight on (slowing down, looking).
    cross_traffic_s
        Extra time of a turn across oncoming traffic (waiting for a gap).
    """

    driving_side: str = "right"
    u_turns: str = "dead_ends"
    u_turn_s: float = 60.0
    u_turn_penalty_s: float = 900.0
    turn_s: float = 2.0
    cross_traffic_s: float = 10.0

    def __post_init__(self) -> None:
        if self.driving_side not in DRIVING_SIDES:
            raise ValueError(f"driving_side must be one of {DRIVING_SIDES}, not {self.driving_side!r}")
        if self.u_turns not in U_TURN_MODES:
            raise ValueError(f"u_turns must be one of {U_TURN_MODES}, not {self.u_turns!r}")
        for name in ("u_turn_s", "u_turn_penalty_s", "turn_s", "cross_traffic_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


class HierarchyStore:
    """What a turn graph keeps of its contraction hierarchy: the hierarchy once built or loaded, or the
    largest work limit a build gave up at (``-1``: none tried). The one mutable part of a :class:`TurnGraph`.
    """

    __slots__ = ("gave_up_at", "hierarchy")

    def __init__(self) -> None:
        self.hierarchy: Hierarchy | None = None
        self.gave_up_at = -1


@dataclass(frozen=True)
class TurnGraph:
    """The allowed transitions between edges for one vehicle profile, with their cost and class."""

    rg: RoutingGraph
    rules: TurnRules
    #: The edge each state drives: state ``e < n_edges`` is edge ``e``; states
    #: beyond are copies of via edges for a lorry bound by a via-way restriction.
    state_edge: IntArray
    t_from: IntArray
    t_to: IntArray
    t_cost: FloatArray  # seconds of the turn itself (not of driving the edge)
    t_kind: NDArray[np.int8]
    #: Transitions removed by turn restrictions and by the U-turn rule.
    banned: int
    u_turns_forbidden: int
    #: The contraction hierarchy once built or loaded (see :attr:`hierarchy`).
    store: HierarchyStore = field(default_factory=HierarchyStore, compare=False, repr=False)

    @property
    def hierarchy(self) -> Hierarchy:
        """The contraction hierarchy of the states and transitions (:mod:`binroute.geo.paths.ch`), built on first use.

        It depends on the network, the profile and the turn rules only, not
        on any stops, so every matrix job on this graph shares it. It is kept
        in :attr:`store`, and on disk beside the network file when the
        network was loaded from one (:func:`hierarchy_file`), so the next
        turn graph of that city, profile and rules loads it instead.
        """
        hierarchy = _hierarchy_within(self, None)
        assert hierarchy is not None  # no work limit: never given up
        return hierarchy


def _end_vectors(net: RoadNetwork) -> tuple[FloatArray, FloatArray]:
    """Per edge, the direction of its first and of its last segment (local metres, east/north)."""
    coords, off = net.geom_coords, net.geom_offsets
    lat = np.radians(coords[:, 1].mean()) if len(coords) else 0.0
    scale = np.array([np.cos(lat), 1.0])
    first = (coords[off[:-1] + 1] - coords[off[:-1]]) * scale
    last = (coords[off[1:] - 1] - coords[off[1:] - 2]) * scale
    return first, last


def turn_graph(rg: RoutingGraph, rules: TurnRules | None = None) -> TurnGraph:
    """The transitions a vehicle of ``rg``'s profile may make, and what each costs.

    Parameters
    ----------
    rg
        The network prepared for one vehicle profile (its edges' times;
        ``inf`` where it may not drive).
    rules
        Turn pricing (defaults: :class:`TurnRules`).

    Returns
    -------
    TurnGraph
        One row per allowed transition ``a -> b`` (``b`` leaves the node ``a``
        ends at): its turn cost in seconds and class.
    """
    rules = rules or TurnRules()
    net = rg.net
    ok = np.isfinite(rg.edge_time)
    edges = np.flatnonzero(ok)
    by_u = edges[np.argsort(net.edge_u[edges], kind="stable")]
    u_sorted = net.edge_u[by_u]
    lo = np.searchsorted(u_sorted, net.edge_v[edges], side="left")
    hi = np.searchsorted(u_sorted, net.edge_v[edges], side="right")
    a = np.repeat(edges, hi - lo)
    starts = np.repeat(lo, hi - lo)
    b = by_u[starts + (np.arange(len(a)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo))]
    first, last = _end_vectors(net)
    va, vb = last[a], first[b]
    angle = np.degrees(np.arctan2(va[:, 0] * vb[:, 1] - va[:, 1] * vb[:, 0], (va * vb).sum(axis=1)))
    back = net.edge_v[b] == net.edge_u[a]
    u_turn = (back & (np.abs(angle) >= U_TURN_DEG)) | (np.abs(angle) >= HAIRPIN_DEG) | (a == b)
    # Forbidden by turn restrictions that bind this profile.
    scopes = binding_scopes(rg.profile.is_hgv)
    binding = np.isin(net.ban_scope, scopes)
    n_edges = net.n_edges
    banned_keys = np.unique(net.ban_from[binding] * n_edges + net.ban_to[binding])
    keep = ~np.isin(a * n_edges + b, banned_keys)
    banned = int((~keep).sum())
    # A U-turn is free to make where there is no other way on from a, unless the
    # road only ends there because the extract's clip cut it (it goes on in reality).
    others = np.bincount(a[~u_turn & keep], minlength=n_edges)
    cut = net.cut_end[net.edge_v[a]] if len(net.cut_end) else np.zeros(len(a), dtype=bool)
    dead_end = (others[a] == 0) & ~cut
    place = net.turning_place[net.edge_v[a]] if len(net.turning_place) else np.zeros(len(a), dtype=bool)
    kind = np.where(np.abs(angle) < STRAIGHT_DEG, STRAIGHT, TURN).astype(np.int8)
    cross = angle >= CROSS_DEG if rules.driving_side == "right" else angle <= -CROSS_DEG
    kind[cross & ~u_turn] = CROSS
    kind[u_turn] = np.where(dead_end[u_turn], U_DEAD_END, np.where(place[u_turn], U_TURNING_PLACE, U_ELSEWHERE))
    cost = np.where(kind == STRAIGHT, 0.0, rules.turn_s)
    cost = cost + np.where(kind == CROSS, rules.cross_traffic_s, 0.0)
    cost = np.where(u_turn, rules.u_turn_s, cost)
    forbidden = kind == U_ELSEWHERE
    if rules.u_turns == "penalised":
        cost = np.where(forbidden, rules.u_turn_penalty_s, cost)
        forbidden = np.zeros_like(forbidden)
    keep &= ~forbidden
    state_edge, t_from, t_to, t_cost, t_kind = _via_way_states(net, scopes, a[keep], b[keep], cost[keep], kind[keep])
    return TurnGraph(
        rg=rg,
        rules=rules,
        state_edge=state_edge,
        t_from=t_from,
        t_to=t_to,
        t_cost=t_cost,
        t_kind=t_kind,
        banned=banned,
        u_turns_forbidden=int((forbidden & ~np.isin(a * n_edges + b, banned_keys)).sum()),
    )


def _via_way_states(
    net: RoadNetwork,
    scopes: list[int],
    a: IntArray,
    b: IntArray,
    cost: FloatArray,
    kind: NDArray[np.int8],
) -> tuple[IntArray, IntArray, IntArray, FloatArray, NDArray[np.int8]]:
    """Apply the via-way restrictions: the via edges entered from the ``from`` edge get states of their own.

    On those copies every transition of the original stays, except at the
    end of the via path: the ``to`` edge is dropped (``no_*``) or is the
    only way on (``only_*``). The ``from`` edge's transition into the via
    path leads to the copy.
    """
    state_edge = list(range(net.n_edges))
    a_l, b_l, c_l, k_l = a.tolist(), b.tolist(), cost.tolist(), kind.tolist()
    for k in range(len(net.via_only)):
        if int(net.via_scope[k]) not in scopes:
            continue
        path = net.via_edges[net.via_offsets[k] : net.via_offsets[k + 1]].tolist()
        pairs = set(zip(a_l, b_l, strict=True))
        if not all((x, y) in pairs for x, y in itertools.pairwise(path)):
            continue  # a step of the path is not allowed anyway
        via, last = path[1:-1], path[-1]
        copy = {e: len(state_edge) + i for i, e in enumerate(via)}
        state_edge += via
        out_of: dict[int, list[int]] = {}
        for t, x in enumerate(a_l):
            if x in copy:
                out_of.setdefault(x, []).append(t)
        redirect = next(t for t, (x, y) in enumerate(zip(a_l, b_l, strict=True)) if x == path[0] and y == via[0])
        b_l[redirect] = copy[via[0]]
        for i, e in enumerate(via):
            for t in out_of.get(e, []):
                target = b_l[t]
                if i + 1 < len(via) and target == via[i + 1]:
                    target = copy[via[i + 1]]
                elif i + 1 == len(via) and (target == last) != bool(net.via_only[k]):
                    continue
                a_l.append(copy[e])
                b_l.append(target)
                c_l.append(c_l[t])
                k_l.append(k_l[t])
    return (
        np.array(state_edge, dtype=np.int64),
        np.array(a_l, dtype=np.int64),
        np.array(b_l, dtype=np.int64),
        np.array(c_l, dtype=float),
        np.array(k_l, dtype=np.int8),
    )


def core_edges(tg: TurnGraph) -> NDArray[np.bool_]:
    """The edges of the largest part of the network in which every edge can reach every other, turns obeyed.

    A network that is strongly connected node by node need not be so once
    turns are restricted: an edge whose every way on is forbidden, or a
    loop that can only be left by a U-turn, traps a lorry. Stops are
    snapped only to these edges (OSRM drops small edge-based components
    the same way).
    """
    n, states = tg.rg.net.n_edges, len(tg.state_edge)
    graph = csr_matrix((np.ones(len(tg.t_from)), (tg.t_from, tg.t_to)), shape=(states, states))
    _, label = connected_components(graph, directed=True, connection="strong")
    driven = np.isfinite(tg.rg.edge_time)
    if not driven.any():
        return driven
    sizes = np.bincount(label[:n][driven], minlength=label.max() + 1)
    return driven & (label[:n] == int(np.argmax(sizes)))


U_TURN_KINDS = (U_DEAD_END, U_TURNING_PLACE, U_ELSEWHERE)


def u_turn_pockets(tg: TurnGraph) -> IntArray:
    """Per state, ``-1`` if a lorry can reach it from the main network and get back without turning
    round; otherwise the pocket it lies in (a dead-end street, a cul-de-sac with its side streets).

    The main network is the largest part in which every state reaches
    every other by transitions that are not U-turns. Every other state is
    in a pocket: the parts left over, joined by any transition (U-turns
    too). Driving in and out of a pocket takes at least one U-turn inside
    it, so the number of pockets a trip visits is a lower bound on its
    U-turns.
    """
    n = len(tg.state_edge)
    plain = ~np.isin(tg.t_kind, U_TURN_KINDS)
    graph = csr_matrix((np.ones(int(plain.sum())), (tg.t_from[plain], tg.t_to[plain])), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    driven = np.isfinite(tg.rg.edge_time[tg.state_edge])
    if not driven.any():
        return np.full(n, -1, dtype=np.int64)
    main = int(np.argmax(np.bincount(label[driven], minlength=label.max() + 1)))
    out_of_main = label != main
    both = out_of_main[tg.t_from] & out_of_main[tg.t_to]
    joined = csr_matrix((np.ones(int(both.sum())), (tg.t_from[both], tg.t_to[both])), shape=(n, n))
    _, pocket = connected_components(joined, directed=True, connection="weak")
    _, pocket = np.unique(pocket[out_of_main], return_inverse=True)
    out = np.full(n, -1, dtype=np.int64)
    out[out_of_main] = pocket
    return out


@dataclass(frozen=True)
class Places:
    """Where stops meet the road: entries ``(edge, t)``, each belonging to one place.

    A directed kerbside visit is a place with one entry; a depot yard or a
    disposal site may have two (both directions of its street), entered
    along either and left along either.
    """

    edge: IntArray
    t: FloatArray
    place: IntArray
    n_places: int

    def __post_init__(self) -> None:
        if not (len(self.edge) == len(self.t) == len(self.place)):
            raise ValueError("places: edge, t and place must have the same length")
        if len(self.place) and (self.place.min() < 0 or self.place.max() >= self.n_places):
            raise ValueError("places: a place index is out of range")
        missing = np.setdiff1d(np.arange(self.n_places), self.place)
        if len(missing):
            raise ValueError(f"places: place {int(missing[0])} has no entry")


def _pack(seconds: FloatArray, metres: FloatArray) -> FloatArray:
    return np.rint(seconds * 10) * 2.0**LEN_BITS + np.maximum(np.rint(metres * 10), 1)


#: Bump when :mod:`binroute.geo.paths.ch` builds or stores hierarchies differently: every hierarchy on disk is rebuilt.
HIERARCHY_CACHE_VERSION = "2"


def hierarchy_file(tg: TurnGraph) -> Path | None:
    """Where ``tg``'s hierarchy is kept on disk: beside the network's file, named by a digest of everything it
    is built from (the states' arcs and weights, hence the network, the vehicle profile and the turn rules, and
    the contraction's settings and :data:`HIERARCHY_CACHE_VERSION`); ``None`` if the network has no file.
    """
    source = Path(tg.rg.net.source) if tg.rg.net.source else None
    if source is None or not source.is_file():
        return None
    tail, head, weight = _transition_arcs(tg)
    settings = (HIERARCHY_CACHE_VERSION, len(tg.state_edge), ch.CORE_DEGREE, ch.WITNESS_SETTLED, ch.SIMULATED_SETTLED)
    digest = hashlib.sha256(repr(settings).encode())
    for a in (tail, head, weight):
        digest.update(np.ascontiguousarray(a).tobytes())
    return source.with_name(f"{source.name}.{digest.hexdigest()[:16]}.binroute-ch.npz")


def _hierarchy_within(tg: TurnGraph, work_limit: int | None) -> Hierarchy | None:
    """``tg``'s hierarchy if kept, on disk, or buildable within ``work_limit`` (``None``: any); kept in
    ``tg.store`` (as is a limit too small) and written to disk when built."""
    store = tg.store
    if store.hierarchy is not None:
        return store.hierarchy
    path = hierarchy_file(tg)
    hierarchy = load_hierarchy(path) if path is not None else None
    if hierarchy is not None and hierarchy.n_nodes == len(tg.state_edge):
        store.hierarchy = hierarchy
        return hierarchy
    if path is not None:
        store.gave_up_at = max(store.gave_up_at, _gave_up_on_disk(path))
    if work_limit is not None and work_limit <= store.gave_up_at:
        return None
    tail, head, weight = _transition_arcs(tg)
    hierarchy = contract_graph(len(tg.state_edge), tail, head, weight, work_limit=work_limit)
    if hierarchy is None:
        store.gave_up_at = max(store.gave_up_at, work_limit if work_limit is not None else 0)
        if path is not None:
            _note_gave_up(path, store.gave_up_at)
        return None
    store.hierarchy = hierarchy
    if path is not None:
        save_hierarchy(hierarchy, path)
    return hierarchy


def _gave_up_file(path: Path) -> Path:
    return path.with_name(path.name + ".gave-up")


def _gave_up_on_disk(path: Path) -> int:
    """The largest work limit a build of the hierarchy kept at ``path`` gave up at, by any process (-1: none)."""
    try:
        return int(_gave_up_file(path).read_text(encoding="ascii").strip())
    except (OSError, ValueError):  # absent, unreadable or garbled: as if never tried
        return -1


def _note_gave_up(path: Path, work_limit: int) -> None:
    """Remember beside the network that building this hierarchy gave up at ``work_limit``: on a street grid
    the next process, a plan a day, skips the wasted attempt (a bigger job, with more to save, tries again)."""
    marker = _gave_up_file(path)
    try:
        marker.write_text(f"{work_limit}\n", encoding="ascii")
        marker.chmod(0o644)
    except OSError as exc:
        log.warning("could not note in %s that the contraction hierarchy was given up: %s", marker, exc)


def _transition_arcs(tg: TurnGraph) -> tuple[IntArray, IntArray, FloatArray]:
    """The arcs between states: ``(from, to, packed weight)``, driving ``from``'s edge and turning."""
    net, time = tg.rg.net, tg.rg.edge_time
    driven = tg.state_edge[tg.t_from]
    return tg.t_from, tg.t_to, _pack(time[driven] + tg.t_cost, net.length_m[driven])


@dataclass(frozen=True)
class _PlaceArcs:
    """The arcs of the state graph that touch places, with packed weights (see :func:`_state_graph`)."""

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
    leave_w = _pack(np.repeat((1 - t) * time[e], count) + tg.t_cost[pick], np.repeat((1 - t) * net.length_m[e], count))
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
        arrive_w=_pack(t * time[e], t * net.length_m[e]),
        direct_from=np.concatenate([empty, *heads]),
        direct_to=np.concatenate([empty, *tails]),
        direct_w=_pack(np.concatenate([np.zeros(0), *secs]), np.concatenate([np.zeros(0), *metres])),
    )


def _state_graph(tg: TurnGraph, places: Places) -> csr_matrix:
    """Nodes ``0..S-1``: at the start of state s (see :attr:`TurnGraph.state_edge`); ``S + p``: arriving
    at place p; ``S + P + p``: leaving it. A drive never passes *through* a place (a depot yard is not a
    place to turn round on the way elsewhere).
    """
    n_e, n_p = len(tg.state_edge), places.n_places
    arcs = _place_arcs(tg, places)
    t_u, t_v, t_w = _transition_arcs(tg)
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
#: :func:`binroute.geo.paths.ch.scan_sources`), in units of what a Dijkstra search of the whole state graph pays per
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
            hierarchy = _hierarchy_within(tg, int(budget))
        method = "ch" if hierarchy is not None and queries_pay(hierarchy, tg) else "dijkstra"
    if method == "ch":
        yield from _hierarchy_rows(tg, places, block)
        return
    graph = _state_graph(tg, places)
    arrive = len(tg.state_edge) + np.arange(places.n_places)
    leave = arrive + places.n_places
    for r in range(0, places.n_places, block):
        rows = slice(r, min(r + block, places.n_places))
        time, dist = unpack(packed_dijkstra(graph, leave[rows], arrive), overwrite=True)
        yield rows, time, dist


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
        yield slice(r, stop), time, dist


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


@dataclass(frozen=True)
class Drive:
    """One drive between two places: its street geometry and the U-turns on it."""

    coords: FloatArray
    #: ``(network node index, reason)`` per U-turn (see :data:`U_TURN_REASONS`).
    u_turns: tuple[tuple[int, str], ...]
    #: The edges driven in order (partial at both ends), for audits.
    edges: tuple[int, ...]


class TurnPathFinder:
    """The street geometry of fastest legal drives between places (trees cached per origin)."""

    def __init__(self, tg: TurnGraph, places: Places) -> None:
        self.tg, self.places = tg, places
        self.graph = _state_graph(tg, places)
        self._trees: dict[int, NDArray[np.int32]] = {}
        n_e = len(tg.state_edge)
        self._n_e = n_e
        self._entries: dict[int, list[tuple[int, float]]] = {}
        for e, t, p in zip(places.edge.tolist(), places.t.tolist(), places.place.tolist(), strict=True):
            self._entries.setdefault(p, []).append((e, t))
        key = tg.t_from * n_e + tg.t_to
        order = np.argsort(key)
        self._t_keys, self._t_kind = key[order], tg.t_kind[order]

    def _kind(self, a: int, b: int) -> int:
        pos = int(np.searchsorted(self._t_keys, a * self._n_e + b))
        return int(self._t_kind[pos])

    def grow(self, place: int, within_s: float) -> None:
        """Keep the tree of drives from ``place`` grown only as far as ``within_s`` seconds.

        A tree stopped early is the whole tree up to that cost, so every drive
        of at most ``within_s`` is the one an unbounded search gives; a drive
        to a place it does not reach (:meth:`reaches`) needs :meth:`forget`
        first, and is then searched over the whole city. Drawing a plan's
        legs this way, each origin's search stops at its longest leg.
        """
        # Packed weights (geo.matrix.unpack): deci-seconds above LEN_BITS, deci-metres below, so every
        # drive of at most within_s weighs less than (deci-seconds + 1) * 2**LEN_BITS.
        limit = (float(np.rint(within_s * 10)) + 1) * 2.0**LEN_BITS
        leave = self._n_e + self.places.n_places + place
        _, pred = dijkstra(self.graph, directed=True, indices=leave, return_predecessors=True, limit=limit)
        self._trees[place] = np.asarray(pred)

    def reaches(self, p: int, q: int) -> bool:
        """Whether the tree kept for ``p`` holds the drive to ``q`` (``False`` when none is kept)."""
        tree = self._trees.get(p)
        return p == q or (tree is not None and bool(tree[self._n_e + q] >= 0))

    def forget(self, place: int) -> None:
        """Drop the tree kept for ``place`` (its memory: one entry per state of the graph)."""
        self._trees.pop(place, None)

    def _pred(self, place: int) -> NDArray[np.int32]:
        if place not in self._trees:
            leave = self._n_e + self.places.n_places + place
            _, pred = dijkstra(self.graph, directed=True, indices=leave, return_predecessors=True)
            self._trees[place] = pred
        return self._trees[place]

    def _piece(self, e: int, t0: float, t1: float) -> FloatArray:
        coords = self.tg.rg.net.geometry[e]
        if t0 <= 0.0 and t1 >= 1.0:
            return coords
        return cut_line(coords, t0, max(t0, t1))

    def drive(self, p: int, q: int) -> Drive:
        """The fastest legal drive from place ``p`` to place ``q``."""
        n_e = self._n_e
        n_p = self.places.n_places
        start, target = n_e + n_p + p, n_e + q
        if p == q:
            e, t = self._entries[p][0]
            point = self._piece(e, t, t)[:1]
            return Drive(np.vstack([point, point]), (), (e,))
        pred = self._pred(p)
        nodes = [target]
        while nodes[-1] != start:
            prev = int(pred[nodes[-1]])
            if prev < 0:
                raise ValueError(f"no legal drive from place {p} to place {q}")
            nodes.append(prev)
        nodes.reverse()
        net = self.tg.rg.net
        pieces: list[FloatArray] = []
        edges: list[int] = []
        u_turns: list[tuple[int, str]] = []
        for x, y in itertools.pairwise(nodes):
            if x >= n_e and y >= n_e:  # along one edge from place to place
                e, t0, t1 = self._shared_edge(x - n_e - n_p, y - n_e)
                pieces.append(self._piece(e, t0, t1))
                edges.append(e)
            elif x >= n_e:  # leaving a place onto edge y
                e, t0 = self._exit(x - n_e - n_p, y)
                pieces.append(self._piece(e, t0, 1.0))
                edges.append(e)
                self._note(e, y, u_turns)
            elif y >= n_e:  # arriving at a place along edge x
                t1 = next(t for e, t in self._entries[y - n_e] if e == x)
                pieces.append(self._piece(x, 0.0, t1))
                edges.append(x)
            else:
                pieces.append(net.geometry[int(self.tg.state_edge[x])])
                edges.append(int(self.tg.state_edge[x]))
                self._note(x, y, u_turns)
        return Drive(line_through(pieces), tuple(u_turns), tuple(edges))

    def _note(self, a: int, b: int, u_turns: list[tuple[int, str]]) -> None:
        kind = self._kind(a, b)
        if kind in U_TURN_REASONS:
            u_turns.append((int(self.tg.rg.net.edge_v[self.tg.state_edge[a]]), U_TURN_REASONS[kind]))

    def _shared_edge(self, p: int, q: int) -> tuple[int, float, float]:
        for e, t0 in self._entries[p]:
            for f, t1 in self._entries[q]:
                if e == f and t0 <= t1:
                    return e, t0, t1
        raise ValueError(f"places {p} and {q} share no edge")

    def _exit(self, p: int, b: int) -> tuple[int, float]:
        """The entry of place ``p`` from which edge ``b`` is reached at least cost."""
        time = self.tg.rg.edge_time
        best: tuple[float, int, float] | None = None
        for e, t in self._entries[p]:
            pos = int(np.searchsorted(self._t_keys, e * self._n_e + b))
            if pos < len(self._t_keys) and self._t_keys[pos] == e * self._n_e + b:
                cost = (1 - t) * time[e]
                if best is None or cost < best[0]:
                    best = (cost, e, t)
        if best is None:
            raise ValueError(f"place {p} has no way onto edge {b}")
        return best[1], best[2]
