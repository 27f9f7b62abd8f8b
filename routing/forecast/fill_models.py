"""Candidate fill models and the per-row history they read.

Every model answers one question: given a bin's *anchor* (its last row
before an origin: time ``t0``, last level ``last``, a smoothed ``level``,
days since its last emptying ``age``, its mean and recent fill rates up to
then) what is its fill at a later ``target`` time of the same cycle? They
are fitted on the rows before a cut and predict for any anchors, so the
same objects serve the forecast and the rolling-origin choice between them.

* ``last_reading``: the last level (a baseline for backtests only: it
  cannot see a bin refill, and a bin that sat full in the recent past would
  choose it and then never be collected again);
* ``mean_rate``: the last level plus the bin's mean fill rate (since the
  emptying before each interval, over all cycles seen) times the time since
  (for a log, that is "mean rate × days since the last emptying");
* ``censored``: the smoothed level plus the bin's rate fitted with full
  levels taken as "at least full" (:mod:`binroute.routing.forecast.censored`), pooled
  toward its group when its own history is short;
* ``steps``: for levels recorded in steps (20% steps, colour levels), the
  median of the next recorded step's distribution given the step now, the
  days ahead and the days since emptying, counted over the past and pooled
  bin → group → all by empirical Bayes (:mod:`binroute.routing.forecast.steps`);
  the mean-rate forecast for other bins;
* ``weekday``: the hierarchical weekday-rate model (:mod:`binroute.routing.forecast.model`);
* ``consensus``: the median of three models of different kinds (the
  censored rate, the step distribution's median and the learned trees; the
  weekday model stands in for one not fitted): no single family is best on
  every data shape and season, and the median of their forecasts is rarely
  far from the best of them;
* ``gbm``: gradient-boosted trees learnt across all bins (scikit-learn's
  ``HistGradientBoostingRegressor``, absolute-error loss) on the horizon,
  days since emptying, weekday and hour, last and smoothed level, mean and
  recent rates, the baseline's own prediction, the bin's mean fill at its
  past collections and the share of them that were full, shape and stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from .censored import FULL_LEVEL_PCT, CensoredRates, fit_censored
from .fill_data import LOG, LOG_MAX_INTERVAL_DAYS, MAX_INTERVAL_DAYS, SHAPES, ns
from .steps import StepModel, fit_steps
from .weekday import BinFit, fit_weekday, local_days, weekday_overlap

#: The models a bin may be given, simplest first (ties go to the simpler).
CANDIDATES = ("mean_rate", "censored", "steps", "weekday", "gbm", "consensus")
#: The models the ``consensus`` forecast takes the median of: the first three of these that were fitted.
CONSENSUS_OF = ("censored", "steps", "gbm", "weekday")
BASELINES = ("last_reading", "mean_rate")
#: The naive forecasts a forecast may be combined with (see :mod:`binroute.routing.forecast.blend`): the last level
#: seen (for a log, the fill recorded at the last collection), the bin's mean fill at collection, the mean rate and
#: always full, as the backtest scores them.
NAIVE_FORECASTS = ("last", "mean_fill", "mean_rate", "full")
#: Training pairs for the learned model span at most this many days.
PAIR_MAX_DAYS = 2.5
#: Row offsets used to form (anchor, target) training pairs.
PAIR_OFFSETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96)
MAX_TRAIN_PAIRS = 15_000
MIN_TRAIN_PAIRS = 200
# The trees are fitted on one thread: the data are small, and OpenMP's
# threads slow the fit down twenty-fold on a busy machine.
RECENT_HALFLIFE = 5.0  # intervals
#: A level at collection at or above this counts as full (as for the censored rates).
FULL_AT_COLLECTION_PCT = FULL_LEVEL_PCT
SEED = 0
_DAY = 86_400_000_000_000.0


def add_row_features(df: pd.DataFrame, shapes: Mapping[str, str]) -> pd.DataFrame:
    """Per row, what was known at that row: mean and recent fill rate, days since emptying, smoothed level.

    ``df`` is the output of :func:`binroute.routing.forecast.fill_data.mark_emptyings`. Adds
    ``shape``, ``use`` (the interval ending here is a usable fill interval),
    ``d``, ``rise``, ``rate_mean``, ``rate_recent``, ``age``, ``level``,
    ``fill_at_collection`` (the bin's mean level before its emptyings so
    far), ``full_at_collection`` (the share of those that were full),
    ``at_collection`` (the row gives the level before an emptying) and
    ``seen`` (the last level seen up to this row: a log's emptied row keeps
    the level recorded at its collection).
    """
    df = df.sort_values(["bin_id", "timestamp"], kind="stable").reset_index(drop=True)
    df["shape"] = df["bin_id"].map(lambda b: shapes.get(b, "dense"))
    if df.empty:
        return df.assign(
            use=False,
            d=0.0,
            rise=0.0,
            rate_mean=np.nan,
            rate_recent=np.nan,
            age=np.nan,
            level=np.nan,
            fill_at_collection=np.nan,
            full_at_collection=np.nan,
            at_collection=False,
            seen=np.nan,
        )
    t = ns(df["timestamp"])
    same_bin = df["bin_id"].eq(df["bin_id"].shift(1)).to_numpy()
    same = same_bin & df["cycle"].eq(df["cycle"].shift(1)).to_numpy()
    d = np.zeros(len(df))
    if len(df) > 1:
        d[1:] = (t[1:] - t[:-1]) / _DAY
    rise = df["fill_pct"].diff().fillna(0.0).to_numpy()
    limit = np.where(df["shape"].to_numpy() == LOG, LOG_MAX_INTERVAL_DAYS, MAX_INTERVAL_DAYS)
    use = same & (d > 1e-6) & (d <= limit)
    df["use"] = use
    df["d"] = np.where(use, d, 0.0)
    df["rise"] = np.where(use, rise, 0.0)
    g = df.groupby("bin_id", sort=False)
    cum_d = g["d"].cumsum().to_numpy()
    cum_r = g["rise"].cumsum().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        df["rate_mean"] = np.where(cum_d > 0, np.clip(cum_r / cum_d, 0.0, None), np.nan)
    # Recent rate: exponentially weighted over the last intervals (by count).
    alpha = 1.0 - 0.5 ** (1.0 / RECENT_HALFLIFE)
    ew = df[["bin_id"]].assign(r=np.where(use, rise, np.nan), d=np.where(use, d, np.nan))
    sm = ew.groupby("bin_id", sort=False)[["r", "d"]].transform(lambda s: s.ewm(alpha=alpha, ignore_na=True).mean())
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = np.clip(sm["r"].to_numpy() / sm["d"].to_numpy(), 0.0, None)
    df["rate_recent"] = recent
    # Days since the emptying that started the current cycle (unknown in a bin's first cycle).
    start = pd.Series(t).groupby([df["bin_id"], df["cycle"]], sort=False).transform("first").to_numpy()
    age = (t - start) / _DAY
    df["age"] = np.where(df["cycle"].to_numpy() > 0, age, np.nan)
    # Smoothed level: up to three rows of the current cycle, grown to this one at the mean rate.
    f = df["fill_pct"].to_numpy()
    rate = np.nan_to_num(df["rate_mean"].to_numpy())
    total, count = f.copy(), np.ones(len(df))
    ok = same.copy()
    for k in (1, 2):
        if k == 2:
            ok[1:] &= same[:-1]
            ok[:1] = False
        j = np.arange(len(df)) - k
        jj = np.clip(j, 0, None)
        add = ok & (j >= 0)
        grown = f[jj] + rate * (t - t[jj]) / _DAY
        total += np.where(add, grown, 0.0)
        count += add
    df["level"] = np.clip(total / count, 0.0, 100.0)
    # The bin's fill at its past collections (the level before each emptying), as known at this row: a row's level
    # counts once the emptying after it is seen, so only rows before this one.
    emptied_next = np.zeros(len(df), dtype=bool)
    emptied_next[:-1] = df["emptied"].to_numpy(dtype=bool)[1:] & same_bin[1:]
    at_col = emptied_next & (df["source"].to_numpy() != "emptied") if "source" in df.columns else emptied_next
    known = pd.DataFrame({"b": df["bin_id"].to_numpy(), "n": at_col.astype(float), "f": np.where(at_col, f, 0.0)})
    known["full"] = np.where(at_col, f >= FULL_AT_COLLECTION_PCT, False).astype(float)
    cum = known.groupby("b", sort=False)[["n", "f", "full"]].cumsum() - known[["n", "f", "full"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        df["fill_at_collection"] = np.where(cum["n"] > 0, cum["f"] / cum["n"], np.nan)
        df["full_at_collection"] = np.where(cum["n"] > 0, cum["full"] / cum["n"], np.nan)
    df["at_collection"] = at_col
    seen = df["fill_pct"].where(df["source"] != "emptied") if "source" in df.columns else df["fill_pct"]
    df["seen"] = seen.groupby(df["bin_id"], sort=False).ffill().fillna(0.0).to_numpy()
    return df


def anchors_at(rows: pd.DataFrame, origins: pd.Series | pd.DatetimeIndex) -> pd.DataFrame:
    """The last row of each bin strictly before each origin.

    ``rows`` is the output of :func:`add_row_features`. Returns one row per
    (bin, origin) that has one, with the row's features, ``row`` (its index)
    and ``origin``.
    """
    origins = pd.DatetimeIndex(origins)
    t = ns(rows["timestamp"])
    picks, when = [], []
    o = ns(origins)
    for _, idx in rows.groupby("bin_id", sort=False).indices.items():
        k = np.searchsorted(t[idx], o, side="left") - 1
        has = k >= 0
        picks.append(idx[k[has]])
        when.append(o[has])
    if not picks:
        return rows.iloc[0:0].assign(row=pd.Series(dtype=int), origin=pd.Series(dtype="datetime64[ns, UTC]"))
    pick = np.concatenate(picks)
    out = rows.iloc[pick].copy()
    out["row"] = pick
    out["origin"] = pd.to_datetime(np.concatenate(when), utc=True)
    return out.reset_index(drop=True)


def _local(ts: pd.Series | pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.Series(ts).dt.tz_convert(tz).dt.tz_localize(None))


@dataclass(frozen=True)
class MeanRate:
    """Last level plus the bin's mean rate times the days since."""

    fallback: dict[str, float]  # per stream-or-group median rate at fit time
    overall: float

    def rates(self, a: pd.DataFrame, groups: Mapping[str, str]) -> NDArray[np.float64]:
        r = a["rate_mean"].to_numpy(dtype=float)
        fb = np.array([self.fallback.get(groups.get(b, "all"), self.overall) for b in a["bin_id"]])
        return np.where(np.isnan(r), fb, r)


