"""The road network as flat arrays, and per-vehicle travel-time weights.

:class:`RoadNetwork` is what the rest of binroute works on: node coordinates,
directed edges with their length, base speed, restrictions and geometry. It is
built once from an osmnx graph (:func:`network_from_graph`) and cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from .tags import (
    DEFAULT_SPEEDS_KPH,
    FALLBACK_SPEED_KPH,
    HGV_DESTINATION,
    HGV_NO,
    parse_hgv,
    parse_length_m,
    parse_speed_kph,
    parse_weight_t,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class VehicleProfile:
    """What a vehicle is, as far as the road network cares.

    The defaults describe a typical 26-tonne, three-axle refuse collection
    vehicle. A vehicle heavier than 3.5 t counts as a heavy goods vehicle for
    ``hgv=no``; ``hgv=destination`` is allowed, since every bin is a destination.
    """

    name: str = "rcv"
    weight_t: float = 26.0
    height_m: float = 3.6
    width_m: float = 2.55
    length_m: float = 10.0
    max_speed_kph: float = 90.0
    avoid_hgv_destination: bool = False

    @property
    def is_hgv(self) -> bool:
        return self.weight_t > 3.5


@dataclass(frozen=True)
class RoadNetwork:
    """A directed road network in flat arrays (indices, not OSM ids)."""

    node_osmid: IntArray
    lon: FloatArray
    lat: FloatArray
    x: FloatArray
    y: FloatArray
    crs: str
    edge_u: IntArray
    edge_v: IntArray
    length_m: FloatArray
    speed_kph: FloatArray
    maxweight_t: FloatArray
    maxheight_m: FloatArray
    maxwidth_m: FloatArray
    maxlength_m: FloatArray
    hgv: NDArray[np.int8]
    highway: tuple[str, ...]
    name: tuple[str, ...]
    geom_coords: FloatArray  # all edges' lon/lat vertices, edge after edge
    geom_offsets: IntArray  # edge e's vertices are geom_coords[offsets[e]:offsets[e + 1]]
    source: str = ""
    stats: dict[str, int] = field(default_factory=dict)
    #: OSM way ids of each edge (a simplified edge may join several ways):
    #: edge e's are ``way_ids[way_offsets[e]:way_offsets[e + 1]]``.
    way_ids: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    way_offsets: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    #: Nodes mapped as places to turn (``highway=turning_circle``, ``turning_loop``).
    turning_place: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Nodes where a road was cut by the extract's clip: the road goes on in
    #: reality, so the end is not a place to turn.
    cut_end: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Forbidden turns from edge ``ban_from[k]`` into edge ``ban_to[k]`` (OSM
    #: turn restrictions; an ``only_*`` one bans every other turn), and whom
    #: each applies to (:data:`binroute.geo.restrictions.SCOPE_ALL`, ...).
    ban_from: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ban_to: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ban_scope: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    #: Restrictions via ways, as edge paths ``from, via..., to``: path k is
    #: ``via_edges[via_offsets[k]:via_offsets[k + 1]]``; ``via_only[k]`` for an
    #: ``only_*`` restriction (the path is the only way on), else forbidden.
    via_edges: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    via_offsets: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    via_only: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    via_scope: NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    #: Lanes in the edge's direction of travel (``nan`` where not tagged).
    lanes: FloatArray = field(default_factory=lambda: np.zeros(0))
    #: Roads cut off from the main strongly connected part, as flat lon/lat lines.
    detached_coords: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    detached_offsets: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))

    @cached_property
    def geometry(self) -> tuple[FloatArray, ...]:
        """Per edge, its ``(k, 2)`` lon/lat vertices from ``u`` to ``v`` (views, built once)."""
        return tuple(np.split(self.geom_coords, self.geom_offsets[1:-1]))

    @cached_property
    def edge_twin(self) -> IntArray:
        """For each edge, the opposite-direction edge along the same street, or -1 (built once)."""
        by_pair: dict[tuple[int, int], list[int]] = {}
        for e, (u, v) in enumerate(zip(self.edge_u.tolist(), self.edge_v.tolist(), strict=True)):
            by_pair.setdefault((u, v), []).append(e)
        twin = np.full(self.n_edges, -1, dtype=np.int64)
        for e, (u, v) in enumerate(zip(self.edge_u.tolist(), self.edge_v.tolist(), strict=True)):
            for f in by_pair.get((v, u), []):
                if f != e and abs(self.length_m[f] - self.length_m[e]) < 1.0 and self._reverse_of(e, f):
                    twin[e] = f
                    break
        return twin

    def _reverse_of(self, e: int, f: int) -> bool:
        """Whether edge ``f`` runs along the same street as ``e``, backwards (not just between the same nodes)."""
        a, b = self.geometry[e], self.geometry[f][::-1]
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=0.0, atol=1e-7))

    @cached_property
    def projected_lines(self) -> NDArray[np.object_]:
        """Each edge as a shapely LineString in the metric CRS (built once)."""
        transformer = self.transformer()
        lines = []
        for coords in self.geometry:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            lines.append(shapely.LineString(np.column_stack([x, y])))
        return np.array(lines, dtype=object)

    def ways_of(self, e: int) -> IntArray:
        """The OSM way ids of edge ``e``."""
        return self.way_ids[self.way_offsets[e] : self.way_offsets[e + 1]]

    def __getstate__(self) -> dict[str, object]:
        # Flat arrays pickle fast; views, twins and shapely lines are rebuilt on demand.
        state = dict(self.__dict__)
        for derived in ("geometry", "edge_twin", "projected_lines"):
            state.pop(derived, None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @property
    def n_nodes(self) -> int:
        return len(self.node_osmid)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def transformer(self) -> pyproj.Transformer:
        """Transformer from lon/lat to the network's metric CRS."""
        return pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    def allowed(self, profile: VehicleProfile) -> NDArray[np.bool_]:
        """Boolean mask of the edges ``profile`` may drive on."""
        ok = (
            (self.maxweight_t >= profile.weight_t)
            & (self.maxheight_m >= profile.height_m)
            & (self.maxwidth_m >= profile.width_m)
            & (self.maxlength_m >= profile.length_m)
        )
        if profile.is_hgv:
            ok &= self.hgv != HGV_NO
            if profile.avoid_hgv_destination:
                ok &= self.hgv != HGV_DESTINATION
        return ok

    def travel_time_s(self, profile: VehicleProfile) -> FloatArray:
        """Seconds to drive each edge for ``profile``; ``inf`` where not allowed."""
        speed = np.minimum(self.speed_kph, profile.max_speed_kph)
        seconds = self.length_m / (speed / 3.6)
        return np.where(self.allowed(profile), seconds, np.inf)

    def to_networkx(self, weight: FloatArray | None = None) -> nx.MultiDiGraph:
        """A networkx view (node = index) with ``length`` and ``travel_time``."""
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(range(self.n_nodes))
        times = self.travel_time_s(VehicleProfile()) if weight is None else weight
        for e in range(self.n_edges):
            if np.isfinite(times[e]):
                graph.add_edge(
                    int(self.edge_u[e]),
                    int(self.edge_v[e]),
                    key=e,
                    length=float(self.length_m[e]),
                    travel_time=float(times[e]),
                )
        return graph


