"""Fill-level forecasts from sensor readings, collection logs, or both.

Pipeline (:func:`fit_fill_model`): :mod:`binroute.routing.forecast.fill_data` detects each
bin's data shape, cleans accordingly and merges the known emptyings;
:mod:`binroute.routing.forecast.fill_models` fits the candidate models (mean rate, the
censored rate, the step distribution of :mod:`binroute.routing.forecast.steps`, the
hierarchical weekday-rate model of :mod:`binroute.routing.forecast.weekday`,
gradient-boosted trees learnt across bins, and the consensus of three of them);
:mod:`binroute.routing.forecast.model_choice` chooses each bin's model by a rolling-origin
backtest on its own past and calibrates the intervals from the residuals. :meth:`FillModel.predict`
gives, per bin, the predicted fill, its 10% and 90% quantiles,
P(fill ≥ 100%) and the name of the model used.

Readings are a :class:`pandas.DataFrame` with ``bin_id`` (str),
``timestamp`` (timezone-aware) and ``fill_pct`` (float); collections one
with ``bin_id``, ``collected_at``, ``fill_pct`` (level before emptying, nan
when unknown) and optional ``kg`` (see :mod:`binroute.routing.forecast.fill_data`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import norm

from .blend import MEMBERS, Blend
from .censored import level_steps
from .fill_data import (
    CLEANING_COUNTS as CLEANING_COUNTS,
)
from .fill_data import (
    EMPTYING_DROP_PCT as EMPTYING_DROP_PCT,
)
from .fill_data import (
    LOG,
    detect_shapes,
    ns,
    prepare,
)
from .fill_data import (
    MAX_INTERVAL_DAYS as MAX_INTERVAL_DAYS,
)
from .fill_data import (
    clean_readings as clean_readings,
)
from .fill_data import (
    mark_emptyings as mark_emptyings,
)
from .fill_models import Candidates, add_row_features, anchors_at, fit_candidates
from .model_choice import (
    DEFAULT_MODEL,
    EVAL_DAYS,
    MIN_EVAL_DAYS,
    Calibration,
    choose_models,
    horizon_day,
    overflow_inputs,
    scale,
)
from .weekday import BinFit as BinFit
from .weekday import bin_groups, local_days
from .weekday import weekday_overlap as weekday_overlap

_DAY = 86_400_000_000_000.0


@dataclass(frozen=True)
class FillModel:
    """Fitted forecasts for a set of bins.

    ``fits`` holds the weekday model per bin (rates, growth variance, level);
    ``chosen`` the model used per bin for the first day after the data end
    and ``chosen_later`` for the second day and after (both empty for a
    model built by hand from ``fits`` alone, which then forecasts with the
    weekday model and normal intervals); ``shapes`` the data shape per bin.
    """

    fits: dict[str, BinFit]
    tz: str
    cleaning: dict[str, dict[str, int]] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)
    chosen_later: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, str] = field(default_factory=dict)
    candidates: Candidates | None = None
    anchors: pd.DataFrame | None = None
    calibration: Calibration = field(default_factory=Calibration)
    steps: dict[str, float] = field(default_factory=dict)
    #: Per bin, the longest it has been seen going without an emptying (days): as far as the learned models have data.
    longest_age: dict[str, float] = field(default_factory=dict)
    #: The chosen model's forecast combined with the naive forecasts (weights per data shape and day ahead).
    blend: Blend = field(default_factory=Blend)

    def predict(
        self, at: pd.Timestamp, bin_ids: Sequence[str] | None = None, *, threshold_pct: float | None = None
    ) -> pd.DataFrame:
        """Predicted fill at ``at``, with 10% and 90% quantiles, P(fill ≥ 100%) and the model used.

        With ``threshold_pct``, also ``p_threshold``: P(fill ≥ that level),
        calibrated per data shape on the same cross-fitted residuals as the
        interval (levels recorded in steps are scored as recorded).

        Returns a frame indexed by ``bin_id`` with columns ``mean``,
        ``fill_pct``, ``fill_p10``, ``fill_p90`` (0–100), ``fill_step``
        (the level as the bin's data would record it: ``fill_pct`` on the
        nearest of the steps its levels are recorded in, 20% steps or colour
        levels; ``fill_pct`` itself for levels not recorded in steps),
        ``p_overflow``, ``sd`` (the scale of the interval), ``note`` and
        ``model``; values are nan for bins without usable data.
        """
        ids = list(self.fits) if bin_ids is None else list(bin_ids)
        at = pd.Timestamp(at)
        if at.tzinfo is None:
            at = at.tz_localize(self.tz)
        pairs = self.predict_pairs(ids, pd.Series([at] * len(ids)), threshold_pct=threshold_pct)
        return pairs.set_index("bin_id")

    def predict_pairs(
        self,
        bin_ids: Sequence[str],
        times: pd.Series,
        *,
        emptied_at: pd.Timestamp | None = None,
        threshold_pct: float | None = None,
    ) -> pd.DataFrame:
        """Like :meth:`predict`, for many ``(bin, time)`` pairs at once (one row per pair, in order).

        With ``emptied_at``, as if every bin were emptied then: each starts
        empty at that time, with its own rates, history and calibration.
        """
        if threshold_pct is not None and not 0 < threshold_pct <= 100:
            raise ValueError(f"threshold_pct must be in (0, 100], not {threshold_pct}")
        ids = [str(b) for b in bin_ids]
        times = pd.Series(pd.to_datetime(pd.Series(times).reset_index(drop=True), utc=True))
        n = len(ids)
        mean, sd = np.full(n, np.nan), np.full(n, np.nan)
        lo, hi, p_over = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        p_thr = np.full(n, np.nan)
        level = 100.0 if threshold_pct is None else float(threshold_pct)
        model = np.array([""] * n, dtype=object)
        notes = [self.fits[b].note if b in self.fits else "unknown bin" for b in ids]
        index = self.anchors.index if self.anchors is not None and self.candidates is not None else pd.Index([])
        new: NDArray[np.bool_] = np.asarray([b in index for b in ids], dtype=np.bool_)
        if new.any():
            assert self.anchors is not None and self.candidates is not None
            k = np.flatnonzero(new)
            a = self.anchors.loc[[ids[i] for i in k]].reset_index()
            if emptied_at is not None:
                a = _emptied(a, emptied_at)
            t = times.iloc[k].reset_index(drop=True)
            preds = self.candidates.predict(a, t)
            day = horizon_day((ns(t) - ns(a["origin"])) / _DAY)
            names = [
                self.chosen.get(ids[i], DEFAULT_MODEL)
                if d == 1
                else self.chosen_later.get(ids[i], self.chosen.get(ids[i], DEFAULT_MODEL))
                for i, d in zip(k, day, strict=True)
            ]
            names = [m if m in preds else DEFAULT_MODEL for m in names]
            m = np.array([preds[name][j] for j, name in enumerate(names)])
            days = (ns(t) - ns(a["timestamp"])) / _DAY
            shapes = [self.shapes.get(ids[i], "dense") for i in k]
            if self.blend.weights:
                m = self.blend.combine(shapes, day, m, self.candidates.predict(a, t, MEMBERS[1:]))
            log = np.array(shapes, dtype=object) == LOG  # known from a collection log alone: no level between emptyings
            if self.longest_age and "censored" in preds and log.any():
                # Beyond the longest a log's bin has gone without an emptying, the learned models have no data (a
                # forecast may even fall as the days pass); there it is at least the censored rate's, which
                # grows as a bin fills: a bin nobody empties is forecast ever fuller, never forgotten. A bin with
                # sensors is not: its readings show where it stands (on Wyndham's daily snapshots the floor cost
                # 0.03 of the MAE ratio to the best naive forecast at both horizons).
                age = a["age"].to_numpy(dtype=float) + days  # days since emptying at the target
                limit = np.array([self.longest_age.get(ids[i], np.inf) for i in k])
                beyond = log & (age > limit) & (preds["censored"] > m)
                m = np.where(beyond, preds["censored"], m)
                names = ["censored" if out else name for name, out in zip(names, beyond, strict=True)]
            s = scale(self.candidates.sigma2(a["bin_id"].tolist()), days)
            zlo, zhi = self.calibration.bounds(shapes, day)
            mean[k], sd[k] = m, s
            capped = np.minimum(m, 100.0)  # residuals were measured from capped forecasts
            lo[k], hi[k] = capped + zlo * s, capped + zhi * s
            others = overflow_inputs(self.candidates, a, t)
            p_over[k] = self.calibration.exceed(shapes, (100.0 - m) / s, day, others=others)
            p_thr[k] = self.calibration.exceed_level(shapes, (level - capped) / s, day)
            # A log's bin: its risk is the censored rate model's own, at every age. The curves are fitted on the
            # levels found when the service chose to come (a vendor's fullness alert, a crew's judgement), which say
            # when the service came more than how a bin left alone fills; the Tobit fit (full levels censored, each
            # bin's spread scaled to its rate, the bins' recent level) is the model of a bin left alone.
            if log.any():
                p_over[k[log]] = norm.sf(others["censored"][log])
            model[k] = names
        old = np.flatnonzero(~new)
        if len(old):
            m, s = _legacy(self, [ids[i] for i in old], times.iloc[old].reset_index(drop=True), emptied_at)
            mean[old], sd[old] = m, s
            z = norm.ppf([0.1, 0.9])
            lo[old], hi[old] = m + z[0] * s, m + z[1] * s
            p_over[old] = norm.sf((100.0 - m) / s)
            p_thr[old] = norm.sf((level - m) / s)
            model[old] = np.where(np.isnan(m), "", "weekday")
        unknown = np.isnan(mean)
        p_over[unknown] = np.nan
        p_thr[unknown] = np.nan
        extra = {} if threshold_pct is None else {"p_threshold": p_thr}
        fill = np.clip(mean, 0.0, 100.0)
        step = np.array([self.steps.get(b, 0.0) for b in ids], dtype=float)
        stepped = step > 0
        on_steps = fill.copy()
        on_steps[stepped] = np.round(fill[stepped] / step[stepped]) * step[stepped]
        return pd.DataFrame(
            {
                "bin_id": ids,
                "mean": mean,
                "fill_pct": fill,
                "fill_step": np.clip(on_steps, 0.0, 100.0),
                "fill_p10": np.clip(lo, 0.0, 100.0),
                "fill_p90": np.clip(hi, 0.0, 100.0),
                "p_overflow": p_over,
                "sd": sd,
                "note": notes,
                "model": model,
                **extra,
            }
        )


def _emptied(a: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Anchors ``a`` as if each bin were emptied at ``at``: empty then, at the start of a cycle."""
    state: dict[str, object] = {"timestamp": pd.Timestamp(at), "fill_pct": 0.0, "level": 0.0, "age": 0.0}
    if "source" in a.columns:
        state["source"] = "emptied"
    if "seen" in a.columns and "shape" in a.columns:
        # The last level seen: a sensor reads empty; a log's emptied row keeps the level found at its last collection.
        state["seen"] = np.where(a["shape"].to_numpy() == LOG, a["seen"].to_numpy(dtype=float), 0.0)
    return a.assign(**{c: v for c, v in state.items() if c in a.columns or c == "timestamp"})


