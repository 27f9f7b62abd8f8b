"""Data shapes, shape-aware cleaning, collections as input, model choice, intervals and the backtest on logs."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from binroute.routing.forecast.backtest import backtest
from binroute.routing.forecast.fill_data import (
    COARSE,
    DENSE,
    LOG,
    clean_readings,
    detect_shapes,
    mark_emptyings,
    prepare,
)
from binroute.routing.forecast.fill_models import Candidates, add_row_features, fit_candidates
from binroute.routing.forecast.model import fit_fill_model
from binroute.routing.forecast.model_choice import Calibration, choose_models

from .helpers import series as readings

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")  # a Monday


def log_as_readings(levels, bin_id="L", every_days=3.0):
    """A collection log written as readings: the level just before each emptying, then 0 a minute after."""
    rows = []
    for i, f in enumerate(levels):
        t = T0 + pd.Timedelta(days=every_days * (i + 1))
        rows += [(bin_id, t, f), (bin_id, t + pd.Timedelta(minutes=1), 0.0)]
    return pd.DataFrame(rows, columns=["bin_id", "timestamp", "fill_pct"])


T7 = T0 + pd.Timedelta(hours=7)


def collections(levels, bin_id="L", every_days=3.0, start=T7):
    return pd.DataFrame(
        {
            "bin_id": bin_id,
            "collected_at": [start + pd.Timedelta(days=every_days * (i + 1)) for i in range(len(levels))],
            "fill_pct": levels,
        }
    )


def test_dense_feed_with_spike_loses_the_spike():
    """A lone 95% between readings of about 40% in a 6-hourly feed is dropped as a spike."""
    df = readings([38, 40, 41, 95, 43, 44, 46, 47])
    clean, report = clean_readings(df)
    assert detect_shapes(df)["A"] == DENSE
    assert report["A"]["spikes"] == 1
    assert 95 not in clean["fill_pct"].tolist()


def test_quantised_daily_feed_is_coarse_and_kept():
    """Daily levels in 10% steps, holding for days and jumping back, are all kept."""
    values = [0, 0, 0, 0, 10, 10, 20, 0, 0, 30, 0, 0]
    df = readings(values, hours=24)
    assert detect_shapes(df)["A"] == COARSE
    clean, report = clean_readings(df)
    assert clean["fill_pct"].tolist() == values
    assert report["A"]["spikes"] == 0 and report["A"]["stuck"] == 0


def test_log_as_readings_keeps_the_level_before_each_emptying():
    """In a log every informative reading has a low neighbour on both sides; it is not a spike."""
    df = log_as_readings([60, 80, 40, 100, 60, 80])
    assert detect_shapes(df)["L"] == LOG
    clean, report = clean_readings(df)
    assert report["L"]["spikes"] == 0
    assert sorted(clean["fill_pct"].tolist())[-6:] == [40, 60, 60, 80, 80, 100]
    # The same values read as a dense feed (6-hourly) would lose them.
    dense = readings([0, 60, 0, 80, 0, 40, 0, 100, 0])
    assert clean_readings(dense, shapes={"A": DENSE})[1]["A"]["spikes"] > 0


def test_reading_followed_by_a_known_emptying_is_not_a_spike():
    """A dense feed whose jump is followed by a recorded collection keeps the jump."""
    df = readings([10, 12, 70, 12, 14, 16, 18])
    col = pd.DataFrame({"bin_id": ["A"], "collected_at": [T0 + pd.Timedelta(hours=14)], "fill_pct": [np.nan]})
    assert clean_readings(df)[1]["A"]["spikes"] == 1
    clean, report = clean_readings(df, collections=col)
    assert report["A"]["spikes"] == 0 and 70 in clean["fill_pct"].tolist()


def test_collections_with_levels_become_cycles():
    """Each collection adds its level before the emptying and a 0 after it, and starts a cycle."""
    df, _, shapes = prepare(None, collections([50, 70, np.nan, 40]))
    assert shapes == {"L": LOG}
    assert df["source"].tolist() == [
        "collection",
        "emptied",
        "collection",
        "emptied",
        "emptied",
        "collection",
        "emptied",
    ]
    assert df["fill_pct"].tolist() == [50, 0, 70, 0, 0, 40, 0]
    assert df["cycle"].tolist() == [0, 1, 1, 2, 3, 3, 4]


def test_collections_without_levels_still_mark_emptyings():
    """A log with no fill levels gives cycle boundaries and zeros, nothing to fit a rate on."""
    df, _, shapes = prepare(None, collections([np.nan] * 3))
    assert shapes["L"] == LOG
    assert (df["source"] == "emptied").all() and df["cycle"].tolist() == [1, 2, 3]


def test_shape_detection_is_per_bin():
    """One frame holding three shapes gets one shape per bin."""
    dense = readings(list(np.linspace(5, 80, 20).round(1)), "D")
    coarse = readings([0, 20, 20, 40, 60, 0, 20, 40], "C", hours=24)
    log = log_as_readings([60, 80, 40, 100], "L")
    assert detect_shapes(pd.concat([dense, coarse, log])) == {"C": COARSE, "D": DENSE, "L": LOG}


def test_dense_readings_with_collections_take_emptyings_from_the_log():
    """A slow drop the drop rule misses is still a new cycle when a collection says so."""
    df = readings([30, 40, 50, 45, 50, 55])  # 50 -> 45 is no emptying by the drop rule
    col = pd.DataFrame({"bin_id": ["A"], "collected_at": [T0 + pd.Timedelta(hours=14)], "fill_pct": [50.0]})
    marked = mark_emptyings(clean_readings(df, collections=col)[0], collections=col)
    sensor = marked[marked["source"] == "sensor"]
    assert sensor["cycle"].tolist() == [0, 0, 0, 1, 1, 1]


def _two_bins(days=40):
    """Bin A fills 10%/day exactly; bin B stays at 30% with noise of ±1."""
    hours = 6
    n = int(days * 24 / hours)
    t = [T0 + pd.Timedelta(hours=hours * i) for i in range(n)]
    a = (np.arange(n) * 10 * hours / 24) % 90
    b = 30 + np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return pd.concat(
        [
            pd.DataFrame({"bin_id": "A", "timestamp": t, "fill_pct": a}),
            pd.DataFrame({"bin_id": "B", "timestamp": t, "fill_pct": b}),
        ],
        ignore_index=True,
    )


def test_model_choice_picks_the_baseline_when_the_learned_model_is_worse():
    """A learned model that is worse on a bin's past is not chosen for it; the better baseline is."""
    data = _two_bins()
    df, _, shapes = prepare(data)
    rows = add_row_features(df, shapes)
    cut = T0 + pd.Timedelta(days=20)
    fitted = fit_candidates(
        rows[rows["timestamp"] < cut], all_ids=["A", "B"], groups={}, streams={}, tz="UTC", learned=False
    )

    class Bad:
        """A learned model that always says 100%."""

        def predict(self, a, target, naive, stream):
            return np.full(len(a), 100.0)

    bad = Candidates(
        fitted.weekday,
        fitted.mean_rate,
        Bad(),  # type: ignore[arg-type]
        {"A": "A", "B": "B"},
        {},
        "UTC",
        fitted.censored,
    )
    origins = pd.date_range(cut, periods=19, freq="D")
    choice = choose_models(rows, bad, origins, shapes)
    assert choice is not None
    assert choice.chosen["A"] != "gbm" and choice.chosen["B"] != "gbm"
    assert choice.chosen["A"] in ("mean_rate", "censored", "weekday")
    assert choice.mae.at["A", choice.chosen["A"]] <= choice.mae.at["A", "mean_rate"]
    assert choice.mae.at["B", choice.chosen["B"]] <= choice.mae.at["B", "mean_rate"]
    assert choice.mae.at["A", "gbm"] > 20