def utm_crs(lon: float, lat: float) -> str:
    """The UTM zone's EPSG code for a point, as ``"EPSG:326xx"`` or ``"EPSG:327xx"``."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _first(raw: object) -> str:
    """One value of a tag that simplification may have merged into a list.

    osmnx merges the differing values of a simplified edge's parts through a
    set, so the list's order changes with Python's hash seed; the smallest
    value is taken so the same file always gives the same network.
    """
    if isinstance(raw, list | tuple):
        return min(str(v) for v in raw) if raw else ""
    return "" if raw is None else str(raw)


def _limit(value: float | None) -> float:
    return np.inf if value is None else value


def network_from_graph(graph: nx.MultiDiGraph, *, source: str = "") -> RoadNetwork:
    """Flatten an osmnx graph (``x``/``y`` in lon/lat, edges with ``length``).

    Speeds come from ``maxspeed`` where tagged, otherwise from
    :data:`binroute.geo.tags.DEFAULT_SPEEDS_KPH` by highway type.
    """
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    lon = np.array([graph.nodes[n]["x"] for n in nodes], dtype=float)
    lat = np.array([graph.nodes[n]["y"] for n in nodes], dtype=float)
    crs = utm_crs(float(np.mean(lon)), float(np.mean(lat))) if len(nodes) else "EPSG:32631"
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    cols: dict[str, list[object]] = {
        k: []
        for k in (
            "u",
            "v",
            "length",
            "speed",
            "weight",
            "height",
            "width",
            "len",
            "hgv",
            "hw",
            "name",
            "geom",
            "ways",
            "lanes",
        )
    }
    for u, v, data in graph.edges(data=True):
        highway = _first(data.get("highway"))
        speed = parse_speed_kph(data.get("maxspeed"))
        if speed is None:
            speed = DEFAULT_SPEEDS_KPH.get(highway, FALLBACK_SPEED_KPH)
        geom = data.get("geometry")
        coords = (
            np.asarray(geom.coords, dtype=float)
            if geom is not None
            else np.array([[lon[index[u]], lat[index[u]]], [lon[index[v]], lat[index[v]]]])
        )
        cols["u"].append(index[u])
        cols["v"].append(index[v])
        cols["length"].append(float(data.get("length", 0.0)))
        cols["speed"].append(speed)
        cols["weight"].append(_limit(parse_weight_t(data.get("maxweight"))))
        cols["height"].append(_limit(parse_length_m(data.get("maxheight"))))
        cols["width"].append(_limit(parse_length_m(data.get("maxwidth"))))
        cols["len"].append(_limit(parse_length_m(data.get("maxlength"))))
        cols["hgv"].append(parse_hgv(data.get("hgv")))
        cols["hw"].append(highway)
        cols["name"].append(_first(data.get("name")))
        cols["geom"].append(coords)
        cols["lanes"].append(_lanes_this_way(data))
        osmid = data.get("osmid", ())
        cols["ways"].append([int(w) for w in (osmid if isinstance(osmid, list | tuple | set) else [osmid])])
    return RoadNetwork(
        node_osmid=np.array(nodes, dtype=np.int64),
        lon=lon,
        lat=lat,
        x=np.asarray(x, dtype=float),
        y=np.asarray(y, dtype=float),
        crs=crs,
        edge_u=np.array(cols["u"], dtype=np.int64),
        edge_v=np.array(cols["v"], dtype=np.int64),
        length_m=np.array(cols["length"], dtype=float),
        speed_kph=np.array(cols["speed"], dtype=float),
        maxweight_t=np.array(cols["weight"], dtype=float),
        maxheight_m=np.array(cols["height"], dtype=float),
        maxwidth_m=np.array(cols["width"], dtype=float),
        maxlength_m=np.array(cols["len"], dtype=float),
        hgv=np.array(cols["hgv"], dtype=np.int8),
        highway=tuple(str(h) for h in cols["hw"]),
        name=tuple(str(n) for n in cols["name"]),
        geom_coords=np.vstack(cols["geom"]) if cols["geom"] else np.zeros((0, 2)),  # type: ignore[arg-type]
        geom_offsets=np.concatenate([[0], np.cumsum([len(g) for g in cols["geom"]])]).astype(np.int64),  # type: ignore[arg-type]
        source=source,
        way_ids=np.array([w for ways in cols["ways"] for w in ways], dtype=np.int64),  # type: ignore[attr-defined]
        way_offsets=np.concatenate([[0], np.cumsum([len(w) for w in cols["ways"]])]).astype(np.int64),  # type: ignore[arg-type]
        turning_place=np.zeros(len(nodes), dtype=bool),
        lanes=np.array(cols["lanes"], dtype=float),
    )


def _lanes_this_way(data: dict[str, object]) -> float:
    """Lanes in the edge's direction: ``lanes`` on a one-way road, half of it on a two-way one."""
    try:
        total = float(_first(data.get("lanes")).split(";")[0])
    except ValueError:
        return math.nan
    oneway = str(data.get("oneway", "")).lower() in ("true", "yes", "1", "-1")
    return total if oneway else total / 2
