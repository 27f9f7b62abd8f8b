"""Walk-outs: bins in a dead-end pocket served while the lorry waits on the through street.

Driving into a dead-end street (a *pocket*, :func:`~binroute.geo.turns.u_turn_pockets`)
to serve a bin means turning round inside it, which without a mapped turning
place (``highway=turning_circle``, ``turning_loop``) is a reversing
manoeuvre: among the most dangerous things a refuse lorry does, which the
HSE's guidance for collection rounds asks to eliminate wherever possible.
Where the bin stands near the pocket's mouth the crew can instead walk to
it, wheel it out to the lorry waiting on the through street, and take it
back.

A bin gets a walk-out when

* it stands on a street of a pocket, at most ``within_m`` walking from the
  node where the pocket meets the through street (along the pocket's
  streets, plus the bin's own distance from its street);
* the walk stays off main roads (:data:`MAIN_HIGHWAYS`): it follows no main
  road inside the pocket, and from the kerb side of the waiting lorry to the
  pocket's street it crosses none of the roads meeting at the mouth
  (crossing a residential street is allowed, as serving a bin on the far
  side of one is).

Each walk-out is a spot on a through-street edge arriving at the mouth,
:data:`AT_MOUTH_M` before the junction; the lorry stops there and drives on
without turning round. The time the crew walks is the pipeline's to price
(:func:`add_walking`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .network import FloatArray, IntArray, RoadNetwork
from .snap import Snapped
from .turns import U_TURN_KINDS, TurnGraph, u_turn_pockets

#: Roads a crew never walks a bin across or along (OSM ``highway`` values).
MAIN_HIGHWAYS = frozenset(
    f"{road}{link}" for road in ("motorway", "trunk", "primary", "secondary") for link in ("", "_link")
)
#: Where the lorry waits: this far (m) before the junction at the pocket's mouth (at most half the edge).
AT_MOUTH_M = 1.0
#: Spots offered per bin at most (the mouth's arriving through streets, those crossing nothing first).
MAX_SPOTS = 2


@dataclass(frozen=True)
class WalkOuts:
    """Walk-out spots, one row each: the point served, where the lorry waits and how far the crew walks.

    ``edge`` and ``t`` place the lorry on the through street (it arrives
    along ``edge`` and drives on along it); ``walk_m`` is one way, from the
    pocket's mouth node ``mouth`` to the bin; ``crossings`` counts the
    (non-main) roads the crew crosses from the lorry's kerb side.
    """

    point: IntArray
    edge: IntArray
    t: FloatArray
    walk_m: FloatArray
    mouth: IntArray
    crossings: IntArray

    def __len__(self) -> int:
        return len(self.point)

    def of(self, point: int) -> list[int]:
        """The walk-out rows of ``point``."""
        return np.flatnonzero(self.point == point).tolist()

    @classmethod
    def none(cls) -> WalkOuts:
        """No walk-outs."""
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(empty_i, empty_i, empty_f, empty_f, empty_i, empty_i)


def _outward(net: RoadNetwork, e: int, node: int) -> tuple[float, tuple[float, float]]:
    """Edge ``e`` leaving ``node``: its bearing (radians, counter-clockwise from east, local metres) and
    its first vertex after ``node`` (which names the street it leaves along)."""
    coords = net.geometry[e]
    a, b = (coords[0], coords[1]) if int(net.edge_u[e]) == node else (coords[-1], coords[-2])
    scale = np.cos(np.radians(float(a[1])))
    return float(np.arctan2(b[1] - a[1], (b[0] - a[0]) * scale)), (round(float(b[0]), 7), round(float(b[1]), 7))


Arm = tuple[float, float]  # a street leaving a junction, named by its first vertex after the junction


def _arms(net: RoadNetwork, node: int, usable: NDArray[np.bool_]) -> dict[Arm, tuple[float, bool]]:
    """The streets meeting at ``node`` (both directions of one street are one): (outward bearing, main road)."""
    out: dict[Arm, tuple[float, bool]] = {}
    for e in np.flatnonzero(((net.edge_u == node) | (net.edge_v == node)) & usable).tolist():
        if int(net.edge_u[e]) == int(net.edge_v[e]):
            continue
        bearing, arm = _outward(net, e, node)
        main = net.highway[e] in MAIN_HIGHWAYS
        out[arm] = (bearing, out.get(arm, (bearing, False))[1] or main)
    return out


def crossings(arms: dict[Arm, tuple[float, bool]], lorry: Arm, pocket: Arm, *, driving_side: str) -> tuple[int, bool]:
    """The roads a crew crosses from the kerb side of a lorry arriving along arm ``lorry`` to arm ``pocket``.

    Around the junction the crew may walk either way; going round away from
    the kerb first crosses the lorry's own street. Returns the crossings of
    the better way (fewest main roads, then fewest roads) and whether it
    crosses a main road.
    """
    order = sorted(arms, key=lambda k: arms[k][0])  # counter-clockwise
    i, j = order.index(lorry), order.index(pocket)
    n = len(order)
    ccw = [order[(i + s) % n] for s in range(1, (j - i) % n)]
    cw = [order[(i - s) % n] for s in range(1, (i - j) % n)]
    # Traffic on the right: the kerb is on the lorry's right, which is counter-clockwise from the arm it came along.
    near, far = (ccw, [lorry, *cw]) if driving_side == "right" else (cw, [lorry, *ccw])
    options = [(sum(arms[k][1] for k in way), len(way)) for way in (near, far)]
    mains, count = min(options)
    return count, mains > 0


def walk_outs(
    tg: TurnGraph,
    snapped: Snapped,
    *,
    within_m: float,
    directed: NDArray[np.bool_] | None = None,
    pocket: IntArray | None = None,
) -> WalkOuts:
    """The walk-out spots of the points of ``snapped`` that lie in pockets (see the module notes).

    Parameters
    ----------
    tg
        One vehicle profile's turn graph (its pockets and the streets it drives).
    snapped
        The points, snapped to streets that profile drives.
    within_m
        The longest walk (m, one way) from the pocket's mouth to a bin; 0 for none.
    directed
        Per point, whether it may have walk-outs (bins, not depots or sites); all by default.
    pocket
        Per state, its pocket (:func:`~binroute.geo.turns.u_turn_pockets`), if already computed.

    Returns
    -------
    WalkOuts
        At most :data:`MAX_SPOTS` spots per point, those crossing fewest roads first.
    """
    if within_m < 0:
        raise ValueError(f"within_m must not be negative, not {within_m}")
    if within_m == 0 or len(snapped) == 0:
        return WalkOuts.none()
    net = tg.rg.net
    n_e = net.n_edges
    pocket = u_turn_pockets(tg) if pocket is None else pocket
    in_pocket = pocket[:n_e] >= 0
    driven = np.isfinite(tg.rg.edge_time)
    main = driven & ~in_pocket
    # Mouths: where a through street (not turning round) leads into a pocket.
    plain = ~np.isin(tg.t_kind, U_TURN_KINDS) & (tg.t_from < n_e) & (tg.t_to < n_e)
    into = plain & main[np.minimum(tg.t_from, n_e - 1)] & in_pocket[np.minimum(tg.t_to, n_e - 1)]
    mouths = np.unique(net.edge_v[tg.t_from[into]])
    if len(mouths) == 0:
        return WalkOuts.none()
    # Walking: along the pockets' streets, either way, never along a main road.
    highway_main = np.array([h in MAIN_HIGHWAYS for h in net.highway], dtype=bool)
    walkable = in_pocket & driven & ~highway_main
    walk = np.flatnonzero(walkable)
    rows_, cols_ = (
        np.concatenate([net.edge_u[walk], net.edge_v[walk]]),
        np.concatenate([net.edge_v[walk], net.edge_u[walk]]),
    )
    metres_ = np.concatenate([net.length_m[walk], net.length_m[walk]])
    order = np.lexsort((metres_, cols_, rows_))  # the shortest of parallel streets first; keep it alone
    first_of = np.ones(len(order), dtype=bool)
    first_of[1:] = (np.diff(rows_[order]) != 0) | (np.diff(cols_[order]) != 0)
    keep = order[first_of]
    graph = csr_matrix((metres_[keep], (rows_[keep], cols_[keep])), shape=(net.n_nodes, net.n_nodes))
    dist, pred, source = dijkstra(
        graph, directed=True, indices=mouths, limit=within_m, min_only=True, return_predecessors=True
    )
    usable = driven
    rows: list[tuple[int, int, float, float, int, int]] = []
    directed = np.ones(len(snapped), dtype=bool) if directed is None else directed
    for i in range(len(snapped)):
        e = int(snapped.edge[i])
        if not directed[i] or e < 0 or not in_pocket[e] or highway_main[e]:
            continue
        length, t = float(net.length_m[e]), float(snapped.t[i])
        ends = [(float(dist[net.edge_u[e]]) + t * length, int(net.edge_u[e]), int(net.edge_v[e]))]
        ends.append((float(dist[net.edge_v[e]]) + (1 - t) * length, int(net.edge_v[e]), int(net.edge_u[e])))
        along, node, beyond = min(ends)
        metres = along + float(snapped.distance_m[i])
        if not np.isfinite(metres) or metres > within_m:
            continue
        mouth = int(source[node])
        first = beyond  # the first node into the pocket on the way from the mouth
        while node != mouth:
            first, node = node, int(pred[node])
        arms = _arms(net, mouth, usable)
        way_in = np.flatnonzero(
            walkable
            & (((net.edge_u == mouth) & (net.edge_v == first)) | ((net.edge_v == mouth) & (net.edge_u == first)))
        )
        if len(way_in) == 0:
            continue
        pocket_arm = _outward(net, int(way_in[np.argmin(net.length_m[way_in])]), mouth)[1]
        spots = []
        for a in np.flatnonzero((net.edge_v == mouth) & main).tolist():
            lorry = _outward(net, a, mouth)[1]
            if lorry == pocket_arm or lorry not in arms or pocket_arm not in arms:
                continue
            count, across_main = crossings(arms, lorry, pocket_arm, driving_side=tg.rules.driving_side)
            if not across_main:
                spots.append((count, a))
        for count, a in sorted(spots)[:MAX_SPOTS]:
            inside = min(AT_MOUTH_M / max(float(net.length_m[a]), 1e-9), 0.5)
            rows.append((i, a, 1.0 - inside, metres, mouth, count))
    if not rows:
        return WalkOuts.none()
    cols = list(zip(*rows, strict=True))
    return WalkOuts(
        point=np.array(cols[0], dtype=np.int64),
        edge=np.array(cols[1], dtype=np.int64),
        t=np.array(cols[2], dtype=float),
        walk_m=np.array(cols[3], dtype=float),
        mouth=np.array(cols[4], dtype=np.int64),
        crossings=np.array(cols[5], dtype=np.int64),
    )


def add_walking(time: NDArray[np.int32], slots: IntArray, walk_s: FloatArray, *, cap: int) -> None:
    """Add each walk-out's walking time to a travel-time matrix, in place.

    Half of ``walk_s[k]`` goes on every arc into slot ``slots[k]`` (the crew
    fetching the bin while the lorry waits), half on every arc out of it
    (taking it back): a route through the slot takes the whole walk, and a
    bin's time window is kept at the bin. Entries at ``cap`` (no drive) and
    the diagonal stay as they are.
    """
    for slot, seconds in zip(slots.tolist(), walk_s.tolist(), strict=True):
        half_in, half_out = int(np.ceil(seconds / 2)), int(np.floor(seconds / 2))
        for view, add in ((time[:, slot], half_in), (time[slot, :], half_out)):
            reach = view < cap
            view[reach] = np.minimum(view[reach] + add, cap - 1)
        time[slot, slot] = 0
