"""Independent checks of driven routes: forbidden turns, U-turns and the kerb side.

These checks share no code with the routing model (:mod:`binroute.geo.osm`,
:mod:`binroute.geo.restrictions`, :mod:`binroute.geo.turns`): they read the OSM file with their
own handler and look only at the geometry of the drive (lon/lat vertices,
which for a route along the streets pass through the OSM nodes). A mistake
in the model therefore cannot hide itself. Tests and benchmarks use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

#: Two positions closer than this (degrees) are the same point.
SAME_DEG = 1e-7
#: A vertex where the drive turns back by more than this many degrees is a U-turn.
U_TURN_DEG = 170.0
#: A drive leaves along a way's segment when its bearing is within this many degrees of it.
ALONG_DEG = 3.0


@dataclass
class TurnFacts:
    """What the checks read from an OSM file."""

    coords: dict[int, tuple[float, float]] = field(default_factory=dict)
    way_nodes: dict[int, list[int]] = field(default_factory=dict)
    #: ``(relation id, kind, from way, via node, to way, binds heavy goods vehicles)``
    restrictions: list[tuple[int, str, int, int, int, bool]] = field(default_factory=list)
    turning: set[int] = field(default_factory=set)
    #: Nodes where the extract's clip cut a road (the next node of the way is missing from the file).
    cut_ends: set[int] = field(default_factory=set)
    #: Per node, the neighbours a lorry may drive to from it (one-way streets respected): ``(way, node)``.
    exits: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    #: Per way, its ``highway`` tag (for the walk-out checks, :mod:`binroute.geo.walk_audit`).
    highway: dict[int, str] = field(default_factory=dict)


#: Roads for motor traffic (footways, cycleways, paths, steps and pedestrian streets are not).
ROADS = frozenset(
    f"{road}{link}" for road in ("motorway", "trunk", "primary", "secondary", "tertiary") for link in ("", "_link")
) | {"unclassified", "residential", "living_street", "service", "road"}
_CLOSED = {"no", "private"}


#: The lorry the checks assume unless told: a 26-t, 3.6-m high, 2.55-m wide, 10-m long refuse collection vehicle.
LORRY_LIMITS = {"maxweight": 26.0, "maxheight": 3.6, "maxwidth": 2.55, "maxlength": 10.0}


def _number(text: str) -> float | None:
    head = text.strip().split(" ")[0].replace(",", ".")
    try:
        return float(head)
    except ValueError:
        return None


def _lorry_may_use(tags: dict[str, str], lorry_limits: dict[str, float]) -> bool:
    heavy = lorry_limits.get("maxweight", 26.0) > 3.5
    if tags.get("highway") not in ROADS or tags.get("area") == "yes" or (heavy and tags.get("hgv") == "no"):
        return False
    if tags.get("service") == "emergency_access":
        return False
    for key, lorry in lorry_limits.items():
        limit = _number(tags.get(key, ""))
        if limit is not None and limit < lorry:
            return False
    return not any(tags.get(k, "").split(";")[0] in _CLOSED for k in ("access", "vehicle", "motor_vehicle"))


class _Reader(osmium.SimpleHandler):
    def __init__(self, facts: TurnFacts, lorry_limits: dict[str, float]) -> None:
        super().__init__()
        self.facts = facts
        self.lorry_limits = lorry_limits

    def node(self, n: osmium.osm.Node) -> None:
        if n.tags.get("highway") in ("turning_circle", "turning_loop"):
            self.facts.turning.add(n.id)

    def way(self, w: osmium.osm.Way) -> None:
        tags = {t.k: t.v for t in w.tags}
        if not _lorry_may_use(tags, self.lorry_limits):
            return
        refs = []
        valid = [n.location.valid() for n in w.nodes]
        for k, n in enumerate(w.nodes):
            if valid[k]:
                self.facts.coords[n.ref] = (n.location.lon, n.location.lat)
                refs.append(n.ref)
                if (k > 0 and not valid[k - 1]) or (k + 1 < len(valid) and not valid[k + 1]):
                    self.facts.cut_ends.add(n.ref)
        self.facts.way_nodes[w.id] = refs
        self.facts.highway[w.id] = tags.get("highway", "")
        oneway = tags.get("oneway", "no")
        if tags.get("junction") == "roundabout" and oneway == "no":
            oneway = "yes"
        forward = oneway != "-1"
        backward = oneway not in ("yes", "true", "1")
        for k, ref in enumerate(refs):
            out = self.facts.exits.setdefault(ref, [])
            if forward and k + 1 < len(refs):
                out.append((w.id, refs[k + 1]))
            if backward and k > 0:
                out.append((w.id, refs[k - 1]))

    def relation(self, r: osmium.osm.Relation) -> None:
        tags = {t.k: t.v for t in r.tags}
        if tags.get("type") not in ("restriction", "restriction:hgv"):
            return
        kind = tags.get("restriction") if tags.get("type") == "restriction" else None
        hgv_only = kind is None
        kind = kind or tags.get("restriction:hgv") or tags.get("restriction")
        excepted = {x.strip() for x in tags.get("except", "").split(";")}
        if not kind or excepted & {"hgv", "goods"}:
            return
        members = [(m.type, m.ref, m.role) for m in r.members]
        froms = [ref for t, ref, role in members if t == "w" and role == "from"]
        vias = [ref for t, ref, role in members if role == "via"]
        via_nodes = [ref for t, ref, role in members if t == "n" and role == "via"]
        tos = [ref for t, ref, role in members if t == "w" and role == "to"]
        if len(vias) != 1 or len(via_nodes) != 1:
            return  # via ways are beyond this check
        for f in froms:
            for t in tos:
                self.facts.restrictions.append((r.id, kind, f, via_nodes[0], t, hgv_only))


def read_turn_facts(path: str | Path, *, lorry: dict[str, float] | None = None) -> TurnFacts:
    """Read ways, places to turn and via-node turn restrictions from an OSM file.

    ``lorry`` gives the vehicle's ``maxweight`` (t), ``maxheight``, ``maxwidth``
    and ``maxlength`` (m) against which roads are open to it (default
    :data:`LORRY_LIMITS`).
    """
    facts = TurnFacts()
    _Reader(facts, dict(lorry or LORRY_LIMITS)).apply_file(str(path), locations=True, idx="flex_mem")
    _keep_main_part(facts)
    return facts


def _keep_main_part(facts: TurnFacts) -> None:
    """Drop exits into roads a lorry cannot come back from (outside the largest strongly connected part)."""
    ids = sorted(facts.exits)
    index = {n: i for i, n in enumerate(ids)}
    rows = [index[n] for n, out in facts.exits.items() for _, nb in out if nb in index]
    cols = [index[nb] for n, out in facts.exits.items() for _, nb in out if nb in index]
    if not ids:
        return
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=True, connection="strong")
    main = int(np.argmax(np.bincount(label)))
    for n, out in facts.exits.items():
        facts.exits[n] = [(w, nb) for w, nb in out if nb in index and label[index[nb]] == main]


def _bearing(a: Sequence[float], b: Sequence[float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    return math.degrees(math.atan2(b[1] - a[1], (b[0] - a[0]) * math.cos(lat)))


def _diff(x: float, y: float) -> float:
    return abs((x - y + 180.0) % 360.0 - 180.0)


def _distinct(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(coords, axis=0)) > SAME_DEG, axis=1)
    return coords[keep]


def _segments_at(facts: TurnFacts, way: int, node: int) -> list[int]:
    """The neighbours of ``node`` along ``way``."""
    refs = facts.way_nodes.get(way, [])
    out = []
    for k, ref in enumerate(refs):
        if ref == node:
            out += [refs[j] for j in (k - 1, k + 1) if 0 <= j < len(refs)]
    return out


def _on(facts: TurnFacts, node: int, point: Sequence[float], neighbours: list[int]) -> int | None:
    """Which neighbour's segment from ``node`` the ``point`` lies along (``None`` if none)."""
    here = facts.coords[node]
    heading = _bearing(here, point)
    for nb in neighbours:
        if nb in facts.coords and _diff(heading, _bearing(here, facts.coords[nb])) <= ALONG_DEG:
            return nb
    return None


