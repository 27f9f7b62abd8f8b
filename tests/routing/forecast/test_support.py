"""Beyond the longest a bin has gone without an emptying its forecast keeps growing: no model has data there."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from binroute.routing.forecast import fit_fill_model

from .helpers import series

T0 = pd.Timestamp("2026-01-05 08:00", tz="UTC")


def _log(days: int = 60) -> pd.DataFrame:
    """Twelve bins emptied every two days at 40 to 60% (a steady 20 to 30 points a day), as a collection log."""
    rng = np.random.default_rng(7)
    rows = []
    for b in range(12):
        rate = 20.0 + b * 10.0 / 11.0
        for k in range(0, days, 2):
            fill = min(100.0, 2 * rate + rng.normal(0.0, 3.0))
            rows.append((f"B{b}", T0 + pd.Timedelta(days=k, hours=rng.uniform(0, 2)), round(fill)))
    return pd.DataFrame(rows, columns=["bin_id", "collected_at", "fill_pct"])


@pytest.mark.parametrize("chosen", ["chosen", "censored", "steps", "stuck"])
def test_a_bin_left_far_longer_than_ever_before_is_forecast_ever_fuller(chosen, monkeypatch):
    """Two weeks after its last emptying (seven times its usual cycle) every bin is forecast full and at risk.

    Within the log's range the chosen models forecast as they learnt; beyond it, the forecast is at least
    the censored rate's (level plus rate times the days), so it never falls as the days pass, and the
    risk of overflowing follows it.
    """
    log = _log()
    model = fit_fill_model(None, collections=log, tz="UTC")
    assert model.longest_age and max(model.longest_age.values()) < 3.0
    if chosen == "stuck":  # a learned model that stays where the log left it, as a log's trees may
        from binroute.routing.forecast.fill_models import Candidates

        real = Candidates.predict

        def predict(self, a, target, names=None):
            out = real(self, a, target, names)
            out["steps"] = a["fill_pct"].to_numpy(dtype=float).copy()
            return out

        monkeypatch.setattr(Candidates, "predict", predict)
        chosen = "steps"
    if chosen != "chosen":  # whichever model the past picks, the forecast beyond it grows
        every = dict.fromkeys(model.chosen, chosen)
        model = dataclasses.replace(model, chosen=every, chosen_later=every)
    end = log["collected_at"].max()
    days = [1, 3, 5, 8, 14]
    preds = [model.predict(end + pd.Timedelta(days=d)) for d in days]
    means = np.array([p["mean"].to_numpy() for p in preds])
    assert (np.diff(means[1:], axis=0) >= -1e-9).all()  # beyond the range: never falling
    assert (means[-1] > 200).all()  # 14 days at 20 to 30 points a day
    assert (preds[-1]["p_overflow"] > 0.9).all()


def test_a_log_bin_s_risk_is_at_least_its_censored_rate_s_left_alone():
    """A bin known from a collection log alone: P(overflow) is at least its censored rate's, left alone, at every age.

    The levels a log records are those found when the service chose to come, so a curve fitted on them says
    when the service came. Here the service came every two days before the bins were full, except once, after
    a ten-day break, when every bin was found full: within the longest cycle seen, a bin left four days is at
    risk as its rate says, more for a faster bin.
    """
    log = _log()
    end = log["collected_at"].max()
    holiday = log.groupby("bin_id").tail(1).assign(collected_at=end + pd.Timedelta(days=10), fill_pct=100)
    log = pd.concat([log, holiday], ignore_index=True)
    model = fit_fill_model(None, collections=log, tz="UTC")
    assert model.candidates is not None and model.anchors is not None
    assert set(model.shapes.values()) == {"log"} and min(model.longest_age.values()) >= 9.9
    last = log["collected_at"].max() + pd.Timedelta(hours=2)
    risks = []
    for d in (0.5, 2.0, 3.0, 4.0):
        at = last + pd.Timedelta(days=d)
        pred = model.predict(at)
        a = model.anchors.reset_index()
        own = norm.sf(model.candidates.censored.need(a, pd.Series([at] * len(a))))
        assert (pred.loc[a["bin_id"], "p_overflow"].to_numpy() >= own - 1e-9).all()
        risks.append(pred.loc[a["bin_id"], "p_overflow"].to_numpy())
    r = np.array(risks)
    assert (r[0] < 0.05).all() and r[3].max() > 0.5 and (r[3] >= r[2] - 1e-9).all()
    ids = list(a["bin_id"])
    slow, fast = model.candidates.censored.rates(["B0", "B11"])
    assert fast > slow and r[3][ids.index("B11")] > r[3][ids.index("B0")]


def test_a_bin_with_sensors_left_longer_than_ever_is_forecast_from_its_readings():
    """Beyond its longest cycle a bin with sensors is not raised to its censored rate: its readings show it stopped.

    Six cycles of 0 to 60% in three days (20 points a day); in the last the bin stops at 60% for five more days
    (its stream was out of use): the next day's forecast is the chosen model's, not raised to the censored
    rate's (the level plus 20 points a day).
    """
    cycle = [20.0 * k / 4 for k in range(13)]  # 0 to 60% in three days, every 6 hours
    values = cycle * 6 + cycle + [61.0, 60.0] * 10  # a sensor that reads the same for days is taken as stuck
    model = fit_fill_model(series(values, start=T0), tz="UTC")
    assert model.shapes["A"] != "log" and model.longest_age["A"] < 9.0  # the next day is beyond it
    end = T0 + pd.Timedelta(hours=6 * (len(values) - 1))
    at = end + pd.Timedelta(days=1)
    pred = model.predict(at).loc["A"]
    assert model.candidates is not None and model.anchors is not None
    censored = model.candidates.predict(model.anchors.reset_index(), pd.Series([at]), ("censored",))["censored"][0]
    assert pred["model"] != "censored" and pred["mean"] < censored - 1.0
