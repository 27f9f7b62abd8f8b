"""Load a drivable road network from OpenStreetMap data.

Every file format goes through the same steps: pyosmium reads the file (XML,
bz2-compressed XML or PBF), keeps the ways a refuse lorry may drive on, and
cuts ways where the extract is clipped; osmnx then builds and simplifies the
graph; the largest strongly connected part is kept and flattened into a
:class:`~binroute.geo.network.RoadNetwork`, which is cached beside the source file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import itertools
import logging
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import osmnx as ox

from ._bombs import check_compressed_network
from .errors import NetworkError
from .network import RoadNetwork, network_from_graph
from .restrictions import TURNING_PLACES, RawRestriction, raw_restriction, with_turn_rules

log = logging.getLogger(__name__)

#: Highway types a refuse lorry may drive on.
DRIVABLE_HIGHWAYS = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)
_NO_ACCESS = frozenset({"no", "private", "agricultural", "forestry", "emergency", "military"})
_SERVICE_EXCLUDED = frozenset({"emergency_access"})
_EXTRA_WAY_TAGS = ("maxweight", "maxheight", "maxwidth", "maxlength", "hgv", "motor_vehicle")
#: Bump when the way filter or the graph layout changes, to invalidate caches.
CACHE_VERSION = "10"  # 10: pickles name binroute.geo (the one import name)
#: The OSM file endings :func:`graph_from_file` reads (the one list; the API and CLI use it too).
OSM_SUFFIXES = (".osm.pbf", ".osm.bz2", ".osm")


def is_drivable(tags: dict[str, str]) -> bool:
    """Whether a way with these tags is open to a refuse lorry.

    Keeps the road classes in :data:`DRIVABLE_HIGHWAYS` (service roads
    included), and drops ways closed by ``access``, ``motor_vehicle`` or
    ``vehicle`` (``no``, ``private``, ...), areas, and roads under construction.
    """
    if tags.get("highway") not in DRIVABLE_HIGHWAYS:
        return False
    if tags.get("area") == "yes" or tags.get("service") in _SERVICE_EXCLUDED:
        return False
    for key in ("motor_vehicle", "vehicle", "access"):
        value = tags.get(key)
        if value is not None:
            # The most specific key that is present decides.
            return value.split(";")[0].strip() not in _NO_ACCESS
    return True


class _DrivableWays(osmium.SimpleHandler):
    """Collect drivable ways and the nodes they use, cutting at missing nodes.

    Also keeps the nodes tagged as places to turn (``highway=turning_circle``
    or ``turning_loop``) and the turn-restriction relations, as raw
    :class:`~binroute.geo.restrictions.RawRestriction` records.
    """

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[int, tuple[float, float]] = {}
        self.ways: list[tuple[int, list[int], dict[str, str]]] = []
        self.ways_seen = 0
        self.ways_cut = 0
        self.ways_dropped = 0
        self._next_id = -1
        self.turning_places: set[int] = set()
        self.restrictions: list[RawRestriction] = []
        self.cut_pieces: dict[int, list[int]] = {}  # way id -> ids of the pieces it was cut into
        #: Nodes where a drivable way was cut by the extract's clip (its next node is missing).
        self.cut_ends: set[int] = set()

    def node(self, n: osmium.osm.Node) -> None:
        if n.tags.get("highway") in TURNING_PLACES:
            self.turning_places.add(n.id)

    def relation(self, r: osmium.osm.Relation) -> None:
        raw = raw_restriction(
            r.id,
            {t.k: t.v for t in r.tags},
            [(m.type, m.ref, m.role) for m in r.members],
        )
        if raw is not None:
            self.restrictions.append(raw)

    def way(self, w: osmium.osm.Way) -> None:
        tags = {t.k: t.v for t in w.tags}
        if not is_drivable(tags):
            return
        self.ways_seen += 1
        runs: list[list[tuple[int, float, float]]] = [[]]
        previous_valid = True
        for n in w.nodes:
            if n.location.valid():
                if not previous_valid:
                    self.cut_ends.add(n.ref)
                runs[-1].append((n.ref, n.location.lon, n.location.lat))
            else:
                if runs[-1]:
                    self.cut_ends.add(runs[-1][-1][0])
                    runs.append([])
            previous_valid = n.location.valid()
        runs = [r for r in runs if len(r) >= 2]
        if not runs:
            self.ways_dropped += 1
            return
        if len(runs) > 1 or len(runs[0]) < len(w.nodes):
            self.ways_cut += 1
        for i, run in enumerate(runs):
            way_id = w.id
            if len(runs) > 1 and i > 0:
                way_id, self._next_id = self._next_id, self._next_id - 1
                self.cut_pieces.setdefault(w.id, []).append(way_id)
            for ref, lon, lat in run:
                self.nodes[ref] = (lon, lat)
            self.ways.append((way_id, [r[0] for r in run], tags))


@contextlib.contextmanager
def _osmnx_way_tags() -> Iterator[None]:
    """Make osmnx keep the restriction tags on edges, then restore its settings."""
    saved = list(ox.settings.useful_tags_way)
    saved_nodes = list(ox.settings.useful_tags_node)
    ox.settings.useful_tags_way = saved + [t for t in _EXTRA_WAY_TAGS if t not in saved]
    ox.settings.useful_tags_node = [*saved_nodes, _KEEP_TAG]
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved
        ox.settings.useful_tags_node = saved_nodes


def _read_drivable(path: Path) -> _DrivableWays:
    handler = _DrivableWays()
    try:
        handler.apply_file(str(path), locations=True, idx="flex_mem")
    except Exception as exc:  # osmium raises RuntimeError and friends for bad data
        raise NetworkError(f"{path}: cannot read OpenStreetMap data ({exc})") from exc
    if not handler.ways:
        raise NetworkError(f"{path}: no drivable roads found in the file")
    return handler


#: Node tag on the nodes that simplification must keep (see :func:`_graph_from_ways`).
_KEEP_TAG = "binroute_keep"
#: Way tags whose change along a road keeps the node where it changes (osmnx's ``edge_attrs_differ``).
_KEEP_WHERE_DIFFERENT = ("highway", "maxspeed", *_EXTRA_WAY_TAGS)


def _graph_from_ways(handler: _DrivableWays) -> nx.MultiDiGraph:
    """The unsimplified osmnx graph of the drivable ways, built in memory.

    It is the graph ``osmnx.graph_from_xml(..., simplify=False,
    retain_all=True)`` builds from the same nodes and ways written as OSM XML
    (nodes by id, then the ways in file order), made without writing and
    parsing that file, which took about a third of the time to load a city.
    The nodes that simplification must keep carry :data:`_KEEP_TAG`: places to
    turn, the via nodes of restrictions, and the nodes where a road's class or
    limits change (:data:`_KEEP_WHERE_DIFFERENT`, found here from the ways in
    one pass rather than by osmnx edge by edge).
    """
    keep = handler.turning_places | {n for r in handler.restrictions for n in r.via_nodes}
    useful = ox.settings.useful_tags_way
    paths: list[tuple[list[int], dict[str, object]]] = []
    first_seen: dict[int, tuple[object, ...]] = {}
    for way_id, refs, tags in handler.ways:
        nodes = [ref for ref, _ in itertools.groupby(refs)]
        path: dict[str, object] = {"osmid": way_id}
        path.update((tag, tags[tag]) for tag in useful if tag in tags)
        paths.append((nodes, path))
        if len(nodes) < 2:
            continue  # no edge, so nothing incident to compare
        values = tuple(path.get(tag) for tag in _KEEP_WHERE_DIFFERENT)
        for ref in nodes:
            if first_seen.setdefault(ref, values) != values:
                keep.add(ref)
    graph = nx.MultiDiGraph(
        created_date=ox.utils.ts(),
        created_with=f"OSMnx {ox.__version__}",
        crs=ox.settings.default_crs,
    )
    graph.add_nodes_from(
        (ref, {"y": lat, "x": lon, _KEEP_TAG: "yes"} if ref in keep else {"y": lat, "x": lon})
        for ref, (lon, lat) in sorted(handler.nodes.items())
    )
    for nodes, path in paths:
        one_way = _is_one_way(path)
        if one_way and path.get("oneway") in _REVERSED:
            nodes.reverse()
        if not ox.settings.all_oneway:
            path["oneway"] = one_way
        path["reversed"] = False
        edges = list(itertools.pairwise(nodes))
        graph.add_edges_from(edges, **path)
        if not one_way:
            path["reversed"] = True
            graph.add_edges_from([(v, u) for u, v in edges], **path)
    return ox.distance.add_edge_lengths(graph)


#: osmnx's ``oneway`` values for a one-way road, and for one drawn against its direction of travel.
_ONE_WAY = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
_REVERSED = frozenset({"-1", "reverse", "T"})


def _is_one_way(path: dict[str, object]) -> bool:
    """Whether osmnx counts a way as one-way (its ``oneway`` tag, or a roundabout)."""
    return bool(ox.settings.all_oneway or path.get("oneway") in _ONE_WAY or path.get("junction") == "roundabout")


def graph_from_file(path: str | Path) -> nx.MultiDiGraph:
    """Build the drivable osmnx graph (not yet reduced to one component).

    Parameters
    ----------
    path
        An OSM XML (``.osm``, ``.osm.bz2``) or PBF (``.osm.pbf``) file.

    Raises
    ------
    NetworkError
        If the file is missing, unreadable, a decompression bomb, or has no drivable roads.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"{path}: road network file not found")
    check_compressed_network(path)  # a decompression bomb is refused before libosmium inflates it
    handler = _read_drivable(path)
    log.info(
        "%s: %d drivable ways, %d cut and %d dropped at the extract's edge",
        path.name,
        handler.ways_seen,
        handler.ways_cut,
        handler.ways_dropped,
    )
    with _osmnx_way_tags():
        graph = _graph_from_ways(handler)
    graph = ox.simplify_graph(graph, node_attrs_include=[_KEEP_TAG])
    graph.graph["binroute_stats"] = {
        "ways": handler.ways_seen,
        "ways_cut": handler.ways_cut,
        "ways_dropped": handler.ways_dropped,
    }
    graph.graph["binroute_turning_places"] = sorted(handler.turning_places)
    graph.graph["binroute_cut_ends"] = sorted(handler.cut_ends)
    graph.graph["binroute_restrictions"] = [
        dataclasses.replace(r, from_ways=_with_pieces(r.from_ways, handler), to_ways=_with_pieces(r.to_ways, handler))
        for r in handler.restrictions
    ]
    return graph


