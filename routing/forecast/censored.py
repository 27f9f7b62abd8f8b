"""Fill rates from censored observations: a full bin says "at least full", not "100%".

A level of 100% (at a collection, or from a sensor that cannot read higher)
means the bin filled up *some time* before it was seen: the rise over the
interval was at least what was left to fill, not equal to it. Averaging
such levels (the mean fill at collection, the mean rise per day) drags a
fast bin's rate down to "full by the time we came", so a bin that is
always full when emptied looks like it fills exactly on schedule.

Each usable interval of a bin (:func:`~.fill_models.add_row_features`:
same cycle, not too long) is one observation of its rise ``Δ`` over ``d``
days, modelled as ``Δ ~ N(m·d, σ²·d + ε²)``, Tobit style: ``m`` is the
bin's rate, ``σ²`` the day-to-day variation of its growth and ``ε²`` the
reading's own error (the rounding of levels recorded in steps: 20% steps,
colour levels). An interval that ends full only says
``Δ ≥ (level − step/2) − start``: its likelihood is the normal tail above
that. A bin's rate is the maximum a posteriori under a normal prior
centred on its group's rate (stream and area, as elsewhere), so a bin with
three collections follows its group and one always full keeps a rate that
rises with the evidence instead of stopping at 100% per interval.

Fitted by Newton's method on all bins at once (the log-likelihood is
concave in ``m``), in two passes: the group rates and their spread come
from a first pass with a weak common prior.

How far a rise strays from ``m·d`` is read per group from its intervals
(full ones censored); for bins known from a collection log alone, whose
overflow risk is this model's own, in the form their data fit best
(:func:`growth_spread`): alike for every bin of the group, or scaled to
each bin's rate (a bin filling 2% a day strays less than one filling 40%).

A collection log's bins also share a *recent level*
(:func:`recent_level`): how much faster or slower than their own rates
they have all filled lately (a campus's term after its break, a resort's
season), one factor fitted the same Tobit way on their intervals weighted
by age, its half-life chosen on the scenario's own past (the one that best
forecast each of the last weeks from the weeks before it). A bin known
from a log is seen only when it is emptied, so its own rate learns a
change late; the factor reads it from every bin at once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import log_ndtr

from .fill_data import LOG, ns

#: A level at or above this is taken as full (censored) when the bin's levels are not recorded in steps.
FULL_LEVEL_PCT = 97.0
#: Steps (fill %) a log may record levels in, coarsest first.
STEPS = (25.0, 20.0, 10.0, 5.0)
#: Share of a bin's levels on a step's multiples for the step to be taken as its resolution.
STEP_SHARE = 0.95
#: Variance (%²) of a reading that is not recorded in steps.
READING_VAR = 1.0
#: Lower bound of the growth variance per day (%² per day).
MIN_SIGMA2 = 1.0
#: The spread of rates within a group is taken as at least this share of its rate.
MIN_SPREAD = 0.25
#: A bin's share of full observations is pooled with its group's as if from this many observations.
SHARE_PRIOR = 8.0
#: Newton iterations (the objective is concave and smooth: a handful suffice).
ITERATIONS = 30
#: Bounds of a rate (% per day).
MAX_RATE = 400.0
#: Half-lives (days) over which a log's recent level may be read; ``inf``: the whole past alike (no recent level).
RECENT_HALFLIVES = (3.5, 7.0, 14.0, 28.0, math.inf)
#: Past weeks on which the half-life is chosen, each forecast from the intervals before it.
RECENT_WEEKS = 4
#: The recent level's prior: a factor of 1 (the bins' own rates), with this standard deviation.
RECENT_PRIOR_SD = 1.0
_DAY = 86_400_000_000_000.0


@dataclass(frozen=True)
class CensoredRates:
    """Each bin's fill rate (% per day) and its group's, fitted with full levels censored."""

    rate: dict[str, float]
    group_rate: dict[str, float]
    overall: float
    groups: dict[str, str]
    #: Per bin: growth variance per day (:func:`growth_spread`), the reading's own variance, the variance of its
    #: rate; ``"*"`` for others.
    spread: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    #: Per bin, the share of its observations that were full, pooled toward its group's; ``"*"`` for others.
    full_share: dict[str, float] = field(default_factory=dict)
    #: Per bin known from a collection log alone, the recent level its rate is multiplied by (:func:`recent_level`).
    level: dict[str, float] = field(default_factory=dict)

    def rarity(self, bin_ids: Sequence[str]) -> NDArray[np.float64]:
        """How rarely each bin has been seen full: ``-logit`` of its pooled share (large: rarely)."""
        default = self.full_share.get("*", 0.5)
        p = np.clip(_per_bin(bin_ids, lambda b: self.full_share.get(b, default)), 1e-4, 1 - 1e-4)
        return np.log((1.0 - p) / p)

    def rates(self, bin_ids: Sequence[str], *, recent: bool = True) -> NDArray[np.float64]:
        """The rate of each bin: its own, else its group's, else the overall one; times its recent level.

        ``recent=False``: the rates over the whole past alike, without the recent level.
        """
        own = _per_bin(
            bin_ids, lambda b: self.rate.get(b, self.group_rate.get(self.groups.get(b, "all"), self.overall))
        )
        if not recent or not self.level:
            return own
        return own * _per_bin(bin_ids, lambda b: self.level.get(b, 1.0))

    def need(self, a: pd.DataFrame, target: pd.Series) -> NDArray[np.float64]:
        """How far each forecast is from full, in standard deviations of the level then (large: safe).

        The level's spread at ``target`` grows with the days ahead ``h``:
        ``σ²·h`` of day-to-day growth (the bin's own, :func:`growth_spread`),
        ``ε²`` of the reading, and ``h²·var(m)`` of the bin's uncertain rate
        (wide for a bin with a short history).
        """
        h = np.maximum((ns(target) - ns(a["timestamp"])) / _DAY, 0.0)
        default = self.spread.get("*", (25.0, READING_VAR, 25.0))
        s = _per_bin(a["bin_id"].tolist(), lambda b: self.spread.get(b, default), width=3)
        sd = np.sqrt(s[:, 0] * h + s[:, 1] + s[:, 2] * h * h)
        return (100.0 - self.predict(a, target)) / np.maximum(sd, 1e-6)

    def predict(self, a: pd.DataFrame, target: pd.Series) -> NDArray[np.float64]:
        """Fill (at least 0, not capped) at ``target`` for anchors ``a``: the smoothed level plus rate × days."""
        h = np.maximum((ns(target) - ns(a["timestamp"])) / _DAY, 0.0)
        level = a["level"].to_numpy(dtype=float)
        return np.clip(np.nan_to_num(level) + self.rates(a["bin_id"].tolist()) * h, 0.0, None)


def _per_bin(bin_ids: Sequence[str], value: Callable[[str], object], width: int = 0) -> NDArray[np.float64]:
    """``value(bin)`` for each of many rows, computed once per distinct bin (rows of one bin repeat a lot)."""
    codes, uniq = pd.factorize(pd.Series(list(bin_ids), dtype=object))
    per = np.array([value(str(b)) for b in uniq], dtype=float).reshape((len(uniq), width) if width else len(uniq))
    return per[codes]


def level_steps(rows: pd.DataFrame) -> dict[str, float]:
    """The step each bin's levels are recorded in (0 when they are not in steps).

    Empty and full are on every step, so a bin's step is read from its levels
    strictly between them (the coarsest step with :data:`STEP_SHARE` of them
    on its multiples); a bin with fewer than three such levels (one seen
    only empty or full) takes the step most bins of the scenario are
    recorded in when its levels fit it, else the rule on all its levels.
    """
    seen = rows[rows["source"].to_numpy() != "emptied"] if "source" in rows.columns else rows

    def step_of(v: NDArray[np.float64]) -> float:
        for q in STEPS:
            if len(v) >= 3 and (np.abs(v / q - np.round(v / q)) < 1e-6).mean() >= STEP_SHARE:
                return q
        return 0.0

    out: dict[str, float] = {}
    unsure: dict[str, NDArray[np.float64]] = {}
    for b, f in seen.groupby("bin_id")["fill_pct"]:
        v = f.to_numpy(dtype=float)
        inner = v[(v > 0.0) & (v < 100.0)]
        if len(inner) >= 3:
            out[str(b)] = step_of(inner)
        else:
            unsure[str(b)] = v
    common = pd.Series([q for q in out.values() if q > 0], dtype=float)
    usual = float(common.mode().max()) if len(common) else 0.0
    for b, v in unsure.items():
        fits = usual > 0 and len(v) >= 3 and bool((np.abs(v / usual - np.round(v / usual)) < 1e-6).all())
        out[b] = usual if fits else step_of(v)
    return out


def _robust_var(x: pd.Series | NDArray[np.float64]) -> float:
    """The spread of rates across bins, from their median absolute deviation (a few odd bins do not inflate it)."""
    v = np.asarray(x, dtype=float)
    if len(v) < 2:
        return float("nan")
    return float((1.4826 * np.median(np.abs(v - np.median(v)))) ** 2)


def _newton(
    codes: NDArray[np.int64],
    n_bins: int,
    rise: NDArray[np.float64],
    d: NDArray[np.float64],
    var: NDArray[np.float64],
    need: NDArray[np.float64],
    full: NDArray[np.bool_],
    prior_mean: NDArray[np.float64],
    prior_var: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """MAP rate per bin and the curvature there (posterior precision)."""
    m = prior_mean.copy()
    sd = np.sqrt(var)
    h = np.zeros(n_bins)
    for _ in range(ITERATIONS):
        mi = m[codes]
        # Observed rises: the normal log-density's derivatives in m.
        g_obs = np.where(full, 0.0, d * (rise - mi * d) / var)
        h_obs = np.where(full, 0.0, -(d * d) / var)
        # Full at the end: log P(Δ ≥ need) = log Φ(z), z = (m·d − need) / sd.
        z = (mi * d - need) / sd
        lam = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_ndtr(z))  # φ(z) / Φ(z), stable
        g_full = np.where(full, lam * d / sd, 0.0)
        h_full = np.where(full, -lam * (z + lam) * (d * d) / var, 0.0)
        g = np.bincount(codes, weights=g_obs + g_full, minlength=n_bins) - (m - prior_mean) / prior_var
        h = np.bincount(codes, weights=h_obs + h_full, minlength=n_bins) - 1.0 / prior_var
        step = -g / np.minimum(h, -1e-12)
        m = np.clip(m + step, 0.0, MAX_RATE)
        if np.max(np.abs(step), initial=0.0) < 1e-6:
            break
    return m, -h


def fit_censored(rows: pd.DataFrame, groups: Mapping[str, str]) -> CensoredRates:
    """Fit :class:`CensoredRates` on ``rows`` (the output of :func:`~.fill_models.add_row_features`)."""
    use = rows["use"].to_numpy(dtype=bool) & (rows["d"].to_numpy(dtype=float) > 1e-6)
    ids_all = rows["bin_id"].astype(str).to_numpy()
    if not use.any():
        return CensoredRates({}, {}, 0.0, dict(groups))
    steps = level_steps(rows)
    end = rows["fill_pct"].to_numpy(dtype=float)[use]
    rise = rows["rise"].to_numpy(dtype=float)[use]
    d = rows["d"].to_numpy(dtype=float)[use]
    owner = ids_all[use]
    q = np.array([steps.get(b, 0.0) for b in owner])
    start = end - rise
    # Full at the end of the interval: at least the step's lower edge (or FULL_LEVEL_PCT) was reached.
    full = end >= np.where(q > 0, 100.0 - 1e-6, FULL_LEVEL_PCT)
    need = np.where(q > 0, 100.0 - q / 2.0, FULL_LEVEL_PCT) - start
    eps2 = np.where(q > 0, 2.0 * q * q / 12.0, READING_VAR)
    codes, uniq = pd.factorize(owner)
    nb = len(uniq)
    group_of = np.array([groups.get(b, "all") for b in uniq], dtype=object)

    # Growth variance per day, from the intervals that did not end full, pooled per group.
    open_ = ~full
    raw_rate = np.bincount(codes[open_], weights=rise[open_], minlength=nb) / np.maximum(
        np.bincount(codes[open_], weights=d[open_], minlength=nb), 1e-9
    )
    resid = (rise - raw_rate[codes] * d) ** 2 / d - eps2 / d
    s2_bin = pd.Series(np.where(open_, resid, np.nan)).groupby(codes).mean().reindex(range(nb)).to_numpy()
    s2_group = pd.Series(s2_bin).groupby(group_of).median()
    overall_s2 = float(np.nanmedian(s2_bin)) if np.isfinite(s2_bin).any() else 25.0
    s2 = np.array([s2_group.get(g, np.nan) for g in group_of], dtype=float)
    s2 = np.maximum(np.where(np.isfinite(s2), s2, overall_s2), MIN_SIGMA2)
    var = s2[codes] * d + eps2

    # First pass: a weak common prior around the median rate.
    typical = float(np.median(rise / d)) if len(d) else 0.0
    weak = np.full(nb, max(typical, 1.0) ** 2 * 100.0)
    m1, prec1 = _newton(codes, nb, rise, d, var, need, full, np.full(nb, typical), weak)
    # Group rates and their spread across bins (robust moments, net of each bin's own uncertainty).
    frame = pd.DataFrame({"m": m1, "v": 1.0 / np.maximum(prec1, 1e-12), "g": group_of})
    stats = frame.groupby("g").agg(
        mean=("m", "median"), spread=("m", _robust_var), noise=("v", "median"), n=("m", "size")
    )
    overall = float(np.median(m1))
    floor = (MIN_SPREAD * max(overall, 1.0)) ** 2
    spread_all = _robust_var(m1) - float(np.median(frame["v"]))
    overall_tau = spread_all if np.isfinite(spread_all) and spread_all > floor else floor
    tau2 = {}
    for g, row in stats.iterrows():
        spread = float(row["spread"]) - float(row["noise"]) if row["n"] > 2 else math.nan
        own_floor = (MIN_SPREAD * max(float(row["mean"]), 1.0)) ** 2
        tau2[g] = spread if np.isfinite(spread) and spread > own_floor else max(own_floor, overall_tau)
    prior_mean = np.array([stats.loc[g, "mean"] for g in group_of], dtype=float)
    prior_var = np.array([tau2[g] for g in group_of], dtype=float)
    m2, prec2 = _newton(codes, nb, rise, d, var, need, full, prior_mean, prior_var)
    rate = {str(b): float(r) for b, r in zip(uniq, m2, strict=True)}
    group_rate = {str(g): float(v) for g, v in stats["mean"].items()}
    eps2_bin = np.bincount(codes, weights=eps2, minlength=nb) / np.maximum(np.bincount(codes, minlength=nb), 1)
    # A bin known from a collection log alone is seen only when emptied: its risk is this model's own (the curves
    # fitted on the levels found when the service came say little of a bin left alone), so its spread is its own
    # and its rate reads the log's recent level. A bin with sensors keeps its group's spread and its own rate.
    shape = rows["shape"].to_numpy()[use] if "shape" in rows.columns else np.full(len(d), "")
    logged = shape == LOG
    seen = Intervals(m2[codes] * d, rise, var, need, full).take(logged)
    s2_own = growth_spread(group_of, codes[logged], m2, d[logged], eps2[logged], seen, s2)
    spreads = {
        str(b): (float(s2_own[i]), float(eps2_bin[i]), float(1.0 / max(prec2[i], 1e-12))) for i, b in enumerate(uniq)
    }
    spreads["*"] = (overall_s2 if np.isfinite(overall_s2) else 25.0, float(np.median(eps2_bin)), overall_tau)
    level: dict[str, float] = {}
    if logged.any():
        ends = rows["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)[use]
        factor = recent_level(ends[logged] / _DAY, seen)
        level = {str(b): factor for b in np.unique(owner[logged])}
    return CensoredRates(rate, group_rate, overall, dict(groups), spreads, full_shares(rows, groups), level)


def growth_spread(
    group_of: NDArray[np.object_],
    codes: NDArray[np.int64],
    rate: NDArray[np.float64],
    d: NDArray[np.float64],
    eps2: NDArray[np.float64],
    seen: Intervals,
    fallback: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Each bin's growth variance per day: its group's scale times its rate to the power the group's data choose.

    A rise over ``d`` days varies about the bin's ``rate·d`` as
    ``a·rate^p·d + ε²`` (``eps2``): ``p = 0``, every bin of a group alike (a
    bin filling 2% a day as uncertain as one filling 40%); ``p = 1``, in
    proportion to the waste (as counts vary); ``p = 2``, in proportion to the
    rate squared (a bin's rate itself varies by a share). Per group (of
    bins ``group_of``, indexed by the intervals' ``codes``), ``p`` and ``a``
    are those of the highest Tobit likelihood over every interval of
    ``seen`` (full ones censored, so bins often found full count; its
    variances are replaced by each form's). Only bins with intervals among
    those given get their own spread; the others, and groups with fewer
    than three intervals, keep ``fallback`` (per bin).
    """
    out = np.array(fallback, dtype=float)
    given = np.bincount(codes, minlength=len(group_of)) > 0
    grid = 2.0 ** np.arange(-10.0, 14.5, 0.5)
    for g in pd.unique(group_of):
        m = group_of[codes] == g
        if m.sum() < 3:
            continue
        best = (-math.inf, 0.0, 0.0)
        part = seen.take(m)
        for power in (0, 1, 2):
            x = np.maximum(rate[codes][m], 0.0) ** power * d[m]
            base = float(np.mean(x))
            if not base > 0:
                continue
            for scale in grid:
                ll = dataclasses.replace(part, var=np.maximum(scale * x / base + eps2[m], 1e-6)).loglik()
                if ll > best[0]:
                    best = (ll, scale / base, float(power))
        if math.isfinite(best[0]):
            own = (group_of == g) & given
            out[own] = np.maximum(best[1] * np.maximum(rate[own], 0.0) ** best[2], MIN_SIGMA2)
    return out


@dataclass(frozen=True)
class Intervals:
    """Fill intervals as the Tobit fits read them: the rise a rate gives, the rise seen, its variance, and for
    an interval that ended full (``full``), the rise it needed to fill (it says only ``rise ≥ need``)."""

    expected: NDArray[np.float64]
    rise: NDArray[np.float64]
    var: NDArray[np.float64]
    need: NDArray[np.float64]
    full: NDArray[np.bool_]

    def take(self, mask: NDArray[np.bool_]) -> Intervals:
        """The intervals of ``mask``."""
        return Intervals(self.expected[mask], self.rise[mask], self.var[mask], self.need[mask], self.full[mask])

    def loglik(self, f: float = 1.0) -> float:
        """Log-likelihood under rises ``N(f·expected, var)``, full ones censored at ``need``."""
        sd = np.sqrt(self.var)
        dens = -0.5 * ((self.rise - f * self.expected) / sd) ** 2 - np.log(sd)
        return float(np.sum(np.where(self.full, log_ndtr((f * self.expected - self.need) / sd), dens)))

    def level(self, w: NDArray[np.float64]) -> float:
        """The factor ``f`` maximising the ``w``-weighted likelihood of ``rise ~ N(f·expected, var)``.

        The prior is ``N(1, RECENT_PRIOR_SD²)``, so without data ``f`` is 1.
        """
        f = 1.0
        e, sd = self.expected, np.sqrt(self.var)
        for _ in range(ITERATIONS):
            z = (f * e - self.need) / sd
            lam = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_ndtr(z))
            g_i = np.where(self.full, lam * e / sd, e * (self.rise - f * e) / self.var)
            h_i = np.where(self.full, -lam * (z + lam) * e * e / self.var, -e * e / self.var)
            g = float(np.sum(w * g_i)) - (f - 1.0) / RECENT_PRIOR_SD**2
            h = float(np.sum(w * h_i)) - 1.0 / RECENT_PRIOR_SD**2
            step = -g / min(h, -1e-12)
            f = min(max(f + step, 0.05), 20.0)
            if abs(step) < 1e-6:
                break
        return f


