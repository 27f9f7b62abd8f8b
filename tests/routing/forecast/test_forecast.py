"""Cleaning, emptying detection, the fill model, the collect rule and the backtest."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from binroute.routing.forecast.backtest import backtest
from binroute.routing.forecast.decide import MAY, MUST, SKIP, DecisionRules, decide, demand_of
from binroute.routing.forecast.model import BinFit, FillModel, clean_readings, fit_fill_model, mark_emptyings

from .helpers import T0, linear, series


def test_out_of_range_values_are_clipped_or_dropped():
    """-3 and 104 are clipped; 255 and -40 are dropped; each is counted."""
    df = pd.concat([series([95, 104, 98, 255, 99], "A"), series([2, -3, 1, -40, 3], "B")])
    clean, report = clean_readings(df)
    assert report["A"]["clipped"] == 1 and report["A"]["out_of_range"] == 1
    assert report["B"]["clipped"] == 1 and report["B"]["out_of_range"] == 1
    assert clean["fill_pct"].between(0, 100).all()
    assert len(clean) == 8


def test_duplicates_are_merged():
    """Two readings at one instant become their median."""
    df = pd.concat([series([10, 20, 30]), series([10, 24, 30])])
    clean, report = clean_readings(df)
    assert report["A"]["duplicates"] == 3
    assert clean["fill_pct"].tolist() == [10, 22, 30]


@pytest.mark.parametrize("spike", [90, 0])
def test_single_spikes_are_dropped(spike):
    """A lone jump up or down between agreeing neighbours is noise."""
    clean, report = clean_readings(series([40, 42, spike, 44, 46]))
    assert report["A"]["spikes"] == 1
    assert spike not in clean["fill_pct"].tolist()


def test_stuck_sensor_keeps_only_first_reading():
    """The same value for three days is a stuck sensor."""
    clean, report = clean_readings(series([10, 20] + [33] * 13 + [80], hours=6))
    assert report["A"]["stuck"] == 12
    assert clean["fill_pct"].tolist() == [10, 20, 33, 80]


def test_unordered_and_mixed_zone_timestamps_are_sorted():
    """Timestamps in other zones and out of order end up in UTC order."""
    df = pd.DataFrame(
        {
            "bin_id": ["A", "A", "A"],
            "timestamp": [
                pd.Timestamp("2026-03-02 14:00", tz="Europe/Helsinki"),
                pd.Timestamp("2026-03-02 10:00", tz="UTC"),
                pd.Timestamp("2026-03-02 08:00", tz="UTC"),
            ],
            "fill_pct": [30, 20, 10],
        }
    )
    clean, _ = clean_readings(df)
    assert clean["fill_pct"].tolist() == [10, 20, 30]


def test_long_gap_is_counted_and_bin_never_dropped():
    """A bin whose readings are all bad stays in the report."""
    df = pd.concat([series([999, 999], bin_id="BAD"), series([10, 20]), series([30], start=T0 + pd.Timedelta(days=6))])
    _, report = clean_readings(df)
    assert report["BAD"]["out_of_range"] == 2
    assert report["A"]["gaps"] == 1


def test_emptying_detection():
    """A large drop starts a new cycle; small dips do not."""
    df = mark_emptyings(series([10, 30, 50, 70, 5, 20, 22, 18, 3, 20]))
    assert df["cycle"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_constant_rate_is_recovered():
    """A bin filling 10% a day is predicted to do so."""
    model = fit_fill_model(linear(10, 7))
    fit = model.fits["A"]
    assert fit.rates == pytest.approx([10] * 7, abs=0.3)
    pred = model.predict(T0 + pd.Timedelta(days=8))
    assert pred.at["A", "fill_pct"] == pytest.approx(80, abs=1)
    assert pred.at["A", "fill_p10"] <= pred.at["A", "fill_pct"] <= pred.at["A", "fill_p90"]


def test_weekday_pattern_is_learned():
    """A bin that fills twice as fast at weekends gets weekend rates about twice the weekday ones."""
    hours = pd.date_range(T0, T0 + pd.Timedelta(days=28), freq="6h")
    rate = np.where(hours.day_of_week >= 5, 20.0, 10.0) / 4
    level = np.cumsum(rate) % 90  # emptied whenever it passes 90
    model = fit_fill_model(pd.DataFrame({"bin_id": "A", "timestamp": hours, "fill_pct": level}))
    rates = model.fits["A"].rates
    assert rates[5:].mean() / rates[:5].mean() == pytest.approx(2.0, rel=0.15)


def test_one_reading_borrows_from_its_group():
    """A bin with one reading takes the rates of its stream and says so."""
    bins = pd.DataFrame({"bin_id": ["A", "B", "NEW"], "stream": "general", "lon": 0.0, "lat": 0.0})
    df = pd.concat([linear(10, 7, "A"), linear(12, 7, "B"), series([30], "NEW", start=T0 + pd.Timedelta(days=7))])
    model = fit_fill_model(df, bins=bins)
    fit = model.fits["NEW"]
    assert fit.borrowed and "short history" in fit.note
    assert fit.rates.mean() == pytest.approx(11, abs=1)
    assert model.predict(T0 + pd.Timedelta(days=8)).at["NEW", "fill_pct"] == pytest.approx(41, abs=2)


def test_bin_without_readings_is_kept_unknown():
    """A bin listed in bins.csv with no readings has an unknown fill, not a made-up one."""
    bins = pd.DataFrame({"bin_id": ["A", "GHOST"], "stream": "general", "lon": 0.0, "lat": 0.0})
    model = fit_fill_model(linear(10, 3), bins=bins)
    assert np.isnan(model.predict(T0 + pd.Timedelta(days=4)).at["GHOST", "fill_pct"])


def test_overflow_probability_grows_with_horizon():
    model = fit_fill_model(linear(10, 7))
    p = [model.predict(T0 + pd.Timedelta(days=d)).at["A", "p_overflow"] for d in (8, 9, 10, 11)]
    assert p == sorted(p) and p[0] < 0.5 < p[-1]


def _model(level, rate, sigma2=4.0):
    fit = BinFit("X", np.full(7, float(rate)), sigma2, level, T0, 30.0, "g", False)
    return FillModel({"X": fit}, "UTC")


@pytest.mark.parametrize(
    ("level", "rate", "expected"),
    [(85, 5, MUST), (60, 45, MUST), (55, 25, MAY), (10, 5, SKIP)],
)
def test_collect_rule(level, rate, expected):
    """Due now or risky → must; due by the next chance → may; else skip."""
    d = decide(_model(level, rate), T0, DecisionRules(threshold_pct=80, overflow_risk=0.1))["X"]
    assert d.decision == expected, d.reason
    assert d.reason
    assert (d.prize > 0) == (expected == MAY)


def test_demand_by_density_and_compaction():
    """Half of 1000 L of general waste is 50 kg and 500/3 L in the lorry."""
    kg, litres = demand_of(50, 1000, "general", DecisionRules())
    assert kg == pytest.approx(50) and litres == pytest.approx(500 / 3)


def test_backtest_known_answer():
    """On a noiseless 5%/day bin the model is exact and the last reading lags by the elapsed time."""
    result = backtest(linear(5, 10), start=date(2026, 3, 5), end=date(2026, 3, 7))
    one = result.horizons["1"]
    assert one["model"]["mae"] == pytest.approx(0, abs=0.05)
    assert one["last"]["mae"] == pytest.approx(4.375, abs=1e-6)
    assert one["mean_rate"]["mae"] == pytest.approx(0, abs=0.05)
    assert set(result.horizons) == {"1", "2"}


def test_backtest_cleans_only_what_was_known_at_each_origin():
    """A spike on the last reading before midnight cannot be seen as one until the next reading arrives."""
    df = linear(5, 10)
    df.loc[11, "fill_pct"] += 40  # 18:00 the evening before the origin: 13.75% read as 53.75%
    result = backtest(df, start=date(2026, 3, 5), end=date(2026, 3, 5))
    # The planner's last reading is the spike; the truth next day (cleaned afterwards) is 16.25-20%.
    assert result.horizons["1"]["last"]["mae"] == pytest.approx(53.75 - 18.125)
