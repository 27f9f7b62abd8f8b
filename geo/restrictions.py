"""OSM turn restrictions and places to turn, resolved onto the network's edges.

A ``type=restriction`` relation names a ``from`` way, a ``via`` node (or
ways) and a ``to`` way. On the flattened :class:`~binroute.geo.network.RoadNetwork`
it becomes pairs of edges (into the via node, out of it) whose turn is
forbidden; an ``only_*`` restriction forbids every other turn out of the
``from`` edge. Real extracts are messy: a relation with missing or extra
members, or one pointing outside a clipped extract, is skipped and counted
in the network's statistics, never a crash.

Whom a restriction binds: ``restriction=*`` binds every vehicle (but not
heavy goods vehicles when ``except`` lists ``hgv`` or ``goods``);
``restriction:hgv=*`` or ``type=restriction:hgv`` binds only heavy goods
vehicles. Other vehicle-specific restrictions (``restriction:bus``, ...) and
conditional ones are ignored: they do not bind a refuse lorry at all times.

A restriction via ways (rare: 11 of 1,331 in one city; typically a U-turn
across the central reservation of a dual carriageway) cannot be stated as a
pair of edges: it becomes a path of edges ``from, via..., to``
(``via_paths``), which :func:`binroute.geo.turns.turn_graph` forbids (``no_*``) or
makes the only way on (``only_*``) by giving the lorry that entered the via
edges from the ``from`` edge states of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .network import RoadNetwork

#: ``highway=*`` values of nodes where a lorry may turn round.
TURNING_PLACES = frozenset({"turning_circle", "turning_loop"})
#: Whom a forbidden turn binds.
SCOPE_ALL, SCOPE_HGV, SCOPE_NOT_HGV = 0, 1, 2
_GOODS = frozenset({"hgv", "goods"})


def binding_scopes(hgv: bool) -> list[int]:
    """The scopes of forbidden turns that bind a vehicle (a heavy goods vehicle or not)."""
    return [SCOPE_ALL, SCOPE_HGV] if hgv else [SCOPE_ALL, SCOPE_NOT_HGV]


@dataclass(frozen=True)
class RawRestriction:
    """A turn-restriction relation as read from OSM (ids, not network indices)."""

    relation: int
    kind: str
    from_ways: tuple[int, ...]
    via_nodes: tuple[int, ...]
    via_ways: tuple[int, ...]
    to_ways: tuple[int, ...]
    scope: int = SCOPE_ALL
    #: Why the relation cannot be used as it is ("" when it can).
    problem: str = ""


def raw_restriction(
    relation: int, tags: Mapping[str, str], members: Sequence[tuple[str, int, str]]
) -> RawRestriction | None:
    """Read one relation; ``None`` when it is not a restriction that binds a lorry.

    ``members`` are ``(type, ref, role)`` with type ``"n"``, ``"w"`` or ``"r"``.
    """
    kind_of = tags.get("type")
    if kind_of == "restriction":
        kind, scope = tags.get("restriction"), SCOPE_ALL
        if kind is None and "restriction:hgv" in tags:
            kind, scope = tags["restriction:hgv"], SCOPE_HGV
        elif kind is None:
            return None  # e.g. only restriction:bus or restriction:conditional
    elif kind_of == "restriction:hgv":
        kind, scope = tags.get("restriction:hgv") or tags.get("restriction"), SCOPE_HGV
    else:
        return None
    excepted = {x.strip() for x in tags.get("except", "").split(";")}
    if scope == SCOPE_ALL and excepted & _GOODS:
        scope = SCOPE_NOT_HGV
    elif scope == SCOPE_HGV and excepted & _GOODS:
        return None
    from_ways = tuple(ref for t, ref, role in members if t == "w" and role == "from")
    to_ways = tuple(ref for t, ref, role in members if t == "w" and role == "to")
    via_nodes = tuple(ref for t, ref, role in members if t == "n" and role == "via")
    via_ways = tuple(ref for t, ref, role in members if t == "w" and role == "via")
    problem = ""
    if not kind or not (kind.startswith("no_") or kind.startswith("only_")):
        problem = f"unknown restriction {kind!r}"
    elif not from_ways or not to_ways:
        problem = "no from or no to way"
    elif len(via_nodes) + (1 if via_ways else 0) != 1:
        problem = "needs exactly one via node, or via ways"
    elif kind.startswith("only_") and (len(from_ways) > 1 or len(to_ways) > 1):
        problem = "only_* with several from or to ways"
    return RawRestriction(relation, kind or "", from_ways, via_nodes, via_ways, to_ways, scope, problem)


def _edges_by_way(net: RoadNetwork) -> dict[int, list[int]]:
    counts = np.diff(net.way_offsets)
    edge_of = np.repeat(np.arange(net.n_edges), counts)
    out: dict[int, list[int]] = {}
    for way, e in zip(net.way_ids.tolist(), edge_of.tolist(), strict=True):
        out.setdefault(way, []).append(e)
    return out


def with_turn_rules(
    net: RoadNetwork,
    restrictions: Iterable[RawRestriction],
    turning_places: Iterable[int],
    *,
    cut_ends: Iterable[int] = (),
) -> RoadNetwork:
    """``net`` with its forbidden turns, places to turn and cut road ends resolved onto edges.

    ``cut_ends`` are OSM node ids where the extract's clip cut a road (its
    next node is missing from the file): not a dead end in reality, so not a
    place to turn unless mapped as one.

    Counts in ``stats``: ``restrictions`` read, ``restrictions_used``,
    ``restrictions_malformed``, ``restrictions_outside`` (a member not in
    the network: clipped extract or a road a lorry may not use),
    ``restrictions_via_way``, and ``turn_bans`` (edge pairs forbidden).
    """
    index = {int(osmid): i for i, osmid in enumerate(net.node_osmid.tolist())}
    by_way = _edges_by_way(net)
    out_of: dict[int, list[int]] = {}
    for e, u in enumerate(net.edge_u.tolist()):
        out_of.setdefault(u, []).append(e)
    bans: list[tuple[int, int, int]] = []
    paths: list[tuple[tuple[int, ...], bool, int]] = []
    counts = dict.fromkeys(("restrictions", "used", "malformed", "outside", "via_way"), 0)
    for r in restrictions:
        counts["restrictions"] += 1
        if r.problem:
            counts["malformed"] += 1
            continue
        if r.via_ways:
            found = _via_way_paths(net, r, by_way)
            if not found:
                counts["outside"] += 1
                continue
            counts["used"] += 1
            counts["via_way"] += 1
            paths += [(path, r.kind.startswith("only_"), r.scope) for path in found]
            continue
        via = index.get(r.via_nodes[0])
        if via is None:
            counts["outside"] += 1
            continue
        froms = sorted({e for w in r.from_ways for e in by_way.get(w, []) if net.edge_v[e] == via})
        tos = sorted({e for w in r.to_ways for e in by_way.get(w, []) if net.edge_u[e] == via})
        if not froms or not (tos or r.kind.startswith("only_")):
            counts["outside"] += 1
            continue
        # An only_* whose to way the lorry cannot use (not in the network) still forbids every other turn.
        counts["used"] += 1
        shared = bool(set(r.from_ways) & set(r.to_ways))
        for a in froms:
            if r.kind.startswith("only_"):
                allowed = {b for b in tos if r.kind == "only_u_turn" or not _reverses(net, a, b) or not shared}
                bans += [(a, b, r.scope) for b in out_of.get(via, []) if b not in allowed]
            else:
                for b in tos:
                    if shared and (r.kind == "no_u_turn") != _reverses(net, a, b):
                        continue  # along one way: no_u_turn bans only the reversal, others never it
                    bans.append((a, b, r.scope))
    unique = sorted(set(bans))
    arr = np.array(unique, dtype=np.int64).reshape(-1, 3)
    place = np.isin(net.node_osmid, np.fromiter(turning_places, dtype=np.int64))
    cut = np.isin(net.node_osmid, np.fromiter(cut_ends, dtype=np.int64))
    stats = dict(net.stats)
    stats.update(
        restrictions=counts["restrictions"],
        restrictions_used=counts["used"],
        restrictions_malformed=counts["malformed"],
        restrictions_outside=counts["outside"],
        restrictions_via_way=counts["via_way"],
        turn_bans=len(unique),
        turning_places=int(place.sum()),
        cut_ends=int(cut.sum()),
    )
    flat = [e for path, _, _ in paths for e in path]
    return dataclasses.replace(
        net,
        ban_from=arr[:, 0].copy(),
        ban_to=arr[:, 1].copy(),
        ban_scope=arr[:, 2].astype(np.int8),
        turning_place=place,
        cut_end=cut,
        stats=stats,
        via_edges=np.array(flat, dtype=np.int64),
        via_offsets=np.concatenate([[0], np.cumsum([len(p) for p, _, _ in paths])]).astype(np.int64),
        via_only=np.array([only for _, only, _ in paths], dtype=bool),
        via_scope=np.array([scope for _, _, scope in paths], dtype=np.int8),
    )


def _via_way_paths(net: RoadNetwork, r: RawRestriction, by_way: dict[int, list[int]]) -> list[tuple[int, ...]]:
    """Edge paths ``(from, via..., to)`` of a restriction via ways: the shortest run along the via ways."""
    via_edges = {e for w in r.via_ways for e in by_way.get(w, [])}
    to_edges = {e for w in r.to_ways for e in by_way.get(w, [])} - via_edges
    starts_at: dict[int, list[int]] = {}
    for e in via_edges:
        starts_at.setdefault(int(net.edge_u[e]), []).append(e)
    to_at: dict[int, list[int]] = {}
    for e in to_edges:
        to_at.setdefault(int(net.edge_u[e]), []).append(e)
    out = []
    for a in sorted({e for w in r.from_ways for e in by_way.get(w, [])} - via_edges):
        # Breadth first along the via ways from where the from edge ends.
        frontier: list[tuple[int, tuple[int, ...]]] = [(int(net.edge_v[a]), ())]
        seen = {int(net.edge_v[a])}
        while frontier:
            nxt = []
            for node, path in frontier:
                if path:
                    out += [(a, *path, b) for b in to_at.get(node, []) if net.edge_twin[path[-1]] != b]
                for e in starts_at.get(node, []):
                    v = int(net.edge_v[e])
                    if v not in seen:
                        seen.add(v)
                        nxt.append((v, (*path, e)))
            if any(p[0] == a for p in out):
                break
            frontier = nxt
    return out


def _reverses(net: RoadNetwork, a: int, b: int) -> bool:
    """Whether ``b`` drives straight back to where ``a`` came from."""
    return bool(net.edge_v[b] == net.edge_u[a])