def recent_level(end_days: NDArray[np.float64], seen: Intervals) -> float:
    """How much faster (above 1) or slower the bins have filled lately than their rates say.

    One factor on the expected rises (each bin's rate times its interval's
    days) fitted on every interval of ``seen``, weighted by ``0.5 ** (age /
    half-life)`` (age: days from the interval's end, ``end_days`` on any
    common clock, to the last one's). The half-life is the one of
    :data:`RECENT_HALFLIVES` whose factor, fitted on the intervals before
    each of the last :data:`RECENT_WEEKS` weeks, gave that week's intervals
    the highest likelihood; ``inf`` reads the whole past alike (factor 1).
    The expected rises come from rates fitted on the whole past, each week
    included, so the choice sees a little of the week it scores (the rates
    pool many weeks; refitting them per week would cost four more fits).
    """
    if not len(end_days):
        return 1.0
    last = float(np.max(end_days))
    scores = dict.fromkeys(RECENT_HALFLIVES, 0.0)
    for week in range(RECENT_WEEKS, 0, -1):
        cut = last - 7.0 * week
        before, after = end_days <= cut, (end_days > cut) & (end_days <= cut + 7.0)
        if not before.any() or not after.any():
            continue
        past, week_after = seen.take(before), seen.take(after)
        for half in RECENT_HALFLIVES:
            f = past.level(0.5 ** ((cut - end_days[before]) / half))
            scores[half] += week_after.loglik(f)
    half = max(RECENT_HALFLIVES, key=lambda h: (scores[h], h))  # ties: the longest (the simplest)
    if math.isinf(half):
        return 1.0
    return seen.level(0.5 ** ((last - end_days) / half))


