"""The forecast step: the collect rule from ``fleet.json``, and must/may/skip per bin at a time."""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from datetime import date as Date
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from binroute.routing.forecast import MAY, Decision, DecisionRules, FillModel, StreamDensity, decide, fit_fill_model
from binroute.routing.forecast.decide import FALLBACK_STREAM

from .problem import DEFAULT_SERVICE_S, SERVICE_S_PER_LITRE
from .scenario import FleetIn, Scenario, parse_hhmm

#: When to collect if no ``fleet.json`` says (seconds after local midnight).
DEFAULT_COLLECT_AT_S = 10 * 3600
#: A lorry's speed from one bin to the next within a round, km/h (pulling away, a short street, stopping).
ROUND_SPEED_KPH = 15.0
#: A lorry's speed between the depot, its round and the tip, km/h.
ROAD_SPEED_KPH = 30.0
#: A shortest tour's leg over the distance to the nearest neighbour, for points spread at random
#: (Beardwood-Halton-Hammersley: 0.7124 sqrt(A n) for the tour, 0.5 sqrt(A / n) to the nearest neighbour).
TOUR_OVER_NEIGHBOUR = 0.7124 / 0.5
#: Fill at which a bin is taken to be lifted in a well-run round, for what a load holds.
LIFT_FILL = 0.8


def decision_rules(
    fleet: FleetIn | None,
    *,
    threshold_pct: float | None = None,
    bins: pd.DataFrame | None = None,
    horizon_days: int | None = None,
) -> DecisionRules:
    """The collect rule from ``fleet.json``'s planning, stream and vehicle settings (defaults without a fleet).

    With ``bins``, what a lift costs is estimated from the fleet
    and where the bins stand (:func:`lift_costs`), so that the rule weighs an
    overflow against a lift; ``horizon_days`` overrides the planning's.
    """
    if fleet is None:
        return DecisionRules() if threshold_pct is None else DecisionRules(threshold_pct=threshold_pct)
    p = fleet.planning
    streams = dict(DecisionRules().streams)
    streams.update({k: StreamDensity(s.kg_per_litre, s.compaction) for k, s in fleet.streams.items()})
    lift, visit = lift_costs(fleet, bins, streams) if bins is not None and len(bins) else (0.0, 0.0)
    return DecisionRules(
        threshold_pct=threshold_pct or p.threshold_pct,
        overflow_risk=p.overflow_risk,
        next_opportunity_days=p.next_opportunity_days,
        overflow_cost=p.overflow_cost,
        visits_until_h=visits_until_h(fleet),
        visits_from_h=visits_from_h(fleet),
        horizon_days=horizon_days or p.horizon_days,
        streams=streams,
        lift_cost=lift,
        visit_cost=visit,
    )


def rule_summary(rules: DecisionRules) -> dict[str, Any]:
    """The collect rule as ``plan.json`` states it: horizon, threshold, costs weighed and the risk tolerated."""
    return {
        "horizon_days": rules.horizon_days,
        "threshold_pct": rules.threshold_pct,
        "overflow_cost": rules.overflow_cost,
        "lift_cost": round(rules.lift_cost, 3),
        "visit_cost": round(rules.visit_cost, 3),
        "tolerated_risk": round(rules.tolerated_risk, 4),
        "risk_set_by": "overflow_risk" if rules.overflow_risk is not None else "costs",
    }


