"""The collect rule's risk horizon, on hand-built fill models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from binroute.routing.forecast.decide import MAY, MUST, DecisionRules, decide
from binroute.routing.forecast.model import BinFit, FillModel

T0 = pd.Timestamp("2026-03-02 10:00", tz="UTC")


def _model(level: float, rate: float, sigma2: float = 4.0) -> FillModel:
    fit = BinFit("X", np.full(7, float(rate)), sigma2, level, T0, 30.0, "g", False)
    return FillModel({"X": fit}, "UTC")


def test_risk_runs_until_the_last_visit_of_the_next_day():
    """A bin at 80% by tomorrow's collection time but 100% by the end of tomorrow's shifts is must.

    40% now, 40 points a day: 80% at 10:00 tomorrow (no risk then), 100% at 22:00. With visits until
    12 h after the collection time the crew might reach it only then, so it cannot wait.
    """
    model = _model(40, 40)
    assert decide(model, T0, DecisionRules())["X"].decision == MAY
    late = decide(model, T0, DecisionRules(visits_until_h=12))["X"]
    assert late.decision == MUST and late.p_overflow == pytest.approx(0.5, abs=0.01)


def test_visits_until_is_checked():
    """A horizon of a day or more after the collection time is refused."""
    with pytest.raises(ValueError, match="visits_until_h"):
        DecisionRules(visits_until_h=24)
