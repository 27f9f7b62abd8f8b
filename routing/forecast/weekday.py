"""The hierarchical weekday-rate fill model.

Per bin, a fill rate for each day of the week is estimated from the
increments between readings of one cycle (any reading rate, irregular
intervals included). Bins with little history are shrunk toward the rates
of bins of the same stream in the same area (a ridge penalty toward the
group's pooled rates), and say so. The growth variance per day gives the
scale of the forecast's uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

SATURATED_PCT = 97.0
#: Prior strength, in days of observation per weekday.
PRIOR_DAYS = 2.0
SIGMA_PRIOR_INTERVALS = 5.0
MIN_SIGMA2_PER_DAY = 1.0
SHORT_HISTORY_DAYS = 14.0
AREA_CELL_DEG = 0.01
MIN_GROUP_BINS = 5
_MONDAY = pd.Timestamp("1970-01-05")


def local_days(ts: pd.Series | pd.DatetimeIndex | pd.Timestamp, tz: str) -> NDArray[np.float64]:
    """Local days since a Monday, as floats."""
    local = pd.DatetimeIndex(pd.Series(ts).dt.tz_convert(tz).dt.tz_localize(None))
    return np.asarray((local - _MONDAY).total_seconds() / 86400.0, dtype=float)


def weekday_overlap(x0: NDArray[np.float64], x1: NDArray[np.float64]) -> NDArray[np.float64]:
    """Days of each interval ``[x0, x1]`` (local days since a Monday) on each weekday."""

    def g(x: NDArray[np.float64]) -> NDArray[np.float64]:
        k = np.arange(7)
        return np.floor(x / 7.0)[:, None] + np.clip((x % 7.0)[:, None] - k[None, :], 0.0, 1.0)

    return g(np.asarray(x1, dtype=float)) - g(np.asarray(x0, dtype=float))


@dataclass(frozen=True)
class BinFit:
    """The fitted fill behaviour of one bin."""

    bin_id: str
    rates: NDArray[np.float64]  # % per day, Monday..Sunday
    sigma2: float  # variance of fill growth, %² per day
    level: float  # fill % at ``level_time`` (nan when there are no readings)
    level_time: pd.Timestamp | None
    observed_days: float
    group: str
    borrowed: bool
    note: str = ""


def bin_groups(bin_ids: Sequence[str], bins: pd.DataFrame | None) -> dict[str, str]:
    """Stream-and-area group per bin (area: a ~1 km grid cell), or stream only."""
    if bins is None or bins.empty:
        return dict.fromkeys(bin_ids, "all")
    meta = bins.assign(bin_id=bins["bin_id"].astype(str)).drop_duplicates("bin_id").set_index("bin_id")
    out = {}
    for b in bin_ids:
        if b in meta.index:
            row = meta.loc[b]
            stream = str(row.get("stream", "all"))
            if "lon" in meta.columns and "lat" in meta.columns and not (pd.isna(row["lon"]) or pd.isna(row["lat"])):
                cell = (
                    f"{math.floor(float(row['lon']) / AREA_CELL_DEG)}:{math.floor(float(row['lat']) / AREA_CELL_DEG)}"
                )
                out[b] = f"{stream}@{cell}"
            else:
                out[b] = stream
        else:
            out[b] = "all"
    counts = pd.Series(out).value_counts()
    return {b: (g if counts[g] >= MIN_GROUP_BINS or "@" not in g else g.split("@")[0]) for b, g in out.items()}


def _solve_rates(
    a: NDArray[np.float64], c: NDArray[np.float64], prior: NDArray[np.float64], lam: float
) -> NDArray[np.float64]:
    rates = np.linalg.solve(a + lam * np.eye(7), c + lam * prior)
    return np.clip(rates, 0.0, None)


def fit_weekday(rows: pd.DataFrame, all_ids: Sequence[str], groups: dict[str, str], tz: str) -> dict[str, BinFit]:
    """Fit per-bin weekday fill rates with shrinkage toward similar bins.

    ``rows`` is the output of :func:`binroute.routing.forecast.fill_models.add_row_features`
    (its ``use`` column marks the usable intervals); ``all_ids`` are the bins
    to fit, also those without rows (they take their group's rates).
    """
    df = rows
    x = local_days(df["timestamp"], tz)
    x0 = np.roll(x, 1)
    d = x - x0
    f = df["fill_pct"].to_numpy()
    f0 = np.roll(f, 1)
    use = df["use"].to_numpy() & (f < SATURATED_PCT) & (d > 1e-6)
    idx = np.flatnonzero(use)
    h = weekday_overlap(x0[idx], x[idx])
    delta = f[idx] - f0[idx]
    w = 1.0 / d[idx]
    owner = df["bin_id"].to_numpy()[idx]
    codes, uniq = pd.factorize(owner)
    nb = len(uniq)
    a = np.zeros((nb, 7, 7))
    c = np.zeros((nb, 7))
    np.add.at(a, codes, h[:, :, None] * h[:, None, :] * w[:, None, None])
    np.add.at(c, codes, h * (delta * w)[:, None])
    n_int = np.bincount(codes, minlength=nb)
    days_obs = np.bincount(codes, weights=d[idx], minlength=nb)
    pos = {b: i for i, b in enumerate(uniq)}

    # Hierarchical priors. A flat rate (% per day) is learnt from every
    # interval; weekday shapes are shrunk toward the flat rate, group shapes
    # toward the overall shape, and a bin's prior is its group's shape scaled
    # to the bin's own (shrunk) flat rate. So a bin seen only on Mondays still
    # gets sensible Thursday rates, and a new bin borrows its group's.
    rise = np.bincount(codes, weights=delta, minlength=nb)
    global_flat = max(float(rise.sum() / days_obs.sum()), 0.0) if nb and days_obs.sum() > 0 else 0.0
    global_rates = _solve_rates(a.sum(0), c.sum(0), np.full(7, global_flat), PRIOR_DAYS) if nb else np.zeros(7)
    group_prior: dict[str, NDArray[np.float64]] = {}
    group_flat: dict[str, float] = {}
    for g in set(groups.values()):
        members = [pos[b] for b, gg in groups.items() if gg == g and b in pos]
        if members and days_obs[members].sum() > 0:
            flat = max(float(rise[members].sum() / days_obs[members].sum()), 0.0)
            shape = global_rates * (flat / global_flat) if global_flat > 0 else np.full(7, flat)
            group_prior[g] = _solve_rates(a[members].sum(0), c[members].sum(0), shape, PRIOR_DAYS)
            group_flat[g] = flat
        else:
            group_prior[g] = global_rates
            group_flat[g] = global_flat
    rates_by_bin: dict[str, NDArray[np.float64]] = {}
    resid2 = np.zeros(nb)
    for b, i in pos.items():
        g = groups[b]
        own_flat = max((rise[i] + PRIOR_DAYS * group_flat[g]) / (days_obs[i] + PRIOR_DAYS), 0.0)
        scale = own_flat / group_flat[g] if group_flat[g] > 0 else 1.0
        prior = group_prior[g] * scale if group_flat[g] > 0 else np.full(7, own_flat)
        rates_by_bin[b] = _solve_rates(a[i], c[i], prior, PRIOR_DAYS)
    if nb:
        r = np.stack([rates_by_bin[b] for b in uniq])
        e = delta - np.einsum("ik,ik->i", h, r[codes])
        np.add.at(resid2, codes, e * e * w)
    sigma_bin = resid2 / np.maximum(n_int - 1, 1)
    group_sigma: dict[str, float] = {}
    for g in set(groups.values()):
        members = [pos[b] for b, gg in groups.items() if gg == g and b in pos]
        group_sigma[g] = (
            float(np.median(sigma_bin[members])) if members else (float(np.median(sigma_bin)) if nb else 25.0)
        )

    # Current level: the last (up to three) readings of the current cycle,
    # each grown to the time of the last one, averaged against sensor noise.
    tails = df.groupby("bin_id").tail(3)
    tails = tails[tails["cycle"] == tails.groupby("bin_id")["cycle"].transform("last")]
    tx = local_days(tails["timestamp"], tz)
    t_last = tails.groupby("bin_id")["timestamp"].transform("last")
    x_last = local_days(t_last, tz)
    tail_ids = tails["bin_id"].to_numpy()
    tail_rates = (
        np.stack([rates_by_bin.get(b, group_prior[groups[b]]) for b in tail_ids]) if len(tails) else np.zeros((0, 7))
    )
    grown = np.einsum("ik,ik->i", weekday_overlap(tx, x_last), tail_rates)
    levels = pd.Series(tails["fill_pct"].to_numpy() + grown, index=tail_ids).groupby(level=0).mean()
    level_time = tails.groupby("bin_id")["timestamp"].last()
    fits: dict[str, BinFit] = {}
    for b in all_ids:
        g = groups[b]
        i = pos.get(b, -1)
        rates = rates_by_bin.get(b, group_prior[g])
        n = float(n_int[i]) if i >= 0 else 0.0
        s2 = (n * (sigma_bin[i] if i >= 0 else 0.0) + SIGMA_PRIOR_INTERVALS * group_sigma[g]) / (
            n + SIGMA_PRIOR_INTERVALS
        )
        s2 = max(s2, MIN_SIGMA2_PER_DAY)
        obs = float(days_obs[i]) if i >= 0 else 0.0
        borrowed = obs < SHORT_HISTORY_DAYS
        note = f"short history ({obs:.1f} days): rates shrunk toward bins of group {g}" if borrowed else ""
        if b not in levels.index:
            fits[b] = BinFit(b, rates, s2, math.nan, None, obs, g, True, "no usable sensor readings; fill unknown")
            continue
        fits[b] = BinFit(b, rates, s2, float(levels[b]), level_time[b], obs, g, borrowed, note)
    return fits