def full_shares(rows: pd.DataFrame, groups: Mapping[str, str]) -> dict[str, float]:
    """Each bin's share of observations at full, pooled toward its group's by :data:`SHARE_PRIOR` observations.

    Where bins are emptied when they fill (a vendor's fullness alert), how
    often a bin has been found full says more of its next collection than
    its rate does; a bin with a few observations follows its group.
    """
    seen = rows[rows["source"].to_numpy() != "emptied"] if "source" in rows.columns else rows
    if seen.empty:
        return {}
    full = (seen["fill_pct"].to_numpy(dtype=float) >= FULL_LEVEL_PCT).astype(float)
    per_bin = pd.DataFrame({"b": seen["bin_id"].astype(str).to_numpy(), "full": full}).groupby("b")["full"]
    n, k = per_bin.size(), per_bin.sum()
    group = pd.Series({b: groups.get(b, "all") for b in n.index})
    g_share = (k.groupby(group).sum() + 0.5) / (n.groupby(group).sum() + 1.0)
    prior = group.map(g_share)
    shares = (k + SHARE_PRIOR * prior) / (n + SHARE_PRIOR)
    out = {str(b): float(v) for b, v in shares.items()}
    out["*"] = float((k.sum() + 0.5) / (n.sum() + 1.0))
    return out
