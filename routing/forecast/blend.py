"""A forecast combination: the chosen model blended with the naive forecasts, its weights learnt from the past.

Combining forecasts is the most reliable gain over any single one of them
(the M-competitions' finding, and Bates and Granger's): a simple rule that
is hard to beat on some data (the last 20% step a day ahead, a log bin's
mean fill at collection) still carries what a model misses. The members
(:data:`MEMBERS`) are the model chosen for the bin (see
:mod:`binroute.routing.forecast.model_choice`) and the naive forecasts the
backtest compares with (:data:`~binroute.routing.forecast.fill_models.NAIVE_FORECASTS`)
but always full, which says the same for every bin.

Per data shape and day ahead of the origin, non-negative weights summing to
1 are chosen on a grid of :data:`GRID_STEP` over the simplex: those whose
forecast, capped at 100% and put on the bin's recorded steps as the
backtest scores it, had the lowest mean absolute error over the choice
window's scored targets, that is on the scenario's own past before the
forecast origin. Ties go to the earlier grid point, the model alone first.
A pool keeps its combination only where it clearly paid on the past: the
combination cross-fitted (each half of the origins combined with the
weights learnt on the other half) beat the model alone by more than a
standard error of the per-origin differences; else the model alone. The
intervals' residuals are those of the cross-fitted combination.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: What a forecast is combined from: the chosen model, then the naive forecasts that differ between bins (always
#: full does not: with all the weight it would forecast one constant for every bin).
MEMBERS = ("model", "last", "mean_fill", "mean_rate")
#: The weights' grid over the simplex.
GRID_STEP = 0.1
#: At most this many scored targets (chosen evenly, fixed seed) per pool to learn weights on.
MAX_POINTS = 20_000
#: Fewer scored targets than this in a pool: the model alone.
MIN_POINTS = 50
SEED = 0


@cache
def simplex_grid(members: int, step: float = GRID_STEP) -> NDArray[np.float64]:
    """Every weight vector on the grid of ``step`` over the simplex, the first member alone first."""
    n = round(1.0 / step)
    rows = [c for c in itertools.product(range(n + 1), repeat=members) if sum(c) == n]
    rows.sort(key=lambda c: (-c[0], c))
    return np.array(rows, dtype=float) / n


def as_scored(pred: NDArray[np.float64], step: NDArray[np.float64]) -> NDArray[np.float64]:
    """Forecasts as the backtest scores them: capped to 0–100, on the nearest step where levels are in steps."""
    fill = np.clip(pred, 0.0, 100.0)
    stepped = step > 0
    fill[stepped] = np.clip(np.round(fill[stepped] / step[stepped]) * step[stepped], 0.0, 100.0)
    return fill


def clear_gain(
    base: NDArray[np.float64], other: NDArray[np.float64], truth: NDArray[np.float64], origin: NDArray
) -> bool:
    """Whether ``other`` erred less than ``base`` by more than one standard error of the per-origin differences.

    The targets seen from one origin share its anchors, so the origins are the independent trials.
    """
    gain = pd.Series(np.abs(base - truth) - np.abs(other - truth)).groupby(origin).mean()
    n = len(gain)
    return bool(n >= 2 and gain.mean() > gain.std(ddof=1) / np.sqrt(n))


def learn_weights(
    preds: NDArray[np.float64], truth: NDArray[np.float64], step: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The grid weights (one per column of ``preds``) whose combination had the lowest MAE on ``truth``.

    ``preds`` has one row per scored target and one column per member
    (uncapped); the combination is scored as the backtest scores a forecast:
    capped to 0–100 and put on the nearest step where a bin's levels are
    recorded in steps (``step`` > 0). With fewer than :data:`MIN_POINTS` targets, the
    first member alone.
    """
    k = preds.shape[1]
    grid = simplex_grid(k)
    ok = ~np.isnan(preds).any(axis=1) & ~np.isnan(truth)
    if ok.sum() < MIN_POINTS:
        return grid[0]
    p, y, s = preds[ok], truth[ok], step[ok]
    if len(y) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(SEED).choice(len(y), MAX_POINTS, replace=False))
        p, y, s = p[keep], y[keep], s[keep]
    mae = np.empty(len(grid))
    chunk = max(1, 2_000_000 // len(y))
    stepped = s > 0
    unit = np.where(stepped, s, 1.0)[:, None]
    for i in range(0, len(grid), chunk):
        w = grid[i : i + chunk]
        fill = np.clip(p @ w.T, 0.0, 100.0)
        fill = np.where(stepped[:, None], np.clip(np.round(fill / unit) * unit, 0.0, 100.0), fill)
        mae[i : i + chunk] = np.abs(fill - y[:, None]).mean(axis=0)
    return grid[int(np.argmin(mae))]


@dataclass(frozen=True)
class Blend:
    """Learnt weights per pool ``"shape:day"`` (day 1, or 2 for the second day and after), by member name.

    A pool without weights forecasts with the model alone.
    """

    weights: dict[str, dict[str, float]] = field(default_factory=dict)

    def combine(
        self,
        shapes: list[str],
        day: NDArray[np.int64],
        model: NDArray[np.float64],
        naive: Mapping[str, NDArray[np.float64]],
    ) -> NDArray[np.float64]:
        """The combined forecast (uncapped) of each row from the model's and the naive forecasts."""
        out = np.asarray(model, dtype=float).copy()
        pool = np.array([f"{s}:{min(int(d), 2)}" for s, d in zip(shapes, day, strict=True)], dtype=object)
        for key, w in self.weights.items():
            m = pool == key
            if not m.any() or w.get("model", 0.0) >= 1.0:
                continue
            total = w.get("model", 0.0) * out[m]
            for name, v in w.items():
                if name != "model" and v > 0:
                    total = total + v * np.asarray(naive[name], dtype=float)[m]
            out[m] = total
        return out


def learn_blend(
    pools: NDArray,
    members: NDArray[np.float64],
    truth: NDArray[np.float64],
    step: NDArray[np.float64],
    half: NDArray[np.bool_],
    origin: NDArray,
) -> tuple[Blend, NDArray[np.float64]]:
    """Weights per pool learnt on all targets, and each target's combination with the weights of the other half.

    ``pools`` names each target's pool (``"shape:day"``), ``members`` holds
    the :data:`MEMBERS` forecasts (columns, uncapped), ``half`` which half
    of the origins a target's origin is in, ``origin`` the origin itself. A
    pool keeps its combination only where the cross-fitted combination (each
    half's weights learnt on the other half) beat the model alone by more
    than a standard error of the per-origin differences (:func:`clear_gain`):
    weights that only fit the noise of the past are not kept. Returns the
    :class:`Blend` and the cross-fitted combined forecasts (uncapped; the
    model's own where the pool keeps the model alone).
    """
    weights: dict[str, dict[str, float]] = {}
    crossed = members[:, 0].copy()
    for key in np.unique(pools):
        m = pools == key
        if not (half[m].any() and (~half[m]).any()):
            continue  # one half only: nothing to check the weights on
        out = crossed[m].copy()
        for fold in (False, True):
            train = m & (half != fold)
            wf = learn_weights(members[train], truth[train], step[train])
            part = half[m] == fold
            out[part] = members[m][part] @ wf
        model = members[m, 0]
        if not clear_gain(as_scored(model, step[m]), as_scored(out, step[m]), truth[m], origin[m]):
            continue
        w = learn_weights(members[m], truth[m], step[m])
        weights[str(key)] = {n: float(v) for n, v in zip(MEMBERS, w, strict=True) if v > 0}
        crossed[m] = out
    return Blend(weights), crossed
