"""The forecast combination learnt from the past, and the collect rule tuned on past decisions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from binroute.routing.forecast import DecisionRules, fit_fill_model
from binroute.routing.forecast.backtest import TUNED_GRID, tuned_setting
from binroute.routing.forecast.blend import MEMBERS, Blend, learn_blend, learn_weights, simplex_grid


def test_the_weight_grid_covers_the_simplex_with_the_model_alone_first():
    """Every grid point is non-negative and sums to 1; the first is the model alone (ties go to it)."""
    grid = simplex_grid(len(MEMBERS))
    assert len(grid) == 286  # 4 members in tenths
    assert np.allclose(grid.sum(axis=1), 1.0) and (grid >= 0).all()
    assert grid[0].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_weights_go_to_the_naive_forecast_that_won_on_the_past():
    """The last level matches the truth, the model is off by noise: all the weight goes to the last level."""
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 100, 400)
    noisy = truth + rng.normal(0, 10, 400)
    members = np.column_stack([noisy, truth, np.full(400, 50.0), truth + 20])
    w = learn_weights(members, truth, np.zeros(400))
    assert w.tolist() == [0.0, 1.0, 0.0, 0.0]
    # Fewer targets than the minimum: the model alone.
    assert learn_weights(members[:10], truth[:10], np.zeros(10)).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_weights_are_scored_on_the_recorded_steps():
    """Levels in 20% steps: a model 8 points above the truth rounds onto it, the last level 20 off does not."""
    truth = np.repeat([0.0, 20.0, 40.0, 60.0], 30)
    members = np.column_stack([truth + 8.0, truth + 20.0, truth + 20.0, truth + 20.0])
    step = np.full(len(truth), 20.0)
    assert learn_weights(members, truth, step)[0] == 1.0
    # Not in steps, the model is still the closest member and no mix does better.
    assert learn_weights(members, truth, np.zeros(len(truth)))[0] == 1.0


def test_combination_per_pool_cross_fitted_and_kept_only_where_it_clearly_paid():
    """Each half's combination uses the weights learnt on the other half; a pool keeps them only where that beat
    the model alone by more than a standard error over the origins, else the model alone."""
    n = 400
    rng = np.random.default_rng(2)
    truth = rng.uniform(0, 90, n)
    origin = np.arange(n) // 20
    half = origin % 2 == 1
    pools = np.array(["coarse:1"] * (n // 2) + ["dense:1"] * (n // 2), dtype=object)
    coarse = pools == "coarse:1"
    # coarse: the last level is exact everywhere, the model off by noise; dense: each is exact on one half only.
    model = np.where(coarse, truth + rng.normal(0, 10, n), truth + np.where(half, 0.0, 15.0))
    last = np.where(coarse, truth, truth + np.where(half, 15.0, 0.0))
    members = np.column_stack([model, last, np.full(n, 50.0), truth + 30.0])
    blend, crossed = learn_blend(pools, members, truth, np.zeros(n), half, origin)
    assert blend.weights == {"coarse:1": {"last": 1.0}}
    assert np.allclose(crossed[coarse], truth[coarse])
    # dense: the other half's weights (on the member exact there) miss by 15 on each half: the model alone kept.
    assert np.allclose(crossed[~coarse], model[~coarse])
    combined = Blend({"coarse:1": {"model": 0.5, "last": 0.5}}).combine(
        ["coarse", "dense"], np.array([1, 1]), np.array([10.0, 10.0]), {"last": np.array([30.0, 30.0])}
    )
    assert combined.tolist() == [20.0, 10.0]  # a pool without weights keeps the model


def test_a_log_where_the_bins_mean_fill_wins_gives_it_weight():
    """Bins emptied at random ages but always found at their own level: the rate models err, the mean fill does not.

    The weights are learnt on the log's own past (the choice window before the forecast origin), and the forecast
    still differs between bins (no one constant).
    """
    rng = np.random.default_rng(1)
    parts = []
    for i in range(30):
        gaps = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], size=40)
        times = pd.Timestamp("2026-05-05 09:00", tz="UTC") - pd.to_timedelta(np.cumsum(gaps), unit="D")
        level = 20.0 + 2.0 * i + rng.normal(0.0, 3.0, size=40)
        parts.append(pd.DataFrame({"bin_id": f"L{i}", "collected_at": times, "fill_pct": level}))
    col = pd.concat(parts, ignore_index=True)
    model = fit_fill_model(None, collections=col, learned=False)
    w = model.blend.weights["log:1"]
    assert w.get("mean_fill", 0.0) >= 0.5
    at = pd.Timestamp("2026-05-05 09:00", tz="UTC")  # every bin within a cycle of its last emptying
    pred = model.predict(at)
    assert pred["fill_pct"].nunique() > 10


def test_the_tuned_collect_rule_takes_the_cheapest_setting_on_past_decisions():
    """Cost = wasted lifts × (lift ÷ overflow cost) + missed overflows; no past: the rules' own setting."""
    rules = DecisionRules(threshold_pct=80, overflow_risk=0.1)
    assert tuned_setting({}, rules) == (0.1, 80.0)
    past = {s: Counter(wasted=0, missed=10) for s in TUNED_GRID}
    past[(0.5, 50.0)] = Counter(wasted=2, missed=3)  # 0.2 + 3
    past[(0.02, 20.0)] = Counter(wasted=40, missed=0)  # 4 + 0
    assert tuned_setting(past, rules) == (0.5, 50.0)
    # A lift that costs as much as an overflow: wasted lifts weigh ten times more.
    dear = DecisionRules(threshold_pct=80, lift_cost=40.0, overflow_cost=40.0)
    past[(0.02, 20.0)] = Counter(wasted=4, missed=0)
    assert tuned_setting(past, dear) == (0.02, 20.0)  # 4 against 5
    # Equal costs everywhere: the setting nearest the rules' own.
    flat = {s: Counter(wasted=1, missed=1) for s in TUNED_GRID}
    assert tuned_setting(flat, rules) == (0.1, 80.0)


