"""Collection logs: full levels as censored, rates pooled toward the group, flat models caught, decisions judged."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from binroute.routing.forecast import DecisionRules, backtest
from binroute.routing.forecast.censored import fit_censored, level_steps
from binroute.routing.forecast.fill_data import prepare
from binroute.routing.forecast.fill_models import Candidates, add_row_features, fit_candidates
from binroute.routing.forecast.model_choice import choose_models, flat_candidates

START = pd.Timestamp("2026-03-01 10:00", tz="UTC")


def log(bin_id: str, levels, every_days: float, start: pd.Timestamp = START) -> pd.DataFrame:
    """A collection log: one emptying every ``every_days`` days with the level recorded then."""
    return pd.DataFrame(
        {
            "bin_id": bin_id,
            "collected_at": [start + pd.Timedelta(days=every_days * i) for i in range(len(levels))],
            "fill_pct": levels,
        }
    )


def rows_of(col: pd.DataFrame) -> pd.DataFrame:
    df, _, shapes = prepare(None, col)
    return add_row_features(df, shapes)


def steady(rate: float, every: float, n: int, step: float = 20.0) -> np.ndarray:
    """Levels of a bin filling at ``rate`` %/day, emptied every ``every`` days, recorded in ``step`` steps."""
    return np.full(n, min(100.0, step * round(rate * every / step)))


def test_a_bin_always_full_at_collection_gets_a_rate_above_full_per_interval():
    """Always 100% at 3-day collections: the rate is more than 100/3 %/day, and rises as the evidence grows."""
    group = [log(f"G{i}", steady(r, 3.0, 30), 3.0) for i, r in enumerate((10, 13, 16, 20, 23, 26))]
    few = fit_censored(rows_of(pd.concat([*group, log("F", np.full(4, 100.0), 3.0)])), {})
    many = fit_censored(rows_of(pd.concat([*group, log("F", np.full(30, 100.0), 3.0)])), {})
    mean_rate = rows_of(log("F", np.full(30, 100.0), 3.0))["rate_mean"].dropna().iloc[-1]
    assert mean_rate == pytest.approx(100 / 3, rel=0.01)  # the uncensored mean stops at "full on the day"
    assert few.rate["F"] > 100 / 3
    assert many.rate["F"] > few.rate["F"] > 100 / 3


def test_a_bin_with_three_collections_is_pooled_toward_its_group():
    """Three collections saying 40%/day among bins filling at about 20%/day: the rate is pulled toward the group."""
    rng = np.random.default_rng(3)

    def noisy(rate: float, n: int) -> np.ndarray:
        return np.clip(20 * np.round((rate * 2.0 + rng.normal(0, 15, n)) / 20), 0, 100)

    group = [log(f"G{i}", noisy(r, 40), 2.0) for i, r in enumerate((17, 19, 20, 20, 21, 23))]
    short = log("S", np.full(3, 80.0), 2.0)
    long = log("L", np.full(40, 80.0), 2.0)
    fit = fit_censored(rows_of(pd.concat([*group, short, long])), {})
    group_rate = fit.group_rate["all"]
    assert 15 < group_rate < 25
    assert group_rate + 2 < fit.rate["S"] < 40 - 3  # own evidence 40 %/day, pulled toward the group
    assert fit.rate["L"] == pytest.approx(40, abs=3)  # a long history speaks for itself
    assert fit.rates(["unseen"])[0] == pytest.approx(group_rate)


def test_levels_recorded_in_steps_are_recognised():
    """20% steps, 25% colour levels and plain sensor levels."""
    col = pd.concat(
        [
            log("twenty", [20, 40, 60, 80, 100, 40], 2.0),
            log("quarters", [25, 50, 75, 100, 50, 25], 2.0),
            log("plain", [13, 47, 61, 88, 92, 33], 2.0),
        ]
    )
    steps = level_steps(rows_of(col))
    assert steps == {"twenty": 20.0, "quarters": 25.0, "plain": 0.0}


class Flat:
    """A learned model that forecasts 20% whatever the bin (as trees fitted to 20% steps did)."""

    def predict(self, a, target, naive, stream):
        return np.full(len(a), 20.0)


def test_a_model_that_forecasts_one_constant_for_every_bin_is_never_chosen():
    """On a log-shaped case a flat model is caught and no bin gets it, even those whose truth is near 20%."""
    rng = np.random.default_rng(0)
    parts = []
    for i, rate in enumerate((6, 8, 10, 15, 20, 25, 30, 40)):
        levels = np.clip(20 * np.round((rate * 2.0 + rng.normal(0, 6, 40)) / 20), 0, 100)
        parts.append(log(f"B{i}", levels, 2.0))
    col = pd.concat(parts)
    df, _, shapes = prepare(None, col)
    rows = add_row_features(df, shapes)
    cut = START + pd.Timedelta(days=40)
    ids = sorted(col["bin_id"].unique())
    fitted = fit_candidates(rows[rows["timestamp"] < cut], all_ids=ids, groups={}, streams={}, tz="UTC", learned=False)
    flat = Candidates(fitted.weekday, fitted.mean_rate, Flat(), fitted.groups, {}, "UTC", fitted.censored)  # type: ignore[arg-type]
    origins = pd.date_range(cut.normalize() + pd.Timedelta(days=1), periods=30, freq="D")
    choice = choose_models(rows, flat, origins, shapes)
    assert choice is not None
    assert "gbm" not in set(choice.chosen.values()) | set(choice.later.values())
    # The check itself: per-bin forecasts that do not spread while the truths do.
    ids_arr = np.repeat(np.array(ids), 5)
    truth = np.repeat(np.arange(len(ids)) * 10.0, 5)
    preds = {"flat": np.full(len(truth), 20.0), "fine": truth + 3.0}
    assert flat_candidates(ids_arr, np.full(len(truth), "log"), preds, truth) == [("flat", "log")]


def test_decisions_are_judged_against_what_the_bin_did():
    """One bin full at every 3-day collection (14:00): the naive rules' lifts, wasted lifts and overflows by hand.

    The level rises steadily from 0 after each emptying to 100% at the next, so at the 10:00 decision it stands
    at 94% on a collection day (full at 14:00: an overflow if left), 28% the day after and 61% the day after that
    (full only after the next day's 10:00 chance). Threshold on the last fill at collection (always 100%): a lift
    every day, the 28% ones wasted, every overflow caught. Threshold on the mean rate (100/3 %/day): a lift on
    collection days only, nothing wasted or missed.
    """
    col = log("X", np.full(40, 100.0), 3.0, start=pd.Timestamp("2026-03-01 14:00", tz="UTC"))
    result = backtest(
        None,
        collections=col,
        start=date(2026, 3, 20),
        end=date(2026, 4, 7),
        learned=False,
        rules=DecisionRules(threshold_pct=80, overflow_risk=0.1),
    )
    judged = result.decisions["log"]
    days = 19
    phase = [(d - 1) % 3 for d in range(20, 20 + days)]  # 0: a collection day (1, 4, ... 19, 22 March)
    assert judged["last"]["bin_days"] == days
    assert judged["last"]["lifts"] == days
    assert judged["last"]["wasted"] == phase.count(1)
    assert judged["last"]["caught"] == phase.count(0)
    assert judged["last"]["missed"] == 0
    assert judged["mean_rate"]["lifts"] == phase.count(0)
    assert judged["mean_rate"]["caught"] == phase.count(0)
    assert judged["mean_rate"]["wasted"] == 0 and judged["mean_rate"]["missed"] == 0
    model = judged["model"]
    assert model["caught"] + model["missed"] == phase.count(0)
    assert model["lifts_per_day"] == pytest.approx(model["lifts"] / days)
    assert result.overflows["overflows"] == model["missed"]
    assert result.decisions["all"] == judged  # one shape: the totals are its own
    # The curves trace each rule at other settings; at the rule's own they are the counts above.
    curves = result.decision_curves["log"]
    at = {rule: {c.pop("setting"): c for c in points} for rule, points in curves.items()}
    assert at["last"][80.0] == judged["last"] and at["mean_rate"][80.0] == judged["mean_rate"]
    assert at["model"][0.1] == model
    assert at["mean_rate"][100.0]["lifts"] <= at["mean_rate"][20.0]["lifts"]
    # P(overflow before the next chance) is scored where the outcome is known: on collection days (full by 14:00);
    # on the others the bin is next seen full, after the next chance: when it filled is not known.
    assert result.next_chance["log"]["n"] == phase.count(0)
    assert sum(r["n"] for r in result.next_chance["log"]["table"]) == phase.count(0)


def test_decision_verdict_compares_with_the_best_naive_rule_missing_no_more():
    """The collect rule's wasted lifts over those of the naive rule with the fewest, among those missing no more."""
    from binroute.routing.forecast.backtest import decision_verdict

    decisions = {"log": {"model": {"wasted": 10, "missed": 5}}}
    curves = {
        "log": {
            "last": [{"setting": 80.0, "wasted": 30, "missed": 4}, {"setting": 90.0, "wasted": 3, "missed": 6}],
            "mean_rate": [{"setting": 80.0, "wasted": 25, "missed": 5}],
            "model": [{"setting": 0.1, "wasted": 1, "missed": 1}],
        }
    }
    v = decision_verdict(decisions, curves, "log")  # type: ignore[arg-type]
    assert v["naive"] == "mean_rate >= 80%" and v["ratio"] == pytest.approx(10 / 25)
    decisions["log"]["model"]["missed"] = 3
    assert decision_verdict(decisions, curves, "log")["naive"] is None  # every naive rule misses more


def test_bins_often_found_full_get_the_higher_overflow_risk():
    """Bins found full at half their 2-day collections get a risk near a half at the next one; the others near none."""
    from binroute.routing.forecast import fit_fill_model

    rng = np.random.default_rng(5)
    parts = []
    for i in range(12):
        often = i < 4
        levels = np.where(rng.random(60) < (0.5 if often else 0.03), 100.0, 20 * rng.integers(1, 4, 60))
        parts.append(log(f"{'F' if often else 'R'}{i}", levels, 2.0))
    col = pd.concat(parts)
    model = fit_fill_model(None, collections=col, learned=False)
    at = col["collected_at"].max() + pd.Timedelta(days=2)  # when the next collection is due
    p = model.predict(at)["p_overflow"]
    often, rarely = p[p.index.str.startswith("F")], p[p.index.str.startswith("R")]
    assert often.min() > rarely.max()
    assert 0.2 < often.mean() < 0.8 and rarely.mean() < 0.15


def test_fill_at_collection_features_use_only_collections_already_seen():
    """Each row knows the bin's mean fill at its earlier collections and how many were full, never the current one."""
    rows = rows_of(log("C", [40, 100, 60, 100], 2.0))
    seen = rows[rows["source"] == "collection"]
    assert np.isnan(seen["fill_at_collection"].iloc[0])
    assert seen["fill_at_collection"].iloc[1:].tolist() == pytest.approx([40.0, 70.0, 200 / 3])
    assert seen["full_at_collection"].iloc[1:].tolist() == pytest.approx([0.0, 0.5, 1 / 3])
    emptied = rows[rows["source"] == "emptied"]
    assert emptied["fill_at_collection"].tolist() == pytest.approx([40.0, 70.0, 200 / 3, 75.0])


def test_a_log_whose_bins_all_fill_faster_lately_reads_the_recent_level():
    """Six weeks at 20%/day then three at 40%/day (2-day collections): the rates grow by the recent level.

    Over the whole past the bins fill at about 27%/day; the half-life chosen on the last four weeks reads
    the last weeks' 40%/day. The replay's stand-in (``recent=False``) keeps the whole past's rate.
    """
    parts = []
    for i in range(6):
        levels = np.r_[np.full(21, 40.0), np.full(11, 80.0)]  # 42 days at 40% per 2 days, then 22 at 80%
        parts.append(log(f"B{i}", levels, 2.0))
    fit = fit_censored(rows_of(pd.concat(parts)), {})
    whole = fit.rates(["B0"], recent=False)[0]
    assert 25 < whole < 30
    assert fit.level["B0"] == pytest.approx(40 / whole, rel=0.05)
    assert fit.rates(["B0"])[0] == pytest.approx(40, rel=0.05)


def test_a_steady_log_has_no_recent_level():
    """Bins filling at one rate throughout: the recent level is 1, the rates their own."""
    parts = [log(f"B{i}", np.full(32, 20.0 * (1 + i % 3)), 2.0) for i in range(6)]
    fit = fit_censored(rows_of(pd.concat(parts)), {})
    assert set(fit.level) == {f"B{i}" for i in range(6)}
    assert fit.level["B0"] == pytest.approx(1.0, abs=0.02)
    assert fit.rates(["B2"])[0] == pytest.approx(fit.rates(["B2"], recent=False)[0], rel=0.02)


def test_recent_level_is_fitted_with_full_intervals_censored():
    """Rises of 10 expected 10 then 20 (a doubling); full intervals say 'at least': the level is 2, not less."""
    from binroute.routing.forecast.censored import Intervals, recent_level

    end = np.arange(60.0)  # one interval a day for 60 days
    expected = np.full(60, 10.0)
    rise = np.where(end < 30, 10.0, 20.0)
    full = (end >= 30) & (end % 2 == 0)  # half of the late ones found full after 15 points
    seen = Intervals(expected, np.where(full, 15.0, rise), np.full(60, 4.0), np.full(60, 15.0), full)
    assert recent_level(end, seen) == pytest.approx(2.0, rel=0.05)
    assert recent_level(end[:0], seen.take(end < 0)) == 1.0


def test_sensor_bins_get_no_recent_level():
    """Readings from sensors show where a bin stands: only bins known from a log alone get a recent level."""
    t = pd.date_range("2026-03-01", periods=400, freq="6h", tz="UTC")
    level = (np.arange(400) % 12) * 8.0  # 8 points every 6 h, emptied every 3 days
    readings = pd.DataFrame({"bin_id": "S", "timestamp": t, "fill_pct": level})
    df, _, shapes = prepare(readings, None)
    fit = fit_censored(add_row_features(df, shapes), {})
    assert fit.level == {}


def test_a_bins_growth_spread_scales_with_its_rate_when_the_data_say_so():
    """Rises that vary by a share of each bin's rate (30%): a bin filling 4%/day strays far less than one at 32%.

    The group-wide spread (every bin alike) would give both the same growth variance; the fit chooses the
    spread scaled to the rate squared, so the fast bin's is about (32/4)² = 64 times the slow one's.
    """
    rng = np.random.default_rng(11)
    parts = [
        log(f"R{rate}", np.round(rate * (1.0 + 0.3 * rng.standard_normal(60)), 2) + 0.01, 1.0)
        for rate in (4, 8, 16, 32)
    ]
    fit = fit_censored(rows_of(pd.concat(parts)), {})
    slow, fast = fit.spread["R4"][0], fit.spread["R32"][0]
    assert 30 < fast / slow < 130
    assert fast == pytest.approx((0.3 * 32) ** 2, rel=0.5)  # variance per day of a 1-day rise: (30% of 32)²


def test_a_log_bins_overflow_risk_is_the_censored_models_own():
    """Known from a log alone, a bin's P(overflow) is the Tobit model's (rate, recent level, own spread), no curve."""
    from scipy.stats import norm

    from binroute.routing.forecast import fit_fill_model

    rng = np.random.default_rng(2)
    col = pd.concat([log(f"B{i}", np.clip(20 * rng.integers(1, 6, 50), 0, 100).astype(float), 2.0) for i in range(8)])
    model = fit_fill_model(None, collections=col, learned=False)
    assert model.candidates is not None and model.anchors is not None
    at = col["collected_at"].max() + pd.Timedelta(days=1.5)
    got = model.predict(at)["p_overflow"]
    anchors = model.anchors.loc[list(got.index)].reset_index()
    own = norm.sf(model.candidates.censored.need(anchors, pd.Series([at] * len(anchors))))
    assert got.to_numpy() == pytest.approx(own)
    assert 0.01 < got.max() < 1.0