def _legacy(
    model: FillModel, ids: list[str], times: pd.Series, emptied_at: pd.Timestamp | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weekday-model mean and normal scale from ``fits`` alone (from empty at ``emptied_at`` if given)."""
    fits = [model.fits.get(b) for b in ids]
    ok = np.array([f is not None and f.level_time is not None and not math.isnan(f.level) for f in fits], dtype=bool)
    mean, sd = np.full(len(ids), np.nan), np.full(len(ids), np.nan)
    if not ok.any():
        return mean, sd
    chosen = [f for f, k in zip(fits, ok, strict=True) if k and f is not None]
    rates = np.stack([f.rates for f in chosen])
    starts = [f.level_time if emptied_at is None else emptied_at for f in chosen]
    x0 = local_days(pd.Series(starts), model.tz)
    x1 = np.maximum(local_days(times[ok].reset_index(drop=True), model.tz), x0)
    levels = np.array([f.level if emptied_at is None else 0.0 for f in chosen])
    mean[ok] = levels + np.einsum("ik,ik->i", weekday_overlap(x0, x1), rates)
    sd[ok] = np.sqrt(np.array([f.sigma2 for f in chosen]) * (x1 - x0) + 1.0)
    return mean, sd


def fit_fill_model(
    readings: pd.DataFrame | None,
    *,
    bins: pd.DataFrame | None = None,
    tz: str = "UTC",
    before: pd.Timestamp | None = None,
    cleaned: pd.DataFrame | None = None,
    collections: pd.DataFrame | None = None,
    learned: bool = True,
) -> FillModel:
    """Fit the candidate models and choose one per bin by its own past.

    Parameters
    ----------
    readings
        Raw readings (``bin_id``, ``timestamp``, ``fill_pct``); may be empty
        or ``None`` when ``collections`` are given.
    bins
        Optional bin table (``bin_id``, ``stream``, ``lon``, ``lat``) used to
        group similar bins; bins listed here without data still get a fit
        (fill unknown).
    tz
        The local time zone, for the day-of-week pattern.
    before
        Use only data strictly before this time (for backtests).
    cleaned
        Data already passed through :func:`binroute.routing.forecast.fill_data.prepare` (or
        :func:`clean_readings` and :func:`mark_emptyings`); saves repeating
        that in backtests.
    collections
        Optional collection events (``bin_id``, ``collected_at``,
        ``fill_pct``, optional ``kg``).
    learned
        Whether the gradient-boosted candidate takes part.

    Returns
    -------
    FillModel
        ``chosen`` and ``chosen_later`` name each bin's model one day and
        two or more days ahead; with under
        :data:`~binroute.routing.forecast.model_choice.MIN_EVAL_DAYS` × 2 days of history every
        bin gets the weekday model and normal intervals.
    """
    report: dict[str, dict[str, int]] = {}
    if cleaned is None:
        df, report, shapes = prepare(readings, collections, before=before)
    else:
        df = cleaned if "source" in cleaned.columns else cleaned.assign(source="sensor")
        if before is not None:
            df = df[df["timestamp"] < before]
        shapes = detect_shapes(df)
    listed = bins["bin_id"].astype(str).tolist() if bins is not None else []
    all_ids = list(dict.fromkeys([*listed, *report, *df["bin_id"].unique()]))
    groups = bin_groups(all_ids, bins)
    streams: dict[str, str] = {}
    if bins is not None and "stream" in bins.columns:
        streams = dict(zip(bins["bin_id"].astype(str), bins["stream"].astype(str), strict=True))
    rows = add_row_features(df, shapes)
    if rows.empty:
        fitted = fit_candidates(rows, all_ids=all_ids, groups=groups, streams=streams, tz=tz, learned=False)
        return FillModel(fitted.weekday, tz, report, shapes=shapes)
    end = rows["timestamp"].max() + pd.Timedelta(seconds=1) if before is None else pd.Timestamp(before)
    span = (end - rows["timestamp"].min()) / pd.Timedelta(days=1)
    window = min(EVAL_DAYS, span / 2.0)
    choice = None
    if window >= MIN_EVAL_DAYS:
        cut = end - pd.Timedelta(days=window)
        early = rows[rows["timestamp"] < cut]
        past = fit_candidates(early, all_ids=all_ids, groups=groups, streams=streams, tz=tz, learned=learned)
        first = cut.tz_convert(tz).normalize() + pd.Timedelta(days=1)
        origins = pd.date_range(first, end.tz_convert(tz), freq="D")
        choice = choose_models(rows, past, pd.DatetimeIndex(origins).tz_convert("UTC"), shapes, level_steps(rows))
    chosen = choice.chosen if choice is not None else dict.fromkeys(all_ids, DEFAULT_MODEL)
    later = choice.later if choice is not None else dict(chosen)
    used = {*chosen.values(), *later.values()}
    final = fit_candidates(
        rows,
        all_ids=all_ids,
        groups=groups,
        streams=streams,
        tz=tz,
        learned=learned and bool({"gbm", "consensus"} & used),  # the consensus reads the trees too
    )
    chosen = {b: (m if m in final.names else DEFAULT_MODEL) for b, m in chosen.items()}
    later = {b: (m if m in final.names else DEFAULT_MODEL) for b, m in later.items()}
    anchors = anchors_at(rows, pd.DatetimeIndex([end])).set_index("bin_id")
    return FillModel(
        fits=final.weekday,
        tz=tz,
        cleaning=report,
        chosen=chosen,
        chosen_later=later,
        shapes=shapes,
        candidates=final,
        anchors=anchors,
        calibration=choice.calibration if choice is not None else Calibration(),
        steps=level_steps(rows),
        blend=choice.blend if choice is not None else Blend(),
        longest_age={str(b): float(v) for b, v in rows.groupby("bin_id")["age"].max().dropna().items()},
    )