def fit_mean_rate(rows: pd.DataFrame, groups: Mapping[str, str]) -> MeanRate:
    """Median of the bins' mean rates per group, for bins with no usable interval yet."""
    last = rows.groupby("bin_id").tail(1)
    per_bin = last.set_index("bin_id")["rate_mean"].dropna()
    overall = float(per_bin.median()) if len(per_bin) else 0.0
    by_group = per_bin.groupby(per_bin.index.map(lambda b: groups.get(b, "all"))).median()
    return MeanRate({str(k): float(v) for k, v in by_group.items()}, overall)


GBM_FEATURES = (
    "h",
    "age",
    "last",
    "level",
    "rate_mean",
    "rate_recent",
    "naive",
    "fill_at_collection",
    "full_at_collection",
    "weekday",
    "hour",
    "shape",
    "stream",
)


@dataclass(frozen=True)
class Boosted:
    """Gradient-boosted trees on the increment from the last level, learnt across bins."""

    model: object
    streams: tuple[str, ...]
    tz: str

    def predict(self, a: pd.DataFrame, target: pd.Series, naive: NDArray[np.float64], stream: list[str]) -> NDArray:
        x = gbm_matrix(a, target, naive, stream, self.streams, self.tz)
        with threadpool_limits(1):
            inc = self.model.predict(x)  # type: ignore[attr-defined]
        return np.clip(a["fill_pct"].to_numpy() + inc, 0.0, None)