def test_forecast_records_model_and_calibrated_interval():
    """A fitted model names each bin's model; p10 ≤ fill ≤ p90 and P(overflow) is a probability."""
    model = fit_fill_model(_two_bins(), learned=False)
    pred = model.predict(T0 + pd.Timedelta(days=40, hours=6))
    assert set(pred["model"]) <= {"mean_rate", "censored", "weekday"}
    assert (pred["fill_p10"] <= pred["fill_pct"] + 1e-9).all() and (pred["fill_pct"] <= pred["fill_p90"] + 1e-9).all()
    assert pred["p_overflow"].between(0, 1).all()
    # B hovers at 30%: its forecast is near 30 and far from overflowing.
    assert pred.at["B", "fill_pct"] == pytest.approx(30, abs=2)
    assert pred.at["B", "p_overflow"] < 0.05


def test_calibration_quantiles_and_exceedance():
    """With enough residuals the interval comes from their quantiles, not the normal."""
    z = np.sort(np.linspace(-2, 2, 101))
    cal = Calibration({"log": z})
    lo, hi = cal.bounds(["log", "dense"])
    assert lo[0] == pytest.approx(-1.6) and hi[0] == pytest.approx(1.6)
    assert lo[1] == pytest.approx(-1.2816, abs=1e-3)  # too few for dense: normal
    p = cal.exceed(["log"], np.array([1.0]))
    assert p[0] == pytest.approx((26 + 0.5) / 102)


