"""Fill-level forecasting from bin sensor readings.

Pipeline: :func:`clean_readings` repairs what real sensors send,
:func:`mark_emptyings` finds collections as large drops, and
:func:`fit_fill_model` estimates, per bin, a fill rate for each day of the
week from the increments between readings (any reading rate, irregular
intervals included). Bins with little history are shrunk toward the rates of
bins of the same stream in the same area (a ridge penalty toward the group's
pooled rates), and say so. Predictions carry a normal uncertainty whose
variance grows with the horizon, giving quantiles and overflow probabilities.

Readings are a :class:`pandas.DataFrame` with ``bin_id`` (str),
``timestamp`` (timezone-aware) and ``fill_pct`` (float).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from .errors import ForecastError

#: A drop of at least this many points (and to at most 60% of the level) is an emptying.
EMPTYING_DROP_PCT = 15.0
SPIKE_PCT = 25.0
STUCK_HOURS = 48.0
STUCK_MIN_READINGS = 4
MAX_INTERVAL_DAYS = 4.0
SATURATED_PCT = 97.0
#: Prior strength, in days of observation per weekday.
PRIOR_DAYS = 2.0
SIGMA_PRIOR_INTERVALS = 5.0
MIN_SIGMA2_PER_DAY = 1.0
SHORT_HISTORY_DAYS = 14.0
AREA_CELL_DEG = 0.01
MIN_GROUP_BINS = 5
_MONDAY = pd.Timestamp("1970-01-05")

CLEANING_COUNTS = ("missing_value", "out_of_range", "clipped", "duplicates", "spikes", "stuck", "gaps")


def clean_readings(readings: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Repair or drop bad sensor readings, counting what was done per bin.

    Rules: missing values dropped; values a little outside 0–100 (down to -5,
    up to 120) clipped, others dropped; several readings at one instant
    merged into their median; single spikes (up or down, with neighbours that
    agree) dropped; a sensor stuck on one value for more than 48 h keeps only
    the first reading of the run; gaps over four days are counted.

    Returns
    -------
    clean, report
        Readings sorted by bin and time, and per bin the count for each rule
        in :data:`CLEANING_COUNTS`. Every input bin appears in the report,
        also when nothing of it survives.
    """
    missing = [c for c in ("bin_id", "timestamp", "fill_pct") if c not in readings.columns]
    if missing:
        raise ForecastError(f"readings lack column(s): {', '.join(missing)}")
    df = readings[["bin_id", "timestamp", "fill_pct"]].copy()
    df["bin_id"] = df["bin_id"].astype(str)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df["fill_pct"] = pd.to_numeric(df["fill_pct"], errors="coerce")
    report = {b: dict.fromkeys(CLEANING_COUNTS, 0) for b in df["bin_id"].unique()}

    def count(mask: pd.Series, rule: str) -> None:
        for b, n in df.loc[mask, "bin_id"].value_counts().items():
            report[str(b)][rule] += int(n)

    count(df["fill_pct"].isna(), "missing_value")
    df = df[df["fill_pct"].notna()]
    far = (df["fill_pct"] < -5) | (df["fill_pct"] > 120)
    count(far, "out_of_range")
    df = df[~far]
    near = (df["fill_pct"] < 0) | (df["fill_pct"] > 100)
    count(near, "clipped")
    df = df.assign(fill_pct=df["fill_pct"].clip(0.0, 100.0))
    dup = df.duplicated(["bin_id", "timestamp"], keep="first")
    count(dup, "duplicates")
    df = df.groupby(["bin_id", "timestamp"], as_index=False, sort=True)["fill_pct"].median()

    same_prev = df["bin_id"].eq(df["bin_id"].shift(1))
    same_next = df["bin_id"].eq(df["bin_id"].shift(-1))
    prev, nxt = df["fill_pct"].shift(1), df["fill_pct"].shift(-1)
    f = df["fill_pct"]
    agree = (nxt - prev).abs() < SPIKE_PCT / 2
    up = (f - prev > SPIKE_PCT) & (f - nxt > SPIKE_PCT)
    down = (prev - f > SPIKE_PCT) & (nxt - f > SPIKE_PCT)
    spike = same_prev & same_next & agree & (up | down)
    count(spike, "spikes")
    df = df[~spike].reset_index(drop=True)

    # Stuck sensors: runs of the exact same value.
    same_bin = df["bin_id"].eq(df["bin_id"].shift(1))
    new_run = ~same_bin | (df["fill_pct"].diff().abs() > 1e-6)
    run = new_run.cumsum()
    grouped = df.groupby(run)["timestamp"]
    span_h = (grouped.transform("max") - grouped.transform("min")).dt.total_seconds() / 3600
    size = grouped.transform("size")
    stuck = (span_h > STUCK_HOURS) & (size >= STUCK_MIN_READINGS) & ~new_run
    count(stuck, "stuck")
    df = df[~stuck].reset_index(drop=True)

    gap = df["bin_id"].eq(df["bin_id"].shift(1)) & (
        df["timestamp"].diff().dt.total_seconds() > MAX_INTERVAL_DAYS * 86400
    )
    count(gap, "gaps")
    return df, report


