"""The simulation benchmark's reading of issue #15's goal: the timetable family and the best fixed timetable."""

from __future__ import annotations

import json

import pytest

from benchmarks.simulate import _updated, best_timetable, policy_rows, spread_timetable, verdict


def test_timetables_spread_their_days_through_the_week():
    """One to seven days a week, from Monday, as evenly as whole days allow."""
    assert [spread_timetable(n) for n in (1, 2, 3, 4, 7)] == [
        "timetable:mon",
        "timetable:mon,thu",
        "timetable:mon,wed,fri",
        "timetable:mon,tue,thu,sat",
        "timetable:mon,tue,wed,thu,fri,sat,sun",
    ]
    with pytest.raises(ValueError, match="per_week"):
        spread_timetable(8)


def _row(policy, km, overflow):
    return {"policy": policy, "km": km, "overflow_bin_days": overflow}


def test_best_timetable_is_the_cheapest_with_no_more_overflow():
    """Timetables overflowing more than predictive are out; of the rest the fewest km wins; threshold never counts."""
    rows = [
        _row("predictive", 600.0, 100),
        _row("timetable:mon,thu", 300.0, 400),
        _row("timetable:mon,wed,fri", 700.0, 100),
        _row("timetable:mon,tue,wed,thu,fri,sat,sun", 1000.0, 90),
        _row("threshold:80", 100.0, 50),
    ]
    best = best_timetable(rows)
    assert best["timetable"] == "timetable:mon,wed,fri" and best["km"] == 700.0
    assert best["saving"] == pytest.approx(1 - 600 / 700, abs=1e-3) and not best["goal_met"]
    assert "14% fewer" in verdict(best) and "not met" in verdict(best)
    rows[0] = _row("predictive", 400.0, 100)
    assert best_timetable(rows)["goal_met"]  # 43% fewer km


def test_the_goal_needs_fewer_crew_days_too():
    """40% fewer km but as many crew-days as the timetable does not meet the goal; one fewer does."""
    rows = [
        {**_row("predictive", 400.0, 100), "crew_days": 20},
        {**_row("timetable:mon,wed,fri", 700.0, 100), "crew_days": 20},
    ]
    assert not best_timetable(rows)["goal_met"]
    rows[0]["crew_days"] = 19
    assert best_timetable(rows)["goal_met"]


def test_no_timetable_as_good_is_said_so():
    """When every timetable overflows more there is no comparison: the verdict says why and names the closest."""
    best = best_timetable(
        [_row("predictive", 600.0, 10), _row("timetable:mon", 100.0, 500), _row("timetable:mon,thu", 800.0, 20)]
    )
    assert best["timetable"] is None and not best["goal_met"]
    assert best["closest"]["timetable"] == "timetable:mon,thu" and best["closest"]["saving"] == 0.25
    assert "every timetable" in verdict(best) and "25% fewer" in verdict(best)


def test_rows_count_overflows_after_the_first_day():
    """The second overflow column leaves out the first day, whose state every policy inherits."""
    result = {"policies": {"p": {"totals": {"overflow_bin_days": 7}, "days": [{"overflow_bin_days": 5}, {}]}}}
    assert policy_rows(result)[0]["overflow_after_day_one"] == 2


def test_update_keeps_the_other_policies_of_the_same_run(tmp_path):
    """--update replaces the policies rerun, keeps the rest in the usual order, and never mixes other days."""

    def run(policies, start="2026-10-26"):
        solver = {"engine": "ortools", "solution_limit": 30}
        return {"from": start, "to": "2026-11-22", "solver": solver, "policies": policies, "warnings": []}

    path = tmp_path / "simulation.json"
    path.write_text(json.dumps(run({"timetable:mon": {"old": 1}, "predictive": {"old": 1}})))
    merged = _updated(path, run({"predictive": {"new": 1}}))
    assert merged["policies"] == {"predictive": {"new": 1}, "timetable:mon": {"old": 1}}
    assert list(merged["policies"]) == ["predictive", "timetable:mon"]
    other = _updated(path, run({"predictive": {"new": 1}}, start="2026-11-01"))
    assert list(other["policies"]) == ["predictive"]
