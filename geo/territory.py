"""How compact a plan's rounds are: the overlap of their territories.

A round's territory is the convex hull of its stops, in the network's metric
CRS. Refuse planning asks for one district per crew: rounds whose
territories barely overlap. :func:`territory_overlap` is the share of the
rounds' territory that another round's territory also covers (0 for
separate districts, near 1 for rounds spread over the whole town).
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


def territory_overlap(rounds: Sequence[NDArray[np.float64]], *, crs: str, buffer_m: float = 25.0) -> float:
    """Share of the rounds' territory that another round's territory also covers.

    Parameters
    ----------
    rounds
        Per round (a crew's day), its stops as ``(n, 2)`` lon/lat arrays.
    crs
        A metric CRS for the area (the network's).
    buffer_m
        How far around its stops a round's territory reaches.

    Returns
    -------
    float
        ``sum_i area(T_i ∩ union_{j≠i} T_j) / sum_i area(T_i)``; 0.0 with
        fewer than two rounds.
    """
    areas = territories([r for r in rounds if len(r)], crs=crs, buffer_m=buffer_m)
    if len(areas) < 2:
        return 0.0
    total = sum(a.area for a in areas)
    shared = 0.0
    for i, a in enumerate(areas):
        others = shapely.union_all([b for j, b in enumerate(areas) if j != i])
        shared += a.intersection(others).area
    return float(shared / total) if total > 0 else 0.0