def test_the_backtest_tunes_the_collect_rule_on_the_origins_before_each_one():
    """One bin full at every 3-day collection: the first origin has no past and uses the rules' own setting; the
    tuned rule, learning on the decisions judged so far, costs no more than the rule as set."""
    from datetime import date

    from binroute.routing.forecast import backtest

    start = pd.Timestamp("2026-03-01 14:00", tz="UTC")
    col = pd.DataFrame(
        {"bin_id": "X", "collected_at": [start + pd.Timedelta(days=3 * i) for i in range(40)], "fill_pct": 100.0}
    )
    rules = DecisionRules(threshold_pct=80, overflow_risk=0.1)
    result = backtest(None, collections=col, start=date(2026, 3, 20), end=date(2026, 4, 7), learned=False, rules=rules)
    settings = result.tuned["log"]
    assert len(settings) == 19
    assert settings[0] == {"origin": "2026-03-20", "risk": 0.1, "threshold": 80.0}
    judged = result.decisions["log"]

    def cost(d: dict[str, float]) -> float:
        return 0.1 * d["wasted"] + d["missed"]

    assert cost(judged["tuned"]) <= cost(judged["model"])
    assert judged["tuned"]["bin_days"] == judged["model"]["bin_days"] == 19
    # The setting for the days after the range, tuned on every day judged, for a council to set.
    assert set(result.tuned_next["log"]) == {"risk", "threshold"}
    assert "tuned on every day judged" in result.table()


def test_the_tuned_rule_learns_only_on_outcomes_known_before_the_origin():
    """A bin-day whose outcome was known only after the origin (a log's next collection) is not learnt from."""
    from binroute.routing.forecast.backtest import _history

    lifted = np.zeros(len(TUNED_GRID), dtype=bool)
    lifted[0] = True  # only the first setting lifted it
    days = [(100, "log", True, False, lifted), (300, "log", False, True, lifted)]
    early = _history(days, 200)["log"]
    assert early[TUNED_GRID[0]] == Counter(wasted=1, missed=0)
    assert early[TUNED_GRID[1]] == Counter(wasted=0, missed=0)
    late = _history(days, 301)["log"]
    assert late[TUNED_GRID[1]] == Counter(wasted=0, missed=1)
    assert _history(days, 50) == {}


def test_a_bin_emptied_as_if_now_has_last_seen_empty_unless_known_from_a_log():
    """The risk left after a lift reads the last level seen as a sensor would (empty); a log keeps its last find."""
    from binroute.routing.forecast.model import _emptied

    a = pd.DataFrame(
        {
            "bin_id": ["S", "L"],
            "timestamp": pd.Timestamp("2026-03-01", tz="UTC"),
            "fill_pct": [70.0, 0.0],
            "seen": [70.0, 60.0],
            "shape": ["dense", "log"],
        }
    )
    out = _emptied(a, pd.Timestamp("2026-03-02", tz="UTC"))
    assert out["seen"].tolist() == [0.0, 60.0]
    assert out["fill_pct"].tolist() == [0.0, 0.0]
