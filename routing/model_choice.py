"""Choosing each bin's model from its own past, and calibrating the intervals.

The candidates are fitted on the rows before a cut ``S`` and replayed from
every local midnight between ``S`` and the forecast origin ``T``: each
anchor is the bin's last row before that midnight, each target a later row
of the same cycle within :data:`EVAL_HORIZON_DAYS` (a rolling-origin
backtest that only uses the past of ``T``). Per bin, the model with the
lowest shrunk mean absolute error wins: the bin's own errors weighted by its
number of scored targets, its group's by :data:`GROUP_PRIOR_TARGETS`, so a
bin with a short history follows its group. A bin is then never given a
model that did worse than the mean-rate baseline on its own targets.

The chosen models' residuals, each divided by the bin's scale
``sqrt(sigma2 · days since the anchor + 1)``, give the interval: their
empirical 10% and 90% quantiles per data shape and day ahead of the origin
(split conformal prediction), and P(overflow)
is the share of residuals that would carry the forecast to 100%. Forecasts
are capped at 100% before scoring, as a sensor cannot read more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from .fill_data import ns
from .fill_models import CANDIDATES, Candidates, anchors_at

EVAL_DAYS = 28.0
MIN_EVAL_DAYS = 2.0
EVAL_HORIZON_DAYS = 2.0
GROUP_PRIOR_TARGETS = 8.0
#: With fewer residuals than this for a shape, intervals are normal.
MIN_CALIBRATION = 50
#: The model for bins with no evidence at all (and the fallback everywhere
#: when the history is too short to backtest).
DEFAULT_MODEL = "weekday"
QUANTILES = (0.1, 0.9)
_DAY = 86_400_000_000_000.0
_Z = norm.ppf(QUANTILES)


def scale(sigma2: NDArray[np.float64], days: NDArray[np.float64]) -> NDArray[np.float64]:
    """The spread unit of a forecast ``days`` ahead of its anchor."""
    return np.sqrt(np.asarray(sigma2) * np.maximum(np.asarray(days, dtype=float), 0.0) + 1.0)


def horizon_day(days_ahead: NDArray[np.float64]) -> NDArray[np.int64]:
    """Which day ahead of the origin (1 or 2; later days count as 2) each forecast is for."""
    return np.clip(np.ceil(np.asarray(days_ahead, dtype=float)), 1, 2).astype(np.int64)


@dataclass(frozen=True)
class Calibration:
    """Sorted normalised residuals per data shape and day ahead (``"log:1"``; ``"*"`` pools shapes)."""

    z: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    def _pool(self, shape: str, day: int) -> NDArray[np.float64] | None:
        for key in (f"{shape}:{day}", shape, f"*:{day}", "*"):
            z = self.z.get(key)
            if z is not None and len(z) >= MIN_CALIBRATION:
                return z
        return None

    def _groups(self, shapes: list[str], days: NDArray[np.int64]) -> dict[tuple[str, int], NDArray[np.bool_]]:
        keys = list(zip(shapes, days.tolist(), strict=True))
        return {k: np.array([x == k for x in keys], dtype=bool) for k in set(keys)}

    def bounds(
        self, shapes: list[str], days: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The 10% and 90% quantiles of the normalised residual for each forecast."""
        days = np.ones(len(shapes), dtype=np.int64) if days is None else days
        lo, hi = np.full(len(shapes), _Z[0]), np.full(len(shapes), _Z[1])
        for (s, d), m in self._groups(shapes, days).items():
            z = self._pool(s, d)
            if z is not None:
                lo[m], hi[m] = np.quantile(z, QUANTILES)
        return lo, hi

    def exceed(
        self, shapes: list[str], need: NDArray[np.float64], days: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """P(normalised residual ≥ ``need``) per forecast."""
        days = np.ones(len(shapes), dtype=np.int64) if days is None else days
        out = norm.sf(need)
        for (s, d), m in self._groups(shapes, days).items():
            z = self._pool(s, d)
            if z is not None:
                # Share of residuals at or above, with half a count of smoothing.
                k = len(z) - np.searchsorted(z, need[m], side="left")
                out[m] = (k + 0.5) / (len(z) + 1.0)
        return out


@dataclass(frozen=True)
class Choice:
    """Each bin's model, what it was chosen on, and the calibration."""

    chosen: dict[str, str]
    calibration: Calibration
    targets: dict[str, int]  # scored targets per bin
    mae: pd.DataFrame  # own MAE per bin and model (rows: bins)


def evaluation_pairs(
    rows: pd.DataFrame, origins: pd.DatetimeIndex, horizon_days: float
) -> tuple[pd.DataFrame, NDArray]:
    """Anchors at each origin and the row indices of their targets (same bin and cycle, within the horizon)."""
    a = anchors_at(rows, origins)
    if a.empty:
        return a, np.zeros(0, dtype=np.int64)
    t = ns(rows["timestamp"])
    b = pd.factorize(rows["bin_id"])[0]
    c = rows["cycle"].to_numpy()
    ok_target = (rows["source"] != "emptied").to_numpy()
    r = a["row"].to_numpy()
    end = ns(a["origin"]) + int(horizon_days * _DAY)
    n = len(rows)
    anchors, targets = [], []
    alive = np.ones(len(r), dtype=bool)
    k = 1
    while alive.any():
        j = r + k
        inside = j < n
        jj = np.minimum(j, n - 1)
        cont = alive & inside & (b[jj] == b[r]) & (c[jj] == c[r]) & (t[jj] <= end)
        use = cont & ok_target[jj]
        anchors.append(np.flatnonzero(use))
        targets.append(jj[use])
        alive = cont
        k += 1
    ai = np.concatenate(anchors)
    tj = np.concatenate(targets)
    return a.iloc[ai].reset_index(drop=True), tj


def choose_models(
    rows: pd.DataFrame,
    fitted: Candidates,
    origins: pd.DatetimeIndex,
    shapes: Mapping[str, str],
) -> Choice | None:
    """Score ``fitted`` from each origin on ``rows`` and choose per bin; ``None`` when nothing can be scored."""
    a, tj = evaluation_pairs(rows, origins, EVAL_HORIZON_DAYS)
    if len(tj) == 0:
        return None
    target = rows["timestamp"].iloc[tj].reset_index(drop=True)
    truth = rows["fill_pct"].to_numpy()[tj]
    # Fill cannot be read above 100%: score forecasts the way they are read.
    preds = {n: np.clip(p, 0.0, 100.0) for n, p in fitted.predict(a, target).items()}
    names = [n for n in CANDIDATES if n in preds]
    err = pd.DataFrame({n: np.abs(preds[n] - truth) for n in names})
    err["bin_id"] = a["bin_id"].to_numpy()
    err["group"] = err["bin_id"].map(lambda x: fitted.groups.get(x, "all"))
    own = err.groupby("bin_id")[names].mean()
    n_own = err.groupby("bin_id").size()
    grp = err.groupby("group")[names].mean()
    chosen: dict[str, str] = {}
    for bid in fitted.groups:
        g = fitted.groups.get(bid, "all")
        n = float(n_own.get(bid, 0))
        if g in grp.index:
            prior = grp.loc[g].to_numpy()
            score = (
                (n * own.loc[bid].to_numpy() + GROUP_PRIOR_TARGETS * prior) / (n + GROUP_PRIOR_TARGETS) if n else prior
            )
        elif n:
            score = own.loc[bid].to_numpy()
        else:
            chosen[bid] = DEFAULT_MODEL
            continue
        pick = names[int(np.argmin(score))]  # ties go to the earlier, simpler model
        if n and own.at[bid, pick] > own.at[bid, "mean_rate"]:
            pick = "mean_rate"
        chosen[bid] = pick
    # Residuals of the chosen models, normalised, pooled per shape.
    ids = a["bin_id"].to_numpy()
    pick_pred = np.array([preds[chosen.get(b, DEFAULT_MODEL)][i] for i, b in enumerate(ids)])
    days = (ns(target) - ns(a["timestamp"])) / _DAY
    z = (truth - pick_pred) / scale(fitted.sigma2(list(ids)), days)
    shape_of = np.array([shapes.get(b, "dense") for b in ids])
    day = horizon_day((ns(target) - ns(a["origin"])) / _DAY)
    pools = {"*": np.sort(z)}
    for s in set(shape_of):
        pools[s] = np.sort(z[shape_of == s])
    for d in (1, 2):
        pools[f"*:{d}"] = np.sort(z[day == d])
        for s in set(shape_of):
            pools[f"{s}:{d}"] = np.sort(z[(shape_of == s) & (day == d)])
    return Choice(chosen, Calibration(pools), {str(k): int(v) for k, v in n_own.items()}, own)
