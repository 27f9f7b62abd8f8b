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

Stops are *places on edges* (:class:`Places`): a directed kerbside visit
sits on one edge at a fraction of its length; it is reached by driving that
edge and left by driving on along it, so a route never reverses in the
middle of a street. A place with several entries (a depot yard, a disposal
site) may be entered along any and left along any.

This module is the model; the matrices between places are in
:mod:`binroute.geo.turn_matrix`, the drives' geometry in
:mod:`binroute.geo.turn_paths`, and the contraction hierarchy the matrices
may use, with its cache on disk, in :mod:`binroute.geo.paths`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from . import paths
from .matrix import RoutingGraph, pack
from .network import FloatArray, IntArray, RoadNetwork
from .paths import Hierarchy, HierarchyStore
from .restrictions import binding_scopes

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
        hierarchy = hierarchy_within(self, None)
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
    # A mapped turning place is one wherever it is, at the end of a dead end too: turning there is no reversing.
    kind[u_turn] = np.where(place[u_turn], U_TURNING_PLACE, np.where(dead_end[u_turn], U_DEAD_END, U_ELSEWHERE))
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


#: What a reversing manoeuvre (a U-turn at a dead end without a turning place) weighs in the searches
#: on top of its :attr:`TurnRules.u_turn_s`: more than any drive between two stops of a day takes
#: (5.6 hours), so the fastest drive searched is the fastest of those with the fewest reversals, and
#: each whole multiple of it in a searched time is one reversal (:func:`driven_seconds`).
REVERSING_WEIGHT_S = 20_000.0


def search_cost(tg: TurnGraph) -> FloatArray:
    """Per transition, what the searches weigh: its turn cost, plus :data:`REVERSING_WEIGHT_S` for a reversal.

    A lorry then turns round at a dead end only on a drive that cannot do
    without: into a pocket to serve a bin on the way out, or out of one
    after serving a bin on the way in. Priced at its seconds alone (one
    minute), a reversal was also a short cut between two stops on through
    streets (7 of 24 reversals in a plan of the sample), which the crew
    would not thank the planner for.
    """
    return tg.t_cost + np.where(tg.t_kind == U_DEAD_END, REVERSING_WEIGHT_S, 0.0)


def driven_seconds(searched: FloatArray) -> FloatArray:
    """Searched seconds (weighted by :func:`search_cost`) as driven seconds, in place: less each reversal's weight.

    Valid for drives shorter than :data:`REVERSING_WEIGHT_S`; ``inf`` (no drive) stays ``inf``.
    """
    finite = np.isfinite(searched)
    reversals = np.floor(np.where(finite, searched, 0.0) / REVERSING_WEIGHT_S)
    np.subtract(searched, reversals * REVERSING_WEIGHT_S, out=searched, where=finite)
    return searched


def transition_arcs(tg: TurnGraph) -> tuple[IntArray, IntArray, FloatArray]:
    """The arcs between states: ``(from, to, packed weight)``, driving ``from``'s edge and turning (weighed by
    :func:`search_cost`)."""
    net, time = tg.rg.net, tg.rg.edge_time
    driven = tg.state_edge[tg.t_from]
    return tg.t_from, tg.t_to, pack(time[driven] + search_cost(tg), net.length_m[driven])


def hierarchy_file(tg: TurnGraph) -> Path | None:
    """Where ``tg``'s hierarchy is kept on disk (:func:`binroute.geo.paths.cache_file`); ``None`` if
    its network has no file."""
    return paths.cache_file(tg.rg.net.source, len(tg.state_edge), *transition_arcs(tg))


def hierarchy_within(tg: TurnGraph, work_limit: int | None) -> Hierarchy | None:
    """``tg``'s hierarchy if kept, on disk, or buildable within ``work_limit`` (``None``: any); see
    :func:`binroute.geo.paths.cached_hierarchy`."""
    return paths.cached_hierarchy(
        tg.store,
        source=tg.rg.net.source,
        n_nodes=len(tg.state_edge),
        arcs=lambda: transition_arcs(tg),
        work_limit=work_limit,
    )
