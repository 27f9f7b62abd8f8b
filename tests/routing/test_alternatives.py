"""Bins that may be served at one of several locations (directed kerbside visits)."""

from __future__ import annotations

import pytest

from routing import Bin, ProblemError, Vehicle

from .conftest import make_problem


@pytest.mark.parametrize(
    ("alternatives", "message"),
    [
        ((9,), "alternative location 9 outside 0..2"),
        ((-1,), "alternative location -1 outside 0..2"),
        ((1,), r"alternatives \(1,\) repeat a location"),
        ((2, 2), r"alternatives \(2, 2\) repeat a location"),
    ],
    ids=["too-large", "negative", "same-as-location", "repeated"],
)
def test_bad_alternatives_are_rejected(alternatives, message):
    """Alternatives must be locations of the problem, differ from the primary location and from each other."""
    points = [(0, 0), (10, 0), (20, 0)]
    with pytest.raises(ProblemError, match=rf"bin b: {message}"):
        make_problem(points, [Bin("b", 1, (1,), alternatives=alternatives)], [Vehicle("v1", 0, 0, (1,))])


def test_locations_lists_the_primary_location_first():
    """``Bin.locations`` is the primary location followed by the alternatives; a plain bin has one."""
    assert Bin("b", 3, (1,), alternatives=(5, 1)).locations == (3, 5, 1)
    assert Bin("b", 3, (1,)).locations == (3,)
