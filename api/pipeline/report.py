"""A solved day as a report: the GeoJSON of routes and stops, and the ``plan.json`` summary.

Without a road network (distances estimated) stops name no street, drives
are straight lines, and ``plan.json`` says ``"distances": "estimate"``
with the detour factor and speed the km and hours rest on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import date as Date
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from binroute.geo import (
    OSM_ATTRIBUTION,
    RoadNetwork,
    feature_collection,
    line_feature,
    line_through,
    point_feature,
    territory_overlap,
)
from binroute.routing import BIN, TIP, Problem, Solution
from binroute.routing.forecast import Decision

from .forecast import planned_day
from .kpis import plan_kpis, total_kpis
from .legs import route_legs as route_legs
from .manoeuvres import (
    REVERSING,
    TURNING_PLACE,
    WALK_OUT,
    manoeuvre_totals,
    reversing_per_leg,
    turn_points,
    u_turn_features,
    walk_out_entry,
)
from .options import PlanOptions
from .roads import ESTIMATE, Leg, Travel, metric_crs
from .scenario import Scenario


def street_names(net: RoadNetwork | None) -> tuple[str, ...]:
    """Each edge's street name, or ``unnamed <kind> road``; none without a network."""
    if net is None:
        return ()
    return tuple(name or f"unnamed {kind} road" for name, kind in zip(net.name, net.highway, strict=True))


def _street(streets: Sequence[str], edge: int) -> str | None:
    """The street of ``edge``; ``None`` for a stop on no street (distances estimated)."""
    return streets[edge] if 0 <= edge < len(streets) else None


def _iso(day: Date, seconds: int, tz: str) -> str:
    """Local ISO time of ``seconds`` after midnight of ``day`` in ``tz`` (elapsed time, across DST changes too)."""
    return (_midnight_utc(day, tz) + timedelta(seconds=int(seconds))).astimezone(ZoneInfo(tz)).isoformat()


@functools.lru_cache(maxsize=64)
def _midnight_utc(day: Date, tz: str) -> datetime:
    """Local midnight of ``day`` in ``tz``, as a UTC datetime (pandas localises it, once per day and zone)."""
    return pd.Timestamp(day).tz_localize(tz).tz_convert("UTC").to_pydatetime()


def plan_geojson(
    scn: Scenario,
    options: PlanOptions,
    solution: Solution,
    decisions: dict[str, Decision],
    travel: Travel,
    streets: Sequence[str],
    legs: dict[str, list[list[Leg]]],
) -> dict[str, Any]:
    """The plan as a GeoJSON FeatureCollection: trips along the streets, stops, tips, depots and skipped bins."""
    tz = scn.fleet.timezone
    streams = dict(zip(scn.bins["bin_id"], scn.bins["stream"].astype(str), strict=True))
    reasons = _solver_reasons(solution)
    feats: list[dict[str, Any]] = []

    for route in solution.routes:
        if not route.used:
            continue
        for n, (trip, trip_legs) in enumerate(zip(route.trips(), legs[route.vehicle_id], strict=True), start=1):
            coords = line_through(leg.coords for leg in trip_legs)
            feats.append(
                line_feature(
                    coords,
                    {
                        "kind": "trip",
                        "vehicle_id": route.vehicle_id,
                        "trip": n,
                        "from": trip[0].id,
                        "to": trip[-1].id,
                        "bins": sum(v.kind == BIN for v in trip),
                        "depart": _iso(options.date, trip[0].departure_s, tz),
                        "arrive": _iso(options.date, trip[-1].arrival_s, tz),
                    },
                )
            )
        for seq, visit in enumerate(route.visits[1:-1], start=1):
            props: dict[str, Any] = {
                "kind": "stop" if visit.kind == BIN else "tip",
                "vehicle_id": route.vehicle_id,
                "sequence": seq,
                "bin_id": visit.id if visit.kind == BIN else None,
                "facility_id": visit.id if visit.kind == TIP else None,
                "eta": _iso(options.date, visit.start_s, tz),
                "load_kg": visit.load_after[0],
                "load_l": visit.load_after[1],
            }
            props["street"] = _street(streets, travel.street_edge(route.vehicle_id, visit.location))
            if visit.kind == BIN:
                props["side"] = travel.side(route.vehicle_id, visit.location) or None
                props["walk_out_m"] = _walk(travel, route.vehicle_id, visit.location)
                d = decisions[visit.id]
                props.update(
                    predicted_fill_pct=round(d.fill_pct, 1) if not math.isnan(d.fill_pct) else None,
                    decision=d.decision,
                    reason=d.reason,
                    planned_for=options.date.isoformat(),
                    stream=streams[visit.id],
                )
            feats.append(point_feature(*travel.point(route.vehicle_id, visit.location), props))
        for n, trip_legs in enumerate(legs[route.vehicle_id], start=1):
            feats += [point_feature(x, y, p) for x, y, p in u_turn_features(route.vehicle_id, n, trip_legs)]
    for depot in scn.fleet.depots:
        feats.append(point_feature(depot.lon, depot.lat, {"kind": "depot", "id": depot.id}))
    for f in scn.fleet.facilities:
        feats.append(point_feature(f.lon, f.lat, {"kind": "facility", "id": f.id, "streams": f.streams}))
    served = set(solution.served())
    step = _steps(scn, options)
    for row in scn.bins.itertuples():
        if row.bin_id in served:
            continue
        props = {"kind": "skipped", **_skipped(row.bin_id, decisions[row.bin_id], reasons, options.date, step)}
        feats.append(point_feature(row.lon, row.lat, props))
    return feature_collection(feats, plan_date=options.date.isoformat(), scenario=scn.name)


