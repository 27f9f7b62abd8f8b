"""P(fill ≥ the collect rule's threshold): calibrated from the cross-fitted residuals, scored in the backtest."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from binroute.routing.forecast.backtest import backtest
from binroute.routing.forecast.model import fit_fill_model
from binroute.routing.forecast.model_choice import MIN_CALIBRATION, Calibration

from .helpers import T0, linear, series


def _sawtooth(rate: float, bin_id: str, days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Readings every 6 hours of a bin filling at ``rate`` % a day (noisy), emptied when it passes 90%."""
    level, values = 0.0, []
    for _ in range(days * 4):
        values.append(min(level, 100.0))
        level = 0.0 if level > 90 else level + rate / 4 * (1 + 0.2 * rng.standard_normal())
    return series(values, bin_id)


def test_p_at_or_above_a_level_is_the_share_of_residuals_at_or_above_it():
    """With a pool of residuals, P(fill ≥ level) counts those at or above the level's distance; else a normal tail."""
    z = np.arange(-50, 50) / 10.0
    cal = Calibration(z={"dense:1": z})
    p = cal.exceed_level(["dense", "dense"], np.array([0.0, 4.95]), np.array([1, 1]))
    assert p == pytest.approx([(50 + 0.5) / 101, 0.5 / 101])
    small = Calibration(z={"dense:1": z[: MIN_CALIBRATION - 1]})
    assert small.exceed_level(["dense"], np.array([1.0]))[0] == pytest.approx(norm.sf(1.0))


def test_p_threshold_falls_as_the_level_rises():
    """A bin's P(fill ≥ level) is a probability that falls as the level rises, and is 1/2 near its forecast."""
    model = fit_fill_model(linear(10, 7))
    at = T0 + pd.Timedelta(days=8)
    p = [float(model.predict(at, threshold_pct=q).at["A", "p_threshold"]) for q in (50, 70, 80, 90, 100)]
    assert all(0 <= x <= 1 for x in p) and p == sorted(p, reverse=True)
    assert p[0] > 0.9 and p[-1] < 0.1  # the bin is forecast at 80%
    assert "p_threshold" not in model.predict(at).columns


@pytest.mark.parametrize("level", [0.0, -5.0, 120.0])
def test_a_threshold_outside_0_to_100_is_refused(level):
    """A threshold that is not a fill level in (0, 100] is a clear error naming it."""
    model = fit_fill_model(linear(10, 7))
    with pytest.raises(ValueError, match="threshold_pct"):
        model.predict(T0 + pd.Timedelta(days=8), threshold_pct=level)


def test_backtest_scores_p_threshold_against_what_was_seen():
    """Bins filling at different rates: P(fill ≥ 80%) is scored per shape and horizon, and beats the base rate."""
    rng = np.random.default_rng(0)
    readings = pd.concat(
        [_sawtooth(rate, f"B{k}", 24, rng) for k, rate in enumerate((8, 15, 25, 40, 60, 12))], ignore_index=True
    )
    result = backtest(readings, start=date(2026, 3, 16), end=date(2026, 3, 24), step_days=2)
    for where in ("all", "dense"):
        for h in ("1", "2"):
            t = result.threshold[where][h]
            assert t["level"] == 80.0 and t["n"] == sum(r["n"] for r in t["table"])  # type: ignore[union-attr]
            assert 0 <= t["brier"] < t["base"]  # type: ignore[operator]
    assert "threshold" in result.as_dict() and "P(fill >= 80%)" in result.table()
