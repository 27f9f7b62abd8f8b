"""The forecast step: the collect rule from ``fleet.json``, and must/may/skip per bin at a time."""

from __future__ import annotations

import math
from datetime import date as Date
from typing import Any

import pandas as pd

from binroute.routing.forecast import MAY, Decision, DecisionRules, StreamDensity, decide, fit_fill_model

from .scenario import FleetIn, Scenario, parse_hhmm

#: When to collect if no ``fleet.json`` says (seconds after local midnight).
DEFAULT_COLLECT_AT_S = 10 * 3600


def decision_rules(fleet: FleetIn | None, *, threshold_pct: float | None = None) -> DecisionRules:
    """The collect rule from ``fleet.json``'s planning and stream settings (defaults without a fleet)."""
    if fleet is None:
        return DecisionRules() if threshold_pct is None else DecisionRules(threshold_pct=threshold_pct)
    p = fleet.planning
    streams = dict(DecisionRules().streams)
    streams.update({k: StreamDensity(s.kg_per_litre, s.compaction) for k, s in fleet.streams.items()})
    return DecisionRules(
        threshold_pct=threshold_pct or p.threshold_pct,
        overflow_risk=p.overflow_risk,
        next_opportunity_days=p.next_opportunity_days,
        overflow_cost=p.overflow_cost,
        visits_until_h=visits_until_h(fleet),
        streams=streams,
    )


def visits_until_h(fleet: FleetIn) -> float:
    """Hours from the collection time to the latest shift end: how late in a day a bin may be reached.

    The risk of leaving a bin is taken until then on the next opportunity
    (:class:`binroute.routing.forecast.decide.DecisionRules`); 0 when every shift ends before ``collect_at``.
    """
    latest = max(parse_hhmm(v.shift_end) for v in fleet.vehicles)
    return min(max(latest - collect_at_s(fleet), 0) / 3600, 23.99)


def collect_at_s(fleet: FleetIn | None) -> int:
    """Seconds after local midnight at which the day's collection is forecast."""
    return parse_hhmm(fleet.planning.collect_at) if fleet is not None else DEFAULT_COLLECT_AT_S


def decide_bins(scn: Scenario, day: Date, rules: DecisionRules, *, notes: list[str]) -> dict[str, Decision]:
    """Must, may or skip for every bin of ``scn`` on ``day``; what was ignored is added to ``notes``.

    Bins without usable readings are ``may`` with half the overflow cost as prize.
    """
    tz = scn.fleet.timezone
    model = fit_fill_model(scn.readings, bins=scn.bins, tz=tz, collections=scn.collections)
    when = pd.Timestamp(day).tz_localize(tz) + pd.Timedelta(seconds=collect_at_s(scn.fleet))
    decisions = decide(model, when, rules)
    known = set(scn.bins["bin_id"])
    for name, frame in (("readings.csv", scn.readings), ("collections.csv", scn.collections)):
        unknown = sorted(set(frame["bin_id"]) - known) if frame is not None else []
        if unknown:
            notes.append(
                f"{len(unknown)} bin id(s) in {name} are not in bins.csv and were ignored: {', '.join(unknown[:10])}"
            )
    nan = math.nan
    for b in scn.bins["bin_id"]:
        if b not in decisions:
            reason = "no readings or collections: collect if passing"
            decisions[b] = Decision(b, MAY, reason, nan, nan, nan, nan, nan, prize=rules.overflow_cost * 0.5)
    return decisions


def forecast_bins(
    readings: pd.DataFrame,
    bins: pd.DataFrame | None,
    tz: str,
    fleet: FleetIn | None,
    when: pd.Timestamp,
    *,
    collections: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Per-bin forecast at ``when`` as served by ``binroute forecast --json`` and the API.

    Each bin has its fill and interval, P(overflow), decision and reason, and
    ``model``: the forecast model used for it ("" when its fill is unknown).
    """
    rules = decision_rules(fleet)
    model = fit_fill_model(readings, bins=bins, tz=tz, collections=collections)
    decisions = decide(model, when, rules)
    pred = model.predict(when)

    def num(x: float, nd: int = 1) -> float | None:
        return None if x != x else round(float(x), nd)

    return {
        "at": when.isoformat(),
        "bins": {
            b: {
                "fill_pct": num(d.fill_pct),
                "fill_p10": num(d.fill_p10),
                "fill_p90": num(d.fill_p90),
                "p_overflow": num(float(pred.at[b, "p_overflow"]), 4),
                "decision": d.decision,
                "reason": d.reason,
                "model": str(pred.at[b, "model"]) if b in pred.index else "",
            }
            for b, d in decisions.items()
        },
    }
