"""An independent check of walk-outs: how far the crew walks, what it crosses, where the lorry waits.

Like :mod:`binroute.geo.audit`, this shares no code with the model it checks
(:mod:`binroute.geo.walkouts`, :mod:`binroute.geo.turns`): it works on the facts
:func:`~binroute.geo.audit.read_turn_facts` reads from the OSM file by itself
and on the plan's output (the stop where the lorry waits, the drive that
reaches it, the bin's position). For each walk-out it checks that

* **the lorry waits on a through street**: the street segment it stands on,
  in the direction it drives, lies in the largest part of the network a
  lorry can drive round without ever turning back;
* **the walk is short enough**: the shortest walk along the streets from the
  lorry to the bin (never along a main road, :data:`MAIN_ROADS`), plus the
  bin's distance from its street (one of the streets by it), is at most the setting (with
  :data:`SLACK_M` for where the lorry stops short of the junction);
* **no main road is crossed**: at the junction where the walk leaves the
  lorry's street, going round it from the lorry's kerb side (or from the
  far side, crossing the lorry's own street) passes no main road.

Tests and the kerbside benchmark use it.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .audit import TurnFacts

#: Roads a walk-out may neither follow nor cross.
MAIN_ROADS = frozenset(f"{r}{link}" for r in ("motorway", "trunk", "primary", "secondary") for link in ("", "_link"))
#: Allowance (m) on the walk: the lorry stops about a metre short of the junction, and rounding.
SLACK_M = 2.0
#: A stop lies on a street segment when within this many metres of it.
ON_SEGMENT_M = 1.5
#: A walk reaches the bin from a street at most this much farther (m) from it than its nearest street.
BIN_REACH_M = 5.0
#: Metres per degree of latitude (and of longitude at the equator).
M_PER_DEG = 111_195.0


@dataclass(frozen=True)
class WalkOutStop:
    """A walk-out as the plan gives it: the bin, the drive up to where the lorry waits, the bin's position."""

    bin_id: str
    arrival: NDArray[np.float64]  # lon/lat of the drive that reaches the stop; its last point is the stop
    bin_lon: float
    bin_lat: float


