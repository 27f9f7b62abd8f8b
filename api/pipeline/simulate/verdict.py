"""The comparison a council committee reads: predictive against the best fixed timetable at the same service.

The *best fixed timetable at the same service* is the timetable with the
fewest km among those whose overflowing bin-days are no more than
predictive's (:func:`best_timetable`); when every timetable run overflows
more, there is none, and :func:`closest_timetable` names the one with the
fewest overflows instead. ``report.html`` opens with it, and the
simulation benchmarks judge their goals by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .policies import PREDICTIVE, TIMETABLE, parse_policy

#: The figures the verdict sets side by side: label and key of a policy's totals.
VERDICT_FIGURES = (
    ("km", "km"),
    ("crew-days", "crew_days"),
    ("lifts", "lifts"),
    ("wasted lifts (below half full)", "wasted_lifts"),
    ("kg CO2", "kg_co2"),
    ("overflowing bin-days", "overflow_bin_days"),
)


def _timetables(totals: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {name: t for name, t in totals.items() if parse_policy(name).kind == TIMETABLE}


def best_timetable(totals: Mapping[str, Mapping[str, Any]], *, against: str = PREDICTIVE) -> str | None:
    """The fewest-km timetable whose overflowing bin-days are at most ``against``'s; ``None`` if none qualifies.

    ``totals`` maps each policy's name to its totals (``km``, ``overflow_bin_days``).
    """
    if against not in totals:
        return None
    limit = totals[against]["overflow_bin_days"]
    fair = {n: t for n, t in _timetables(totals).items() if t["overflow_bin_days"] <= limit}
    if not fair:
        return None
    return min(fair, key=lambda n: (fair[n]["km"], fair[n]["overflow_bin_days"]))


def closest_timetable(totals: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The timetable with the fewest overflowing bin-days (then km); ``None`` when no timetable was run."""
    tables = _timetables(totals)
    if not tables:
        return None
    return min(tables, key=lambda n: (tables[n]["overflow_bin_days"], tables[n]["km"]))


def saving(ours: float, theirs: float) -> float:
    """The share of ``theirs`` that ``ours`` saves (negative when ours is more; 0 when theirs is 0)."""
    return 1.0 - ours / theirs if theirs else 0.0


def fewer(ours: float, theirs: float, what: str) -> str:
    """``"25% fewer km"``, or ``"18% more km"`` when ours is more (:func:`saving` in words)."""
    share = saving(ours, theirs)
    return f"{abs(share):.0%} {'fewer' if share >= 0 else 'more'} {what}"
