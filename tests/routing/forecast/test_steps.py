"""Levels recorded in steps: the next step's distribution, its median, P(full) and pooling by empirical Bayes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from binroute.routing.forecast.fill_data import prepare
from binroute.routing.forecast.fill_models import add_row_features, anchors_at, fit_candidates
from binroute.routing.forecast.steps import fit_steps, step_pairs

START = pd.Timestamp("2026-03-02 02:00", tz="UTC")


def daily(bin_id: str, levels) -> pd.DataFrame:
    """One snapshot a day of a bin, levels in 20% steps."""
    return pd.DataFrame(
        {
            "bin_id": bin_id,
            "timestamp": [START + pd.Timedelta(days=i) for i in range(len(levels))],
            "fill_pct": np.asarray(levels, dtype=float),
        }
    )


def jumpy(rng: np.random.Generator, days: int, p_jump: float) -> np.ndarray:
    """An empty bin found at 80% on a day with probability ``p_jump``; full the next day, then emptied."""
    out, level = [], 0.0
    for _ in range(days):
        out.append(level)
        if level == 0.0:
            level = 80.0 if rng.random() < p_jump else 0.0
        elif level == 80.0:
            level = 100.0
        else:
            level = 0.0
    return np.array(out)


def rows_of(readings: pd.DataFrame) -> pd.DataFrame:
    df, _, shapes = prepare(readings, None)
    return add_row_features(df, shapes)


def anchor(rows: pd.DataFrame, bin_id: str, level: float) -> pd.DataFrame:
    """The bin's last row at ``level`` (its features as they were then)."""
    own = rows[(rows["bin_id"] == bin_id) & (rows["fill_pct"] == level)]
    return own.tail(1).reset_index(drop=True)


def test_the_median_step_is_forecast_not_the_rounded_mean():
    """Empty bins found at 80% the next day 35% of the time: the forecast stays 0 (the mean, 28, would say 20 or 40)."""
    rng = np.random.default_rng(1)
    rows = rows_of(pd.concat([daily(f"B{i}", jumpy(rng, 200, 0.35)) for i in range(6)]))
    model = fit_steps(rows, {})
    a = anchor(rows, "B0", 0.0)
    median, p_full = model.distribution(a, a["timestamp"] + pd.Timedelta(days=1))
    assert median[0] == 0.0
    assert p_full[0] < 0.05  # full only by way of 80%
    a80 = anchor(rows, "B0", 80.0)
    median, p_full = model.distribution(a80, a80["timestamp"] + pd.Timedelta(days=1))
    assert median[0] == 100.0
    assert p_full[0] > 0.9


def test_bins_that_differ_follow_their_own_past_and_bins_alike_are_pooled():
    """Empirical Bayes: bins with opposite habits keep them (weak pooling); alike bins share one distribution."""
    rng = np.random.default_rng(2)
    alike = fit_steps(rows_of(pd.concat([daily(f"A{i}", jumpy(rng, 200, 0.3)) for i in range(6)])), {})
    differ_rows = rows_of(pd.concat([daily(f"D{i}", jumpy(rng, 200, 0.9 if i % 2 else 0.05)) for i in range(6)]))
    differ = fit_steps(differ_rows, {})
    assert differ.grids[20.0].alpha[-1] < alike.grids[20.0].alpha[-1] / 2
    fast, slow = anchor(differ_rows, "D1", 0.0), anchor(differ_rows, "D0", 0.0)
    both = pd.concat([fast, slow], ignore_index=True)
    median, _ = differ.distribution(both, both["timestamp"] + pd.Timedelta(days=1))
    assert median.tolist() == [80.0, 0.0]


def test_a_bin_with_three_pairs_follows_its_group():
    """A new bin seen three times going 0 → 80 among bins that stay at 0 is forecast like its group."""
    rng = np.random.default_rng(3)
    group = [daily(f"G{i}", jumpy(rng, 200, 0.1)) for i in range(6)]
    new = daily("N", [0, 80, 100, 0, 80, 100, 0, 80])
    rows = rows_of(pd.concat([*group, new]))
    model = fit_steps(rows, {})
    a = anchor(rows, "N", 0.0)
    median, _ = model.distribution(a, a["timestamp"] + pd.Timedelta(days=1))
    assert median[0] == 0.0