def _with_pieces(ways: tuple[int, ...], handler: _DrivableWays) -> tuple[int, ...]:
    """A way cut at the extract's edge is several ways in the graph: a restriction names them all."""
    return tuple(x for w in ways for x in (w, *handler.cut_pieces.get(w, [])))


def graph_from_place(query: str | dict[str, str]) -> nx.MultiDiGraph:
    """Download the drivable network for a place name through osmnx (needs internet)."""
    with _osmnx_way_tags():
        return ox.graph_from_place(query, network_type="drive", simplify=True, retain_all=True)


def network_from_place(query: str | dict[str, str]) -> RoadNetwork:
    """Download a place's drivable network (needs internet), keep its core, flatten it."""
    return network_from_osmnx(graph_from_place(query), source=str(query))


def network_from_osmnx(graph: nx.MultiDiGraph, *, source: str = "") -> RoadNetwork:
    """Keep the largest strongly connected part of ``graph`` and flatten it."""
    stats = dict(graph.graph.get("binroute_stats", {}))
    stats["nodes_before_scc"] = graph.number_of_nodes()
    core = ox.truncate.largest_component(graph, strongly=True)
    if core.number_of_edges() == 0:
        raise NetworkError(f"{source or 'network'}: no connected drivable roads")
    net = network_from_graph(core, source=source)
    net = with_turn_rules(
        net,
        graph.graph.get("binroute_restrictions", []),
        graph.graph.get("binroute_turning_places", []),
        cut_ends=graph.graph.get("binroute_cut_ends", []),
    )
    stats.update(net.stats)
    stats["nodes"] = net.n_nodes
    stats["edges"] = net.n_edges
    net.stats.update(stats)
    lines = []
    for u, v, data in graph.edges(data=True):
        if u in core and v in core:
            continue
        geom = data.get("geometry")
        lines.append(
            np.asarray(geom.coords, dtype=float)
            if geom is not None
            else np.array([[graph.nodes[u]["x"], graph.nodes[u]["y"]], [graph.nodes[v]["x"], graph.nodes[v]["y"]]])
        )
    if lines:
        net = dataclasses.replace(
            net,
            detached_coords=np.vstack(lines),
            detached_offsets=np.concatenate([[0], np.cumsum([len(x) for x in lines])]).astype(np.int64),
        )
        net.stats.update(stats, detached_edges=len(lines))
    return net


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a graph is built.

    Building a city's graph allocates millions of small dicts and lists that
    stay alive; each automatic collection walks all of them again, which took
    about a third of the time to load Milan. Nothing built here is cyclic
    garbage that must be freed early; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _cache_path(path: Path) -> Path:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return path.with_name(f"{path.name}.{digest.hexdigest()[:16]}.binroute-cache")