def forbidden_turns(facts: TurnFacts, coords: NDArray[np.float64], *, hgv: bool = True) -> list[tuple[int, str, int]]:
    """The turns in a drive that an OSM restriction forbids: ``(relation id, kind, vertex index)``."""
    line = _distinct(np.asarray(coords, dtype=float))
    found = []
    for rel, kind, from_way, via, to_way, hgv_only in facts.restrictions:
        if (hgv_only and not hgv) or via not in facts.coords:
            continue
        at = np.flatnonzero(np.all(np.abs(line - np.array(facts.coords[via])) <= SAME_DEG, axis=1))
        for i in at.tolist():
            if i == 0 or i == len(line) - 1:
                continue
            came = _on(facts, via, line[i - 1], _segments_at(facts, from_way, via))
            if came is None:
                continue
            to_segments = _segments_at(facts, to_way, via)
            if from_way == to_way and kind != "no_u_turn" and kind != "only_u_turn":
                to_segments = [nb for nb in to_segments if nb != came]
            if from_way == to_way and kind in ("no_u_turn", "only_u_turn"):
                to_segments = [came]
            went = _on(facts, via, line[i + 1], to_segments)
            if (kind.startswith("no_") and went is not None) or (kind.startswith("only_") and went is None):
                found.append((rel, kind, i))
    return found


