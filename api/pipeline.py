"""The daily plan: road graph → forecast → matrices → solve → GeoJSON and plan.json.

This is the one place where :mod:`geo` and :mod:`routing` meet.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import (
    OSM_ATTRIBUTION,
    PathFinder,
    RoadNetwork,
    VehicleProfile,
    load_network,
    routing_graph,
    snap_points,
    travel_matrices,
)
from geo.exports import to_gpx, vehicle_collection, write_geopackage, write_png
from geo.geojson import feature_collection, line_feature, point_feature, write_geojson
from geo.snap import Snapped
from routing import (
    Bin,
    Break,
    Depot,
    Facility,
    Limits,
    Matrix,
    Problem,
    Solution,
    SolveParams,
    TimeWindow,
    Vehicle,
    solve,
)
from routing.decide import MAY, MUST, Decision, DecisionRules, StreamDensity, decide, demand_of
from routing.forecast import fit_fill_model
from routing.solution import BIN, TIP

from .mapview import DEFAULT_TILES, map_html
from .scenario import FleetIn, Scenario, parse_hhmm

DIMENSIONS = ("kg", "litres")
STAGES = ("graph", "forecast", "matrix", "solve", "write")
DEFAULT_SERVICE_S = 45.0
SERVICE_S_PER_LITRE = 0.04


@dataclass(frozen=True)
class PlanOptions:
    """Settings of one planning run (the CLI and the API fill these in)."""

    date: Date
    time_limit_s: float | None = 30.0
    solution_limit: int | None = None
    engine: str = "auto"
    seed: int = 0
    threshold_pct: float | None = None
    include_may: bool = True


@dataclass
class PlanResult:
    problem: Problem
    solution: Solution
    decisions: dict[str, Decision]
    geojson: dict[str, Any]
    plan: dict[str, Any]
    snapped: Snapped
    network: RoadNetwork


def _present(value: Any) -> bool:
    """Whether an optional CSV field was given (not None, NaN or empty)."""
    return value is not None and value == value and value != ""


def _profile(v: Any) -> VehicleProfile:
    return VehicleProfile(
        name=f"{v.weight_t:g}t-{v.height_m:g}h-{v.width_m:g}w-{v.length_m:g}l-{v.max_speed_kph:g}kph",
        weight_t=v.weight_t,
        height_m=v.height_m,
        width_m=v.width_m,
        length_m=v.length_m,
        max_speed_kph=v.max_speed_kph,
    )


def _iso(day: Date, seconds: int, tz: str) -> str:
    ts = pd.Timestamp(day).tz_localize(tz) + pd.Timedelta(seconds=int(seconds))
    return ts.isoformat()


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
        streams=streams,
    )


def plan_scenario(
    scn: Scenario,
    options: PlanOptions,
    *,
    progress: Callable[[str], None] = lambda msg: None,
) -> PlanResult:
    """Run the whole daily plan for ``scn`` (nothing is written; see :func:`write_plan`)."""
    fleet, tz = scn.fleet, scn.fleet.timezone
    timings: dict[str, float] = {}
    notes: list[str] = []
    clock = time.perf_counter()

    progress(f"graph: loading {scn.network.name}")
    net = load_network(scn.network)
    places_lon = [d.lon for d in fleet.depots] + [f.lon for f in fleet.facilities] + scn.bins["lon"].tolist()
    places_lat = [d.lat for d in fleet.depots] + [f.lat for f in fleet.facilities] + scn.bins["lat"].tolist()
    place_ids = [d.id for d in fleet.depots] + [f.id for f in fleet.facilities] + scn.bins["bin_id"].tolist()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snapped = snap_points(net, places_lon, places_lat, ids=place_ids, max_distance_m=fleet.planning.max_snap_m)
    notes.extend(str(w.message) for w in caught)
    timings["graph"] = time.perf_counter() - clock
    progress(f"graph: {net.n_nodes} nodes, {net.n_edges} edges; {len(place_ids)} places snapped")

    clock = time.perf_counter()
    rules = decision_rules(scn.fleet, threshold_pct=options.threshold_pct)
    model = fit_fill_model(scn.readings, bins=scn.bins, tz=tz)
    collect_at = pd.Timestamp(options.date).tz_localize(tz) + pd.Timedelta(
        seconds=parse_hhmm(fleet.planning.collect_at)
    )
    decisions = decide(model, collect_at, rules)
    unknown = sorted(set(scn.readings["bin_id"]) - set(scn.bins["bin_id"]))
    if unknown:
        notes.append(
            f"{len(unknown)} bin id(s) in readings.csv are not in bins.csv and were ignored: {', '.join(unknown[:10])}"
        )
    for b in scn.bins["bin_id"]:
        if b not in decisions:
            decisions[b] = Decision(
                b,
                MAY,
                "no sensor readings: collect if passing",
                math.nan,
                math.nan,
                math.nan,
                math.nan,
                math.nan,
                prize=rules.overflow_cost * 0.5,
            )
    timings["forecast"] = time.perf_counter() - clock
    counts = pd.Series([d.decision for d in decisions.values()]).value_counts().to_dict()
    progress(f"forecast: {counts.get('must', 0)} must, {counts.get('may', 0)} may, {counts.get('skip', 0)} skip")

    clock = time.perf_counter()
    n_fixed = len(fleet.depots) + len(fleet.facilities)
    chosen = [
        i
        for i, b in enumerate(scn.bins["bin_id"])
        if decisions[b].decision == MUST or (options.include_may and decisions[b].decision == MAY)
    ]
    locations = list(range(n_fixed)) + [n_fixed + i for i in chosen]
    sub = snapped.take(locations)
    profiles = {v.id: _profile(v) for v in fleet.vehicles}
    matrices: dict[str, Matrix] = {}
    finders: dict[str, PathFinder] = {}
    for prof in {p.name: p for p in profiles.values()}.values():
        rg = routing_graph(net, prof)
        # Each kind of vehicle stops on the nearest street it may drive on.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            own = snap_points(
                net,
                np.asarray(places_lon)[locations],
                np.asarray(places_lat)[locations],
                ids=sub.ids,
                allowed=np.isfinite(rg.edge_time),
                max_distance_m=fleet.planning.max_snap_m,
            )
        # Report a vehicle profile's snapping only where it adds ids to what was said already.
        said = {i for n in notes for i in n.rsplit(": ", 1)[-1].split(", ")}
        notes.extend(
            f"vehicle profile {prof.name}: {w.message}"
            for w in caught
            if not set(str(w.message).rsplit(": ", 1)[-1].split(", ")) <= said
        )
        finders[prof.name] = PathFinder(rg, own)
        matrices[prof.name] = Matrix.from_float(*travel_matrices(rg, own))
    timings["matrix"] = time.perf_counter() - clock
    progress(f"matrix: {len(locations)} stops x {len(matrices)} vehicle profile(s)")

    clock = time.perf_counter()
    problem = _problem(scn, decisions, chosen, matrices, profiles, rules, n_fixed, locations)
    solution = solve(
        problem,
        limits=Limits(time_limit_s=options.time_limit_s, solution_limit=options.solution_limit),
        params=SolveParams(engine=options.engine, seed=options.seed),
    )
    timings["solve"] = time.perf_counter() - clock
    progress(f"solve: {solution.status}, {len(solution.served())} bins on {solution.vehicles_used} vehicle(s)")

    clock = time.perf_counter()
    streets = tuple(name or f"unnamed {kind} road" for name, kind in zip(net.name, net.highway, strict=True))
    geo = _geojson(scn, options, problem, solution, decisions, sub, finders, profiles, locations, streets)
    plan = _plan_json(scn, options, problem, solution, decisions, notes, net, sub)
    timings["write"] = time.perf_counter() - clock
    plan["timings_s"] = {k: round(timings.get(k, 0.0), 3) for k in STAGES}
    return PlanResult(problem, solution, decisions, geo, plan, snapped, net)


def _problem(
    scn: Scenario,
    decisions: dict[str, Decision],
    chosen: list[int],
    matrices: dict[str, Matrix],
    profiles: dict[str, VehicleProfile],
    rules: DecisionRules,
    n_fixed: int,
    locations: list[int],
) -> Problem:
    fleet = scn.fleet
    depot_index = {d.id: i for i, d in enumerate(fleet.depots)}
    depots = tuple(
        Depot(d.id, i, TimeWindow(parse_hhmm(d.opens), parse_hhmm(d.closes))) for i, d in enumerate(fleet.depots)
    )
    facilities = tuple(
        Facility(
            f.id,
            len(fleet.depots) + i,
            frozenset(f.streams),
            TimeWindow(parse_hhmm(f.opens), parse_hhmm(f.closes)),
            round(f.tip_minutes * 60),
        )
        for i, f in enumerate(fleet.facilities)
    )
    bins = []
    rows = scn.bins.to_dict("records")
    for k, i in enumerate(chosen):
        row = rows[i]
        dec = decisions[row["bin_id"]]
        fill = dec.fill_pct if not math.isnan(dec.fill_pct) else 100.0
        kg, litres = demand_of(fill, row["capacity_l"], row["stream"], rules)
        service = row.get("service_s")
        if not _present(service):
            service = DEFAULT_SERVICE_S + SERVICE_S_PER_LITRE * row["capacity_l"]
        window = None
        if _present(row.get("tw_start")) and _present(row.get("tw_end")):
            window = TimeWindow(parse_hhmm(row["tw_start"]), parse_hhmm(row["tw_end"]))
        bins.append(
            Bin(
                id=row["bin_id"],
                location=n_fixed + k,
                demand=(math.ceil(kg), math.ceil(litres)),
                stream=row["stream"],
                service_s=round(service),
                window=window,
                required=dec.decision == MUST,
                prize=dec.prize,
            )
        )
    vehicles = []
    for v in fleet.vehicles:
        brk = None
        if v.break_ is not None:
            brk = Break(parse_hhmm(v.break_.earliest), parse_hhmm(v.break_.latest), round(v.break_.minutes * 60))
        vehicles.append(
            Vehicle(
                id=v.id,
                start_depot=depot_index[v.depot],
                end_depot=depot_index[v.end_depot or v.depot],
                capacity=(int(v.capacity_kg), int(v.capacity_l)),
                profile=profiles[v.id].name,
                streams=frozenset(v.streams),
                shift=TimeWindow(parse_hhmm(v.shift_start), parse_hhmm(v.shift_end)),
                max_duration_s=round(v.max_shift_hours * 3600) if v.max_shift_hours else None,
                break_=brk,
                fixed_cost=v.fixed_cost,
                cost_per_distance=v.cost_per_km / 1000.0,
                cost_per_hour=v.cost_per_hour,
                max_lifts=v.max_lifts,
                max_load_per_day=(int(v.max_kg_per_day), 10**9) if v.max_kg_per_day else None,
            )
        )
    return Problem(
        matrices=matrices,
        depots=depots,
        bins=tuple(bins),
        vehicles=tuple(vehicles),
        facilities=facilities,
        dimensions=DIMENSIONS,
        balance_weight=fleet.planning.balance_weight,
        location_ids=tuple(str(x) for x in locations),
    )


def _geojson(scn, options, problem, solution, decisions, sub, finders, profiles, locations, network_names):
    tz = scn.fleet.timezone
    bins_by_id = scn.bins.set_index("bin_id")
    feats: list[dict[str, Any]] = []

    def street(location: int) -> str:
        return network_names[int(sub.edge[location])]

    for route in solution.routes:
        if not route.used:
            continue
        finder = finders[profiles[route.vehicle_id].name]
        for n, trip in enumerate(route.trips(), start=1):
            coords = finder.route([v.location for v in trip])
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
            props["street"] = street(visit.location)
            if visit.kind == BIN:
                d = decisions[visit.id]
                props.update(
                    predicted_fill_pct=round(d.fill_pct, 1) if not math.isnan(d.fill_pct) else None,
                    decision=d.decision,
                    stream=str(bins_by_id.at[visit.id, "stream"]),
                )
            feats.append(point_feature(sub.lon[visit.location], sub.lat[visit.location], props))
    for _i, d in enumerate(scn.fleet.depots):
        feats.append(point_feature(d.lon, d.lat, {"kind": "depot", "id": d.id}))
    for f in scn.fleet.facilities:
        feats.append(point_feature(f.lon, f.lat, {"kind": "facility", "id": f.id, "streams": f.streams}))
    served = set(solution.served())
    for row in scn.bins.itertuples():
        if row.bin_id in served:
            continue
        d = decisions[row.bin_id]
        feats.append(
            point_feature(
                row.lon,
                row.lat,
                {
                    "kind": "skipped",
                    "bin_id": row.bin_id,
                    "decision": d.decision,
                    "reason": _skip_reason(row.bin_id, d, solution),
                    "predicted_fill_pct": None if math.isnan(d.fill_pct) else round(d.fill_pct, 1),
                },
            )
        )
    return feature_collection(feats, plan_date=options.date.isoformat(), scenario=scn.name)


def _fill(decisions: dict[str, Decision], bin_id: str) -> float | None:
    d = decisions.get(bin_id)
    return None if d is None or math.isnan(d.fill_pct) else round(d.fill_pct, 1)


def _skip_reason(bin_id: str, d: Decision, solution: Solution) -> str:
    for u in solution.unserved:
        if u.bin_id == bin_id:
            return u.reason
    return d.reason


def _plan_json(scn, options, problem, solution, decisions, notes, net, sub) -> dict[str, Any]:
    tz = scn.fleet.timezone
    bins = {b.id: b for b in problem.bins}
    vehicles = []
    for route in solution.routes:
        kg = sum(bins[b].demand[0] for b in route.bins)
        entry = {
            "vehicle_id": route.vehicle_id,
            "used": route.used,
            "km": round(route.distance / 1000.0, 3),
            "hours": round(route.duration_s / 3600.0, 3),
            "bins": len(route.bins),
            "kg": kg,
            "tips": route.tips,
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
                    "street": net.name[int(sub.edge[v.location])]
                    or f"unnamed {net.highway[int(sub.edge[v.location])]} road",
                    "predicted_fill_pct": _fill(decisions, v.id) if v.kind == BIN else None,
                }
                for i, v in enumerate(route.visits)
            ],
        }
        vehicles.append(entry)
    used = [v for v in vehicles if v["used"]]
    served = set(solution.served())
    skipped = []
    for b, d in decisions.items():
        if b in served:
            continue
        skipped.append(
            {
                "bin_id": b,
                "decision": d.decision,
                "reason": _skip_reason(b, d, solution),
                "predicted_fill_pct": None if math.isnan(d.fill_pct) else round(d.fill_pct, 1),
            }
        )
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
        },
        "decisions": {k: sum(d.decision == k for d in decisions.values()) for k in ("must", "may", "skip")},
        "vehicles": vehicles,
        "skipped": sorted(skipped, key=lambda s: s["bin_id"]),
        "unserved_required": sorted(u.bin_id for u in solution.unserved if u.required),
        "warnings": notes,
        "network": {"source": Path(net.source).name, **net.stats},
        "attribution": OSM_ATTRIBUTION,
    }


EXPORTS = ("map", "vehicles", "csv", "gpx", "gpkg", "png")
SHEET_COLUMNS = (
    "sequence",
    "kind",
    "id",
    "street",
    "arrival",
    "eta",
    "departure",
    "predicted_fill_pct",
    "load_kg",
    "load_l",
)


def safe_name(text: str) -> str:
    """A file name made from an id (ids come from user files and are never used as paths)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned or "vehicle"