class WalkOutChecker:
    """Checks walk-outs against one OSM file's facts (see the module notes)."""

    def __init__(self, facts: TurnFacts, *, within_m: float, driving_side: str = "right") -> None:
        self.facts, self.within_m, self.driving_side = facts, within_m, driving_side
        self.lat0 = float(np.mean([c[1] for c in facts.coords.values()])) if facts.coords else 0.0
        self.kx = M_PER_DEG * math.cos(math.radians(self.lat0))
        segments: dict[tuple[int, int], bool] = {}
        for way, refs in facts.way_nodes.items():
            main = facts.highway.get(way, "") in MAIN_ROADS
            for a, b in itertools.pairwise(refs):
                if a != b:
                    key = (min(a, b), max(a, b))
                    segments[key] = segments.get(key, False) or main
        self.segments = segments
        self.neighbours: dict[int, list[int]] = {}
        for a, b in segments:
            self.neighbours.setdefault(a, []).append(b)
            self.neighbours.setdefault(b, []).append(a)
        keys = list(segments)
        self.seg_a = np.array([self.xy(*facts.coords[a]) for a, _ in keys]).reshape(-1, 2)
        self.seg_b = np.array([self.xy(*facts.coords[b]) for _, b in keys]).reshape(-1, 2)
        self.seg_keys = keys
        self.seg_index = {key: k for k, key in enumerate(keys)}
        self.seg_main = np.array([segments[k] for k in keys], dtype=bool)
        self.through = self._through_segments()

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """Local metres east and north."""
        return lon * self.kx, lat * M_PER_DEG

    def _through_segments(self) -> set[tuple[int, int]]:
        """The directed segments a lorry can drive round from and back to without turning back."""
        drives = [(a, b) for a, out in self.facts.exits.items() for _, b in out]
        index = {d: i for i, d in enumerate(drives)}
        rows, cols = [], []
        for (a, b), i in index.items():
            for _, c in self.facts.exits.get(b, []):
                if c != a and (b, c) in index:
                    rows.append(i)
                    cols.append(index[b, c])
        if not drives:
            return set()
        graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(drives), len(drives)))
        _, label = connected_components(graph, directed=True, connection="strong")
        main = int(np.argmax(np.bincount(label)))
        return {d for d, i in index.items() if label[i] == main}

    def _nearest(self, point: tuple[float, float]) -> tuple[int, float, float]:
        """The segment nearest ``point``: index, distance, fraction along."""
        p = np.asarray(point)
        d = self.seg_b - self.seg_a
        length2 = np.maximum((d * d).sum(axis=1), 1e-12)
        t = np.clip(((p - self.seg_a) * d).sum(axis=1) / length2, 0.0, 1.0)
        gap = np.hypot(*(self.seg_a + t[:, None] * d - p).T)
        k = int(np.argmin(gap))
        return k, float(gap[k]), float(t[k])

    def _bearing(self, node: int, towards: int) -> float:
        (x0, y0), (x1, y1) = self.xy(*self.facts.coords[node]), self.xy(*self.facts.coords[towards])
        return math.atan2(y1 - y0, x1 - x0)

    def check(self, stop: WalkOutStop) -> list[str]:
        """What is wrong with one walk-out (empty when nothing is)."""
        line = np.asarray(stop.arrival, dtype=float)
        keep = np.ones(len(line), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(line, axis=0)) > 1e-9, axis=1)
        line = line[keep]
        if len(line) < 2:
            return ["no drive reaches the stop"]
        here = self.xy(*line[-1])
        before = self.xy(*line[-2])
        k, gap, _ = self._nearest(here)
        if gap > ON_SEGMENT_M:
            return [f"the lorry stands {gap:.1f} m from any street"]
        a, b = self.seg_keys[k]
        pa, pb = self.xy(*self.facts.coords[a]), self.xy(*self.facts.coords[b])
        heading = (here[0] - before[0], here[1] - before[1])
        if heading[0] * (pb[0] - pa[0]) + heading[1] * (pb[1] - pa[1]) < 0:
            a, b, pa, pb = b, a, pb, pa  # the lorry drives from a towards b
        faults = []
        if (a, b) not in self.through:
            faults.append(f"the lorry waits on a dead-end street (OSM nodes {a}->{b}), not a through street")
        walks = self._walks(here, (a, pa), (b, pb), (stop.bin_lon, stop.bin_lat))
        short = [w for w in walks if w[0] <= self.within_m + SLACK_M]
        if not short:
            return [*faults, f"the walk is {min(w[0] for w in walks):.1f} m, over {self.within_m:g} m"]
        crossing = [
            w[1] if w[1] is not None else a
            for w in short
            if (w[1] is None and self._across_own(k, heading, here, (stop.bin_lon, stop.bin_lat)))
            or (
                w[1] is not None
                and w[2] is not None
                and self._crosses_main(w[1], a if w[1] == b else b, w[2], ahead=w[1] == b)
            )
        ]
        if len(crossing) == len(short):
            faults.append(f"the walk crosses a main road at OSM node {crossing[0]}")
        return faults

    def _walks(
        self,
        here: tuple[float, float],
        end_a: tuple[int, tuple[float, float]],
        end_b: tuple[int, tuple[float, float]],
        bin_at: tuple[float, float],
    ) -> list[tuple[float, int | None, int | None]]:
        """The walks from the lorry to the bin, shortest first: metres, the junction each leaves the lorry's
        street at, and the next node (``None`` for both when the bin is by the lorry's own segment).

        A walk follows streets other than main roads (from either end of the lorry's segment, each node
        by its shortest walk), then goes straight to the bin from a street by it (at most
        :data:`BIN_REACH_M` farther from it than the nearest).
        """
        target = np.asarray(self.xy(*bin_at))
        limit = self.within_m + SLACK_M + 1.0
        best: dict[int, float] = {}
        came: dict[int, int] = {}
        heap: list[tuple[float, int, int]] = []
        for node, at in (end_a, end_b):
            heapq.heappush(heap, (math.dist(here, at), node, node))
        while heap:
            dist, node, prev = heapq.heappop(heap)
            if node in best or dist > limit:
                continue
            best[node], came[node] = dist, prev
            for nb in self.neighbours.get(node, []):
                if nb not in best and not self.segments[min(node, nb), max(node, nb)]:
                    step = math.dist(self.xy(*self.facts.coords[node]), self.xy(*self.facts.coords[nb]))
                    heapq.heappush(heap, (dist + step, nb, node))
        # The walk ends along any street it reached, then straight to the bin.
        d = self.seg_b - self.seg_a
        t = np.clip(((target - self.seg_a) * d).sum(axis=1) / np.maximum((d * d).sum(axis=1), 1e-12), 0.0, 1.0)
        foot = self.seg_a + t[:, None] * d
        gap = np.hypot(*(foot - target).T)
        options: list[tuple[float, int | None, int | None]] = []
        own = self.seg_index[min(end_a[0], end_b[0]), max(end_a[0], end_b[0])]
        near = gap <= min(float(gap[~self.seg_main].min(initial=np.inf)), float(gap[own])) + BIN_REACH_M
        if near[own]:
            options.append((math.dist(here, tuple(foot[own])) + float(gap[own]), None, None))
        for k in np.flatnonzero(~self.seg_main & near).tolist():
            c, e = self.seg_keys[k]
            for near, far, start in ((c, e, self.seg_a[k]), (e, c, self.seg_b[k])):
                if near in best:
                    options.append((best[near] + math.dist(tuple(start), tuple(foot[k])) + float(gap[k]), near, far))
        out: list[tuple[float, int | None, int | None]] = []
        for metres, end, other in sorted(options, key=lambda o: o[0]):
            if end is None or other is None:
                out.append((metres, None, None))
                continue
            path: list[int] = [end]
            while came[path[-1]] != path[-1]:
                path.append(came[path[-1]])
            path.reverse()  # from the junction on the lorry's street to the bin's street
            out.append((metres, path[0], path[1] if len(path) > 1 else other))
        return out

    def _across_own(
        self, segment: int, heading: tuple[float, float], here: tuple[float, float], bin_at: tuple[float, float]
    ) -> bool:
        """Whether a bin by the lorry's own street stands across it, and that street is a main road."""
        bx, by = self.xy(*bin_at)
        left = heading[0] * (by - here[1]) - heading[1] * (bx - here[0]) > 0
        return bool(self.seg_main[segment]) and left == (self.driving_side == "right")

    def _crosses_main(self, junction: int, lorry_arm: int, first: int, *, ahead: bool) -> bool:
        """Whether both ways round ``junction``, from the lorry's kerb to the arm to ``first``, cross a main road."""
        arms = sorted(self.neighbours.get(junction, []), key=lambda nb: self._bearing(junction, nb))
        if lorry_arm not in arms or first not in arms:
            return False
        i, j, n = arms.index(lorry_arm), arms.index(first), len(arms)
        ccw = [arms[(i + s) % n] for s in range(1, (j - i) % n)]
        cw = [arms[(i - s) % n] for s in range(1, (i - j) % n)]
        # Facing the junction, the right-hand kerb is counter-clockwise from the arm the lorry is on; with the
        # junction behind it, clockwise. Traffic on the left mirrors both.
        kerb_ccw = ahead == (self.driving_side == "right")
        near, far = (ccw, [lorry_arm, *cw]) if kerb_ccw else (cw, [lorry_arm, *ccw])

        def main(arm: int) -> bool:
            return self.segments[min(junction, arm), max(junction, arm)]

        return any(main(x) for x in near) and any(main(x) for x in far)


