"""How compact a plan's rounds are: the overlap of their territories.

A round's territory is the convex hull of its stops, in the network's metric
CRS. Refuse planning asks for one district per crew: rounds whose
territories barely overlap. :func:`territory_overlap` is the share of the
rounds' territory that another round's territory also covers (0 for
separate districts, near 1 for rounds spread over the whole town); with
``groups`` only rounds collecting the same stream count against each other.
:func:`district_outlines` gives each round's territory as a lon/lat polygon
for the map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray


def territories(rounds: Sequence[NDArray[np.float64]], *, crs: str, buffer_m: float = 25.0) -> list[shapely.Geometry]:
    """Each round's territory: the convex hull of its stops (lon/lat rows), widened by ``buffer_m``.

    The buffer gives a round along one street an area too.
    """
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out = []
    for stops in rounds:
        pts = np.asarray(stops, dtype=float).reshape(-1, 2)
        if len(pts) == 0:
            out.append(shapely.Polygon())
            continue
        x, y = to_metric.transform(pts[:, 0], pts[:, 1])
        out.append(shapely.convex_hull(shapely.multipoints(np.column_stack([x, y]))).buffer(buffer_m))
    return out


def territory_overlap(
    rounds: Sequence[NDArray[np.float64]],
    *,
    crs: str,
    buffer_m: float = 25.0,
    groups: Sequence[frozenset[str]] | None = None,
) -> float:
    """Share of the rounds' territory that another round's territory also covers.

    Parameters
    ----------
    rounds
        Per round (a crew's day), its stops as ``(n, 2)`` lon/lat arrays.
    crs
        A metric CRS for the area (the network's).
    buffer_m
        How far around its stops a round's territory reaches.
    groups
        Per round, what it collects (its streams): a round then counts as
        overlapping only rounds that collect something it does too (a
        recycling round and a general-waste round in the same streets are
        separate collections, not interleaved rounds). None: every round.

    Returns
    -------
    float
        ``sum_i area(T_i ∩ union_{j≠i} T_j) / sum_i area(T_i)``; 0.0 with
        fewer than two rounds.
    """
    if groups is not None and len(groups) != len(rounds):
        raise ValueError(f"groups: {len(groups)} entries for {len(rounds)} rounds")
    keep = [i for i, r in enumerate(rounds) if len(r)]
    areas = territories([rounds[i] for i in keep], crs=crs, buffer_m=buffer_m)
    labels = [groups[i] if groups is not None else frozenset({""}) for i in keep]
    if len(areas) < 2:
        return 0.0
    total = sum(a.area for a in areas)
    shared = 0.0
    for i, a in enumerate(areas):
        others = [b for j, b in enumerate(areas) if j != i and labels[i] & labels[j]]
        if others:
            shared += a.intersection(shapely.union_all(others)).area
    return float(shared / total) if total > 0 else 0.0


def district_outlines(
    rounds: Sequence[NDArray[np.float64]], *, crs: str, buffer_m: float = 25.0
) -> list[list[list[float]]]:
    """Each round's territory (:func:`territories`) as its outer ring of ``[lon, lat]`` points (empty: no stops)."""
    to_lonlat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    out: list[list[list[float]]] = []
    for area in territories(rounds, crs=crs, buffer_m=buffer_m):
        if area.is_empty or not isinstance(area, shapely.Polygon):
            out.append([])
            continue
        ring = np.asarray(area.simplify(buffer_m / 5).exterior.coords)
        lon, lat = to_lonlat.transform(ring[:, 0], ring[:, 1])
        out.append([[round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)])
    return out
