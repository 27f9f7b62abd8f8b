"""How much rounds' territories overlap, on planar coordinates: shared by the geo and routing packages.

A round's territory is the convex hull of its stops widened by a buffer.
:mod:`binroute.geo.territory` projects lon/lat stops to the network's
metric CRS and measures plans with it (``plan.json``'s
``territory_overlap``, the map's districts); :mod:`binroute.routing` judges
candidate plans with it on the problem's own planar positions
(:attr:`binroute.routing.Problem.positions`), so the two can never measure
differently. Neither package may import the other; both import this.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray


def hulls(rounds_xy: Sequence[NDArray[np.float64]], buffer_m: float) -> list[shapely.Geometry]:
    """Each round's territory: the convex hull of its ``(n, 2)`` planar points (metres), widened by ``buffer_m``."""
    out = []
    for pts in rounds_xy:
        xy = np.asarray(pts, dtype=float).reshape(-1, 2)
        if len(xy) == 0:
            out.append(shapely.Polygon())
            continue
        out.append(shapely.convex_hull(shapely.multipoints(xy)).buffer(buffer_m))
    return out


def overlap_share(
    rounds_xy: Sequence[NDArray[np.float64]],
    buffer_m: float,
    groups: Sequence[frozenset[str]] | None = None,
) -> float:
    """``sum_i area(T_i ∩ union_{j≠i} T_j) / sum_i area(T_i)`` over the rounds with stops (0.0 below two).

    With ``groups`` a round counts against another only when their groups
    share a member (rounds of different streams are separate collections).
    """
    if groups is not None and len(groups) != len(rounds_xy):
        raise ValueError(f"groups: {len(groups)} entries for {len(rounds_xy)} rounds")
    keep = [i for i, r in enumerate(rounds_xy) if len(r)]
    if len(keep) < 2:
        return 0.0
    areas = hulls([rounds_xy[i] for i in keep], buffer_m)
    labels = [groups[i] if groups is not None else frozenset({""}) for i in keep]
    total = sum(a.area for a in areas)
    shared = 0.0
    for i, a in enumerate(areas):
        others = [b for j, b in enumerate(areas) if j != i and labels[i] & labels[j]]
        if others:
            shared += a.intersection(shapely.union_all(others)).area
    return float(shared / total) if total > 0 else 0.0
