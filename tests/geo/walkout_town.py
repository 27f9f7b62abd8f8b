"""A hand-drawn town for the walk-out tests: a ring of streets with two dead ends, written as OSM XML.

The ring 1-5-2-3-4 (about 110 m by 110 m at 60° N, with a two-way loop
1-8-4 west of it, so that a lorry can go round either way) has a dead end
off 5 (to 6, about 78 m) and one off 2 (to 11, about 78 m); by default both hang
south of the ring, outside it, and ``north=True`` puts the one off 5 inside.
``ring`` sets the ring's ``highway`` tag and ``oneway`` makes it one-way
(1 → 5 → 2 → 3 → 4 → 1: eastward along its south side). Shared by the geo
and pipeline tests.
"""

from __future__ import annotations

from pathlib import Path

#: Where a bin stands: metres (about) into the dead end off 5, 3 m to its east.
M_LAT = 1 / 111_195.0
M_LON = 1 / 55_600.0


def write_town(
    path: Path,
    *,
    ring: str = "residential",
    oneway: bool = False,
    north: bool = False,
    turning_circle_at_11: bool = False,
    turning_circle_at_6: bool = False,
) -> Path:
    """Write the town (see the module notes) to ``path``; return it."""
    spur = 1 if north else -1
    nodes = {
        1: (24.000, 60.000),
        5: (24.001, 60.000),
        2: (24.002, 60.000),
        3: (24.002, 60.001),
        4: (24.000, 60.001),
        6: (24.001, 60.000 + spur * 0.0007),
        11: (24.002, 59.9993),
        8: (23.999, 60.0005),
    }
    tags = {6: turning_circle_at_6, 11: turning_circle_at_11}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="binroute-tests">']
    for ref, (lon, lat) in nodes.items():
        tag = '<tag k="highway" v="turning_circle"/>' if tags.get(ref) else ""
        lines.append(f'<node id="{ref}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{tag}</node>')
    ring_tags = f'<tag k="highway" v="{ring}"/>' + ('<tag k="oneway" v="yes"/>' if oneway else "")
    ways = {100: ((1, 5, 2, 3, 4, 1), ring_tags)}
    ways[200] = ((5, 6), '<tag k="highway" v="residential"/>')
    ways[300] = ((2, 11), '<tag k="highway" v="residential"/>')
    ways[400] = ((1, 8, 4), '<tag k="highway" v="residential"/>')
    for w, (refs, way_tags) in ways.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{w}" version="1">{nds}{way_tags}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path


def in_spur(metres: float, *, north: bool = False) -> tuple[float, float]:
    """A bin ``metres`` into the dead end off 5, 3 m to its east (lon, lat)."""
    return 24.001 + 3 * M_LON, 60.000 + (1 if north else -1) * metres * M_LAT


def in_spur_11(metres: float) -> tuple[float, float]:
    """A bin ``metres`` into the dead end off 2, 3 m to its east (lon, lat)."""
    return 24.002 + 3 * M_LON, 60.000 - metres * M_LAT
