"""OSM tag parsing."""

import math

import pytest

from binroute.geo.tags import (
    HGV_DESTINATION,
    HGV_NO,
    HGV_OK,
    parse_hgv,
    parse_length_m,
    parse_speed_kph,
    parse_weight_t,
)


@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("30", 30.0),
        ("30 mph", 48.28),
        ("50 km/h", 50.0),
        ("GB:nsl_single", 96.56),
        ("UK:nsl_dual", 112.65),
        ("GB:urban", 48.28),
        ("DE:urban", 50.0),
        ("walk", 7.0),
        ("30;50", 40.0),
        (["30", "40"], 35.0),
        ("10 knots", 18.52),
        ("none", None),
        ("signals", None),
        ("fast", None),
        (None, None),
    ],
)
def test_parse_speed(raw, kph):
    """maxspeed values in every unit and implicit form become km/h."""
    got = parse_speed_kph(raw)
    assert (got is None and kph is None) or math.isclose(got, kph, abs_tol=0.01)


@pytest.mark.parametrize(
    ("raw", "tonnes"),
    [("7.5", 7.5), ("7.5 t", 7.5), ("3500 kg", 3.5), ("18 st", 16.33), ("10;7.5", 7.5), ("heavy", None), (None, None)],
)
def test_parse_weight(raw, tonnes):
    """maxweight parses tonnes, kg and short tons; several values give the smallest."""
    got = parse_weight_t(raw)
    assert (got is None and tonnes is None) or math.isclose(got, tonnes, abs_tol=0.01)


@pytest.mark.parametrize(
    ("raw", "metres"),
    [
        ("3.5", 3.5),
        ("3.5 m", 3.5),
        ("12'6\"", 3.81),
        ("14 ft", 4.267),
        ("350 cm", 3.5),
        ("default", None),
        ("below_default", None),
    ],
)
def test_parse_length(raw, metres):
    """maxheight-style values parse metres, feet and inches."""
    got = parse_length_m(raw)
    assert (got is None and metres is None) or math.isclose(got, metres, abs_tol=0.01)


def test_parse_hgv():
    """hgv=no forbids, destination allows for access, absent is fine."""
    assert parse_hgv("no") == HGV_NO
    assert parse_hgv("destination") == HGV_DESTINATION
    assert parse_hgv(None) == HGV_OK
    assert parse_hgv("yes") == HGV_OK
