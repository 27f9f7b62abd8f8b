"""Vehicle profiles and random stops the geo tests share."""

from __future__ import annotations

import warnings

import numpy as np

from binroute.geo import VehicleProfile, snap_points

HEAVY = VehicleProfile(name="heavy", weight_t=26.0)
LIGHT = VehicleProfile(name="light", weight_t=3.0, height_m=2.5, length_m=6.0)


def random_stops(net, n: int, *, seed: int):
    """``n`` random points inside the network's bounding box, snapped (far-point warnings silenced)."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(net.lon.min(), net.lon.max(), n)
    lat = rng.uniform(net.lat.min(), net.lat.max(), n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return snap_points(net, lon, lat)
