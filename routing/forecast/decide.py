"""Which bins to collect on the planning day, and what each one weighs.

Each bin gets ``must``, ``may`` or ``skip`` with the reason in words:

* ``must``: predicted to reach the fill threshold by collection time, or at
  more than the tolerated risk of overflowing before the next chance to
  collect it;
* ``may``: predicted to pass the threshold before the next chance, but
  without serious overflow risk: worth taking when a lorry passes nearby;
  its prize is the overflow cost that collecting it now avoids (the chance
  of overflowing before the chance after next, times the overflow cost);
* ``skip``: neither.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from .model import FillModel

MUST, MAY, SKIP = "must", "may", "skip"


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
        Fill at which a bin is due.
    overflow_risk
        Largest tolerated probability of overflowing before the next chance.
    next_opportunity_days
        Days until the area can be collected again.
    overflow_cost
        Cost of one overflowing bin (same money unit as vehicle costs).
    visits_until_h
        Hours after the collection time by which the day's visits are done
        (the latest shift end): a bin left today may be reached as late as
        that after the next opportunity, so its risk is taken until then.
    """

    threshold_pct: float = 80.0
    overflow_risk: float = 0.10
    next_opportunity_days: float = 1.0
    overflow_cost: float = 40.0
    visits_until_h: float = 0.0
    streams: Mapping[str, StreamDensity] = field(default_factory=lambda: dict(DEFAULT_STREAMS))

    def __post_init__(self) -> None:
        if not 0 < self.threshold_pct <= 100:
            raise ValueError(f"threshold_pct must be in (0, 100], not {self.threshold_pct}")
        if not 0 < self.overflow_risk < 1:
            raise ValueError(f"overflow_risk must be between 0 and 1, not {self.overflow_risk}")
        if self.next_opportunity_days <= 0:
            raise ValueError("next_opportunity_days must be positive")
        if not 0 <= self.visits_until_h < 24:
            raise ValueError(f"visits_until_h must be in [0, 24), not {self.visits_until_h}")


@dataclass(frozen=True)
class Decision:
    bin_id: str
    decision: str
    reason: str
    fill_pct: float
    fill_p10: float
    fill_p90: float
    p_overflow: float  # before the next opportunity
    fill_next_pct: float
    prize: float = 0.0


def _fmt(x: float) -> str:
    return "unknown" if math.isnan(x) else f"{x:.0f}%"


def decide(model: FillModel, collect_at: pd.Timestamp, rules: DecisionRules) -> dict[str, Decision]:
    """Classify every bin of ``model`` for a collection at ``collect_at``."""
    late = pd.Timedelta(hours=rules.visits_until_h)
    nxt = collect_at + pd.Timedelta(days=rules.next_opportunity_days) + late
    after = collect_at + pd.Timedelta(days=2 * rules.next_opportunity_days) + late
    now = model.predict(collect_at)
    later = model.predict(nxt)
    latest = model.predict(after)
    out: dict[str, Decision] = {}
    for b in now.index:
        fill, p10, p90 = now.at[b, "fill_pct"], now.at[b, "fill_p10"], now.at[b, "fill_p90"]
        fill_next = later.at[b, "mean"]
        p_over = later.at[b, "p_overflow"]
        if math.isnan(fill):
            note = now.at[b, "note"] or "no usable sensor readings"
            out[b] = Decision(
                b,
                MAY,
                f"{note}: collect if passing",
                fill,
                p10,
                p90,
                math.nan,
                math.nan,
                prize=rules.overflow_cost * 0.5,
            )
            continue
        if fill >= rules.threshold_pct:
            kind, reason = (
                MUST,
                f"predicted {_fmt(fill)} at collection, at or above the {rules.threshold_pct:.0f}% threshold",
            )
        elif p_over > rules.overflow_risk:
            kind, reason = (
                MUST,
                (
                    f"{p_over:.0%} risk of overflowing before the next collection "
                    f"(tolerance {rules.overflow_risk:.0%}); predicted {_fmt(fill)} now"
                ),
            )
        elif fill_next >= rules.threshold_pct:
            kind, reason = (
                MAY,
                (
                    f"predicted {_fmt(fill)} now and {_fmt(min(fill_next, 100.0))} by the next collection; "
                    "overflow risk is low"
                ),
            )
        else:
            kind, reason = SKIP, f"predicted {_fmt(fill)} now and {_fmt(min(fill_next, 100.0))} by the next collection"
        prize = rules.overflow_cost * float(latest.at[b, "p_overflow"]) if kind == MAY else 0.0
        out[b] = Decision(
            b, kind, reason, fill, p10, p90, p_over, fill_next, prize=max(prize, 0.01 if kind == MAY else 0.0)
        )
    return out


def demand_of(fill_pct: float, capacity_l: float, stream: str, rules: DecisionRules) -> tuple[float, float]:
    """Predicted load of a bin as (kg, compacted litres in the lorry)."""
    litres = max(0.0, min(fill_pct, 100.0)) / 100.0 * capacity_l
    density = rules.streams.get(stream, FALLBACK_STREAM)
    return litres * density.kg_per_litre, litres / density.compaction