def gbm_matrix(
    a: pd.DataFrame,
    target: pd.Series,
    naive: NDArray[np.float64],
    stream: list[str],
    streams: tuple[str, ...],
    tz: str,
) -> NDArray[np.float64]:
    """Feature matrix (columns :data:`GBM_FEATURES`) for anchors ``a`` and target times."""
    target = pd.Series(pd.DatetimeIndex(target))
    loc = _local(target, tz)
    h = (ns(target) - ns(a["timestamp"])) / _DAY
    code = {s: i for i, s in enumerate(streams)}
    shape_code = {s: i for i, s in enumerate(SHAPES)}
    return np.column_stack(
        [
            h,
            a["age"].to_numpy(dtype=float),
            a["fill_pct"].to_numpy(dtype=float),
            a["level"].to_numpy(dtype=float),
            a["rate_mean"].to_numpy(dtype=float),
            a["rate_recent"].to_numpy(dtype=float),
            naive,
            a["fill_at_collection"].to_numpy(dtype=float),
            a["full_at_collection"].to_numpy(dtype=float),
            loc.day_of_week.to_numpy(dtype=float),
            (loc.hour + loc.minute / 60.0).to_numpy(dtype=float),
            a["shape"].map(shape_code).to_numpy(dtype=float),
            np.array([code.get(s, len(streams)) for s in stream], dtype=float),
        ]
    )