def load_network(path: str | Path, *, cache: bool = True) -> RoadNetwork:
    """Load a road network file, from the cache beside it when possible.

    Parameters
    ----------
    path
        OSM XML, ``.osm.bz2`` or ``.osm.pbf`` file.
    cache
        Read and write ``<file>.<hash>.binroute-cache`` next to the source,
        keyed by the file's content and the loader version.

    Raises
    ------
    NetworkError
        If the file is missing, corrupt, empty or has no drivable roads.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"{path}: road network file not found")
    cache_file = _cache_path(path) if cache else None
    if cache_file is not None and cache_file.is_file():
        try:
            with cache_file.open("rb") as fh:
                net = pickle.load(fh)
            if isinstance(net, RoadNetwork):
                return net
        except Exception:  # a stale or truncated cache is rebuilt, not fatal
            log.warning("ignoring unreadable cache %s", cache_file)
    with _collector_paused():
        net = network_from_osmnx(graph_from_file(path), source=str(path))
    if cache_file is not None:
        _write_cache(net, cache_file)
    return net


def _write_cache(net: RoadNetwork, cache_file: Path) -> None:
    """Pickle ``net`` to ``cache_file`` through a temporary file of this process's own, then renamed: processes
    loading the same network at once (test workers, service replicas) never write into each other's file."""
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=cache_file.name + ".", suffix=".tmp", dir=cache_file.parent)
        tmp = Path(name)
        os.fchmod(fd, 0o644)  # as readable as before (mkstemp makes it 0600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(net, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache_file)
    except OSError:
        log.warning("could not write cache %s", cache_file)
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
