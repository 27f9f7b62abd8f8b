"""Choosing each bin's model from its own past, and calibrating the intervals.

The candidates are fitted on the rows before a cut ``S`` and replayed from
every local midnight between ``S`` and the forecast origin ``T``: each
anchor is the bin's last row before that midnight, each target a later row
of the same cycle within :data:`EVAL_HORIZON_DAYS` (a rolling-origin
backtest that only uses the past of ``T``). Per bin and per day ahead of
the origin (1, or 2 and later: a model that follows the last hours well may
drift over two days), the model with the lowest shrunk mean absolute error
wins: the bin's own errors weighted by its number of scored targets, its
group's by :data:`GROUP_PRIOR_TARGETS`, so a bin with a short history
follows its group. Own pasts are short and noisy (the targets seen from
one origin share its anchor), so a bin leaves its group's best model only
for one that beats it by more than one standard error of the per-origin
differences, and a bin whose choice did worse than the mean-rate baseline
by more than one standard error gets the baseline. That is the finest of
three levels (:data:`LEVELS`): per bin, per group, or one model for all the
bins of a data shape. Which level serves a shape and day ahead is chosen by
the same cross-fitting as the intervals (below): the level whose choice,
made on one half of the origins, erred least on the other half. A bin with
few scored targets makes a noisy choice; bins that differ steadily need
their own.

The chosen model's forecast is then combined with the naive forecasts
(:mod:`binroute.routing.forecast.blend`), and the residuals below are the
combination's. The chosen models' residuals, each divided by the bin's scale
``sqrt(sigma2 · days since the anchor + 1)``, give the interval: their
empirical 10% and 90% quantiles per data shape and day ahead of the origin
(split conformal prediction). They are cross-fitted: the origins alternate
between two halves, and a target's residual is that of the model chosen for
its bin on the other half, since a model chosen for its low error on some
targets is closer to them than it will be to the next ones. Forecasts are capped at 100% before scoring,
as a sensor cannot read more.

P(overflow) is not read off the same residuals: a full sensor reads 100, so
residuals near the top are censored and pooling them with those of half-full
bins makes the upper tail far too thin. Instead each scored target gives a
yes/no outcome (did it read :data:`FULL_PCT` or more?) and its standardised
distance to 100% ``need = (100 − forecast) / scale``; a logistic curve
``P = 1 / (1 + exp(−(a + b · need)))`` is fitted to these outcomes by maximum
likelihood per data shape and day ahead (Platt scaling). A bin forecast at or
above 100% thus comes out near certain, and the curve is only as sharp as
the past outcomes allow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from scipy.stats import norm

from .blend import MEMBERS, Blend, learn_blend
from .fill_data import ns
from .fill_models import CANDIDATES, Candidates, anchors_at

#: The overflow curve's other inputs (see :func:`overflow_inputs`).
OVERFLOW_INPUTS = ("censored", "rarity", "steps")
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
#: A truth at or above this level counts as an overflow (a full sensor reads about 100).
FULL_PCT = 99.5
#: The P(overflow) curve of a pool is fitted only with at least this many
#: overflows and as many non-overflows in it.
MIN_EVENTS = 10
#: A model whose per-bin forecasts spread less than this share of the truths' spread is flat (see flat_candidates).
FLAT_SHARE = 0.1
#: ... and less than this many fill points.
FLAT_PCT = 1.0
#: Bins of one data shape needed before a flat model can be told from bins that are alike.
MIN_FLAT_BINS = 5
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
    """Sorted normalised residuals and P(overflow) curves per data shape and day ahead.

    Keys are ``"log:1"`` (shape and day), ``"log"``, ``"*:1"`` and ``"*"``
    (all shapes); the most specific pool with enough data is used.
    ``logit`` holds the ``(a, b)`` of each fitted overflow curve.
    """

    z: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    logit: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Per pool, which distance to full its curve reads: the chosen model's (``"model"``) or the censored rate's.
    source: dict[str, str] = field(default_factory=dict)

    def _curve(self, shape: str, day: int) -> tuple[tuple[float, float], str] | None:
        for key in (f"{shape}:{day}", shape, f"*:{day}", "*"):
            if key in self.logit:
                return self.logit[key], self.source.get(key, "model")
        return None

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
        self,
        shapes: list[str],
        need: NDArray[np.float64],
        days: NDArray[np.int64] | None = None,
        others: Mapping[str, NDArray[np.float64]] | None = None,
    ) -> NDArray[np.float64]:
        """P(overflow) per forecast from its standardised distance ``need`` to 100%.

        The fitted logistic curve of the forecast's pool, on ``need`` or on the
        input of :data:`OVERFLOW_INPUTS` named in ``others`` that the pool's
        curve was fitted on; without a curve, the share of residuals at or
        above ``need``; without enough of those, the normal tail.
        """
        days = np.ones(len(shapes), dtype=np.int64) if days is None else days
        out = norm.sf(need)
        for (s, d), m in self._groups(shapes, days).items():
            found = self._curve(s, d)
            if found is not None:
                (a, b), source = found
                x = others[source] if others is not None and source in others else need
                out[m] = expit(a + b * x[m])
                continue
            z = self._pool(s, d)
            if z is not None:
                # Share of residuals at or above, with half a count of smoothing.
                k = len(z) - np.searchsorted(z, need[m], side="left")
                out[m] = (k + 0.5) / (len(z) + 1.0)
        return out

    def exceed_level(
        self, shapes: list[str], need: NDArray[np.float64], days: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """P(fill ≥ a level below full) per forecast from its standardised distance ``need`` to that level.

        The share of the pool's cross-fitted residuals at or above ``need``
        (split conformal, as the intervals: a level below 100% is read as it
        is, not censored as full is), with half a count of smoothing; the
        normal tail without enough residuals.
        """
        days = np.ones(len(shapes), dtype=np.int64) if days is None else days
        out = norm.sf(need)
        for (s, d), m in self._groups(shapes, days).items():
            z = self._pool(s, d)
            if z is not None:
                k = len(z) - np.searchsorted(z, need[m] - 1e-9, side="left")
                out[m] = (k + 0.5) / (len(z) + 1.0)
        return out


@dataclass(frozen=True)
class Choice:
    """Each bin's model per day ahead, what it was chosen on, and the calibration."""

    chosen: dict[str, str]  # for the first day ahead of the origin
    calibration: Calibration
    targets: dict[str, int]  # scored targets per bin
    mae: pd.DataFrame  # own MAE per bin and model (rows: bins), all days ahead
    later: dict[str, str] = field(default_factory=dict)  # for the second day and after
    blend: Blend = field(default_factory=Blend)  # the chosen model combined with the naive forecasts


