"""Write a generated city as OSM XML: a street grid with one-way streets, speed limits and a weak bridge.

Real extracts of that size are not shipped by any registry package, so the
large-network benchmark uses this. Every intersection is a graph node after
simplification: ``size × size`` nodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LAT0, LON0 = 52.0, 0.0
STEP_DEG_LAT = 0.0009  # ~100 m
STEP_DEG_LON = 0.0009 / np.cos(np.radians(LAT0))


def write_city(path: str | Path, size: int, *, seed: int = 0) -> Path:
    """Write a ``size × size`` street grid to ``path`` (OSM XML)."""
    rng = np.random.default_rng(seed)
    path = Path(path)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="binroute gen_city">']

    def node_id(r: int, c: int) -> int:
        return r * size + c + 1

    for r in range(size):
        for c in range(size):
            lat = LAT0 + r * STEP_DEG_LAT + rng.normal(0, STEP_DEG_LAT * 0.05)
            lon = LON0 + c * STEP_DEG_LON + rng.normal(0, STEP_DEG_LON * 0.05)
            lines.append(f'<node id="{node_id(r, c)}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    way = 1
    kinds = ["residential"] * 6 + ["tertiary", "secondary", "unclassified", "service"]
    for r in range(size):
        for direction in ("row", "col"):
            refs = [node_id(r, c) if direction == "row" else node_id(c, r) for c in range(size)]
            tags = {"highway": kinds[rng.integers(len(kinds))], "name": f"{direction} {r}"}
            if rng.random() < 0.25:
                tags["oneway"] = "yes"
            if rng.random() < 0.5:
                tags["maxspeed"] = str(rng.choice(["20 mph", "30 mph", "30", "40", "50"]))
            if rng.random() < 0.02:
                tags["maxweight"] = "7.5"
            lines.append(f'<way id="{way}" version="1">')
            lines.extend(f'<nd ref="{x}"/>' for x in refs)
            lines.extend(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
            lines.append("</way>")
            way += 1
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n")
    return path