def route_sheet(vehicle: dict[str, Any]) -> str:
    """A crew's route sheet as CSV: every stop and tip in order, and the break."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SHEET_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    rows = list(vehicle["stops"])
    brk = vehicle.get("break")
    if brk:
        at = next((i for i, r in enumerate(rows) if r["eta"] > brk["start"]), len(rows))
        rows.insert(at, {"sequence": "", "kind": "break", "id": f"{brk['minutes']:g} min", "eta": brk["start"]})
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in SHEET_COLUMNS})
    return out.getvalue()


def write_plan(
    result: PlanResult,
    out_dir: str | Path,
    *,
    exports: tuple[str, ...] = EXPORTS,
    tiles: str | None = DEFAULT_TILES,
) -> dict[str, Path]:
    """Write ``routes.geojson`` and ``plan.json`` into ``out_dir``, plus the chosen exports.

    ``map`` → ``map.html``; ``vehicles`` → ``vehicles/<id>.geojson``; ``csv`` →
    ``sheets/<id>.csv``; ``gpx`` → ``gpx/<id>.gpx``; ``gpkg`` → ``plan.gpkg``;
    ``png`` → ``overview.png``.
    """
    began = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    geo_fc, plan = result.geojson, result.plan
    files = {"routes": write_geojson(geo_fc, out / "routes.geojson")}
    used = [v for v in plan["vehicles"] if v["used"]]
    if "map" in exports:
        files["map"] = out / "map.html"
        files["map"].write_text(map_html(geo_fc, plan, tiles=tiles), encoding="utf-8")
    for kind, folder, suffix in (("vehicles", "vehicles", "geojson"), ("csv", "sheets", "csv"), ("gpx", "gpx", "gpx")):
        if kind not in exports:
            continue
        (out / folder).mkdir(exist_ok=True)
        for v in used:
            target = out / folder / f"{safe_name(v['vehicle_id'])}.{suffix}"
            if kind == "vehicles":
                write_geojson(vehicle_collection(geo_fc, v["vehicle_id"]), target)
            elif kind == "csv":
                target.write_text(route_sheet(v), encoding="utf-8")
            else:
                target.write_text(to_gpx(geo_fc, v["vehicle_id"]), encoding="utf-8")
        files[kind] = out / folder
    if "gpkg" in exports:
        files["gpkg"] = write_geopackage(geo_fc, out / "plan.gpkg")
    if "png" in exports:
        files["png"] = write_png(
            geo_fc, result.network, out / "overview.png", title=f"{plan['scenario']} {plan['date']}"
        )
    # The plan as written counts this write too; ``result.plan`` itself stays as it was.
    timings = dict(plan["timings_s"])
    timings["write"] = round(timings.get("write", 0.0) + time.perf_counter() - began, 3)
    plan = {**plan, "timings_s": timings}
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(plan, indent=2, ensure_ascii=False), encoding="utf-8")
    files["plan"] = plan_path
    return files


def forecast_bins(
    readings: pd.DataFrame, bins: pd.DataFrame | None, tz: str, fleet: FleetIn | None, when: pd.Timestamp
) -> dict[str, Any]:
    """Per-bin forecast at ``when`` as served by ``binroute forecast --json`` and the API."""
    rules = decision_rules(fleet)
    model = fit_fill_model(readings, bins=bins, tz=tz)
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
            }
            for b, d in decisions.items()
        },
    }
