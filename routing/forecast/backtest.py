"""Rolling-origin backtest of the fill forecast and of the collect rule.

For each origin day in the range, the model is fitted on the data before
midnight (local): readings, collections or both, cleaned as they were known
then; it is asked for the fill at every later observation 1 and 2 days
ahead that was not preceded by an emptying (a collection is a decision, not
something to forecast): a sensor reading, or the level recorded at a
collection. The model's point forecast is the level as the bin's data record
it (on the nearest step for levels recorded in steps: 20% steps, colour
levels), since that is what it is scored against.

**Forecasts** are scored beside a family of naive forecasts on the same
points (:data:`NAIVE`): ``last``, the last level seen (the last sensor
reading, or for a collection log the fill recorded at the last collection);
``mean_fill``, the bin's mean fill at collection; ``mean_rate``, the last
reading grown at the bin's mean fill rate (for a log: mean rate × days
since the last emptying); and ``full``, always 100%. Scores are reported
overall and per data shape (``dense``, ``coarse``, ``log``): MAE and RMSE,
the best naive forecast and the model's ratio to it, the share of truths
inside the 10–90% interval, the Brier score of P(fill ≥ 100%) and its
reliability table (forecast probabilities in bins of 10%, against how
often the bin was full), and the same for P(fill ≥ the collect rule's
threshold) (:attr:`BacktestResult.threshold`).

**Decisions** are judged too: each origin day, the collect rule (``must``
is a lift) and the naive rules of :data:`RULES` (a lift when the last
level seen, or the mean-rate forecast at collection time, is at or above
the threshold) are scored against what the bin really did. A lift is
*wasted* when the bin was below :data:`WASTED_BELOW_PCT` at collection
time (its level interpolated between the observations around it; for a
collection log, at a steady rate from the emptying to the level recorded
at the next collection); a bin that reached 100% before the next chance
to collect it (the next opportunity, as in :func:`~.decide.decide`) is an
overflow *caught* when lifted and *missed* when not. Counts per rule and
per data shape, with lifts per day. Each rule is also traced over its
settings (:data:`RISK_GRID`, :data:`THRESHOLD_GRID`), so the collect rule
can be set against the best naive rule that misses no more overflows
(:func:`decision_verdict`), and the collect rule's P(overflow before the
next chance) is scored against what happened (Brier score, reliability).
The ``tuned`` rule is the collect rule at the setting of :data:`TUNED_GRID`
(tolerated risk, fill threshold) that cost least, per data shape, on the
bin-days judged before each origin whose outcome was known by then
(:func:`tuned_setting`): the rule tuned on nothing but the scenario's own
past.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date as Date
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ForecastError
from .decide import DecisionRules, due_chances, outlook
from .fill_data import ns, prepare, validate_collections
from .model import fit_fill_model
from .model_choice import FULL_PCT as FULL_PCT

#: The naive forecasts every backtest compares with (see the module docstring).
NAIVE = ("last", "mean_fill", "mean_rate", "full")
METHODS = ("model", *NAIVE)
#: The decision rules judged: the collect rule, the collect rule tuned on the past origins, then naive threshold rules.
RULES = ("model", "tuned", "last", "mean_rate")
#: A lift of a bin below this fill at collection time is wasted.
WASTED_BELOW_PCT = 50.0
#: Forecast probabilities are grouped in bins this wide in the reliability table.
RELIABILITY_STEP = 0.1
#: The collect rule's tolerated overflow risks traced in the decision curves (its settings are judged at one).
RISK_GRID = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
#: The naive rules' thresholds (fill %) traced in the decision curves.
THRESHOLD_GRID = (20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)
#: The collect rule's settings the tuned rule chooses from: (tolerated risk, fill threshold %).
TUNED_GRID = tuple((r, q) for r in RISK_GRID for q in THRESHOLD_GRID)


@dataclass(frozen=True)
class BacktestResult:
    """Scores per horizon (``"1"``, ``"2"``) and method, overall and per data shape, and the decisions judged."""

    horizons: dict[str, dict[str, dict[str, float]]]
    overflows: dict[str, float]
    origins: int
    collect_at_s: int
    coverage: dict[str, float] = field(default_factory=dict)
    brier: dict[str, float] = field(default_factory=dict)
    shapes: dict[str, dict[str, object]] = field(default_factory=dict)
    chosen: dict[str, int] = field(default_factory=dict)
    reliability: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    decisions: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: Per data shape and rule family, the counts of :attr:`decisions` at each setting (``"model"``: the collect
    #: rule at each tolerated risk of :data:`RISK_GRID`; ``"last"``, ``"mean_rate"``: each threshold of
    #: :data:`THRESHOLD_GRID`), each with its ``setting``.
    decision_curves: dict[str, dict[str, list[dict[str, float]]]] = field(default_factory=dict)
    #: Per data shape, the collect rule's P(overflow before the next chance) against what happened, where that is
    #: known (seen full by then, or below full when next seen in the same cycle; not a bin the service emptied
    #: first): the Brier score (``brier``), the base rate's (``base``) and the reliability table (``table``).
    next_chance: dict[str, dict[str, object]] = field(default_factory=dict)
    #: Per data shape (and ``"all"``) and horizon, P(fill ≥ the collect rule's threshold) at the scored points
    #: against what was seen: the ``level``, Brier score (``brier``), the base rate's (``base``), ``n`` and the
    #: reliability ``table``.
    threshold: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    #: Per data shape, the collect rule's setting the tuned rule used at each origin (``origin``, ``risk``,
    #: ``threshold``), chosen on the decisions judged at the origins before it (:func:`tuned_setting`).
    tuned: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    #: Per data shape, the setting the tuned rule would use after the range (``risk``, ``threshold``): the collect
    #: rule tuned on every bin-day judged, for a council to set.
    tuned_next: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Per pool of the forecast combination (``"shape:day"``), each member's weight averaged over the origins.
    blend: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "horizons": self.horizons,
            "overflows": self.overflows,
            "origins": self.origins,
            "coverage": self.coverage,
            "brier": self.brier,
            "reliability": self.reliability,
            "decisions": self.decisions,
            "decision_curves": self.decision_curves,
            "next_chance": self.next_chance,
            "threshold": self.threshold,
            "verdicts": {w: decision_verdict(self.decisions, self.decision_curves, w) for w in self.decisions},
            "verdicts_tuned": {
                w: decision_verdict(self.decisions, self.decision_curves, w, "tuned") for w in self.decisions
            },
            "tuned": self.tuned,
            "tuned_next": self.tuned_next,
            "blend": self.blend,
            "chosen": self.chosen,
            "shapes": self.shapes,
        }

    def table(self) -> str:
        lines = [f"{'horizon':<8} {'method':<10} {'MAE':>7} {'RMSE':>7} {'n':>8}"]
        for h, methods in self.horizons.items():
            for name, score in methods.items():
                lines.append(
                    f"{h + ' d':<8} {name:<10} {score['mae']:>7.2f} {score['rmse']:>7.2f} {int(score['n']):>8}"
                )
            best = best_naive(methods)
            if best is not None:
                ratio = methods["model"]["mae"] / methods[best]["mae"] if methods[best]["mae"] else math.nan
                lines.append(f"{h} d: best naive forecast {best}; model ÷ best naive {ratio:.2f}")
        for h in self.horizons:
            if h in self.coverage:
                lines.append(
                    f"{h} d: 10-90% interval covers {self.coverage[h]:.1%} of truths; "
                    f"Brier score of P(overflow) {self.brier[h]:.4f}"
                )
        for where, by_h in self.threshold.items():
            for h, t in by_h.items():
                lines.append(
                    f"{where} {h} d: P(fill >= {t['level']:g}%) Brier {t['brier']:.4f} (base rate's {t['base']:.4f})"
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
        lines.append(f"{'decisions':<16} {'lifts/day':>9} {'wasted':>7} {'caught':>7} {'missed':>7}")
        for where, rules in self.decisions.items():
            for rule, d in rules.items():
                lines.append(
                    f"{where + ' ' + rule:<16} {d['lifts_per_day']:>9.1f} {int(d['wasted']):>7} "
                    f"{int(d['caught']):>7} {int(d['missed']):>7}"
                )
        for where in self.decisions:
            for rule, label in (("model", "collect rule"), ("tuned", "tuned collect rule")):
                v = decision_verdict(self.decisions, self.decision_curves, where, rule)
                if v["naive"] is None:
                    lines.append(f"{where}: every naive rule misses more overflows than the {label} ({v['missed']})")
                else:
                    lines.append(
                        f"{where}: {label} {v['wasted']} wasted, {v['missed']} missed; best naive rule missing no "
                        f"more: {v['naive']} with {v['naive_wasted']} wasted, {v['naive_missed']} missed "
                        f"(ratio {v['ratio']:.2f})"
                    )
        for where, tn in self.tuned_next.items():
            lines.append(
                f"{where}: the collect rule tuned on every day judged: tolerated risk {tn['risk']:.0%}, "
                f"threshold {tn['threshold']:g}%"
            )
        o = self.overflows
        lines.append(
            f"collect rule: {int(o['bin_days'])} bin-days, {int(o['collected'])} collected, "
            f"{int(o['overflows'])} overflow(s) let happen ({o['overflow_rate']:.2%} of bin-days left)"
        )
        return "\n".join(lines)


def best_naive(methods: dict[str, dict[str, float]]) -> str | None:
    """The naive forecast with the lowest MAE among those scored, or ``None``."""
    scored = [m for m in NAIVE if m in methods and methods[m]["n"] > 0 and not math.isnan(methods[m]["mae"])]
    return min(scored, key=lambda m: methods[m]["mae"]) if scored else None


def decision_verdict(
    decisions: dict[str, dict[str, dict[str, float]]],
    curves: dict[str, dict[str, list[dict[str, float]]]],
    where: str,
    rule: str = "model",
) -> dict[str, object]:
    """The collect rule's (or ``rule``'s) wasted lifts against the best naive rule that misses no more overflows.

    Among the naive rules at every threshold of :data:`THRESHOLD_GRID` (on the
    last level seen, on the mean-rate forecast) that miss at most as many
    overflows as the collect rule, the one with the fewest wasted lifts;
    ``ratio`` is the collect rule's wasted lifts over its (issue #28's goal:
    at most 0.5). ``naive`` is ``None`` when every naive rule misses more.
    """
    model = decisions.get(where, {}).get(rule, {})
    wasted, missed = int(model.get("wasted", 0)), int(model.get("missed", 0))
    out: dict[str, object] = {"wasted": wasted, "missed": missed, "naive": None}
    points = [
        (int(c["wasted"]), int(c["missed"]), f"{name} >= {c['setting']:g}%")
        for name, curve in curves.get(where, {}).items()
        if name not in ("model", "tuned")
        for c in curve
        if c["missed"] <= missed
    ]
    if points:
        w, m, name = min(points)
        out.update(
            naive=name, naive_wasted=w, naive_missed=m, ratio=wasted / w if w else (0.0 if not wasted else math.inf)
        )
    return out


def tuned_setting(past: dict[tuple[float, float], Counter[str]], rules: DecisionRules) -> tuple[float, float]:
    """The collect rule's (tolerated risk, threshold) of :data:`TUNED_GRID` with the least cost on past decisions.

    ``past`` holds, per setting, the decisions judged at earlier origins
    (``wasted``, ``missed``). Cost: wasted lifts × the lift's cost plus missed
    overflows × an overflow's, in the ratio the rules price them
    (:attr:`DecisionRules.tolerated_risk` is a lift's cost over an
    overflow's). Ties, and no past at all, go to the setting nearest the
    rules' own (risk first).
    """
    ratio = rules.tolerated_risk
    default = (rules.tolerated_risk, rules.threshold_pct)

    def key(setting: tuple[float, float]) -> tuple[float, float, float]:
        c = past.get(setting, Counter())
        cost = ratio * c["wasted"] + c["missed"]
        return (round(cost, 9), abs(setting[0] - default[0]), abs(setting[1] - default[1]))

    if not past:
        return default
    return min(TUNED_GRID, key=key)


def _history(
    judged_days: list[tuple[int, str, bool, bool, np.ndarray]], before: int
) -> dict[str, dict[tuple[float, float], Counter[str]]]:
    """Per data shape and setting of :data:`TUNED_GRID`, wasted lifts and missed overflows of the bin-days judged
    with what was known before ``before`` (ns)."""
    out: dict[str, dict[tuple[float, float], Counter[str]]] = {}
    usable = [d for d in judged_days if d[0] < before]
    for shape in {d[1] for d in usable}:
        mine = [d for d in usable if d[1] == shape]
        lifted = np.stack([d[4] for d in mine])
        wasted = np.array([d[2] for d in mine], dtype=bool)[:, None]
        over = np.array([d[3] for d in mine], dtype=bool)[:, None]
        w, m = (lifted & wasted).sum(axis=0), (~lifted & over).sum(axis=0)
        out[shape] = {rq: Counter(wasted=int(w[i]), missed=int(m[i])) for i, rq in enumerate(TUNED_GRID)}
    return out


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


def reliability_table(p: np.ndarray, happened: np.ndarray) -> list[dict[str, float]]:
    """Forecast probabilities in bins of :data:`RELIABILITY_STEP`: how many, their mean, and how often it happened."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(happened, dtype=float)
    ok = ~np.isnan(p)
    p, y = p[ok], y[ok]
    edges = np.arange(0.0, 1.0 + RELIABILITY_STEP / 2, RELIABILITY_STEP)
    k = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    out = []
    for i in range(len(edges) - 1):
        m = k == i
        if m.any():
            out.append(
                {
                    "from": round(float(edges[i]), 6),
                    "to": round(float(edges[i + 1]), 6),
                    "n": int(m.sum()),
                    "forecast": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                }
            )
    return out


def threshold_score(frame: pd.DataFrame, level: float) -> dict[str, object]:
    """P(fill ≥ ``level``) (column ``p_thr``) against the truths of ``frame``: Brier score, base rate's, table."""
    ok = ~np.isnan(frame["p_thr"].to_numpy(dtype=float))
    p = frame["p_thr"].to_numpy(dtype=float)[ok]
    y = frame["truth"].to_numpy(dtype=float)[ok] >= level - 1e-9
    rate = float(y.mean()) if len(y) else math.nan
    return {
        "level": level,
        "n": len(y),
        "brier": float(np.mean((p - y) ** 2)) if len(y) else math.nan,
        "base": rate * (1.0 - rate),
        "table": reliability_table(p, y),
    }


def _at_collection(full: pd.DataFrame) -> np.ndarray:
    """Rows that give a bin's fill at an emptying: a level recorded at a collection, or the reading before a drop."""
    same_next = full["bin_id"].eq(full["bin_id"].shift(-1)).to_numpy()
    next_emptied = np.roll(full["emptied"].to_numpy(dtype=bool), -1) & same_next
    source = full["source"].to_numpy()
    return (source == "collection") | ((source == "sensor") & next_emptied)


def _naive_state(past: pd.DataFrame) -> tuple[pd.Series, pd.Series, float]:
    """Per bin, the last level seen and the mean fill at collection, from the rows before an origin."""
    seen = past[past["source"].to_numpy() != "emptied"]
    last = seen.groupby("bin_id")["fill_pct"].last()
    fills = past[past["at_collection"].to_numpy()]
    mean_fill = fills.groupby("bin_id")["fill_pct"].mean()
    overall = float(fills["fill_pct"].mean()) if len(fills) else math.nan
    return last, mean_fill, overall


def _level_at(
    full: pd.DataFrame,
    by_bin: dict[str, np.ndarray],
    t_ns: np.ndarray,
    ids: list[str],
    when: int,
    read: dict[str, int] | None = None,
) -> dict:
    """Each bin's level at ``when`` (ns), interpolated between the rows around it; nan before its first row.

    Between two rows of the same cycle the level grows linearly (for a log: a steady rate from the emptying to the
    level recorded at the collection); when an emptying lies between them, the level of the row before. ``read``,
    if given, gets per bin the time (ns) of the row after ``when`` that was looked at (when the level was known).
    """
    out: dict[str, float] = {}
    level = full["fill_pct"].to_numpy()
    cycle = full["cycle"].to_numpy()
    for b in ids:
        idx = by_bin.get(b)
        if idx is None:
            out[b] = math.nan
            continue
        k = int(np.searchsorted(t_ns[idx], when, side="right")) - 1
        if k < 0:
            out[b] = math.nan
            continue
        i = idx[k]
        if read is not None and k + 1 < len(idx):
            read[b] = int(t_ns[idx[k + 1]])
        if k + 1 < len(idx) and cycle[idx[k + 1]] == cycle[i]:
            j = idx[k + 1]
            w = (when - t_ns[i]) / max(t_ns[j] - t_ns[i], 1)
            out[b] = float(level[i] + w * (level[j] - level[i]))
        else:
            out[b] = float(level[i])
    return out


def _judge(
    counts: dict[str, dict[Any, Counter[str]]],
    shape: str,
    rule: object,
    lift: bool,
    level_now: float,
    overflows: bool,
) -> None:
    for where in ("all", shape):
        c = counts.setdefault(where, {}).setdefault(rule, Counter())
        c["bin_days"] += 1
        if lift:
            c["lifts"] += 1
            c["wasted"] += int(not math.isnan(level_now) and level_now < WASTED_BELOW_PCT)
            c["caught"] += int(overflows)
        else:
            c["missed"] += int(overflows)


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
    full = full.assign(at_collection=_at_collection(full))
    t_ns = ns(full["timestamp"])
    by_bin = {str(b): idx for b, idx in full.groupby("bin_id").indices.items()}
    raw_ts = pd.to_datetime(readings["timestamp"], utc=True)
    frames: dict[str, list[pd.DataFrame]] = {str(h): [] for h in horizons}
    chosen: Counter[str] = Counter()
    judged: dict[str, dict[str, Counter[str]]] = {}
    curves: dict[str, dict[tuple[str, float], Counter[str]]] = {}
    risk: dict[str, tuple[list[float], list[bool]]] = {}
    # Each bin-day judged so far, for the tuned rule to learn on once its outcome was known (the day after, or for a
    # log's level at collection time, its next collection): when known, shape, wasted if lifted, overflowed, and
    # whether each setting of TUNED_GRID lifted it.
    judged_days: list[tuple[int, str, bool, bool, np.ndarray]] = []
    tuned_log: dict[str, list[dict[str, object]]] = {}
    weights: dict[str, Counter[str]] = {}
    days = 0
    origins = 0
    for day in pd.date_range(start, end, freq=f"{step_days}D"):
        origin = day.tz_localize(tz)
        if not ((raw_ts < origin).any() or (col["collected_at"] < origin).any()):
            continue
        model = fit_fill_model(readings, bins=bins, tz=tz, before=origin, collections=col, learned=learned)
        if model.anchors is None or model.anchors.empty:
            continue
        origins += 1
        for pool, w in model.blend.weights.items():
            weights.setdefault(pool, Counter()).update(w)
        known = model.anchors.index
        chosen.update(model.chosen.get(b, "") for b in known)
        past = full[full["timestamp"] < origin]
        seen, mean_fill, overall_fill = _naive_state(past)
        # The last level as the planner saw it: its own last reading (cleaned with what was known then), or
        # after an emptying, the level recorded at that collection.
        anchor = model.anchors
        last = anchor["fill_pct"].where(anchor["source"] != "emptied", seen.reindex(anchor.index))
        cycle = past.groupby("bin_id")["cycle"].last()
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
            pred = model.predict_pairs(ids, times, threshold_pct=rules.threshold_pct)
            assert model.candidates is not None and model.anchors is not None
            base = model.candidates.predict(model.anchors.loc[ids].reset_index(), times, ("mean_rate",))
            frames[str(h)].append(
                pd.DataFrame(
                    {
                        "bin_id": ids,
                        "truth": window["fill_pct"].to_numpy(),
                        "model": pred["fill_step"].to_numpy(),
                        "last": last.reindex(ids).fillna(0.0).to_numpy(),
                        "mean_fill": mean_fill.reindex(ids).fillna(overall_fill).to_numpy(),
                        "mean_rate": np.clip(base["mean_rate"], 0, 100),
                        "full": np.full(len(ids), 100.0),
                        "p10": pred["fill_p10"].to_numpy(),
                        "p90": pred["fill_p90"].to_numpy(),
                        "p_over": pred["p_overflow"].to_numpy(),
                        "p_thr": pred["p_threshold"].to_numpy(),
                        "shape": [shapes.get(b, "dense") for b in ids],
                    }
                )
            )
        # The day's decisions: the collect rule (a bin due today is a must, as decide() classifies it) and the
        # naive rules, judged by what each bin really did; each also at the other settings of its curve.
        collect = origin + pd.Timedelta(seconds=collect_at_s)
        look = outlook(model, collect, rules)
        due = {rules.tolerated_risk: due_chances(look, rules)}
        for r in RISK_GRID:
            due.setdefault(r, due_chances(look, replace(rules, overflow_risk=r)))
        due_at = {(r, q): due_chances(look, replace(rules, overflow_risk=r, threshold_pct=q)) for r, q in TUNED_GRID}
        # The tuned rule's setting per data shape, learnt on the bin-days whose outcome was known before this origin.
        history = _history(judged_days, int(ns(pd.Series([origin]))[0]))
        tuned_at = {s: tuned_setting(history.get(s, {}), rules) for s in set(shapes.values())}
        for s, (r, q) in tuned_at.items():
            tuned_log.setdefault(s, []).append({"origin": str(origin.date()), "risk": r, "threshold": q})
        row_of = {b: i for i, b in enumerate(look.ids)}
        until = collect + pd.Timedelta(days=rules.next_opportunity_days) + pd.Timedelta(hours=rules.visits_until_h)
        peak = future[same_cycle & (future["timestamp"] <= until).to_numpy()].groupby("bin_id")["fill_pct"].max()
        # Whether a bin not seen full by then stayed below full: its first level after, in the same cycle, is
        # below full (levels only rise within a cycle). A bin emptied first, or full when next seen, is unknown.
        after = future[same_cycle & (future["timestamp"] > until).to_numpy()].groupby("bin_id")["fill_pct"].first()
        ids = [b for b in look.ids if b in known]
        read: dict[str, int] = {}
        level_now = _level_at(full, by_bin, t_ns, ids, int(ns(pd.Series([collect]))[0]), read)
        until_ns = int(ns(pd.Series([until]))[0])
        rate_now = model.candidates.predict(  # type: ignore[union-attr]
            model.anchors.loc[ids].reset_index(), pd.Series([collect] * len(ids)), ("mean_rate",)
        )["mean_rate"]
        days += 1
        for i, b in enumerate(ids):
            over = bool(peak.get(b, 0.0) >= 100.0)
            shape = shapes.get(b, "dense")
            k = row_of[b]
            seen_last, rate_b = float(last.get(b, 0.0)), float(rate_now[i])
            lifts = {
                "model": bool(due[rules.tolerated_risk][k] == 0),
                "tuned": bool(due_at[tuned_at[shape]][k] == 0),
                "last": seen_last >= rules.threshold_pct,
                "mean_rate": rate_b >= rules.threshold_pct,
            }
            for rule in RULES:
                _judge(judged, shape, rule, lifts[rule], level_now[b], over)
            for r in RISK_GRID:
                _judge(curves, shape, ("model", r), bool(due[r][k] == 0), level_now[b], over)
            wasted = not math.isnan(level_now[b]) and level_now[b] < WASTED_BELOW_PCT
            lifted = np.array([due_at[rq][k] == 0 for rq in TUNED_GRID], dtype=bool)
            judged_days.append((max(until_ns, read.get(b, 0)), shape, wasted, over, lifted))
            for q in THRESHOLD_GRID:
                _judge(curves, shape, ("last", q), seen_last >= q, level_now[b], over)
                _judge(curves, shape, ("mean_rate", q), rate_b >= q, level_now[b], over)
            p_next = float(look.p_over[k, 1])
            if not math.isnan(p_next) and (over or float(after.get(b, 100.0)) < 100.0):
                for where in ("all", shape):
                    risk.setdefault(where, ([], []))
                    risk[where][0].append(p_next)
                    risk[where][1].append(over)
    if origins == 0:
        raise ForecastError(f"no data before {start}: nothing to backtest")
    scores: dict[str, dict[str, dict[str, float]]] = {}
    coverage: dict[str, float] = {}
    brier: dict[str, float] = {}
    reliability: dict[str, list[dict[str, float]]] = {}
    threshold: dict[str, dict[str, dict[str, object]]] = {}
    by_shape: dict[str, dict[str, object]] = {}
    for key, parts in frames.items():
        if not parts:
            raise ForecastError(f"no observations {key} day(s) after any origin between {start} and {end}")
        frame = pd.concat(parts, ignore_index=True)
        scores[key], coverage[key], brier[key] = _scores(frame)
        reliability[key] = reliability_table(frame["p_over"].to_numpy(), frame["truth"].to_numpy() >= FULL_PCT)
        for where, part in (("all", frame), *frame.groupby("shape")):
            threshold.setdefault(str(where), {})[key] = threshold_score(part, rules.threshold_pct)
        for s, part in frame.groupby("shape"):
            info = by_shape.setdefault(
                str(s),
                {
                    "bins": sum(1 for v in shapes.values() if v == s),
                    "horizons": {},
                    "coverage": {},
                    "brier": {},
                    "reliability": {},
                },
            )
            m, cov, bri = _scores(part)
            info["horizons"][key] = m  # type: ignore[index]
            info["coverage"][key] = cov  # type: ignore[index]
            info["brier"][key] = bri  # type: ignore[index]
            info["reliability"][key] = reliability_table(  # type: ignore[index]
                part["p_over"].to_numpy(), part["truth"].to_numpy() >= FULL_PCT
            )

    def counted(c: Counter[str]) -> dict[str, float]:
        return {
            "bin_days": c["bin_days"],
            "lifts": c["lifts"],
            "lifts_per_day": c["lifts"] / days if days else 0.0,
            "wasted": c["wasted"],
            "caught": c["caught"],
            "missed": c["missed"],
        }

    decided = {where: {rule: counted(c) for rule, c in rules_of.items()} for where, rules_of in judged.items()}
    traced: dict[str, dict[str, list[dict[str, float]]]] = {}
    for where, points in curves.items():
        for (rule, setting), c in points.items():
            traced.setdefault(where, {}).setdefault(rule, []).append({"setting": setting, **counted(c)})
    next_chance: dict[str, dict[str, object]] = {}
    for where, (p_list, y_list) in risk.items():
        p, y = np.array(p_list), np.array(y_list, dtype=float)
        happened = float(y.mean())
        next_chance[where] = {
            "n": len(y),
            "brier": float(np.mean((p - y) ** 2)),
            "base": happened * (1.0 - happened),
            "table": reliability_table(p, y.astype(bool)),
        }
    model_days = judged.get("all", {}).get("model", Counter())
    left = model_days["bin_days"] - model_days["lifts"]
    return BacktestResult(
        horizons=scores,
        overflows={
            "bin_days": model_days["bin_days"],
            "collected": model_days["lifts"],
            "overflows": model_days["missed"],
            "overflow_rate": model_days["missed"] / left if left else 0.0,
        },
        origins=origins,
        collect_at_s=collect_at_s,
        coverage=coverage,
        brier=brier,
        shapes=by_shape,
        chosen=dict(sorted(chosen.items(), key=lambda kv: -kv[1])),
        reliability=reliability,
        decisions=decided,
        decision_curves=traced,
        next_chance=next_chance,
        threshold=threshold,
        tuned={s: v for s, v in tuned_log.items() if s in judged},
        tuned_next={
            s: dict(zip(("risk", "threshold"), tuned_setting(past, rules), strict=True))
            for s, past in _history(judged_days, np.iinfo(np.int64).max).items()
        },
        blend={p: {m: round(v / origins, 4) for m, v in w.items()} for p, w in sorted(weights.items())},
    )
