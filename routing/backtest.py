"""Rolling-origin backtest of the fill forecast and of the collect rule.

For each day in the range, the model is fitted on the readings before
midnight (local) and asked for the fill at every later reading 1 and 2 days
ahead that was not preceded by an emptying (a collection is a decision, not
something to forecast). Two baselines are scored the same way: the last
reading, and the last reading grown at the bin's mean fill rate. The collect
rule is replayed too: a bin not marked ``must`` that reached 100% before the
next chance to collect it counts as an overflow the rule let happen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date as Date

import numpy as np
import pandas as pd

from .decide import MUST, DecisionRules, decide
from .errors import ForecastError
from .forecast import clean_readings, fit_fill_model, mark_emptyings, predict_mean

METHODS = ("model", "last_reading", "mean_rate")


@dataclass(frozen=True)
class BacktestResult:
    horizons: dict[str, dict[str, dict[str, float]]]
    overflows: dict[str, float]
    origins: int
    collect_at_s: int

    def as_dict(self) -> dict[str, object]:
        return {"horizons": self.horizons, "overflows": self.overflows, "origins": self.origins}

    def table(self) -> str:
        lines = [f"{'horizon':<8} {'method':<13} {'MAE':>7} {'RMSE':>7} {'n':>8}"]
        for h, methods in self.horizons.items():
            for name, score in methods.items():
                lines.append(
                    f"{h + ' d':<8} {name:<13} {score['mae']:>7.2f} {score['rmse']:>7.2f} {int(score['n']):>8}"
                )
        o = self.overflows
        lines.append(
            f"collect rule: {int(o['bin_days'])} bin-days, {int(o['collected'])} collected, "
            f"{int(o['overflows'])} overflow(s) let happen ({o['overflow_rate']:.2%} of bin-days left)"
        )
        return "\n".join(lines)


def _mean_rates(df: pd.DataFrame) -> pd.Series:
    """Each bin's average fill rate (% per day) between readings of one cycle."""
    same = df["bin_id"].eq(df["bin_id"].shift(1)) & df["cycle"].eq(df["cycle"].shift(1))
    days = df["timestamp"].diff().dt.total_seconds() / 86400
    rise = df["fill_pct"].diff()
    use = same & (days > 0) & (days <= 4)
    grouped = pd.DataFrame({"bin_id": df["bin_id"][use], "rise": rise[use], "days": days[use]}).groupby("bin_id")
    total = grouped.sum()
    return (total["rise"] / total["days"]).clip(lower=0)


def _score(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    pred = np.asarray(pred, dtype=float)
    truth = np.asarray(truth, dtype=float)
    ok = ~np.isnan(pred)
    err = pred[ok] - truth[ok]
    if len(err) == 0:
        return {"mae": math.nan, "rmse": math.nan, "n": 0}
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))), "n": len(err)}


def backtest(
    readings: pd.DataFrame,
    *,
    start: Date,
    end: Date,
    bins: pd.DataFrame | None = None,
    tz: str = "UTC",
    horizons: tuple[int, ...] = (1, 2),
    rules: DecisionRules | None = None,
    collect_at_s: int = 10 * 3600,
) -> BacktestResult:
    """Score 1- and 2-day forecasts from every midnight between ``start`` and ``end``.

    Raises
    ------
    ForecastError
        If the range is empty or no reading can be scored.
    """
    rules = rules or DecisionRules()
    if end < start:
        raise ForecastError(f"backtest range ends ({end}) before it starts ({start})")
    # The truth is the whole series, cleaned; each origin's model sees only the
    # readings before it, cleaned on their own (spike and stuck-sensor rules
    # look at neighbours, and a planner has no reading from tomorrow).
    clean, _ = clean_readings(readings)
    full = mark_emptyings(clean)
    raw = readings.assign(timestamp=pd.to_datetime(readings["timestamp"], utc=True))
    preds: dict[str, dict[str, list[np.ndarray]]] = {str(h): {m: [] for m in METHODS} for h in horizons}
    truths: dict[str, list[np.ndarray]] = {str(h): [] for h in horizons}
    bin_days = collected = overflows = 0
    origins = 0
    for day in pd.date_range(start, end, freq="D"):
        origin = day.tz_localize(tz)
        before = raw[raw["timestamp"] < origin]
        if before.empty:
            continue
        past = mark_emptyings(clean_readings(before)[0])
        if past.empty:
            continue
        origins += 1
        model = fit_fill_model(readings, bins=bins, tz=tz, cleaned=past)
        last = past.groupby("bin_id").tail(1).set_index("bin_id")
        cycle = full[full["timestamp"] < origin].groupby("bin_id")["cycle"].last()
        rate = _mean_rates(past)
        future = full[full["timestamp"] >= origin]
        future = future[future["bin_id"].isin(last.index) & future["bin_id"].isin(cycle.index)]
        same_cycle = future["cycle"].to_numpy() == cycle.loc[future["bin_id"]].to_numpy()
        for h in horizons:
            lo, hi = origin + pd.Timedelta(days=h - 1), origin + pd.Timedelta(days=h)
            window = future[same_cycle & (future["timestamp"] > lo).to_numpy() & (future["timestamp"] <= hi).to_numpy()]
            if window.empty:
                continue
            ids = window["bin_id"].to_numpy()
            f0 = last.loc[ids, "fill_pct"].to_numpy()
            t0 = last.loc[ids, "timestamp"]
            elapsed = (window["timestamp"].to_numpy() - t0.to_numpy()) / np.timedelta64(1, "D")
            r = rate.reindex(ids).fillna(rate.median() if len(rate) else 0.0).to_numpy()
            truth = window["fill_pct"].to_numpy()
            key = str(h)
            truths[key].append(truth)
            preds[key]["model"].append(np.clip(predict_mean(model, ids, window["timestamp"]), 0, 100))
            preds[key]["last_reading"].append(f0.astype(float))
            preds[key]["mean_rate"].append(np.clip(f0 + r * elapsed, 0, 100))
        # The collect rule, replayed for this day.
        collect = origin + pd.Timedelta(seconds=collect_at_s)
        decisions = decide(model, collect, rules)
        until = collect + pd.Timedelta(days=rules.next_opportunity_days)
        horizon = future[same_cycle & (future["timestamp"] <= until).to_numpy()]
        peak = horizon.groupby("bin_id")["fill_pct"].max()
        for b, d in decisions.items():
            if b not in last.index:
                continue
            bin_days += 1
            if d.decision == MUST:
                collected += 1
            elif peak.get(b, 0.0) >= 100.0:
                overflows += 1
    if origins == 0:
        raise ForecastError(f"no readings before {start}: nothing to backtest")
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for key, parts in truths.items():
        if not parts:
            raise ForecastError(f"no readings {key} day(s) after any origin between {start} and {end}")
        truth = np.concatenate(parts)
        scores[key] = {m: _score(np.concatenate(preds[key][m]), truth) for m in METHODS}
    left = bin_days - collected
    return BacktestResult(
        horizons=scores,
        overflows={
            "bin_days": bin_days,
            "collected": collected,
            "overflows": overflows,
            "overflow_rate": overflows / left if left else 0.0,
        },
        origins=origins,
        collect_at_s=collect_at_s,
    )
