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

from binroute._territory import hulls, overlap_share


def territories(rounds: Sequence[NDArray[np.float64]], *, crs: str, buffer_m: float = 25.0) -> list[shapely.Geometry]:
    """Each round's territory: the convex hull of its stops (lon/lat rows), widened by ``buffer_m``.

    The buffer gives a round along one street an area too.
    """
    return hulls(_metric(rounds, crs), buffer_m)


def _metric(rounds: Sequence[NDArray[np.float64]], crs: str) -> list[NDArray[np.float64]]:
    """Each round's lon/lat rows in ``crs`` (metres)."""
    to_metric = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out = []
    for stops in rounds:
        pts = np.asarray(stops, dtype=float).reshape(-1, 2)
        x, y = to_metric.transform(pts[:, 0], pts[:, 1])
        out.append(np.column_stack([x, y]))
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
    return overlap_share(_metric(rounds, crs), buffer_m, groups)


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
