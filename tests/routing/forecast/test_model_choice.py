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
