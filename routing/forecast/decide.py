"""Which bins to collect on the planning day, and what each one weighs: the collect rule.

The rule weighs costs, not a fixed risk. Leaving a bin until its next
chance costs its probability of overflowing before the lorry reaches it
on that chance (its arrival spread over the day's visit window) times the
cost of an overflow, less the risk it would run even if
emptied now (a lift only takes away the risk that comes with its level);
collecting it costs its share of a round (:attr:`DecisionRules.lift_cost`). A bin is *due* on the first chance
after which leaving it costs more than collecting it, or at which it is
predicted at or above the fill threshold.

With a horizon of ``H`` chances (:attr:`DecisionRules.horizon_days`; one
chance a day by default), each bin gets its due chance among today and the
next ``H`` chances, and today:

* ``must``: due today;
* ``may``: due within the horizon and worth lifting today. Its prize is
  what collecting it today saves, its stop on the due day
  (:attr:`DecisionRules.visit_cost`), less the cost of going early: a lift
  at a lower fill wastes that part of a lift (:attr:`DecisionRules.lift_cost`),
  since the bin is lifted again that much sooner (its risk until the next
  chance is not counted: the rule judged it worth leaving). The solver takes it when
  the lorry's detour costs less, so a round takes what would otherwise be
  due on a later day, and a day with nothing due sends no crew;
* ``skip``: not due within the horizon, or due within it but not worth
  lifting early.

Only today's decisions are acted on: tomorrow is decided again from
tomorrow's data (a rolling horizon). This follows the MAY-GO/MUST-GO
anticipatory selection of Mes, Schutten and Pérez Rivera (EJOR 2014) and the
prize-collecting selection of Wouda et al. (2024), with the prize set from
the forecast's own probabilities and the fleet's costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..limits import MAX_HORIZON
from .model import FillModel

MUST, MAY, SKIP = "must", "may", "skip"
#: The smallest prize of a ``may`` bin (so that a solver still sees it as optional work).
MIN_PRIZE = 0.01
#: Points of the day's visit window over which a bin's risk until the lorry reaches it is averaged.
REACH_POINTS = 6
#: The overflow probability tolerated when neither a lift's cost nor a service floor is known.
FALLBACK_RISK = 0.10


@dataclass(frozen=True)
class StreamDensity:
    """Loose density of a waste stream, and how much a lorry compacts it."""

    kg_per_litre: float
    compaction: float


DEFAULT_STREAMS: dict[str, StreamDensity] = {
    "general": StreamDensity(0.10, 3.0),
    "recycling": StreamDensity(0.05, 2.5),
    "paper": StreamDensity(0.07, 2.5),
    "organic": StreamDensity(0.45, 1.5),
    "glass": StreamDensity(0.30, 1.0),
}
FALLBACK_STREAM = StreamDensity(0.10, 2.5)


@dataclass(frozen=True)
class DecisionRules:
    """Settings of the collect rule.

    Parameters
    ----------
    threshold_pct
        Fill at which a bin is due whatever its risk.
    overflow_risk
        The probability of overflowing before its next chance above which a
        bin is collected, if the council sets one; ``None``: where the
        expected overflow cost passes the cost of a lift
        (:attr:`tolerated_risk`).
    next_opportunity_days
        Days between two chances to collect a bin.
    overflow_cost
        Cost of one overflowing bin (same money unit as vehicle costs).
    visits_until_h
        Hours after the collection time by which the day's visits are done
        (the latest shift end): a bin left today may be reached as late as
        that after the next opportunity.
    visits_from_h
        Hours after the collection time at which the day's visits start (the
        earliest shift start; negative when shifts start before it). A bin
        left today is reached at some time in ``[visits_from_h,
        visits_until_h]`` after the next opportunity's collection time, not
        known when the rule decides: its risk is the probability that it
        overflows before the lorry gets there, with the lorry's arrival spread
        evenly over that window (:data:`REACH_POINTS` points). Equal to
        ``visits_until_h`` (the default, 0 and 0), the risk is taken at that
        one time.
    horizon_days
        Chances looked ahead (1: today and the next chance only).
    lift_cost
        What collecting one bin costs in a well-filled round: its share of
        a crew-day plus its driving (money); 0 when not known.
    visit_cost
        What a stop adds to a round that goes out anyway: its driving and
        hours beyond the paid shift's (money), the part of a lift a bin
        lifted early saves on its due day.
    """

    threshold_pct: float = 80.0
    overflow_risk: float | None = None
    next_opportunity_days: float = 1.0
    overflow_cost: float = 40.0
    visits_until_h: float = 0.0
    visits_from_h: float = 0.0
    horizon_days: int = 1
    lift_cost: float = 0.0
    visit_cost: float = 0.0
    streams: Mapping[str, StreamDensity] = field(default_factory=lambda: dict(DEFAULT_STREAMS))

    def __post_init__(self) -> None:
        if not 0 < self.threshold_pct <= 100:
            raise ValueError(f"threshold_pct must be in (0, 100], not {self.threshold_pct}")
        if self.overflow_risk is not None and not 0 < self.overflow_risk < 1:
            raise ValueError(f"overflow_risk must be between 0 and 1, not {self.overflow_risk}")
        if self.next_opportunity_days <= 0:
            raise ValueError("next_opportunity_days must be positive")
        if not 0 <= self.visits_until_h < 24:
            raise ValueError(f"visits_until_h must be in [0, 24), not {self.visits_until_h}")
        if not -24 < self.visits_from_h <= self.visits_until_h:
            raise ValueError(
                f"visits_from_h must be after -24 and at most visits_until_h ({self.visits_until_h}), "
                f"not {self.visits_from_h}"
            )
        if not 1 <= self.horizon_days <= MAX_HORIZON:
            raise ValueError(f"horizon_days must be 1 to {MAX_HORIZON}, not {self.horizon_days}")
        if min(self.overflow_cost, self.lift_cost, self.visit_cost) < 0:
            raise ValueError("overflow_cost, lift_cost and visit_cost must not be negative")

    @property
    def reach_offsets(self) -> np.ndarray:
        """Hours after a chance's collection time at which its visits are assumed, evenly over the day's window.

        The midpoints of :data:`REACH_POINTS` equal parts of ``[visits_from_h,
        visits_until_h]``; the one point ``visits_until_h`` when the window is empty.
        """
        span = self.visits_until_h - self.visits_from_h
        if span <= 0:
            return np.array([self.visits_until_h])
        return self.visits_from_h + span * (np.arange(REACH_POINTS) + 0.5) / REACH_POINTS

    @property
    def tolerated_risk(self) -> float:
        """The overflow probability above which a bin is due.

        ``overflow_risk`` when the council sets one; else where its expected
        overflow cost passes the cost of a lift; :data:`FALLBACK_RISK` when
        neither is known.
        """
        if self.overflow_risk is not None:
            return self.overflow_risk
        if self.lift_cost > 0 and self.overflow_cost > 0:
            return min(self.lift_cost / self.overflow_cost, 1.0)
        return FALLBACK_RISK


@dataclass(frozen=True)
class Decision:
    """One bin's decision for the day and why.

    ``due_in`` is the chance (0 today, 1 the next, ...) by which it is due;
    ``horizon + 1`` when not due within the horizon, -1 when unknown.
    ``p_overflow`` and ``fill_next_pct`` are for the next chance.
    """

    bin_id: str
    decision: str
    reason: str
    fill_pct: float
    fill_p10: float
    fill_p90: float
    p_overflow: float  # before the next opportunity
    fill_next_pct: float
    prize: float = 0.0
    due_in: int = -1


def _fmt(x: float) -> str:
    return "unknown" if math.isnan(x) else f"{x:.0f}%"


def _when(k: int, step_days: float) -> str:
    if k == 0:
        return "today"
    if k == 1:
        return "the next collection"
    return f"the collection in {k * step_days:g} days"


@dataclass(frozen=True)
class Outlook:
    """Every bin's predicted fill at each chance ``0..H+1`` and its overflow risk by each chance's visit.

    ``fill[i, k]`` is bin ``i``'s mean fill at chance ``k``'s collection time,
    ``p_over[i, k]`` the probability it overflows before the lorry reaches
    it on chance ``k`` (:meth:`DecisionRules.reach_offsets`); ``now`` is the prediction for today (interval, notes).
    ``p_fresh[i]`` is the probability that bin ``i``, emptied at a chance,
    overflows before the next chance's visit all the same: the risk a
    lift does not take away (a bin that overflows on some days whatever its
    age; none when not known).
    """

    ids: list[str]
    fill: np.ndarray
    p_over: np.ndarray
    now: pd.DataFrame
    p_fresh: np.ndarray | None = None


def outlook(model: FillModel, collect_at: pd.Timestamp, rules: DecisionRules) -> Outlook:
    """The forecast at every chance of the horizon and the one after it.

    A chance's overflow risk is the probability of overflowing before the
    lorry reaches the bin on it: the mean over :attr:`DecisionRules.reach_offsets`
    of the probability of overflowing by then.
    """
    step = pd.Timedelta(days=rules.next_opportunity_days)
    at = pd.Timestamp(collect_at)
    collect_at = at if at.tzinfo is not None else at.tz_localize(model.tz)  # as FillModel.predict reads it
    ids = [str(b) for b in model.fits]
    chances = rules.horizon_days + 2
    times = [collect_at + k * step for k in range(chances)]
    at_collect = model.predict_pairs(ids * chances, pd.Series(np.repeat(times, len(ids))))
    now = at_collect.iloc[: len(ids)].set_index("bin_id")  # today's chance: what FillModel.predict gives
    fill = at_collect["mean"].to_numpy(dtype=float).reshape(chances, len(ids)).T
    reach = [pd.Timedelta(hours=float(h)) for h in rules.reach_offsets]
    # Every chance at every reach time in one call: rows ordered (reach, chance, bin).
    when = [t + r for r in reach for t in times]
    p_all = model.predict_pairs(ids * (chances * len(reach)), pd.Series(np.repeat(when, len(ids))))["p_overflow"]
    p_over = p_all.to_numpy(dtype=float).reshape(len(reach), chances, len(ids)).mean(axis=0).T
    fresh = model.predict_pairs(
        ids * len(reach), pd.Series(np.repeat([times[1] + r for r in reach], len(ids))), emptied_at=collect_at
    )["p_overflow"]
    p_fresh = np.nan_to_num(fresh.to_numpy(dtype=float).reshape(len(reach), len(ids)).mean(axis=0), nan=0.0)
    # Levels only rise between emptyings: a risk or fill that dips at a later chance is noise.
    return Outlook(ids, np.fmax.accumulate(fill, axis=1), np.fmax.accumulate(p_over, axis=1), now, p_fresh)


def due_chances(look: Outlook, rules: DecisionRules) -> np.ndarray:
    """Per bin the first chance ``k`` at which it is due (``H + 1`` beyond the horizon, -1 unknown).

    Due at ``k``: predicted at or above the threshold at ``k``, or leaving it
    past ``k`` risks an overflow (before chance ``k + 1``'s visit) above
    :attr:`DecisionRules.tolerated_risk`, counting only the risk a lift at
    ``k`` would take away (less :attr:`Outlook.p_fresh`).
    """
    h = rules.horizon_days
    full = look.fill[:, : h + 1] >= rules.threshold_pct
    fresh = np.zeros(len(look.ids)) if look.p_fresh is None else look.p_fresh
    risky = look.p_over[:, 1 : h + 2] - fresh[:, None] > rules.tolerated_risk
    due = full | risky
    first = np.where(due.any(axis=1), due.argmax(axis=1), h + 1)
    return np.where(np.isnan(look.fill[:, 0]), -1, first)


def decide(model: FillModel, collect_at: pd.Timestamp, rules: DecisionRules) -> dict[str, Decision]:
    """Classify every bin of ``model`` for a collection at ``collect_at``."""
    look = outlook(model, collect_at, rules)
    due = due_chances(look, rules)
    h, step = rules.horizon_days, rules.next_opportunity_days
    now = look.now
    out: dict[str, Decision] = {}
    for i, b in enumerate(look.ids):
        fill, p10, p90 = (float(now.at[b, c]) for c in ("fill_pct", "fill_p10", "fill_p90"))
        fill_next, p_next = float(look.fill[i, 1]), float(look.p_over[i, 1])
        k = int(due[i])
        if k < 0:
            note = now.at[b, "note"] or "no usable sensor readings"
            nan = math.nan
            prize = rules.overflow_cost * 0.5
            out[b] = Decision(b, MAY, f"{note}: collect if passing", fill, p10, p90, nan, nan, prize, -1)
            continue
        kind, prize = SKIP, 0.0
        if k == 0:
            kind = MUST
            if fill >= rules.threshold_pct:
                reason = f"predicted {_fmt(fill)} at collection, at or above the {rules.threshold_pct:.0f}% threshold"
            else:
                fresh = "" if look.p_fresh is None else f", {look.p_fresh[i]:.0%} if emptied today"
                reason = (
                    f"{p_next:.0%} risk of overflowing before the next collection{fresh} "
                    f"(a lift takes away more than the {rules.tolerated_risk:.0%} tolerated); "
                    f"predicted {_fmt(fill)} now"
                )
        elif k <= h:
            at_due = float(look.fill[i, k])
            # Lifted today instead of when due, it is lifted again that much sooner: the part of a lift
            # its lower fill wastes is the cost of going early (a whole lift's cost: crews' time adds up
            # to crew-days). Saved: its stop on the due day. Its risk until the next chance is not
            # counted: the rule has judged it worth leaving (below the tolerated risk), and counting it
            # again would lift bins the rule found safe to leave.
            early = 1.0 - min(max(fill / at_due, 0.0), 1.0) if at_due > 0 else 1.0
            worth = rules.visit_cost - rules.lift_cost * early
            when_due = (
                f"due by {_when(k, step)} (predicted {_fmt(min(at_due, 100.0))} then); predicted {_fmt(fill)} now"
            )
            if worth >= 0:  # 0 when the costs are not known: collect if passing
                kind, prize = MAY, max(worth, MIN_PRIZE)
                reason = f"{when_due}: worth {prize:.2f} if a lorry passes today"
            else:
                reason = f"{when_due}: lifting it early would waste more than its stop saves"
        else:
            last = float(look.fill[i, h])
            reason = f"predicted {_fmt(fill)} now and {_fmt(min(last, 100.0))} by {_when(h, step)}" + (
                "" if h == 1 else f"; not due within the {h}-collection horizon"
            )
        out[b] = Decision(b, kind, reason, fill, p10, p90, p_next, fill_next, prize, k)
    return out


def demand_of(fill_pct: float, capacity_l: float, stream: str, rules: DecisionRules) -> tuple[float, float]:
    """Predicted load of a bin as (kg, compacted litres in the lorry)."""
    litres = max(0.0, min(fill_pct, 100.0)) / 100.0 * capacity_l
    density = rules.streams.get(stream, FALLBACK_STREAM)
    return litres * density.kg_per_litre, litres / density.compaction
