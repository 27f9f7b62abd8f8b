"""The simulation benchmark's bound line: what a perfect forecast saves against the same timetable."""

from __future__ import annotations

from benchmarks.simulate import best_timetable, bound_line

ROWS = [
    {"policy": "predictive", "km": 700.0, "crew_days": 20, "overflow_bin_days": 30},
    {"policy": "timetable:mon,tue,wed,thu,fri,sat,sun", "km": 1000.0, "crew_days": 20, "overflow_bin_days": 25},
    {"policy": "timetable:mon,thu", "km": 300.0, "crew_days": 8, "overflow_bin_days": 400},
    {"policy": "clairvoyant", "km": 550.0, "crew_days": 18, "overflow_bin_days": 10},
]


def test_the_bound_is_against_the_timetable_predictive_is_judged_against():
    best = best_timetable(ROWS)
    assert best["timetable"] == "timetable:mon,tue,wed,thu,fri,sat,sun" and best["saving"] == 0.3
    line = bound_line(ROWS, best)
    assert "550 km, 18 crew-days and 10 overflowing bin-days, 45% fewer km than timetable:mon,tue," in line


def test_no_bound_without_the_clairvoyant_or_a_timetable():
    assert bound_line(ROWS[:3], best_timetable(ROWS[:3])) == ""
    assert bound_line(ROWS[-1:], {"timetable": None}) == ""