def fit_overflow_curve(need: NDArray[np.float64], full: NDArray[np.bool_]) -> tuple[float, float] | None:
    """Maximum-likelihood ``(a, b)`` of ``P(full) = expit(a + b · need)``; ``None`` without enough of each outcome.

    A tiny ridge keeps the fit finite when the outcomes separate perfectly; a
    curve that does not fall as ``need`` grows is rejected.
    """
    y = np.asarray(full, dtype=float)
    k = int(y.sum())
    if k < MIN_EVENTS or len(y) - k < MIN_EVENTS:
        return None
    x = np.clip(np.asarray(need, dtype=float), -20.0, 20.0)
    sign = 2.0 * y - 1.0
    ridge = 1e-3

    def loss(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        f = w[0] + w[1] * x
        nll = -float(np.sum(log_expit(sign * f))) + ridge * float(w @ w)
        r = expit(f) - y
        return nll, np.array([r.sum(), (r * x).sum()]) + 2.0 * ridge * w

    res = minimize(loss, np.array([0.0, -1.0]), jac=True, method="L-BFGS-B")
    a, b = (float(v) for v in res.x)
    return (a, b) if b < 0 else None


def overflow_inputs(fitted: Candidates, a: pd.DataFrame, target: pd.Series) -> dict[str, NDArray[np.float64]]:
    """What else an overflow curve may read besides the chosen model's distance to full.

    ``censored``: the censored rate model's distance to full, in standard
    deviations of each bin's own growth; ``rarity``: how rarely the bin has
    been seen full (``-logit`` of its pooled share), for bins emptied when
    they fill, whose next level says little of their age; ``steps``:
    ``-logit`` of the step model's P(full) for bins recorded in steps (their
    rarity for the others).
    """
    rarity = fitted.censored.rarity(a["bin_id"].tolist())
    _, p_full = fitted.steps.distribution(a, target)
    p = np.clip(p_full, 1e-4, 1 - 1e-4)
    return {
        "censored": fitted.censored.need(a, target),
        "rarity": rarity,
        "steps": np.where(np.isnan(p_full), rarity, np.log((1.0 - p) / p)),
    }


def log_loss(curve: tuple[float, float], need: NDArray[np.float64], full: NDArray[np.bool_]) -> float:
    """Mean log-loss of an overflow curve on past outcomes."""
    x = np.clip(np.asarray(need, dtype=float), -20.0, 20.0)
    sign = 2.0 * np.asarray(full, dtype=float) - 1.0
    return -float(np.mean(log_expit(sign * (curve[0] + curve[1] * x))))


def _clear_gains(err: pd.DataFrame, names: list[str]) -> dict[tuple[str, str], pd.Series]:
    """Per bin, whether model ``y`` beats model ``x`` by more than one standard error, for every ``(x, y)``.

    Errors are averaged per origin first: the targets seen from one origin
    share its anchor, so the origins are the independent trials.
    """
    per_origin = err.groupby(["bin_id", "origin"])[names].mean()
    out: dict[tuple[str, str], pd.Series] = {}
    for x in names:
        for y in names:
            if x == y:
                continue
            gain = (per_origin[x] - per_origin[y]).groupby(level="bin_id")
            mean, sd, n = gain.mean(), gain.std(ddof=1), gain.count()
            out[(x, y)] = (n >= 2) & (mean > sd / np.sqrt(n))
    return out


def _pick(err: pd.DataFrame, names: list[str], groups: Mapping[str, str]) -> dict[str, str]:
    """Each bin's model by shrunk MAE on ``err``.

    A bin leaves its group's model only for one that beats it on its own past
    by more than a standard error, and falls back to mean_rate when that
    beats the choice on its own past by more than a standard error.
    """
    own = err.groupby("bin_id")[names].mean()
    n_own = err.groupby("bin_id").size()
    grp = err.groupby("group")[names].mean()
    clear = _clear_gains(err, names)

    def departs(bid: str, x: str, y: str) -> bool:
        return bool(clear[(x, y)].get(bid, False))

    chosen: dict[str, str] = {}
    for bid in groups:
        g = groups.get(bid, "all")
        n = float(n_own.get(bid, 0))
        if g in grp.index:
            prior = grp.loc[g].to_numpy()
            base = names[int(np.argmin(prior))]
            if not n:
                chosen[bid] = base
                continue
            score = (n * own.loc[bid].to_numpy() + GROUP_PRIOR_TARGETS * prior) / (n + GROUP_PRIOR_TARGETS)
        elif n:
            base = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
            score = own.loc[bid].to_numpy()
        else:
            chosen[bid] = DEFAULT_MODEL
            continue
        pick = names[int(np.argmin(score))]  # ties go to the earlier, simpler model
        if pick != base and not departs(bid, base, pick):
            pick = base
        if pick != "mean_rate" and departs(bid, pick, "mean_rate"):
            pick = "mean_rate"
        chosen[bid] = pick
    return chosen


def flat_candidates(
    ids: NDArray, shape_of: NDArray, preds: Mapping[str, NDArray[np.float64]], truth: NDArray[np.float64]
) -> list[tuple[str, str]]:
    """The ``(model, shape)`` pairs where a model forecasts (nearly) one value for every bin while the bins differ.

    Per data shape with at least :data:`MIN_FLAT_BINS` bins, each bin's mean
    forecast and mean truth over its scored targets: a model whose per-bin
    forecasts spread less than :data:`FLAT_SHARE` of the truths' spread (and
    less than :data:`FLAT_PCT` points) has
    learnt a constant (a tree fitted to levels recorded in steps can), and
    its low error on a few bins would be luck.
    """
    out: list[tuple[str, str]] = []
    for s in np.unique(shape_of):
        m = shape_of == s
        if len(np.unique(ids[m])) < MIN_FLAT_BINS:
            continue
        truth_spread = pd.Series(truth[m]).groupby(ids[m]).mean().std()
        if not truth_spread > 0:
            continue
        flat = [
            n
            for n, p in preds.items()
            if (spread := pd.Series(p[m]).groupby(ids[m]).mean().std()) < FLAT_SHARE * truth_spread
            and spread < FLAT_PCT
        ]
        if len(flat) < len(preds):  # when every model is flat, the bins are alike, not the models wrong
            out.extend((n, str(s)) for n in flat)
    return out


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


#: How widely a model is chosen, finest first: per bin (leaving its group's model on clear evidence), per group
#: (stream and area), per data shape. Which one serves a data shape is itself chosen on the past (see choose_models).
LEVELS = ("bin", "group", "shape")


def _pick_pooled(err: pd.DataFrame, names: list[str], pool_of: Mapping[str, str]) -> dict[str, str]:
    """Each bin gets the model with the lowest mean error over its pool's targets (ties: the simpler model)."""
    if err.empty:
        return dict.fromkeys(pool_of, DEFAULT_MODEL)
    mean = err.groupby(err["bin_id"].map(lambda b: pool_of.get(b, "all")))[names].mean()
    best = {str(k): names[int(np.argmin(v))] for k, v in zip(mean.index, mean.to_numpy(), strict=True)}
    return {b: best.get(p, DEFAULT_MODEL) for b, p in pool_of.items()}


def _pick_at(
    level: str, err: pd.DataFrame, names: list[str], groups: Mapping[str, str], shapes: Mapping[str, str]
) -> dict[str, str]:
    """Each bin's model, chosen at ``level`` (one of :data:`LEVELS`)."""
    if level == "bin":
        return _pick(err, names, groups)
    pool = groups if level == "group" else {b: shapes.get(b, "dense") for b in groups}
    return _pick_pooled(err, names, {**pool, **{b: pool.get(b, "all") for b in err["bin_id"].unique()}})


def origin_halves(origin: NDArray) -> NDArray[np.bool_]:
    """Which of two halves each target's origin is in: the origins, in order, alternate between them."""
    return (np.searchsorted(np.unique(origin), origin) % 2).astype(bool)


def _cross_fitted(
    err: pd.DataFrame,
    day: NDArray[np.int64],
    names: list[str],
    groups: Mapping[str, str],
    shapes: Mapping[str, str] | None = None,
    level: str = "bin",
) -> list[str]:
    """Per scored target, the model chosen (at ``level``) for its bin and day ahead on the *other* half of the origins.

    Origins alternate between two halves; with a single origin, the choice made on all of them.
    """
    shapes = {} if shapes is None else shapes
    rank = np.unique(err["origin"].to_numpy())
    half = origin_halves(err["origin"].to_numpy())
    ids = err["bin_id"].to_numpy()
    out = np.empty(len(err), dtype=object)
    for fold in (False, True):
        train = half != fold if len(rank) > 1 else np.ones(len(err), dtype=bool)
        first = _pick_at(level, err[train & (day == 1)], names, groups, shapes)
        later = (
            _pick_at(level, err[train & (day > 1)], names, groups, shapes) if (train & (day > 1)).any() else dict(first)
        )
        m = np.flatnonzero(half == fold)
        out[m] = [(first if d == 1 else later).get(b, DEFAULT_MODEL) for b, d in zip(ids[m], day[m], strict=True)]
    return out.tolist()


def _picked(err: pd.DataFrame, models: Sequence[str]) -> NDArray[np.float64]:
    """Per row of ``err``, its value in the column ``models`` names for that row."""
    picked = np.full(len(err), np.nan)
    chosen = np.asarray(models, dtype=object)
    for name in dict.fromkeys(models):
        rows = chosen == name
        picked[rows] = err[name].to_numpy(dtype=float)[rows]
    return picked


def choose_levels(
    err: pd.DataFrame, day: NDArray[np.int64], names: list[str], groups: Mapping[str, str], shapes: Mapping[str, str]
) -> tuple[dict[tuple[str, int], str], list[str]]:
    """Per data shape and day ahead (1, later), the level of :data:`LEVELS` whose cross-fitted choice erred least.

    Each level's choice is made on one half of the origins and scored on the
    other (the same halves as the intervals'): a fine choice fits each bin's
    past closely but is noisy where bins have few scored targets, a coarse one
    is steady but blind to bins that differ. Ties go to the finer level.
    Returns the levels and, per target, the cross-fitted model of its level.
    """
    ids = err["bin_id"].to_numpy()
    shape_of = np.array([shapes.get(b, "dense") for b in ids])
    later = np.minimum(day, 2)
    used = {lv: _cross_fitted(err, day, names, groups, shapes, lv) for lv in LEVELS}
    loss = {lv: _picked(err, used[lv]) for lv in LEVELS}
    levels: dict[tuple[str, int], str] = {}
    out = list(used["bin"])
    for s in np.unique(shape_of):
        for d in (1, 2):
            m = (shape_of == s) & (later == d)
            if not m.any():
                continue
            lv = min(LEVELS, key=lambda x: (float(loss[x][m].mean()), LEVELS.index(x)))
            levels[(str(s), d)] = lv
            for i in np.flatnonzero(m):
                out[i] = used[lv][i]
    return levels, out


def choose_models(
    rows: pd.DataFrame,
    fitted: Candidates,
    origins: pd.DatetimeIndex,
    shapes: Mapping[str, str],
    steps: Mapping[str, float] | None = None,
) -> Choice | None:
    """Score ``fitted`` from each origin on ``rows`` and choose per bin; ``None`` when nothing can be scored.

    ``steps`` gives the step each bin's levels are recorded in (0 or absent:
    not in steps), for the combination's weights (:mod:`binroute.routing.forecast.blend`).
    """
    a, tj = evaluation_pairs(rows, origins, EVAL_HORIZON_DAYS)
    if len(tj) == 0:
        return None
    target = rows["timestamp"].iloc[tj].reset_index(drop=True)
    truth = rows["fill_pct"].to_numpy()[tj]
    # Fill cannot be read above 100%: score forecasts the way they are read.
    uncapped = fitted.predict(a, target)
    preds = {n: np.clip(p, 0.0, 100.0) for n, p in uncapped.items()}
    names = [n for n in CANDIDATES if n in preds]
    day = horizon_day((ns(target) - ns(a["origin"])) / _DAY)
    err = pd.DataFrame({n: np.abs(preds[n] - truth) for n in names})
    shape_of = np.array([shapes.get(b, "dense") for b in a["bin_id"]])
    for n, s in flat_candidates(a["bin_id"].to_numpy(), shape_of, preds, truth):
        err.loc[shape_of == s, n] = 100.0  # never chosen where it says one thing for every bin
    err["bin_id"] = a["bin_id"].to_numpy()
    err["group"] = err["bin_id"].map(lambda x: fitted.groups.get(x, "all"))
    err["origin"] = ns(a["origin"])
    # Residuals of the chosen models, normalised, pooled per shape and day ahead. Cross-fitted: the residuals
    # of one half of the origins are those of the models chosen on the other half, as a model chosen for its
    # low error on some targets has smaller errors there than it will have next (split conformal needs
    # residuals the choice has not seen). The same halves choose how widely each shape's models are chosen.
    ids = a["bin_id"].to_numpy()
    levels, names_used = choose_levels(err, day, names, fitted.groups, shapes)
    first: dict[str, str] = {}
    later: dict[str, str] = {}
    for d, out in ((1, first), (2, later)):
        rows_d = err[day == 1] if d == 1 else err[day > 1]
        if d == 2 and rows_d.empty:
            later = dict(first)
            break
        wanted = {levels.get((shapes.get(b, "dense"), d), "bin") for b in fitted.groups}
        picks = {lv: _pick_at(lv, rows_d, names, fitted.groups, shapes) for lv in wanted}
        for b in fitted.groups:
            out[b] = picks[levels.get((shapes.get(b, "dense"), d), "bin")][b]
    own = err.groupby("bin_id")[names].mean()
    n_own = err.groupby("bin_id").size()
    chosen_raw = _picked(pd.DataFrame(uncapped), names_used)
    # The chosen model combined with the naive forecasts, weights per shape and day ahead learnt on these targets;
    # the residuals are the combination's, its weights cross-fitted on the same halves of the origins.
    naive = fitted.predict(a, target, MEMBERS[1:])
    members = np.column_stack([chosen_raw, *(naive[n] for n in MEMBERS[1:])])
    half = origin_halves(err["origin"].to_numpy())
    step = np.array([(steps or {}).get(b, 0.0) for b in ids], dtype=float)
    pools_of = np.array([f"{s}:{d}" for s, d in zip(shape_of, np.minimum(day, 2), strict=True)], dtype=object)
    blend, pick_raw = learn_blend(pools_of, members, truth, step, half, err["origin"].to_numpy())
    pick_pred = np.minimum(pick_raw, 100.0)
    days = (ns(target) - ns(a["timestamp"])) / _DAY
    sc = scale(fitted.sigma2(list(ids)), days)
    z = (truth - pick_pred) / sc
    need = (100.0 - pick_raw) / sc
    full = truth >= FULL_PCT
    masks: dict[str, NDArray[np.bool_]] = {"*": np.ones(len(z), dtype=bool)}
    for s in set(shape_of):
        masks[s] = shape_of == s
    for d in (1, 2):
        masks[f"*:{d}"] = day == d
        for s in set(shape_of):
            masks[f"{s}:{d}"] = (shape_of == s) & (day == d)
    pools = {k: np.sort(z[m]) for k, m in masks.items()}
    # P(overflow): per pool, a curve on the chosen model's distance to full, or on the censored rate's (each bin's
    # own rate and spread), whichever predicted the pool's past outcomes better (log-loss).
    inputs = {"model": need, **overflow_inputs(fitted, a, target)}
    curves: dict[str, tuple[float, float]] = {}
    sources: dict[str, str] = {}
    done: dict[bytes, str] = {}  # pools of the same targets (one data shape: "*" is that shape) share a curve
    for k, m in masks.items():
        same = done.setdefault(m.tobytes(), k)
        if same != k:
            if same in curves:
                curves[k], sources[k] = curves[same], sources[same]
            continue
        best: tuple[float, tuple[float, float], str] | None = None
        tried: list[NDArray[np.float64]] = []
        for source, x in inputs.items():
            if any(np.array_equal(x[m], y) for y in tried):
                continue  # the same input under another name (the step model's P(full) falls back to the rarity)
            tried.append(x[m])
            c = fit_overflow_curve(x[m], full[m])
            if c is not None:
                loss = log_loss(c, x[m], full[m])
                if best is None or loss < best[0] - 1e-12:
                    best = (loss, c, source)
        if best is not None:
            curves[k], sources[k] = best[1], best[2]
    targets = {str(k): int(v) for k, v in n_own.items()}
    return Choice(first, Calibration(pools, curves, sources), targets, own, later, blend)
