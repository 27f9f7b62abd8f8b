"""The street geometry of drives in the turn-aware model: the path between two places, and its U-turns.

:class:`TurnPathFinder` searches the same state graph as the matrices
(:func:`binroute.geo.turn_matrix.state_graph`), keeping each origin's
shortest-path tree, and walks it back into a :class:`Drive`: the line along
the streets, the U-turns on the way and the edges driven.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from .geojson import cut_line, line_through
from .matrix import LEN_BITS
from .network import FloatArray
from .turn_matrix import state_graph
from .turns import U_TURN_REASONS, Places, TurnGraph


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
        self.graph = state_graph(tg, places)
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