def walk_out_stops(features: Sequence[dict[str, Any]], bins: dict[str, tuple[float, float]]) -> list[WalkOutStop]:
    """The walk-outs of a plan's GeoJSON (stops with a ``walk_out_m``), each with the drive that reaches it.

    ``bins`` gives each bin's lon, lat. Stops are matched along their trip in sequence order.
    """
    trips = {
        (f["properties"]["vehicle_id"], f["properties"]["trip"]): np.asarray(f["geometry"]["coordinates"], dtype=float)
        for f in features
        if f["properties"].get("kind") == "trip"
    }
    visits = sorted(
        (f for f in features if f["properties"].get("kind") in ("stop", "tip")),
        key=lambda f: (f["properties"]["vehicle_id"], f["properties"]["sequence"]),
    )
    out: list[WalkOutStop] = []
    vehicle, trip, cursor = None, 1, 0
    for f in visits:
        p = f["properties"]
        if p["vehicle_id"] != vehicle:
            vehicle, trip, cursor = p["vehicle_id"], 1, 0
        line = trips.get((vehicle, trip))
        if line is not None:
            near = np.flatnonzero(np.all(np.abs(line[cursor:] - f["geometry"]["coordinates"]) < 1e-6, axis=1))
            if len(near):
                cursor += int(near[0])
                if p["kind"] == "stop" and p.get("walk_out_m") is not None:
                    out.append(WalkOutStop(p["bin_id"], line[: cursor + 1], *bins[p["bin_id"]]))
        if p["kind"] == "tip":
            trip, cursor = trip + 1, 0
    return out
