"""The intervals' residuals come from models chosen on other origins than the ones they are measured on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from binroute.routing.forecast.model_choice import _cross_fitted


def test_residuals_are_those_of_the_model_chosen_on_the_other_half_of_the_origins():
    """A bin whose better model flips between alternate origins is scored, on each, with the other half's choice."""
    origins = np.repeat(np.arange(8), 3)
    even = origins % 2 == 0
    err = pd.DataFrame(
        {
            "mean_rate": np.where(even, 1.0, 9.0) + 0.01 * np.arange(len(origins)),
            "b": np.where(even, 9.0, 1.0),
            "bin_id": "X",
            "group": "all",
            "origin": origins,
        }
    )
    day = np.ones(len(err), dtype=np.int64)
    used = np.array(_cross_fitted(err, day, ["mean_rate", "b"], {"X": "all"}))
    assert (used[even] == "b").all()  # chosen on the odd origins, where b was better
    assert (used[~even] == "mean_rate").all()


def test_a_log_s_training_pairs_span_its_whole_cycles():
    """A log's cycle runs from an emptying to the next collection, four days later: that pair is learnt from.

    Limited to the span of sensor pairs (2.5 days), the trees would learn only from cycles cut short (bins
    emptied early, at low fill), and forecast every log bin low. Sensor rows keep the short span.
    """
    from binroute.routing.forecast.fill_models import training_pairs

    t0 = pd.Timestamp("2026-01-05 08:00", tz="UTC")
    times = [t0, t0 + pd.Timedelta(days=4), t0 + pd.Timedelta(days=4, seconds=1), t0 + pd.Timedelta(days=8)]
    rows = pd.DataFrame(
        {
            "bin_id": ["A"] * 4,
            "timestamp": times,
            "cycle": [1, 1, 2, 2],
            "source": ["emptied", "collection", "emptied", "collection"],
            "shape": ["log"] * 4,
        }
    )
    i, j = training_pairs(rows)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (2, 3)]
    i, j = training_pairs(rows.assign(shape="dense"))
    assert len(i) == 0


def _errors(a: np.ndarray, b: np.ndarray, bins: int, origins: int, groups: dict[str, str]) -> pd.DataFrame:
    """An error frame of two models (``mean_rate`` and ``b``), one target per bin and origin (rows: origin-major)."""
    ids = np.tile([f"B{i}" for i in range(bins)], origins)
    return pd.DataFrame(
        {
            "mean_rate": a,
            "b": b,
            "bin_id": ids,
            "group": [groups[x] for x in ids],
            "origin": np.repeat(np.arange(origins), bins),
        }
    )


def test_each_shape_s_models_are_chosen_at_the_level_that_erred_least_on_the_other_half():
    """Bins alike but noisy: one choice for the whole shape; bins that differ steadily: each bin its own model."""
    from binroute.routing.forecast.model_choice import choose_levels

    rng = np.random.default_rng(3)
    bins, origins = 20, 6
    n = bins * origins
    own = {f"B{i}": f"B{i}" for i in range(bins)}  # a group per bin: the group level is as noisy as the bin level
    shapes = dict.fromkeys(own, "log")
    alike = _errors(5.0 + rng.normal(0, 4, n), 6.0 + rng.normal(0, 4, n), bins, origins, own)
    day = np.ones(n, dtype=np.int64)
    levels, used = choose_levels(alike, day, ["mean_rate", "b"], own, shapes)
    assert levels == {("log", 1): "shape"}
    assert set(used) == {"mean_rate"}
    one = dict.fromkeys(own, "all")  # one group: the group level is the shape's
    first_half = np.tile(np.arange(bins) < bins // 2, origins)
    differ = _errors(np.where(first_half, 1.0, 9.0), np.where(first_half, 9.0, 1.0), bins, origins, one)
    levels, used = choose_levels(differ, day, ["mean_rate", "b"], one, shapes)
    assert levels == {("log", 1): "bin"}
    assert (np.array(used) == np.where(first_half, "mean_rate", "b")).all()
