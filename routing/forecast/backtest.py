"""Rolling-origin backtest of the fill forecast and of the collect rule.

For each origin day in the range, the model is fitted on the data before
midnight (local): readings, collections or both, cleaned as they were known
then; it is asked for the fill at every later observation 1 and 2 days
ahead that was not preceded by an emptying (a collection is a decision, not
something to forecast): a sensor reading, or the level recorded at a
collection. Two baselines are scored the same way: the last reading, and
the last reading grown at the bin's mean fill rate (for a collection log:
mean rate × days since the last emptying). Scores are reported overall and
per data shape (``dense``, ``coarse``, ``log``): MAE and RMSE, the share of
truths inside the 10–90% interval, and the Brier score of P(fill ≥ 100%).
The collect rule is replayed too: a bin not marked ``must`` that reached
100% before the next chance to collect it counts as an overflow the rule
let happen.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date as Date

import numpy as np
import pandas as pd

from ..errors import ForecastError
from .decide import MUST, DecisionRules, decide
from .fill_data import prepare, validate_collections
from .model import fit_fill_model
from .model_choice import FULL_PCT as FULL_PCT

METHODS = ("model", "last_reading", "mean_rate")


@dataclass(frozen=True)
class BacktestResult:
    """Scores per horizon (``"1"``, ``"2"``) and method, overall and per data shape."""

    horizons: dict[str, dict[str, dict[str, float]]]
    overflows: dict[str, float]
    origins: int
    collect_at_s: int
    coverage: dict[str, float] = field(default_factory=dict)
    brier: dict[str, float] = field(default_factory=dict)
    shapes: dict[str, dict[str, object]] = field(default_factory=dict)
    chosen: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "horizons": self.horizons,
            "overflows": self.overflows,
            "origins": self.origins,
            "coverage": self.coverage,
            "brier": self.brier,
            "chosen": self.chosen,
            "shapes": self.shapes,
        }

    def table(self) -> str:
        lines = [f"{'horizon':<8} {'method':<13} {'MAE':>7} {'RMSE':>7} {'n':>8}"]
        for h, methods in self.horizons.items():
            for name, score in methods.items():
                lines.append(
                    f"{h + ' d':<8} {name:<13} {score['mae']:>7.2f} {score['rmse']:>7.2f} {int(score['n']):>8}"
                )
        for h in self.horizons:
            if h in self.coverage:
                lines.append(
                    f"{h} d: 10-90% interval covers {self.coverage[h]:.1%} of truths; "
                    f"Brier score of P(overflow) {self.brier[h]:.4f}"
                )
        if self.chosen:
            total = sum(self.chosen.values())
            lines.append("models chosen: " + ", ".join(f"{k} {v / total:.0%}" for k, v in self.chosen.items()))
        for s, info in self.shapes.items():
            lines.append(f"{s}: {info['bins']} bin(s)")
            horizons: dict[str, dict[str, dict[str, float]]] = info["horizons"]  # type: ignore[assignment]
            for h, methods in horizons.items():
                scores = ", ".join(f"{m} {v['mae']:.2f}/{v['rmse']:.2f}" for m, v in methods.items())
                cov, bri = info["coverage"][h], info["brier"][h]  # type: ignore[index]
                lines.append(f"  {h} d MAE/RMSE: {scores}; coverage {cov:.1%}; Brier {bri:.4f}")
        o = self.overflows
        lines.append(
            f"collect rule: {int(o['bin_days'])} bin-days, {int(o['collected'])} collected, "
            f"{int(o['overflows'])} overflow(s) let happen ({o['overflow_rate']:.2%} of bin-days left)"
        )
        return "\n".join(lines)


def _score(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    pred = np.asarray(pred, dtype=float)
    truth = np.asarray(truth, dtype=float)
    ok = ~np.isnan(pred)
    err = pred[ok] - truth[ok]
    if len(err) == 0:
        return {"mae": math.nan, "rmse": math.nan, "n": 0}
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))), "n": len(err)}


def _scores(frame: pd.DataFrame) -> tuple[dict[str, dict[str, float]], float, float]:
    """MAE/RMSE per method, interval coverage and Brier score of one set of scored truths."""
    truth = frame["truth"].to_numpy()
    methods = {m: _score(frame[m].to_numpy(), truth) for m in METHODS}
    ok = ~np.isnan(frame["p10"].to_numpy())
    inside = (frame["p10"].to_numpy()[ok] - 1e-9 <= truth[ok]) & (truth[ok] <= frame["p90"].to_numpy()[ok] + 1e-9)
    cover = float(inside.mean()) if ok.any() else math.nan
    full = (truth[ok] >= FULL_PCT).astype(float)
    brier = float(np.mean((frame["p_over"].to_numpy()[ok] - full) ** 2)) if ok.any() else math.nan
    return methods, cover, brier


def backtest(
    readings: pd.DataFrame | None,
    *,
    start: Date,
    end: Date,
    bins: pd.DataFrame | None = None,
    tz: str = "UTC",
    horizons: tuple[int, ...] = (1, 2),
    rules: DecisionRules | None = None,
    collect_at_s: int = 10 * 3600,
    collections: pd.DataFrame | None = None,
    step_days: int = 1,
    learned: bool = True,
) -> BacktestResult:
    """Score 1- and 2-day forecasts from every ``step_days``-th midnight between ``start`` and ``end``.

    Parameters
    ----------
    readings
        Sensor readings (may be empty or ``None`` with ``collections``).
    start, end
        First and last origin day (local dates).
    bins, tz
        As for :func:`binroute.routing.forecast.model.fit_fill_model`.
    horizons
        Days ahead to score.
    rules, collect_at_s
        The collect rule replayed each day, at this many seconds after midnight.
    collections
        Optional collection events (``bin_id``, ``collected_at``, ``fill_pct``, optional ``kg``).
    step_days
        Use every n-th day of the range as an origin (long ranges).
    learned
        Whether the gradient-boosted candidate takes part.

    Raises
    ------
    ForecastError
        If the range is empty or no observation can be scored.
    """
    rules = rules or DecisionRules()
    if end < start:
        raise ForecastError(f"backtest range ends ({end}) before it starts ({start})")
    if step_days < 1:
        raise ForecastError(f"step_days must be at least 1, not {step_days}")
    if readings is None:
        readings = pd.DataFrame({"bin_id": [], "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"), "fill_pct": []})
    col = validate_collections(collections)
    # The truth is the whole series, cleaned; each origin's model sees only the
    # data before it, cleaned on its own (spike and stuck-sensor rules look at
    # neighbours, and a planner has no reading from tomorrow).
    full, _, shapes = prepare(readings, col)
    raw_ts = pd.to_datetime(readings["timestamp"], utc=True)
    frames: dict[str, list[pd.DataFrame]] = {str(h): [] for h in horizons}
    chosen: Counter[str] = Counter()
    bin_days = collected = overflows = 0
    origins = 0
    for day in pd.date_range(start, end, freq=f"{step_days}D"):
        origin = day.tz_localize(tz)
        if not ((raw_ts < origin).any() or (col["collected_at"] < origin).any()):
            continue
        model = fit_fill_model(readings, bins=bins, tz=tz, before=origin, collections=col, learned=learned)
        if model.anchors is None or model.anchors.empty:
            continue
        origins += 1
        known = model.anchors.index
        chosen.update(model.chosen.get(b, "") for b in known)
        cycle = full[full["timestamp"] < origin].groupby("bin_id")["cycle"].last()
        future = full[(full["timestamp"] >= origin) & (full["source"] != "emptied")]
        future = future[future["bin_id"].isin(known) & future["bin_id"].isin(cycle.index)]
        same_cycle = future["cycle"].to_numpy() == cycle.reindex(future["bin_id"]).to_numpy()
        for h in horizons:
            lo, hi = origin + pd.Timedelta(days=h - 1), origin + pd.Timedelta(days=h)
            window = future[same_cycle & (future["timestamp"] > lo).to_numpy() & (future["timestamp"] <= hi).to_numpy()]
            if window.empty:
                continue
            ids = window["bin_id"].tolist()
            times = window["timestamp"].reset_index(drop=True)
            pred = model.predict_pairs(ids, times)
            assert model.candidates is not None and model.anchors is not None
            base = model.candidates.predict(model.anchors.loc[ids].reset_index(), times, ("mean_rate", "last_reading"))
            frames[str(h)].append(
                pd.DataFrame(
                    {
                        "bin_id": ids,
                        "truth": window["fill_pct"].to_numpy(),
                        "model": np.clip(pred["mean"].to_numpy(), 0, 100),
                        "last_reading": base["last_reading"],
                        "mean_rate": np.clip(base["mean_rate"], 0, 100),
                        "p10": pred["fill_p10"].to_numpy(),
                        "p90": pred["fill_p90"].to_numpy(),
                        "p_over": pred["p_overflow"].to_numpy(),
                        "shape": [shapes.get(b, "dense") for b in ids],
                    }
                )
            )
        # The collect rule, replayed for this day.
        collect = origin + pd.Timedelta(seconds=collect_at_s)
        decisions = decide(model, collect, rules)
        until = collect + pd.Timedelta(days=rules.next_opportunity_days)
        peak = future[same_cycle & (future["timestamp"] <= until).to_numpy()].groupby("bin_id")["fill_pct"].max()
        for b, d in decisions.items():
            if b not in known:
                continue
            bin_days += 1
            if d.decision == MUST:
                collected += 1
            elif peak.get(b, 0.0) >= 100.0:
                overflows += 1
    if origins == 0:
        raise ForecastError(f"no data before {start}: nothing to backtest")
    scores: dict[str, dict[str, dict[str, float]]] = {}
    coverage: dict[str, float] = {}
    brier: dict[str, float] = {}
    by_shape: dict[str, dict[str, object]] = {}
    for key, parts in frames.items():
        if not parts:
            raise ForecastError(f"no observations {key} day(s) after any origin between {start} and {end}")
        frame = pd.concat(parts, ignore_index=True)
        scores[key], coverage[key], brier[key] = _scores(frame)
        for s, part in frame.groupby("shape"):
            info = by_shape.setdefault(
                str(s), {"bins": sum(1 for v in shapes.values() if v == s), "horizons": {}, "coverage": {}, "brier": {}}
            )
            m, cov, bri = _scores(part)
            info["horizons"][key] = m  # type: ignore[index]
            info["coverage"][key] = cov  # type: ignore[index]
            info["brier"][key] = bri  # type: ignore[index]
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
        coverage=coverage,
        brier=brier,
        shapes=by_shape,
        chosen=dict(sorted(chosen.items(), key=lambda kv: -kv[1])),
    )