def mark_emptyings(clean: pd.DataFrame) -> pd.DataFrame:
    """Add ``emptied`` (this reading follows a collection) and ``cycle`` columns.

    A collection shows as a drop of at least :data:`EMPTYING_DROP_PCT` points
    to at most 60% of the previous level, whether or not the collection
    itself is in the data.
    """
    df = clean.sort_values(["bin_id", "timestamp"]).reset_index(drop=True)
    prev = df["fill_pct"].shift(1)
    same = df["bin_id"].eq(df["bin_id"].shift(1))
    emptied = same & (prev - df["fill_pct"] >= EMPTYING_DROP_PCT) & (df["fill_pct"] <= 0.6 * prev)
    df["emptied"] = emptied
    df["cycle"] = emptied.astype(int).groupby(df["bin_id"]).cumsum()
    return df


def _days(ts: pd.Series | pd.DatetimeIndex | pd.Timestamp, tz: str) -> NDArray[np.float64]:
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


@dataclass(frozen=True)
class FillModel:
    """Fitted forecasts for a set of bins."""

    fits: dict[str, BinFit]
    tz: str
    cleaning: dict[str, dict[str, int]] = field(default_factory=dict)

    def predict(self, at: pd.Timestamp, bin_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Predicted fill at ``at``, with 10% and 90% quantiles and P(fill ≥ 100%).

        Returns a frame indexed by ``bin_id`` with columns ``mean`` (uncapped),
        ``fill_pct``, ``fill_p10``, ``fill_p90`` (capped to 0–100),
        ``p_overflow``, ``sd`` and ``note``; values are nan for bins without
        usable readings.
        """
        ids = list(self.fits) if bin_ids is None else list(bin_ids)
        at = pd.Timestamp(at)
        if at.tzinfo is None:
            at = at.tz_localize(self.tz)
        mean = predict_mean(self, ids, pd.Series([at] * len(ids)))
        known = [self.fits.get(b) for b in ids]
        sigma2 = np.array([f.sigma2 if f is not None else np.nan for f in known])
        x_at = _days(pd.Series([at]), self.tz)[0]
        x0 = np.full(len(ids), np.nan)
        starts = [f.level_time for f in known if f is not None and f.level_time is not None]
        has = np.array([f is not None and f.level_time is not None for f in known])
        if starts:
            x0[has] = _days(pd.Series(starts), self.tz)
        horizon = np.maximum(0.0, x_at - x0)
        sd = np.sqrt(sigma2 * horizon + 1.0)
        z = norm.ppf([0.1, 0.9])
        out = pd.DataFrame(
            {
                "bin_id": ids,
                "mean": mean,
                "fill_pct": np.clip(mean, 0.0, 100.0),
                "fill_p10": np.clip(mean + z[0] * sd, 0.0, 100.0),
                "fill_p90": np.clip(mean + z[1] * sd, 0.0, 100.0),
                "p_overflow": norm.sf((100.0 - mean) / sd),
                "sd": np.where(np.isnan(mean), np.nan, sd),
                "note": [f.note if f is not None else "unknown bin" for f in known],
            }
        )
        return out.set_index("bin_id")


def predict_mean(model: FillModel, bin_ids: Sequence[str], times: pd.Series) -> NDArray[np.float64]:
    """Mean predicted fill (uncapped) for many ``(bin, time)`` pairs at once; nan when unknown."""
    fits = [model.fits.get(b) for b in bin_ids]
    ok = np.array([f is not None and f.level_time is not None and not math.isnan(f.level) for f in fits])
    out = np.full(len(fits), np.nan)
    if not ok.any():
        return out
    chosen = [f for f, k in zip(fits, ok, strict=True) if k and f is not None]
    rates = np.stack([f.rates for f in chosen])
    level = np.array([f.level for f in chosen])
    x0 = _days(pd.Series([f.level_time for f in chosen]), model.tz)
    x1 = np.maximum(_days(pd.Series(times)[ok].reset_index(drop=True), model.tz), x0)
    out[ok] = level + np.einsum("ik,ik->i", weekday_overlap(x0, x1), rates)
    return out


def _groups(bin_ids: Sequence[str], bins: pd.DataFrame | None) -> dict[str, str]:
    """Stream-and-area group per bin (area: a ~1 km grid cell), or stream only."""
    if bins is None or bins.empty:
        return dict.fromkeys(bin_ids, "all")
    meta = bins.set_index("bin_id")
    out = {}
    for b in bin_ids:
        if b in meta.index:
            row = meta.loc[b]
            stream = str(row.get("stream", "all"))
            if "lon" in meta.columns and "lat" in meta.columns:
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


def fit_fill_model(
    readings: pd.DataFrame,
    *,
    bins: pd.DataFrame | None = None,
    tz: str = "UTC",
    before: pd.Timestamp | None = None,
    cleaned: pd.DataFrame | None = None,
) -> FillModel:
    """Fit per-bin weekday fill rates with shrinkage toward similar bins.

    Parameters
    ----------
    readings
        Raw readings (``bin_id``, ``timestamp``, ``fill_pct``).
    bins
        Optional bin table (``bin_id``, ``stream``, ``lon``, ``lat``) used to
        group similar bins; bins listed here without readings still get a fit.
    tz
        The local time zone, for the day-of-week pattern.
    before
        Use only readings strictly before this time (for backtests).
    cleaned
        Readings already passed through :func:`clean_readings` and
        :func:`mark_emptyings` (saves repeating that in backtests).
    """
    report: dict[str, dict[str, int]] = {}
    if cleaned is None:
        clean, report = clean_readings(readings)
        df = mark_emptyings(clean)
    else:
        df = cleaned
    if before is not None:
        df = df[df["timestamp"] < before]
    all_ids = list(
        dict.fromkeys([*(bins["bin_id"].astype(str) if bins is not None else []), *report, *df["bin_id"].unique()])
    )
    groups = _groups(all_ids, bins)
    x = _days(df["timestamp"], tz)
    same = df["bin_id"].eq(df["bin_id"].shift(1)).to_numpy() & df["cycle"].eq(df["cycle"].shift(1)).to_numpy()
    x0 = np.roll(x, 1)
    d = x - x0
    f = df["fill_pct"].to_numpy()
    f0 = np.roll(f, 1)
    use = same & (d > 1e-6) & (d <= MAX_INTERVAL_DAYS) & (f < SATURATED_PCT)
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
    tx = _days(tails["timestamp"], tz)
    t_last = tails.groupby("bin_id")["timestamp"].transform("last")
    x_last = _days(t_last, tz)
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
    return FillModel(fits=fits, tz=tz, cleaning=report)
