"""Forecasts for levels recorded in steps: the distribution of the next recorded step.

Where a bin's levels are recorded in steps (20% steps, colour levels: see
:func:`~.censored.level_steps`), a forecast is scored against one of a
handful of values, and the best point forecast under absolute error is the
median of the distribution over them, not a rate rounded to the nearest
step. This model estimates that distribution directly, by counting: over
every (anchor, target) pair of one bin and cycle in the past (the target a
later row, not an emptying, at most :data:`MAX_ELAPSED_DAYS` after the
anchor), how often a bin recorded at step ``s`` was recorded at step ``y``
after ``e`` days, ``g`` days after its last emptying. For a collection log
the anchor is the emptying (step 0), so this is the distribution of the
fill at collection given the bin's age; for daily snapshots it is a
transition model, P(next step | current step, elapsed time, age).

Counts are pooled down a hierarchy, each level a Dirichlet prior for the
next: all bins by ``s`` alone, by ``(s, e)``, by ``(s, e, g)``, the bin's
group (stream, area) by ``(s, e, g)``, the bin itself by ``(s, e, g)``.
Each level's prior strength (its concentration, in pseudo-observations) is
chosen by empirical Bayes: the value that maximises the Dirichlet-
multinomial marginal likelihood of that level's counts given its parent.
So a scenario whose bins behave alike pools them strongly and one whose
bins differ lets each follow its own past, without a constant set from any
data. Bins whose levels are not recorded in steps get the mean-rate
forecast (a tie, so the choice never prefers this model for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from .censored import level_steps
from .fill_data import LOG_MAX_INTERVAL_DAYS, ns

#: Pairs span at most this many days (a log's longest usable cycle); longer times and ages share the last bucket.
MAX_ELAPSED_DAYS = LOG_MAX_INTERVAL_DAYS
#: Row offsets tried when forming (anchor, target) pairs.
MAX_OFFSET = 8
#: Bounds of the concentrations searched (pseudo-observations, on a log scale).
CONCENTRATION_BOUNDS = (1e-2, 1e4)
_DAY = 86_400_000_000_000.0
_NE = int(MAX_ELAPSED_DAYS) + 1  # elapsed buckets 0..MAX
_NG = _NE + 1  # age buckets 0..MAX, and one for "unknown"


def _elapsed(days: NDArray[np.float64]) -> NDArray[np.int64]:
    """Whole days (rounded: a snapshot taken at the same local hour stays one day apart over a clock change)."""
    return np.clip(np.rint(np.nan_to_num(days, nan=0.0)), 0, MAX_ELAPSED_DAYS).astype(np.int64)


def _age(days: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.where(np.isnan(days), _NG - 1, _elapsed(days)).astype(np.int64)


@dataclass(frozen=True)
class _Counts:
    """Count vectors (over the steps) of the cells that have any, by integer cell key: a sparse table."""

    keys: NDArray[np.int64]  # sorted
    counts: NDArray[np.float64]  # (cells, steps)

    @classmethod
    def of(cls, key: NDArray[np.int64], y: NDArray[np.int64], levels: int) -> _Counts:
        keys, where = np.unique(key, return_inverse=True)
        counts = np.zeros((len(keys), levels))
        np.add.at(counts, (where, y), 1.0)
        return cls(keys, counts)

    def rows(self, key: NDArray[np.int64]) -> NDArray[np.float64]:
        """The count vector of each key (zeros for cells never seen)."""
        out = np.zeros((len(key), self.counts.shape[1]))
        if len(self.keys) and len(key):
            i = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            hit = self.keys[i] == key
            out[hit] = self.counts[i[hit]]
        return out


@dataclass(frozen=True)
class _Grid:
    """Counts for the bins of one step size, and the concentrations of each level of the hierarchy.

    ``n_all`` is dense over ``(s, e, g, y)``; the group and bin levels are
    sparse, keyed by ``code · cells + cell`` (a cell is one ``(s, e, g)``),
    so their size grows with the pairs seen, not with the number of bins.
    With one group only, the group level is the whole and is skipped.
    """

    step: float
    bins: dict[str, int]
    groups: dict[str, int]
    n_all: NDArray[np.float64]  # (s, e, g, y)
    n_group: _Counts
    n_bin: _Counts
    alpha: tuple[float, float, float, float, float]

    @property
    def levels(self) -> int:
        return self.n_all.shape[-1]

    def distribution(
        self, bins: NDArray[np.int64], groups: NDArray[np.int64], s: NDArray[np.int64], e: NDArray, g: NDArray
    ) -> NDArray[np.float64]:
        """P(step y) per query (rows: queries, columns: steps 0, step, 2 step, …, 100)."""
        k = self.levels
        a0, a1, a2, a3, a4 = self.alpha
        total = self.n_all.sum(axis=(0, 1, 2))
        p = np.broadcast_to((total + 1.0 / k) / (total.sum() + 1.0), (len(s), k))
        n_s = self.n_all.sum(axis=(1, 2))[s]
        p = _pool(n_s, p, a0)
        p = _pool(self.n_all.sum(axis=2)[s, e], p, a1)
        p = _pool(self.n_all[s, e, g], p, a2)
        cell = _cell(s, e, g)
        cells = _cells(k)
        has_group = (groups >= 0) & (len(self.groups) > 1)
        if has_group.any():
            p[has_group] = _pool(self.n_group.rows(groups[has_group] * cells + cell[has_group]), p[has_group], a3)
        has_bin = bins >= 0
        if has_bin.any():
            p[has_bin] = _pool(self.n_bin.rows(bins[has_bin] * cells + cell[has_bin]), p[has_bin], a4)
        return p


def _cells(levels: int) -> int:
    return levels * _NE * _NG


def _cell(s: NDArray[np.int64], e: NDArray[np.int64], g: NDArray[np.int64]) -> NDArray[np.int64]:
    return (np.asarray(s, dtype=np.int64) * _NE + np.asarray(e, dtype=np.int64)) * _NG + np.asarray(g, dtype=np.int64)


def _pool(counts: NDArray[np.float64], prior: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Posterior mean of a Dirichlet(``alpha · prior``) after ``counts``."""
    return (counts + alpha * prior) / (counts.sum(axis=-1, keepdims=True) + alpha)