def _metres(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    """Points as metres east and north (a local flat projection, good over a town)."""
    return np.column_stack([lon * 111_320.0 * math.cos(math.radians(lat0)), lat * 110_540.0])


def _hop_m(bins: pd.DataFrame, circuity: float) -> float:
    """The typical road distance from a bin to the next in a round (:data:`TOUR_OVER_NEIGHBOUR`, ``circuity``)."""
    from scipy.spatial import cKDTree

    if len(bins) < 2:
        return 0.0
    xy = _metres(bins["lon"].to_numpy(float), bins["lat"].to_numpy(float), float(bins["lat"].mean()))
    dist, _ = cKDTree(xy).query(xy, k=2)
    return float(np.mean(dist[:, 1])) * TOUR_OVER_NEIGHBOUR * circuity


def _drive_s(bins: pd.DataFrame, lon: float, lat: float, circuity: float) -> float:
    """Seconds to drive from the bins' centre to a place and back, on roads ``circuity`` times the straight line."""
    lat0 = float(bins["lat"].mean())
    centre = _metres(np.array([bins["lon"].mean()]), np.array([lat0]), lat0)
    there = _metres(np.array([lon]), np.array([lat]), lat0)
    return 2 * float(np.hypot(*(centre - there)[0])) * circuity / (ROAD_SPEED_KPH / 3.6)


def lift_costs(fleet: FleetIn, bins: pd.DataFrame, streams: dict[str, StreamDensity]) -> tuple[float, float]:
    """What a lift costs in a well-filled round, and a stop in a round out anyway (for :class:`DecisionRules`).

    Roads are ``planning.detour_factor`` times the straight line, as in an
    estimate without a road network. For each stream, a crew-day of a
    vehicle serving it lasts its shift less its break and the drive from its
    depot to the bins and back; a lift takes
    the bins' mean service time, the drive to the next bin (:func:`_hop_m`,
    at :data:`ROUND_SPEED_KPH`) and its share of a tip trip (a load holds so
    many bins lifted at :data:`LIFT_FILL`; the trip is the tip time and the
    drive to the nearest site taking the stream and back). A lift costs its
    share of the crew-day plus its driving and hours; a stop, its driving
    and hours only. Returns both, the means over the bins (0, unknown, when
    no vehicle serves any of their streams).
    """
    per_stream: dict[str, tuple[float, float]] = {}
    counts = bins["stream"].value_counts()
    depots = {d.id: d for d in fleet.depots}
    circuity = fleet.planning.detour_factor
    for stream in counts.index:
        part = bins[bins["stream"] == stream]
        service = part["service_s"] if "service_s" in part.columns else pd.Series(np.nan, index=part.index)
        service = pd.to_numeric(service, errors="coerce").fillna(
            DEFAULT_SERVICE_S + SERVICE_S_PER_LITRE * part["capacity_l"]
        )
        hop_m = _hop_m(part, circuity)
        litres = float(part["capacity_l"].mean()) * LIFT_FILL / streams.get(stream, FALLBACK_STREAM).compaction
        sites = [
            f.tip_minutes * 60 + _drive_s(part, f.lon, f.lat, circuity) for f in fleet.facilities if stream in f.streams
        ]
        tip_s = min(sites, default=0.0)
        costs = []
        for v in fleet.vehicles:
            if stream not in v.streams:
                continue
            brk = v.break_.minutes * 60 if v.break_ is not None else 0
            depot = depots[v.depot]
            day_s = (
                parse_hhmm(v.shift_end)
                - parse_hhmm(v.shift_start)
                - brk
                - _drive_s(part, depot.lon, depot.lat, circuity)
            )
            per_load = max(v.capacity_l / litres, 1.0) if litres > 0 else math.inf
            lift_s = float(service.mean()) + hop_m / (ROUND_SPEED_KPH / 3.6) + tip_s / per_load
            n = max(day_s, lift_s) / lift_s
            if v.max_lifts is not None:
                n = min(n, v.max_lifts)
            stop = v.cost_per_km * hop_m / 1000 + v.cost_per_hour * lift_s / 3600
            costs.append((v.day_cost / n + stop, stop))
        if costs:
            per_stream[str(stream)] = (float(np.mean([c for c, _ in costs])), float(np.mean([s for _, s in costs])))
    if not per_stream:
        return 0.0, 0.0
    weights = [counts[s] for s in per_stream]
    lift, visit = np.average(np.array(list(per_stream.values())), axis=0, weights=weights)
    return float(lift), float(visit)


def visits_until_h(fleet: FleetIn) -> float:
    """Hours from the collection time to the latest shift end: how late in a day a bin may be reached.

    The risk of leaving a bin is taken until then on the next opportunity
    (:class:`binroute.routing.forecast.decide.DecisionRules`); 0 when every shift ends before ``collect_at``.
    """
    latest = max(parse_hhmm(v.shift_end) for v in fleet.vehicles)
    return min(max(latest - collect_at_s(fleet), 0) / 3600, 23.99)


def visits_from_h(fleet: FleetIn) -> float:
    """Hours from the collection time to the earliest shift start (negative before it): when a day's visits begin.

    Never after :func:`visits_until_h`; with it, the window over which the
    collect rule spreads the lorry's arrival at a bin left today.
    """
    earliest = min(parse_hhmm(v.shift_start) for v in fleet.vehicles)
    return min(max((earliest - collect_at_s(fleet)) / 3600, -23.99), visits_until_h(fleet))


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


def planned_day(decision: Decision, day: Date, served: bool, step_days: float, horizon_days: int) -> str | None:
    """The day a bin is planned for (ISO), or ``None`` when it is not due within the horizon or unknown.

    Today when it is on a route; for a bin left today, the collection day
    (``step_days`` apart) it is due by, when within ``horizon_days``.
    """
    if served:
        return day.isoformat()
    if not 1 <= decision.due_in <= horizon_days:
        return None
    return (day + timedelta(days=round(decision.due_in * step_days))).isoformat()


#: Fitted fill models a process keeps for :func:`cached_fill_model`, the least recently used dropped first.
FIT_CACHE_SIZE = 4
_fits: OrderedDict[str, FillModel] = OrderedDict()
_fits_lock = threading.Lock()


def data_fingerprint(tz: str, *frames: pd.DataFrame | None) -> str:
    """A digest of the frames' columns and every value (row order included) and the time zone."""
    digest = hashlib.blake2b(tz.encode(), digest_size=16)
    for frame in frames:
        if frame is None:
            digest.update(b"\x00none")
            continue
        digest.update("\x00".join(map(str, frame.columns)).encode() + b"\x01")
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def cached_fill_model(
    readings: pd.DataFrame, *, bins: pd.DataFrame | None, tz: str, collections: pd.DataFrame | None
) -> FillModel:
    """:func:`fit_fill_model` on these data, fitted once per process while the data stay the same.

    A forecast asked again (another time, the same scenario's map page, a
    client polling) reuses the fit: the model does not depend on the time
    asked for. Any change to the readings, collections or bins changes the
    key (:func:`data_fingerprint`), so a new reading is always fitted.
    """
    key = data_fingerprint(tz, readings, bins, collections)
    with _fits_lock:
        model = _fits.get(key)
        if model is not None:
            _fits.move_to_end(key)
            return model
    model = fit_fill_model(readings, bins=bins, tz=tz, collections=collections)
    with _fits_lock:
        _fits[key] = model
        while len(_fits) > FIT_CACHE_SIZE:
            _fits.popitem(last=False)
    return model


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
    rules = decision_rules(fleet, bins=bins)
    model = cached_fill_model(readings, bins=bins, tz=tz, collections=collections)
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
                "due_by": planned_day(d, when.date(), False, rules.next_opportunity_days, rules.horizon_days),
            }
            for b, d in decisions.items()
        },
    }
