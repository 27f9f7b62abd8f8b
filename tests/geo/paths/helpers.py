"""A small street grid the path tests share."""

from __future__ import annotations


def grid_xml(tmp_path, size=6):
    """A street grid ~100 m apart with one-way rows, a no-left-turn, and a street too weak for a lorry."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="binroute-tests">']
    for r in range(size):
        for c in range(size):
            lines.append(
                f'<node id="{r * size + c + 1}" version="1" lat="{60 + r * 0.0009:.7f}" lon="{24 + c * 0.0018:.7f}"/>'
            )
    way = 1
    for r in range(size):
        for kind in ("row", "col"):
            refs = [r * size + c + 1 if kind == "row" else c * size + r + 1 for c in range(size)]
            tags = '<tag k="highway" v="residential"/>' + (
                '<tag k="oneway" v="yes"/>' if kind == "row" and r % 3 == 1 else ""
            )
            tags += '<tag k="maxweight" v="7.5"/>' if kind == "col" and r == size - 1 else ""
            lines.append(f'<way id="{way}" version="1">' + "".join(f'<nd ref="{x}"/>' for x in refs) + tags + "</way>")
            way += 1
    # No left turn from column 2 (way 6, northbound) into row 2 (way 5) at node 2 * size + 3.
    lines.append(
        '<relation id="1" version="1"><member type="way" ref="6" role="from"/>'
        f'<member type="node" ref="{2 * size + 3}" role="via"/><member type="way" ref="5" role="to"/>'
        '<tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>'
    )
    lines.append("</osm>")
    path = tmp_path / "grid.osm"
    path.write_text("\n".join(lines))
    return path