def training_pairs(rows: pd.DataFrame) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(anchor, target) row pairs of one bin and cycle, at most :data:`PAIR_MAX_DAYS` apart, subsampled."""
    n = len(rows)
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    t = ns(rows["timestamp"])
    b = pd.factorize(rows["bin_id"])[0]
    c = rows["cycle"].to_numpy()
    target_ok = (rows["source"] != "emptied").to_numpy()
    # A log's only pair in a cycle spans it, from the emptying to the next collection: limited to
    # PAIR_MAX_DAYS the trees would learn from the cycles cut short alone (bins emptied early, at low fill).
    span = np.where(rows["shape"].to_numpy() == LOG, LOG_MAX_INTERVAL_DAYS, PAIR_MAX_DAYS)
    ii, jj = [], []
    for k in PAIR_OFFSETS:
        if k >= n:
            break
        i = np.arange(n - k)
        j = i + k
        h = (t[j] - t[i]) / _DAY
        ok = (b[i] == b[j]) & (c[i] == c[j]) & (h > 0) & (h <= span[i]) & target_ok[j]
        if not ok.any():
            continue
        ii.append(i[ok])
        jj.append(j[ok])
    if not ii:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    i_all, j_all = np.concatenate(ii), np.concatenate(jj)
    if len(i_all) > MAX_TRAIN_PAIRS:
        keep = np.sort(np.random.default_rng(SEED).choice(len(i_all), MAX_TRAIN_PAIRS, replace=False))
        i_all, j_all = i_all[keep], j_all[keep]
    return i_all, j_all


def fit_boosted(
    rows: pd.DataFrame, streams: Mapping[str, str], mean_rate: MeanRate, groups: Mapping[str, str], tz: str
):
    """Fit :class:`Boosted` on the rows given (all before the cut), or ``None`` with too few pairs."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    i, j = training_pairs(rows)
    if len(i) < MIN_TRAIN_PAIRS:
        return None
    a = rows.iloc[i].reset_index(drop=True)
    target = rows["timestamp"].iloc[j].reset_index(drop=True)
    h = (ns(target) - ns(a["timestamp"])) / _DAY
    naive = np.clip(a["fill_pct"].to_numpy() + mean_rate.rates(a, groups) * h, 0.0, None)
    names = tuple(sorted(set(streams.values())))
    stream = [streams.get(b, "") for b in a["bin_id"]]
    x = gbm_matrix(a, target, naive, stream, names, tz)
    y = rows["fill_pct"].to_numpy()[j] - a["fill_pct"].to_numpy()
    model = HistGradientBoostingRegressor(
        loss="absolute_error",
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        categorical_features=[GBM_FEATURES.index("shape"), GBM_FEATURES.index("stream")],
        early_stopping=False,
        random_state=SEED,
    )
    with threadpool_limits(1):
        model.fit(x, y)
    return Boosted(model, names, tz)


