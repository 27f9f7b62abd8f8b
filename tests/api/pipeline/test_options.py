"""A run's options: one time-limit rule, bounds checked where options are built, JSON round trip."""

from __future__ import annotations

from datetime import date

import pytest

from binroute.api.pipeline.options import DEFAULT_TIME_LIMIT_S, PlanOptions, time_limit_for


@pytest.mark.parametrize(
    ("time_limit_s", "solution_limit", "expected"),
    [(None, None, DEFAULT_TIME_LIMIT_S), (None, 10, None), (5.0, 10, 5.0), (5.0, None, 5.0)],
)
def test_time_limit_rule(time_limit_s, solution_limit, expected):
    """The given limit wins; a solution limit alone means none; otherwise the default."""
    assert time_limit_for(time_limit_s, solution_limit) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_limit_s": 0.0}, "time_limit_s"),
        ({"time_limit_s": 10_000.0}, "time_limit_s"),
        ({"solution_limit": 0}, "solution_limit"),
        ({"engine": "magic"}, "engine"),
        ({"threshold_pct": 0.0}, "threshold_pct"),
        ({"threshold_pct": 101.0}, "threshold_pct"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 40}, "horizon_days"),
    ],
)
def test_bad_options_name_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PlanOptions(date=date(2026, 11, 23), **kwargs)


def test_json_round_trip_and_old_rows():
    """Stored options read back the same; rows stored before solution_limit and include_may get defaults."""
    options = PlanOptions(date=date(2026, 11, 23), time_limit_s=None, solution_limit=7, include_may=False)
    assert PlanOptions.from_json(options.as_json()) == options
    old = {"date": "2026-11-23", "time_limit_s": 2, "engine": "ortools", "seed": 0, "tiles": None}
    assert PlanOptions.from_json(old) == PlanOptions(date=date(2026, 11, 23), time_limit_s=2, engine="ortools")
