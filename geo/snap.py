"""Snap points (bins, depots, disposal sites) onto the nearest drivable edge."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from .errors import FarFromRoadWarning, OutsideNetworkWarning, SnapError
from .network import RoadNetwork

DEFAULT_MAX_SNAP_M = 150.0
LEFT, RIGHT = "left", "right"


@dataclass(frozen=True)
class Snapped:
    """Where each point meets the road network.

    ``edge`` is the directed edge nearest the point and ``t`` the fraction of
    its length at which the point meets it. ``twin`` is the same street in the
    opposite direction (``-1`` on one-way streets). ``side`` says on which side
    of ``edge`` (in its direction of travel) the point stands.
    """

    ids: tuple[str, ...]
    edge: NDArray[np.int64]
    twin: NDArray[np.int64]
    t: NDArray[np.float64]
    distance_m: NDArray[np.float64]
    side: tuple[str, ...]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: Sequence[int] | NDArray[np.int64]) -> Snapped:
        """The snapped points at ``index``, in that order."""
        idx = np.asarray(index, dtype=np.int64)
        return Snapped(
            ids=tuple(self.ids[i] for i in idx),
            edge=self.edge[idx],
            twin=self.twin[idx],
            t=self.t[idx],
            distance_m=self.distance_m[idx],
            side=tuple(self.side[i] for i in idx),
            lon=self.lon[idx],
            lat=self.lat[idx],
        )

    def far(self, max_distance_m: float) -> list[str]:
        """Ids of points farther than ``max_distance_m`` from their road."""
        return [i for i, d in zip(self.ids, self.distance_m, strict=True) if d > max_distance_m]


def _report_detached(
    net: RoadNetwork, points: NDArray[np.object_], distance: NDArray[np.float64], names: tuple[str, ...]
) -> None:
    """Warn, by id, about points nearer a road cut off from the main network than to any connected one."""
    if len(net.detached_offsets) < 2:
        return
    tr = net.transformer()
    parts = np.split(net.detached_coords, net.detached_offsets[1:-1])
    lines = []
    for coords in parts:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        lines.append(shapely.LineString(np.column_stack([x, y])))
    tree = shapely.STRtree(lines)
    hit, dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    nearer = np.zeros(len(points), dtype=bool)
    nearer[hit[0]] = dist + 1.0 < distance[hit[0]]
    if nearer.any():
        ids = [names[i] for i in np.flatnonzero(nearer)]
        warnings.warn(
            f"{len(ids)} point(s) lie nearest a road cut off from the main network (a one-way trap or the "
            f"extract's edge); snapped to the nearest connected road instead: "
            + ", ".join(ids[:20])
            + (" ..." if len(ids) > 20 else ""),
            OutsideNetworkWarning,
            stacklevel=3,
        )


def snap_points(
    net: RoadNetwork,
    lon: Sequence[float] | NDArray[np.float64],
    lat: Sequence[float] | NDArray[np.float64],
    *,
    ids: Sequence[str] | None = None,
    allowed: NDArray[np.bool_] | None = None,
    max_distance_m: float = DEFAULT_MAX_SNAP_M,
) -> Snapped:
    """Snap lon/lat points to the nearest drivable edge.

    Parameters
    ----------
    net
        The road network.
    lon, lat
        Point coordinates in degrees.
    ids
        Names of the points, used in warnings (defaults to their positions).
    allowed
        Optional mask of edges that may be snapped to.
    max_distance_m
        Points farther than this from every road raise a
        :class:`~binroute.geo.errors.FarFromRoadWarning` that lists their ids; they
        are still snapped.

    Raises
    ------
    SnapError
        If a coordinate is not a finite lon/lat or no edge may be snapped to.
    """
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    names = tuple(ids) if ids is not None else tuple(str(i) for i in range(len(lon_a)))
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a) & (np.abs(lon_a) <= 180) & (np.abs(lat_a) <= 90))
    if bad.any():
        raise SnapError(f"invalid coordinates for {', '.join(np.array(names)[bad][:10])}")
    ok = np.ones(net.n_edges, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    twins = net.edge_twin
    # One representative per two-way street, so results do not depend on
    # which of two identical geometries the tree returns first.
    partner_ok = np.where(twins >= 0, ok[np.maximum(twins, 0)], False)
    canonical = (twins < 0) | (np.arange(net.n_edges) < twins) | ~partner_ok
    candidates = np.flatnonzero(ok & canonical)
    if len(candidates) == 0:
        raise SnapError("no road edge to snap to")
    lines = net.projected_lines
    tree = shapely.STRtree(lines[candidates])
    px, py = net.transformer().transform(lon_a, lat_a)
    points = shapely.points(np.column_stack([px, py]))
    hit, dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    edge = np.empty(len(points), dtype=np.int64)
    distance = np.empty(len(points), dtype=float)
    edge[hit[0]] = candidates[hit[1]]
    distance[hit[0]] = dist
    chosen = lines[edge]
    along = shapely.line_locate_point(chosen, points)
    total = shapely.length(chosen)
    t = np.clip(np.divide(along, total, out=np.zeros_like(along), where=total > 0), 0.0, 1.0)
    on_road = shapely.line_interpolate_point(chosen, along)
    ahead = shapely.line_interpolate_point(chosen, np.minimum(along + 0.5, total))
    behind = shapely.line_interpolate_point(chosen, np.maximum(along - 0.5, 0.0))
    dx = shapely.get_x(ahead) - shapely.get_x(behind)
    dy = shapely.get_y(ahead) - shapely.get_y(behind)
    ox_, oy_ = px - shapely.get_x(on_road), py - shapely.get_y(on_road)
    side = tuple(LEFT if c > 0 else RIGHT for c in dx * oy_ - dy * ox_)
    inverse = net.transformer()
    slon, slat = inverse.transform(shapely.get_x(on_road), shapely.get_y(on_road), direction="INVERSE")
    snapped = Snapped(
        ids=names,
        edge=edge,
        twin=np.where(twins[edge] >= 0, np.where(ok[np.maximum(twins[edge], 0)], twins[edge], -1), -1),
        t=t,
        distance_m=distance,
        side=side,
        lon=np.asarray(slon, dtype=float),
        lat=np.asarray(slat, dtype=float),
    )
    _report_detached(net, points, distance, names)
    far = snapped.far(max_distance_m)
    if far:
        warnings.warn(
            f"{len(far)} point(s) more than {max_distance_m:g} m from any drivable road: "
            + ", ".join(far[:20])
            + (" ..." if len(far) > 20 else ""),
            FarFromRoadWarning,
            stacklevel=2,
        )
    return snapped