def u_turns(facts: TurnFacts, coords: NDArray[np.float64], *, hgv: bool = True) -> list[tuple[int, str]]:
    """The U-turns in a drive from its geometry: ``(vertex index, reason)``.

    The reason is ``"turning place"`` at a node tagged as one, ``"extract
    edge"`` where the road was only cut by the extract's clip (it goes on in
    reality, so this is no place to turn), ``"dead end"`` where a lorry
    arriving as the drive did has no other way on (no other road it may use
    leaves the node, one-way streets respected, or every other is forbidden
    by a turn restriction), ``"elsewhere"`` otherwise.
    """
    line = _distinct(np.asarray(coords, dtype=float))
    by_point = {(round(x, 7), round(y, 7)): ref for ref, (x, y) in facts.coords.items()}
    out = []
    for i in range(1, len(line) - 1):
        back = np.all(np.abs(line[i - 1] - line[i + 1]) <= SAME_DEG)
        sharp = _diff(_bearing(line[i - 1], line[i]), _bearing(line[i], line[i + 1])) >= U_TURN_DEG
        if not (back or sharp):
            continue
        node = by_point.get((round(float(line[i][0]), 7), round(float(line[i][1]), 7)))
        if node is not None and node in facts.turning:
            out.append((i, "turning place"))
        elif node is not None and node in facts.cut_ends:
            out.append((i, "extract edge"))
        elif node is not None and not _other_ways_on(facts, node, line[i - 1], hgv=hgv):
            out.append((i, "dead end"))
        else:
            out.append((i, "elsewhere"))
    return out


def _other_ways_on(facts: TurnFacts, node: int, came_from: Sequence[float], *, hgv: bool) -> bool:
    """Whether a lorry that came into ``node`` from ``came_from`` may leave it other than straight back."""
    exits = facts.exits.get(node, [])
    around = {w: _segments_at(facts, w, node) for w, refs in facts.way_nodes.items() if node in refs}
    came = _on(facts, node, came_from, sorted({nb for nbs in around.values() for nb in nbs}))
    arrival_ways = {w for w, nbs in around.items() if came is not None and came in nbs}
    for way, nb in exits:
        if came is not None and nb == came:
            continue
        forbidden = False
        for _rel, kind, from_way, via, to_way, hgv_only in facts.restrictions:
            if via != node or from_way not in arrival_ways or (hgv_only and not hgv):
                continue
            if (kind.startswith("no_") and to_way == way) or (kind.startswith("only_") and to_way != way):
                forbidden = True
        if not forbidden:
            return True
    return False


def arrival_side(leg: NDArray[np.float64], lon: float, lat: float) -> str:
    """On which side of the lorry (``"left"`` or ``"right"``) a bin at ``lon, lat`` stands as the leg ends."""
    line = _distinct(np.asarray(leg, dtype=float))
    if len(line) < 2:
        return ""
    a, b = line[-2], line[-1]
    scale = math.cos(math.radians(float(b[1])))
    dx, dy = (b[0] - a[0]) * scale, b[1] - a[1]
    ox, oy = (lon - b[0]) * scale, lat - b[1]
    return "left" if dx * oy - dy * ox > 0 else "right"
