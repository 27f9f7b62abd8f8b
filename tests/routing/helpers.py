"""Builders for tiny routing problems on Manhattan grids."""

from __future__ import annotations

import numpy as np

from binroute.routing import Depot, Matrix, Problem, TimeWindow, Vehicle


def manhattan(points: list[tuple[float, float]], speed: float = 1.0) -> Matrix:
    p = np.asarray(points, dtype=float)
    d = np.abs(p[:, None, :] - p[None, :, :]).sum(-1)
    return Matrix(np.rint(d / speed).astype(np.int64), np.rint(d).astype(np.int64))


def make_problem(points, bins, vehicles, *, depots=None, facilities=(), dims=("load",), **kw) -> Problem:
    return Problem(
        matrices={"default": manhattan(points)},
        depots=tuple(depots or (Depot("D", 0),)),
        bins=tuple(bins),
        vehicles=tuple(vehicles),
        facilities=tuple(facilities),
        dimensions=dims,
        **kw,
    )


def make_vehicle(vid="v1", cap=(10,), depot=0, **kw):
    """A vehicle at ``depot`` with capacity ``cap``, a long shift and the general stream unless given."""
    kw.setdefault("shift", TimeWindow(0, 100_000))
    return Vehicle(vid, depot, kw.pop("end_depot", depot), cap, streams=kw.pop("streams", frozenset({"general"})), **kw)