def _dirichlet_multinomial(counts: NDArray[np.float64], prior: NDArray[np.float64], alpha: float) -> float:
    """Log marginal likelihood of count vectors (rows) under Dirichlet(``alpha · prior``) priors."""
    a = np.maximum(alpha * prior, 1e-12)
    n = counts.sum(axis=-1)
    return float(np.sum(gammaln(alpha) - gammaln(n + alpha)) + np.sum(gammaln(counts + a) - gammaln(a)))


def _concentration(counts: NDArray[np.float64], prior: NDArray[np.float64]) -> float:
    """The empirical-Bayes concentration: maximises the marginal likelihood of ``counts`` around ``prior``."""
    used = counts.sum(axis=-1) > 0
    if not used.any():
        return CONCENTRATION_BOUNDS[1]
    c, p = counts[used], prior[used]
    lo, hi = np.log(CONCENTRATION_BOUNDS[0]), np.log(CONCENTRATION_BOUNDS[1])
    res = minimize_scalar(lambda x: -_dirichlet_multinomial(c, p, float(np.exp(x))), bounds=(lo, hi), method="bounded")
    return float(np.exp(res.x))


def _fit_grid(step: float, pairs: pd.DataFrame, groups: Mapping[str, str]) -> _Grid:
    k = round(100.0 / step) + 1
    cells = _cells(k)
    bin_codes, bin_names = pd.factorize(pairs["bin_id"])
    group_codes, group_names = pd.factorize(pairs["bin_id"].map(lambda b: groups.get(b, "all")))
    s, e, g = pairs["s"].to_numpy(), pairs["e"].to_numpy(), pairs["g"].to_numpy()
    y = pairs["y"].to_numpy()
    cell = _cell(s, e, g)
    n_all = np.zeros((k, _NE, _NG, k))
    np.add.at(n_all, (s, e, g, y), 1.0)
    n_group = _Counts.of(group_codes.astype(np.int64) * cells + cell, y, k)
    n_bin = _Counts.of(bin_codes.astype(np.int64) * cells + cell, y, k)
    total = n_all.sum(axis=(0, 1, 2))
    base = (total + 1.0 / k) / (total.sum() + 1.0)
    # Each level's concentration, fitted on its own counts around its parent's pooled distribution.
    by_s = n_all.sum(axis=(1, 2))
    a0 = _concentration(by_s, np.broadcast_to(base, by_s.shape))
    p_s = _pool(by_s, base, a0)
    by_se = n_all.sum(axis=2)
    a1 = _concentration(by_se, np.broadcast_to(p_s[:, None, :], by_se.shape))
    p_se = _pool(by_se, p_s[:, None, :], a1)
    a2 = _concentration(n_all, np.broadcast_to(p_se[:, :, None, :], n_all.shape))
    p_seg = _pool(n_all, p_se[:, :, None, :], a2).reshape(cells, k)
    # The bins' parents: their group's pooled distribution in the same cell (the whole's with one group).
    group_of_bin = pd.Series(group_codes).groupby(bin_codes).first().to_numpy().astype(np.int64)
    bin_cell = n_bin.keys % cells
    parent = p_seg[bin_cell]
    if len(group_names) > 1:
        a3 = _concentration(n_group.counts, p_seg[n_group.keys % cells])
        group_key = group_of_bin[n_bin.keys // cells] * cells + bin_cell
        parent = _pool(n_group.rows(group_key), parent, a3)
    else:
        a3 = CONCENTRATION_BOUNDS[1]
    a4 = _concentration(n_bin.counts, parent)
    return _Grid(
        step,
        {str(b): i for i, b in enumerate(bin_names)},
        {str(x): i for i, x in enumerate(group_names)},
        n_all,
        n_group,
        n_bin,
        (a0, a1, a2, a3, a4),
    )


def step_pairs(rows: pd.DataFrame, steps: Mapping[str, float]) -> pd.DataFrame:
    """(anchor, target) pairs of one bin and cycle for the bins recorded in steps, on their step grid.

    Columns: ``bin_id``, ``step``, ``s`` (the anchor's step index), ``e``
    (elapsed days), ``g`` (the target's days since emptying, or the
    "unknown" bucket) and ``y`` (the target's step index).
    """
    n = len(rows)
    q = rows["bin_id"].map(lambda b: steps.get(b, 0.0)).to_numpy(dtype=float)
    if n < 2 or not (q > 0).any():
        return pd.DataFrame({c: [] for c in ("bin_id", "step", "s", "e", "g", "y")})
    t = ns(rows["timestamp"])
    b = pd.factorize(rows["bin_id"])[0]
    c = rows["cycle"].to_numpy()
    f = rows["fill_pct"].to_numpy(dtype=float)
    age = rows["age"].to_numpy(dtype=float)
    target_ok = (rows["source"] != "emptied").to_numpy()
    parts = []
    for k in range(1, min(MAX_OFFSET, n - 1) + 1):
        i = np.arange(n - k)
        j = i + k
        h = (t[j] - t[i]) / _DAY
        ok = (b[i] == b[j]) & (c[i] == c[j]) & (h > 0) & (h <= MAX_ELAPSED_DAYS) & target_ok[j] & (q[i] > 0)
        if ok.any():
            i, j, h = i[ok], j[ok], h[ok]
            parts.append(
                pd.DataFrame(
                    {
                        "bin_id": rows["bin_id"].to_numpy()[i],
                        "step": q[i],
                        "s": np.rint(f[i] / q[i]).astype(np.int64),
                        "e": _elapsed(h),
                        "g": _age(age[i] + h),
                        "y": np.rint(f[j] / q[i]).astype(np.int64),
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: [] for c in ("bin_id", "step", "s", "e", "g", "y")})
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class StepModel:
    """The fitted step distributions, one grid per step size (see the module docstring)."""

    steps: dict[str, float]
    groups: dict[str, str]
    grids: dict[float, _Grid] = field(default_factory=dict)

    def distribution(self, a: pd.DataFrame, target: pd.Series) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per anchor, the forecast's median level and P(full) at ``target``; nan for bins not recorded in steps."""
        n = len(a)
        median, p_full = np.full(n, np.nan), np.full(n, np.nan)
        if n == 0 or not self.grids:
            return median, p_full
        ids = a["bin_id"].astype(str).to_numpy()
        q = np.array([self.steps.get(b, 0.0) for b in ids])
        h = (ns(pd.Series(pd.DatetimeIndex(target))) - ns(a["timestamp"])) / _DAY
        f = a["fill_pct"].to_numpy(dtype=float)
        age = a["age"].to_numpy(dtype=float)
        for step, grid in self.grids.items():
            m = np.flatnonzero(q == step)
            if not len(m):
                continue
            s = np.clip(np.rint(f[m] / step).astype(np.int64), 0, grid.levels - 1)
            bins = np.array([grid.bins.get(b, -1) for b in ids[m]], dtype=np.int64)
            groups = np.array([grid.groups.get(self.groups.get(b, "all"), -1) for b in ids[m]], dtype=np.int64)
            p = grid.distribution(bins, groups, s, _elapsed(h[m]), _age(age[m] + h[m]))
            cum = np.cumsum(p, axis=1)
            median[m] = np.argmax(cum >= 0.5 * cum[:, -1:], axis=1) * step
            p_full[m] = p[:, -1] / cum[:, -1]
        return median, p_full


def fit_steps(rows: pd.DataFrame, groups: Mapping[str, str]) -> StepModel:
    """Fit :class:`StepModel` on ``rows`` (the output of :func:`~.fill_models.add_row_features`)."""
    steps = {b: q for b, q in level_steps(rows).items() if q > 0}
    pairs = step_pairs(rows, steps)
    grids = {float(q): _fit_grid(float(q), part, groups) for q, part in pairs.groupby("step")}
    return StepModel(steps, dict(groups), grids)
