"""Territory overlap of a plan's rounds."""

from __future__ import annotations

import numpy as np
import pytest

from binroute.geo.territory import territory_overlap

CRS = "EPSG:32635"  # UTM 35N, Helsinki


def _square(lon0, lat0, size=0.01):
    return np.array([[lon0, lat0], [lon0 + size, lat0], [lon0 + size, lat0 + size], [lon0, lat0 + size]])


def test_separate_districts_do_not_overlap():
    """Two rounds in districts far apart: overlap 0."""
    assert territory_overlap([_square(24.90, 60.16), _square(24.95, 60.16)], crs=CRS) == 0.0


def test_identical_districts_overlap_fully():
    """Two rounds over the same district: each is covered entirely by the other."""
    assert territory_overlap([_square(24.90, 60.16), _square(24.90, 60.16)], crs=CRS) == pytest.approx(1.0)


def test_half_overlap():
    """Two equal squares sharing half their area: about half of the territory is shared."""
    value = territory_overlap([_square(24.90, 60.16), _square(24.905, 60.16)], crs=CRS, buffer_m=0.0)
    assert value == pytest.approx(0.5, abs=0.01)


def test_one_round_or_none():
    """With fewer than two rounds there is nothing to overlap."""
    assert territory_overlap([_square(24.90, 60.16)], crs=CRS) == 0.0
    assert territory_overlap([], crs=CRS) == 0.0
