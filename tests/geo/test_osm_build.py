"""The road graph built in memory is the graph osmnx builds from the same ways written as OSM XML."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import osmium
import osmnx as ox
import pytest

from binroute.geo import osm
from binroute.geo.network import RoadNetwork

ROOT = Path(__file__).resolve().parent.parent.parent

# Two ways end to end at node 3 with different speed limits (3 must stay a node), two with the same
# tags end to end at node 6 (merged into one edge), a one-way drawn backwards, a roundabout, a
# repeated node, a place to turn and a way closed to lorries at its far end.
JOINS = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="binroute-tests">
  <node id="1" version="1" lat="60.000" lon="24.000"/>
  <node id="2" version="1" lat="60.000" lon="24.001"/>
  <node id="3" version="1" lat="60.000" lon="24.002"/>
  <node id="4" version="1" lat="60.000" lon="24.003"/>
  <node id="5" version="1" lat="60.001" lon="24.003"/>
  <node id="6" version="1" lat="60.001" lon="24.002"/>
  <node id="7" version="1" lat="60.001" lon="24.001"/>
  <node id="8" version="1" lat="60.001" lon="24.000"/>
  <node id="9" version="1" lat="60.0015" lon="24.0005"><tag k="highway" v="turning_circle"/></node>
  <node id="10" version="1" lat="60.002" lon="24.000"/>
  <way id="201" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="maxspeed" v="30"/><tag k="name" v="A"/></way>
  <way id="202" version="1"><nd ref="3"/><nd ref="4"/><nd ref="4"/><nd ref="5"/>
    <tag k="highway" v="residential"/><tag k="maxspeed" v="50"/><tag k="name" v="A"/></way>
  <way id="203" version="1"><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="residential"/><tag k="name" v="B"/></way>
  <way id="204" version="1"><nd ref="6"/><nd ref="7"/>
    <tag k="highway" v="residential"/><tag k="name" v="C"/></way>
  <way id="205" version="1"><nd ref="8"/><nd ref="7"/>
    <tag k="highway" v="tertiary"/><tag k="oneway" v="-1"/><tag k="maxweight" v="7.5"/></way>
  <way id="206" version="1"><nd ref="8"/><nd ref="1"/>
    <tag k="highway" v="residential"/><tag k="junction" v="roundabout"/></way>
  <way id="207" version="1"><nd ref="1"/><nd ref="8"/>
    <tag k="highway" v="residential"/></way>
  <way id="208" version="1"><nd ref="8"/><nd ref="9"/><nd ref="10"/>
    <tag k="highway" v="service"/><tag k="hgv" v="no"/></way>
</osm>
"""


def _through_xml(path: Path, tmp: Path) -> RoadNetwork:
    """The network as binroute built it before: the ways written as OSM XML and read back by osmnx."""
    handler = osm._read_drivable(path)
    keep = handler.turning_places | {n for r in handler.restrictions for n in r.via_nodes}
    xml = tmp / "drivable.osm"
    writer = osmium.SimpleWriter(str(xml))
    try:
        for ref, (lon, lat) in sorted(handler.nodes.items()):
            tags = {osm._KEEP_TAG: "yes"} if ref in keep else {}
            writer.add_node(osmium.osm.mutable.Node(id=ref, location=(lon, lat), version=1, tags=tags))
        for way_id, refs, tags in handler.ways:
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags, version=1))
    finally:
        writer.close()
    with osm._osmnx_way_tags():
        graph = ox.graph_from_xml(xml, simplify=False, retain_all=True)
    graph = ox.simplify_graph(
        graph, node_attrs_include=[osm._KEEP_TAG], edge_attrs_differ=["highway", "maxspeed", *osm._EXTRA_WAY_TAGS]
    )
    graph.graph["binroute_stats"] = {"ways": handler.ways_seen, "ways_cut": handler.ways_cut}
    graph.graph["binroute_stats"]["ways_dropped"] = handler.ways_dropped
    graph.graph["binroute_turning_places"] = sorted(handler.turning_places)
    graph.graph["binroute_cut_ends"] = sorted(handler.cut_ends)
    graph.graph["binroute_restrictions"] = [
        dataclasses.replace(
            r, from_ways=osm._with_pieces(r.from_ways, handler), to_ways=osm._with_pieces(r.to_ways, handler)
        )
        for r in handler.restrictions
    ]
    return osm.network_from_osmnx(graph, source=str(path))


def _assert_same(a: RoadNetwork, b: RoadNetwork) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
            assert x.dtype == y.dtype, f.name
        else:
            assert x == y, f.name


@pytest.mark.parametrize("name", ["joins", "tiny", "sample"])
def test_graph_built_in_memory_is_the_graph_through_xml(name, tmp_path):
    """Nodes, edges, geometry, names, limits, lanes and turn rules equal osmnx's from XML, in the same order."""
    path = {
        "joins": tmp_path / "joins.osm",
        "tiny": ROOT / "tests" / "data" / "tiny.osm",
        "sample": ROOT / "sample_data" / "helsinki" / "network.osm.pbf",
    }[name]
    if name == "joins":
        path.write_text(JOINS, encoding="utf-8")
    built = osm.load_network(path, cache=False)
    _assert_same(built, _through_xml(path, tmp_path))
    if name == "joins":
        # The change of speed limit keeps node 3; at node 6 only the name changes, so its two ways
        # become one edge (osmnx keeps both names on it).
        assert 3 in built.node_osmid.tolist() and 6 not in built.node_osmid.tolist()