def _walk(travel: Travel, vehicle_id: str, location: int) -> float | None:
    """The crew's walk (m, one way) at a walk-out stop, rounded; None at any other stop."""
    walk = travel.walk_m(vehicle_id, location)
    return round(walk, 1) if walk > 0 or travel.side(vehicle_id, location) == WALK_OUT else None


def _fill(decisions: dict[str, Decision], bin_id: str) -> float | None:
    """A bin's predicted fill %, rounded; None where unknown."""
    d = decisions.get(bin_id)
    return None if d is None or math.isnan(d.fill_pct) else round(d.fill_pct, 1)


def _solver_reasons(solution: Solution) -> dict[str, str]:
    """Why the solver left each bin it left out (the first reason it gives)."""
    reasons: dict[str, str] = {}
    for u in solution.unserved:
        reasons.setdefault(u.bin_id, u.reason)
    return reasons


def _steps(scn: Scenario, options: PlanOptions) -> tuple[float, int]:
    """Days between two collection days, and the horizon in collection days, of this plan."""
    return scn.fleet.planning.next_opportunity_days, options.horizon_days or scn.fleet.planning.horizon_days


def _skipped(
    bin_id: str, d: Decision, reasons: Mapping[str, str], day: Date, step_days: tuple[float, int]
) -> dict[str, Any]:
    """A bin left out of the plan: its decision, why (the solver's reason first), predicted fill and overflow risk.

    ``planned_for`` is the day it is due by when that lies within the horizon (:func:`.forecast.planned_day`;
    ``step_days`` is the days between collection days and the horizon).
    """
    reason = reasons.get(bin_id, d.reason)
    fill = None if math.isnan(d.fill_pct) else round(d.fill_pct, 1)
    risk = None if math.isnan(d.p_overflow) else round(float(d.p_overflow), 4)
    return {
        "bin_id": bin_id,
        "decision": d.decision,
        "reason": reason,
        "predicted_fill_pct": fill,
        "p_overflow": risk,
        "planned_for": planned_day(d, day, False, *step_days),
    }


def round_points(solution: Solution, travel: Travel) -> list[NDArray[np.float64]]:
    """Per route of ``solution``, its bins' points as ``(n, 2)`` lon/lat rows."""
    rounds = []
    for route in solution.routes:
        points = [int(travel.slot_point[v.location]) for v in route.visits if v.kind == BIN]
        rounds.append(np.column_stack([travel.stops.lon[points], travel.stops.lat[points]]))
    return rounds


def _overlap(solution: Solution, travel: Travel, net: RoadNetwork | None) -> float:
    """Territory overlap of the plan's rounds (:func:`binroute.geo.territory.territory_overlap`)."""
    return territory_overlap(round_points(solution, travel), crs=metric_crs(travel, net))