@pytest.mark.slow
def test_backtest_on_collections_only():
    """A log alone is backtested: truths are the levels at collection, scored per shape with coverage and Brier."""
    rng = np.random.default_rng(1)
    every = 2.0
    levels = np.clip(every * 20 + rng.normal(0, 5, 60), 0, 100).round(-1)  # 20%/day, in 10% steps
    col = pd.concat([collections(levels, "L1", every), collections(levels[::-1], "L2", every)])
    result = backtest(None, collections=col, start=date(2026, 4, 1), end=date(2026, 4, 20), learned=False)
    one = result.horizons["1"]
    assert one["model"]["n"] > 0 and result.horizons["2"]["model"]["n"] > 0
    assert set(result.shapes) == {"log"}
    # Every naive forecast is scored on the same points; always-full is far off, the mean rate near the truth.
    assert {m: one[m]["n"] for m in ("last", "mean_fill", "mean_rate", "full")} == dict.fromkeys(
        ("last", "mean_fill", "mean_rate", "full"), one["model"]["n"]
    )
    assert one["full"]["mae"] > 40
    assert one["mean_rate"]["mae"] < 10
    assert one["model"]["mae"] <= one["mean_rate"]["mae"] + 2
    assert 0 <= result.coverage["1"] <= 1 and 0 <= result.brier["1"] <= 1
    assert sum(result.chosen.values()) == 2 * result.origins


def test_backtest_on_mixed_data():
    """Dense readings for one bin and a collection log for another are scored together, per shape."""
    dense = _two_bins(30)
    dense = dense[dense["bin_id"] == "A"]
    col = collections(np.full(15, 40.0), "L", 2.0)
    result = backtest(dense, collections=col, start=date(2026, 3, 20), end=date(2026, 3, 28), learned=False)
    assert set(result.shapes) == {"dense", "log"}
    assert result.shapes["dense"]["horizons"]["1"]["model"]["mae"] < 3  # type: ignore[index]
    assert result.shapes["log"]["horizons"]["2"]["mean_rate"]["n"] > 0  # type: ignore[index]


def test_no_data_at_all_gives_unknown_fills():
    """Bins listed without readings or collections are kept, with an unknown fill."""
    empty = readings([])
    bins = pd.DataFrame({"bin_id": ["A", "B"], "stream": "general", "lon": 0.0, "lat": 0.0})
    pred = fit_fill_model(empty, bins=bins).predict(T0)
    assert pred["fill_pct"].isna().all() and list(pred.index) == ["A", "B"]


def test_overflow_curve_is_fitted_on_outcomes_not_censored_residuals():
    """P(overflow) follows the past outcomes: near certain at or past 100%, small far below, falling in between."""
    from binroute.routing.forecast.model_choice import fit_overflow_curve

    rng = np.random.default_rng(0)
    need = rng.uniform(-3, 6, 4000)
    full = rng.logistic(0.0, 0.7, 4000) >= need  # the true curve: expit(-need / 0.7)
    a, b = fit_overflow_curve(need, full)
    cal = Calibration(logit={"dense": (a, b)})
    p = cal.exceed(["dense"] * 3, np.array([-2.0, 0.0, 4.0]))
    assert p[0] > 0.9 and p[0] > p[1] > p[2] and p[2] < 0.01
    assert p[1] == pytest.approx(0.5, abs=0.06)
    assert fit_overflow_curve(need[:30], full[:30] & False) is None  # no overflows: no curve