def test_a_log_gets_the_fill_at_collection_for_the_bins_age():
    """A log where bins emptied after one day hold 20% and after four days 80%: the forecast reads the age."""
    times, levels = [], []
    t = pd.Timestamp("2026-03-01 10:00", tz="UTC")
    for i in range(60):
        gap = 1.0 if i % 2 else 4.0
        t = t + pd.Timedelta(days=gap)
        times.append(t)
        levels.append(20.0 if gap == 1.0 else 80.0)
    col = pd.concat([pd.DataFrame({"bin_id": f"L{k}", "collected_at": times, "fill_pct": levels}) for k in range(3)])
    df, _, shapes = prepare(None, col)
    rows = add_row_features(df, shapes)
    model = fit_steps(rows, {})
    a = anchors_at(rows, pd.DatetimeIndex([times[-1] + pd.Timedelta(hours=1)]))
    a = a[a["bin_id"] == "L0"].reset_index(drop=True)
    one, _ = model.distribution(a, a["timestamp"] + pd.Timedelta(days=1))
    four, _ = model.distribution(a, a["timestamp"] + pd.Timedelta(days=4))
    assert (one[0], four[0]) == (20.0, 80.0)


def test_bins_not_recorded_in_steps_get_the_mean_rate_forecast():
    """A plain sensor feed: the step candidate says what mean_rate says (a tie the choice resolves to mean_rate)."""
    times = [START + pd.Timedelta(hours=6 * i) for i in range(80)]
    plain = pd.DataFrame({"bin_id": "P", "timestamp": times, "fill_pct": [(7.3 * i) % 90 + 1.1 for i in range(80)]})
    rows = rows_of(plain)
    fitted = fit_candidates(rows, all_ids=["P"], groups={}, streams={}, tz="UTC", learned=False)
    a = anchors_at(rows, pd.DatetimeIndex([times[-1] + pd.Timedelta(hours=1)]))
    preds = fitted.predict(a, a["timestamp"] + pd.Timedelta(days=1))
    assert preds["steps"][0] == pytest.approx(preds["mean_rate"][0])
    median, p_full = fitted.steps.distribution(a, a["timestamp"] + pd.Timedelta(days=1))
    assert np.isnan(median[0]) and np.isnan(p_full[0])


def test_the_consensus_is_the_median_of_three_kinds_of_model():
    """Without the learned trees the consensus takes the censored rate, the step median and the weekday model."""
    rng = np.random.default_rng(4)
    rows = rows_of(pd.concat([daily(f"B{i}", jumpy(rng, 120, 0.3 + 0.1 * i)) for i in range(6)]))
    fitted = fit_candidates(rows, all_ids=[f"B{i}" for i in range(6)], groups={}, streams={}, tz="UTC", learned=False)
    a = anchors_at(rows, pd.DatetimeIndex([rows["timestamp"].max() + pd.Timedelta(hours=1)]))
    preds = fitted.predict(a, a["timestamp"] + pd.Timedelta(days=1))
    members = np.stack([preds["censored"], preds["steps"], preds["weekday"]])
    assert "gbm" not in preds
    assert preds["consensus"] == pytest.approx(np.median(members, axis=0))
    only = fitted.predict(a, a["timestamp"] + pd.Timedelta(days=1), ("consensus",))
    assert list(only) == ["consensus"]
    assert only["consensus"] == pytest.approx(preds["consensus"])


def test_the_bin_level_counts_grow_with_the_pairs_seen_not_with_bins_times_cells():
    """Two hundred bins with a few days each: the bin table holds only the cells they visited."""
    rng = np.random.default_rng(5)
    rows = rows_of(pd.concat([daily(f"M{i:03d}", jumpy(rng, 6, 0.5)) for i in range(200)]))
    model = fit_steps(rows, {})
    grid = model.grids[20.0]
    pairs = step_pairs(rows, model.steps)
    visited = pairs[pairs["step"] == 20.0].drop_duplicates(["bin_id", "s", "e", "g"])
    assert grid.n_bin.counts.shape[0] == len(visited) < 200 * grid.n_all[..., 0].size / 10
    assert grid.n_bin.counts.sum() == pytest.approx(grid.n_all.sum()) == (pairs["step"] == 20.0).sum()