@dataclass(frozen=True)
class Candidates:
    """Every candidate model fitted on the same rows (see the module docstring)."""

    weekday: dict[str, BinFit]
    mean_rate: MeanRate
    boosted: Boosted | None
    groups: dict[str, str]
    streams: dict[str, str]
    tz: str
    censored: CensoredRates
    steps: StepModel = field(default_factory=lambda: StepModel({}, {}))
    #: The mean level at collection over all bins (for a bin with no collection seen yet); nan when none.
    fill_overall: float = float("nan")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n in CANDIDATES if n != "gbm" or self.boosted is not None)

    def sigma2(self, bin_ids: Sequence[str]) -> NDArray[np.float64]:
        """Growth variance per day of each bin (from the weekday fit); 25 when unknown."""
        return np.array([self.weekday[b].sigma2 if b in self.weekday else 25.0 for b in bin_ids])

    def predict(
        self, a: pd.DataFrame, target: pd.Series, names: Sequence[str] | None = None
    ) -> dict[str, NDArray[np.float64]]:
        """Each model's fill (at least 0, not capped) at ``target`` for anchors ``a`` (rows of :func:`anchors_at`)."""
        extra = (*BASELINES, *NAIVE_FORECASTS)
        wanted = self.names if names is None else [n for n in names if n in self.names or n in extra]
        members = [n for n in CONSENSUS_OF if n in self.names][:3]
        names = [*wanted, *members] if "consensus" in wanted else wanted
        target = pd.Series(pd.DatetimeIndex(target))
        h = np.maximum((ns(target) - ns(a["timestamp"])) / _DAY, 0.0)
        last = a["fill_pct"].to_numpy(dtype=float)
        naive = np.clip(last + self.mean_rate.rates(a, self.groups) * h, 0.0, None)
        out: dict[str, NDArray[np.float64]] = {}
        if "mean_rate" in names:
            out["mean_rate"] = naive
        if "last_reading" in names:
            out["last_reading"] = last.copy()
        if "last" in names:
            out["last"] = a["seen"].to_numpy(dtype=float) if "seen" in a.columns else last.copy()
        if "mean_fill" in names:
            own = a["fill_at_collection"].to_numpy(dtype=float) if "fill_at_collection" in a.columns else np.nan
            fallback = self.fill_overall if not np.isnan(self.fill_overall) else 0.0
            out["mean_fill"] = np.where(np.isnan(own), fallback, own) * np.ones(len(a))
        if "full" in names:
            out["full"] = np.full(len(a), 100.0)
        if "censored" in names:
            out["censored"] = self.censored.predict(a, target)
        if "steps" in names:
            median, _ = self.steps.distribution(a, target)
            out["steps"] = np.where(np.isnan(median), naive, median)
        if "weekday" in names:
            ids = a["bin_id"].tolist()
            rates = np.stack([self._rates(b) for b in ids]) if ids else np.zeros((0, 7))
            x0 = local_days(a["timestamp"], self.tz)
            x1 = np.maximum(local_days(target, self.tz), x0)
            grown = np.einsum("ik,ik->i", weekday_overlap(x0, x1), rates)
            out["weekday"] = np.clip(a["level"].to_numpy(dtype=float) + grown, 0.0, None)
        if "gbm" in names and self.boosted is not None:
            stream = [self.streams.get(b, "") for b in a["bin_id"]]
            out["gbm"] = self.boosted.predict(a, target, naive, stream) if len(a) else np.zeros(0)
        if "consensus" in wanted:
            out["consensus"] = np.median(np.stack([out[n] for n in members]), axis=0)
        return {n: out[n] for n in wanted if n in out}

    def _rates(self, b: str) -> NDArray[np.float64]:
        fit = self.weekday.get(b)
        if fit is not None:
            return fit.rates
        rate = self.mean_rate.fallback.get(self.groups.get(b, "all"), self.mean_rate.overall)
        return np.full(7, rate)


def fit_candidates(
    rows: pd.DataFrame,
    *,
    all_ids: Sequence[str],
    groups: dict[str, str],
    streams: dict[str, str],
    tz: str,
    learned: bool = True,
) -> Candidates:
    """Fit every candidate on ``rows`` (the output of :func:`add_row_features`)."""
    groups = {**dict.fromkeys(all_ids, "all"), **groups}
    mean_rate = fit_mean_rate(rows, groups)
    weekday = fit_weekday(rows, list(all_ids), groups, tz)
    boosted = fit_boosted(rows, streams, mean_rate, groups, tz) if learned else None
    censored = fit_censored(rows, groups)
    at_col = rows["at_collection"].to_numpy(dtype=bool) if "at_collection" in rows.columns else np.zeros(0, bool)
    fill_overall = float(rows["fill_pct"].to_numpy()[at_col].mean()) if at_col.any() else float("nan")
    return Candidates(weekday, mean_rate, boosted, groups, streams, tz, censored, fit_steps(rows, groups), fill_overall)
