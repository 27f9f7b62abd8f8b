"""Collection policies a council might run, as ``binroute simulate`` names them.

* ``predictive``: the daily plan's own rule (forecast, must/may/skip), looking
  as many days ahead as the fleet's planning says; ``predictive:3`` looks 3 days ahead;
* ``timetable:mon,thu``: every bin on the named weekdays, none on others;
* ``threshold:80``: every bin whose latest reading is at least 80%;
* ``as-logged``: the bins a collection log really emptied on each day (the
  council's real service, to compare the others with);
* ``clairvoyant``: every bin that would otherwise overflow before the next
  day's last visit, read from the replay's future: no council can run it, it
  is the bound a perfect forecast would reach with one chance a day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date as Date

import pandas as pd

from binroute.routing import MAX_HORIZON

PREDICTIVE, TIMETABLE, THRESHOLD, AS_LOGGED = "predictive", "timetable", "threshold", "as-logged"
CLAIRVOYANT = "clairvoyant"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PolicyError(ValueError):
    """A policy string that is not understood; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class Policy:
    """A parsed policy: its kind, and its weekdays (0 = Monday), threshold or horizon (None: the fleet's)."""

    name: str
    kind: str
    weekdays: frozenset[int] = frozenset()
    threshold_pct: float = math.nan
    horizon_days: int | None = None


_EXPECTED = (
    f"expected predictive[:DAYS] (horizon 1-{MAX_HORIZON}), as-logged, clairvoyant, "
    "timetable:DAY[,DAY...] (mon..sun) or threshold:PCT (0-100]"
)


def parse_policy(text: str) -> Policy:
    """A :class:`Policy` from its name on the command line.

    Raises
    ------
    PolicyError
        Naming the policy and what is wrong with it.
    """
    name = text.strip().lower()
    kind, _, arg = name.partition(":")
    if kind == PREDICTIVE:
        if not arg:
            return Policy(name, PREDICTIVE)
        if not arg.isdigit() or not 1 <= int(arg) <= MAX_HORIZON:
            raise PolicyError(f"policy {text!r}: horizon {arg!r} is not a whole number of days from 1 to {MAX_HORIZON}")
        return Policy(name, PREDICTIVE, horizon_days=int(arg))
    if kind in (AS_LOGGED, CLAIRVOYANT) and not arg:
        return Policy(name, kind)
    if kind == TIMETABLE:
        days = [d.strip()[:3] for d in arg.split(",") if d.strip()]
        unknown = [d for d in days if d not in WEEKDAYS]
        if not days or unknown:
            raise PolicyError(
                f"policy {text!r}: weekday(s) {', '.join(unknown) or '(none)'} not understood; {_EXPECTED}"
            )
        return Policy(name, TIMETABLE, weekdays=frozenset(WEEKDAYS.index(d) for d in days))
    if kind == THRESHOLD:
        try:
            pct = float(arg)
        except ValueError:
            pct = math.nan
        if not 0 < pct <= 100:
            raise PolicyError(f"policy {text!r}: threshold {arg!r} is not a fill % above 0 and at most 100")
        return Policy(name, THRESHOLD, threshold_pct=pct)
    raise PolicyError(f"policy {text!r} not understood; {_EXPECTED}")


def bins_due(policy: Policy, day: Date, seen: Mapping[str, float]) -> list[str]:
    """The bins a timetable or threshold policy collects on ``day``, given each bin's latest reading ``seen``.

    A bin never read counts as due under a threshold policy (collect what you
    know nothing about). ``predictive`` is not decided here: it is the
    forecast's rule (:func:`binroute.api.pipeline.forecast.decide_bins`).
    """
    if policy.kind == TIMETABLE:
        return sorted(seen) if day.weekday() in policy.weekdays else []
    if policy.kind == THRESHOLD:
        return sorted(b for b, level in seen.items() if math.isnan(level) or level >= policy.threshold_pct)
    raise ValueError(f"policy {policy.name!r} chooses its bins by forecast, log or the future, not by bins_due")


def logged_on(collections: pd.DataFrame, day: Date, tz: str) -> list[str]:
    """The bins a collection log (``bin_id``, ``collected_at`` in UTC) emptied on ``day`` (local in ``tz``)."""
    local = collections["collected_at"].dt.tz_convert(tz).dt.date
    return sorted(set(collections.loc[(local == day).to_numpy(), "bin_id"].astype(str)))
