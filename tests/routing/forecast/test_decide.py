"""The collect rule's risk horizon, on hand-built fill models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from binroute.routing.forecast.decide import MAY, MUST, SKIP, DecisionRules, decide
from binroute.routing.forecast.model import BinFit, FillModel

T0 = pd.Timestamp("2026-03-02 10:00", tz="UTC")


def _model(level: float, rate: float, sigma2: float = 4.0) -> FillModel:
    fit = BinFit("X", np.full(7, float(rate)), sigma2, level, T0, 30.0, "g", False)
    return FillModel({"X": fit}, "UTC")


def test_risk_runs_until_the_last_visit_of_the_next_day():
    """A bin at 80% by tomorrow's collection time but 100% by the end of tomorrow's shifts is must.

    40% now, 40 points a day: 80% at 10:00 tomorrow (no risk then), 100% at 22:00. With every visit
    12 h after the collection time the crew reaches it only then, so it cannot wait.
    """
    model = _model(40, 40)
    assert decide(model, T0, DecisionRules())["X"].decision == MAY
    late = decide(model, T0, DecisionRules(visits_until_h=12, visits_from_h=12))["X"]
    assert late.decision == MUST and late.p_overflow == pytest.approx(0.5, abs=0.01)


def test_risk_is_spread_over_the_day_s_visit_window():
    """The lorry reaches a bin left today anywhere from 06:00 to 22:00 tomorrow (4 h before to 12 h after 10:00).

    The bin above passes 100% only at 22:00, after nearly every arrival: it waits. One at 60% passes it
    at 10:00, a quarter into the window: three arrivals in four come too late, a 75% risk.
    """
    window = DecisionRules(visits_until_h=12, visits_from_h=-4)
    assert list(window.reach_offsets) == pytest.approx([-4 + 16 * (i + 0.5) / 6 for i in range(6)])
    late = decide(_model(40, 40), T0, window)["X"]
    assert late.decision != MUST and late.p_overflow < 0.05
    early = decide(_model(60, 40), T0, window)["X"]
    assert early.decision == MUST and early.p_overflow == pytest.approx(0.75, abs=0.02)


def test_visits_until_is_checked():
    """A horizon of a day or more after the collection time is refused."""
    with pytest.raises(ValueError, match="visits_until_h"):
        DecisionRules(visits_until_h=24)
    with pytest.raises(ValueError, match="visits_from_h"):
        DecisionRules(visits_until_h=2, visits_from_h=3)


def _models(bins: dict[str, tuple[float, float]], at: pd.Timestamp = T0, sigma2: float = 4.0) -> FillModel:
    """A fill model of bins at ``(level now, points a day)``, each last read at ``at``."""
    fits = {
        b: BinFit(b, np.full(7, float(rate)), sigma2, level, at, 30.0, "g", False) for b, (level, rate) in bins.items()
    }
    return FillModel(fits, "UTC")


def test_a_modest_risk_is_left_when_a_lift_costs_more():
    """A bin at 10% with a 16% risk of overflowing by the next chance: worth 6.4 at an overflow cost of 40.

    A lift costing 10 is dearer than that risk, so the bin waits; at 2 a lift, the risk costs more: must.
    """
    model = _models({"X": (10, 60)}, sigma2=900)
    dear = decide(model, T0, DecisionRules(lift_cost=10.0))["X"]
    assert 0.1 < dear.p_overflow < 0.2 and dear.fill_pct == pytest.approx(10)
    assert dear.decision != MUST
    cheap = decide(model, T0, DecisionRules(lift_cost=2.0))["X"]
    assert cheap.decision == MUST and "risk" in cheap.reason


def test_a_council_s_tolerance_overrides_the_costs():
    """With a tolerated risk of 5% set by the council, the bin above is must whatever a lift costs."""
    model = _models({"X": (10, 60)}, sigma2=900)
    assert decide(model, T0, DecisionRules(lift_cost=10.0, overflow_risk=0.05))["X"].decision == MUST


def test_the_horizon_sees_bins_due_later():
    """30 points a day from 20%: due at 80% on the collection in 2 days.

    A one-chance horizon skips it; two chances see it due on the second and make it ``may`` today.
    """
    model = _models({"X": (20, 30)})
    one = decide(model, T0, DecisionRules(horizon_days=1))["X"]
    two = decide(model, T0, DecisionRules(horizon_days=2))["X"]
    assert (one.decision, one.due_in) == (SKIP, 2)
    assert (two.decision, two.due_in) == (MAY, 2) and two.prize > 0
    assert "due by the collection in 2 days" in two.reason


def test_a_bin_due_later_is_worth_its_stop_less_what_going_early_wastes():
    """C is at 65% and due at 85% in two days: lifted today, 20 points of its due-day load are wasted.

    Its prize is the stop it saves on its due day less that part of a lift. A bin at 20%, due at 80%,
    would waste three quarters of a lift: not worth it, so skip.
    """
    rules = DecisionRules(horizon_days=2, lift_cost=2.0, visit_cost=1.0)
    c = decide(_models({"C": (65, 10)}), T0, rules)["C"]
    assert (c.decision, c.due_in) == (MAY, 2)
    assert c.prize == pytest.approx(1.0 - 2.0 * (1 - 65 / 85), rel=0.01)
    early = decide(_models({"C": (20, 30)}), T0, rules)["C"]
    assert (early.decision, early.due_in) == (SKIP, 2) and "waste" in early.reason


def test_a_crew_passing_takes_a_bin_due_later_and_its_day_needs_no_crew():
    """Three bins over three days: A is due today, C on the collection in 2 days (where A is), B after the horizon.

    With a 2-day horizon the lorry serving A takes C two days early, as its detour costs nothing; nothing
    else is due by then, so no crew goes out tomorrow nor the day after. With a 1-day horizon C is
    skipped today, and its own day needs a crew for it alone.
    """
    from binroute.routing import Bin, Limits, SolveParams, solve

    from ...routing.helpers import make_problem, make_vehicle

    rules = DecisionRules(horizon_days=2, lift_cost=2.0, visit_cost=1.0)
    levels = {"A": (90, 10), "B": (0, 25), "C": (65, 10)}
    today = decide(_models(levels), T0, rules)
    assert [today[b].decision for b in "ABC"] == [MUST, SKIP, MAY]
    routed = [Bin(b, 1, demand=(1,), required=today[b].decision == MUST, prize=today[b].prize) for b in "AC"]
    problem = make_problem([(0, 0), (100, 0)], routed, [make_vehicle(cost_per_distance=1.0, fixed_cost=450)])
    solution = solve(problem, limits=Limits(solution_limit=20), params=SolveParams(engine="pyvrp", seed=0))
    assert set(solution.served()) == {"A", "C"}
    # The next two days, from the levels after today's lifts: nothing is due, so no crew goes out.
    for day in (1, 2):
        later = _models({"A": (10 * day, 10), "B": (25 * day, 25), "C": (10 * day, 10)}, at=T0 + pd.Timedelta(days=day))
        assert not [b for b, d in decide(later, T0 + pd.Timedelta(days=day), rules).items() if d.decision == MUST]
    # With one day's horizon C is skipped today: it is due on a day that needs a crew for it.
    short = decide(_models(levels), T0, DecisionRules(horizon_days=1, lift_cost=2.0, visit_cost=1.0))
    assert short["C"].decision == SKIP and short["C"].due_in == 2


@pytest.mark.parametrize("days", [0, 15, 40])
def test_a_horizon_out_of_range_is_refused(days):
    with pytest.raises(ValueError, match="horizon_days must be 1 to 14"):
        DecisionRules(horizon_days=days)


def test_a_lift_is_worth_only_the_risk_it_takes_away():
    """Two bins at a 30% risk of overflowing by the next chance: one as likely to overflow when just emptied.

    A bin that overflows on some days whatever its level (a street where waste is dumped beside it) is not
    made safe by lifting it: only the risk its level brings counts against the tolerated risk.
    """
    from binroute.routing.forecast.decide import Outlook, due_chances

    fill = np.array([[40.0, 60.0, 80.0], [40.0, 60.0, 80.0]])
    p_over = np.array([[0.0, 0.3, 0.6], [0.0, 0.3, 0.6]])
    look = Outlook(["level", "dumped"], fill, p_over, pd.DataFrame(), p_fresh=np.array([0.01, 0.28]))
    rules = DecisionRules(threshold_pct=90, overflow_risk=0.1)
    assert due_chances(look, rules).tolist() == [0, 1]  # its level brings risk by the chance after
    assert due_chances(Outlook(look.ids, fill, p_over, look.now), rules).tolist() == [0, 0]


def test_a_fresh_bin_s_risk_comes_from_its_own_rate():
    """Emptied at the collection time, a bin gaining 40 points a day is at 40% a day later: no risk then."""
    model = _models({"X": (90, 40)})
    fresh = model.predict_pairs(["X"], pd.Series([T0 + pd.Timedelta(days=1)]), emptied_at=T0)
    assert fresh.at[0, "mean"] == pytest.approx(40.0, abs=1.0) and fresh.at[0, "p_overflow"] < 0.01
    later = model.predict_pairs(["X"], pd.Series([T0 + pd.Timedelta(days=1)]))
    assert later.at[0, "p_overflow"] > 0.99
