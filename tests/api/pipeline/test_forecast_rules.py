"""The collect rule read from fleet.json: how late in the next day a skipped bin may be reached."""

from __future__ import annotations

import pytest

from binroute.api.pipeline.forecast import decision_rules, visits_from_h, visits_until_h
from binroute.api.pipeline.scenario import load_fleet


def test_risk_horizon_runs_to_the_latest_shift_end(sample_dir):
    """The sample collects at 10:00 and its last shift ends at 15:00: a skipped bin may wait 5 h into the next day."""
    fleet = load_fleet(sample_dir / "fleet.json")
    assert visits_until_h(fleet) == pytest.approx(5.0)
    assert decision_rules(fleet).visits_until_h == pytest.approx(5.0)


def test_visits_start_at_the_earliest_shift_start(sample_dir):
    """The sample's first shifts start at 06:00, 4 h before its 10:00 collection time: the window is -4 h to +5 h."""
    fleet = load_fleet(sample_dir / "fleet.json")
    assert visits_from_h(fleet) == pytest.approx(-4.0)
    rules = decision_rules(fleet)
    assert rules.visits_from_h == pytest.approx(-4.0) and rules.reach_offsets.min() > -4 > rules.reach_offsets.min() - 1


def test_no_extra_horizon_when_shifts_end_before_collection_time(sample_dir):
    """With the collection time after every shift's end the horizon is the next collection time itself."""
    fleet = load_fleet(sample_dir / "fleet.json")
    late = fleet.model_copy(update={"planning": fleet.planning.model_copy(update={"collect_at": "16:00"})})
    assert visits_until_h(late) == 0.0
    assert visits_from_h(late) == pytest.approx(-10.0)  # 06:00, ten hours before