def plan_report(
    scn: Scenario,
    options: PlanOptions,
    problem: Problem,
    solution: Solution,
    decisions: dict[str, Decision],
    notes: list[str],
    net: RoadNetwork | None,
    travel: Travel,
    legs: dict[str, list[list[Leg]]],
) -> dict[str, Any]:
    """The plan as ``plan.json``: per-vehicle stops and totals, turns, skipped bins with reasons, warnings."""
    tz = scn.fleet.timezone
    streets = street_names(net)
    bins = {b.id: b for b in problem.bins}
    kgs = {r.vehicle_id: sum(bins[b].demand[0] for b in r.bins) for r in solution.routes}
    kpis = plan_kpis(scn.fleet, problem, solution, kgs)
    vehicles: list[dict[str, Any]] = []
    for route in solution.routes:
        kg = kgs[route.vehicle_id]
        drives = [leg for trip in legs.get(route.vehicle_id, []) for leg in trip]
        u_turns = [{"lon": round(x, 7), "lat": round(y, 7), "reason": r} for leg in drives for x, y, r in leg.u_turns]
        vid = route.vehicle_id
        reversing_before = [0, *reversing_per_leg(drives)] if len(drives) == len(route.visits) - 1 else None
        entry = {
            "vehicle_id": route.vehicle_id,
            "used": route.used,
            "km": round(route.distance / 1000.0, 3),
            "hours": round(route.duration_s / 3600.0, 3),
            "bins": len(route.bins),
            "kg": kg,
            "tips": route.tips,
            "u_turns": u_turns,
            "illegal_turns": sum(leg.illegal_turns for leg in drives),
            "start": _iso(options.date, route.start_s, tz) if route.used else None,
            "end": _iso(options.date, route.end_s, tz) if route.used else None,
            "break": (
                {"start": _iso(options.date, route.break_.start_s, tz), "minutes": route.break_.duration_s / 60}
                if route.break_
                else None
            ),
            "stops": [
                {
                    "sequence": i,
                    "kind": v.kind,
                    "id": v.id,
                    "arrival": _iso(options.date, v.arrival_s, tz),
                    "eta": _iso(options.date, v.start_s, tz),
                    "departure": _iso(options.date, v.departure_s, tz),
                    "load_kg": v.load_after[0],
                    "load_l": v.load_after[1],
                    "street": _street(streets, travel.street_edge(route.vehicle_id, v.location)),
                    "side": (travel.side(route.vehicle_id, v.location) or None) if v.kind == BIN else None,
                    "predicted_fill_pct": _fill(decisions, v.id) if v.kind == BIN else None,
                    "walk_out_m": _walk(travel, route.vehicle_id, v.location) if v.kind == BIN else None,
                    "reversing_before": reversing_before[i] if reversing_before else 0,
                }
                for i, v in enumerate(route.visits)
            ],
            "reversing": turn_points(drives, REVERSING),
            "turning_place_u_turns": turn_points(drives, TURNING_PLACE),
            "walk_outs": [
                walk_out_entry(
                    i, v.id, travel.point(route.vehicle_id, v.location), travel.walk_m(route.vehicle_id, v.location)
                )
                for i, v in enumerate(route.visits)
                if v.kind == BIN and travel.side(vid, v.location) == WALK_OUT
            ],
        }
        entry.update(kpis[route.vehicle_id])
        vehicles.append(entry)
    used = [v for v in vehicles if v["used"]]
    served = set(solution.served())
    reasons = _solver_reasons(solution)
    step = _steps(scn, options)
    skipped = [_skipped(b, d, reasons, options.date, step) for b, d in decisions.items() if b not in served]
    risks = [s["p_overflow"] for s in skipped if s["p_overflow"] is not None]
    return {
        "scenario": scn.name,
        "date": options.date.isoformat(),
        "timezone": tz,
        "engine": solution.engine,
        "status": solution.status,
        "objective": round(solution.objective, 2),
        "totals": {
            "vehicles_used": len(used),
            "km": round(sum(v["km"] for v in used), 3),
            "hours": round(sum(v["hours"] for v in used), 3),
            "bins": sum(v["bins"] for v in used),
            "kg": sum(v["kg"] for v in used),
            "tips": sum(v["tips"] for v in used),
            "u_turns": sum(len(v["u_turns"]) for v in used),
            "u_turns_per_100_stops": round(
                100 * sum(len(v["u_turns"]) for v in used) / max(sum(v["bins"] for v in used), 1), 2
            ),
            "illegal_turns": sum(v["illegal_turns"] for v in used),
            **manoeuvre_totals(used),
            "territory_overlap": round(_overlap(solution, travel, net), 3),
            **total_kpis(used),
            "bins_left": len(skipped),
            "bins_left_at_risk": sum(s["decision"] == "must" for s in skipped),
            "expected_overflows_left": round(sum(risks), 3),
        },
        "turn_model": travel.model,
        "decisions": {k: sum(d.decision == k for d in decisions.values()) for k in ("must", "may", "skip")},
        "vehicles": vehicles,
        "skipped": sorted(skipped, key=lambda s: s["bin_id"]),
        "unserved_required": sorted(u.bin_id for u in solution.unserved if u.required),
        "warnings": notes,
        **_distances(scn, net),
    }


def _distances(scn: Scenario, net: RoadNetwork | None) -> dict[str, Any]:
    """What the plan's km and hours rest on: the road network (credited), or an estimate and its settings."""
    if net is not None:
        return {
            "distances": "roads",
            "network": {"source": Path(net.source).name, **net.stats},
            "attribution": OSM_ATTRIBUTION,
        }
    planning = scn.fleet.planning
    return {
        "distances": ESTIMATE,
        "network": None,
        "estimate": {
            "detour_factor": planning.detour_factor,
            "speed_kph": planning.estimate_speed_kph,
            "note": "km and hours are estimates: great-circle distances times the detour factor, at the speed",
        },
    }
