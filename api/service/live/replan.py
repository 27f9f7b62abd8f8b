"""Re-planning the rest of a day from what the crews reported: a new version of the plan.

From the day's events up to the re-plan's time: bins emptied or reported with an
exception (not out, blocked, contaminated, damaged) are settled and leave the
work; bins reported overflowing or missed join it as required; a crew that
reported a breakdown drops out and its stops go to the others. Each crew still
out starts where it was last seen (its last stop, or the bin nearest its last
position, or where the plan has it at that time), with its shift, break and room
left (:func:`binroute.routing.midday_problem`), and keeps its remaining stops
unless moving them saves a lot (:func:`binroute.routing.replan`). The routes are
checked by the independent checker, and the outcome is stored as the plan's next
version with the change per crew.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from binroute.geo import load_network
from binroute.routing import (
    CrewNow,
    Limits,
    Problem,
    ProblemError,
    Solution,
    SolveParams,
    check_solution,
    fleet_shortfall,
    midday_problem,
    replan,
)
from binroute.routing.forecast import MAY, MUST, Decision, demand_of

from ...pipeline import PlanOptions, load_scenario
from ...pipeline.forecast import decision_rules
from ...pipeline.mapview import map_html
from ...pipeline.problem import build_problem
from ...pipeline.report import plan_geojson, plan_report, route_legs, street_names
from ...pipeline.roads import places_of, snap_places, travel
from ...pipeline.scenario import Scenario
from ..db import EventRow, PlanRow, ScenarioRow
from ..jobs import export_scenario
from ..schemas import FILL_SEEN, STOP_KINDS
from .day import day_crews, stop_states

#: Fill taken for a bin reported overflowing or missed, when the plan had no forecast for it.
REPORTED_FILL_PCT = 100.0


@dataclass(frozen=True)
class ReplanRequest:
    """When to re-plan as of (naive UTC), each solve's limits, the seed, and the saving that moves stops."""

    at: datetime
    time_limit_s: float | None = None  # with no solution limit either: scaled to the stops left
    solution_limit: int | None = None
    seed: int = 0
    keep_unless_saves: float = 0.10


@dataclass
class ReplanOutcome:
    """The new version's contents and what changed."""

    plan: dict[str, Any]
    geojson: dict[str, Any]
    map_html: str
    choice: str
    kept_share: float
    costs: tuple[float, float]  # kept, moved
    changes: list[dict[str, Any]]
    unserved_required: list[str]
    feasible: bool
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    move_cost: float = 0.0
    fleet_short: str | None = None
    unserved_why: dict[str, list[str]] = field(default_factory=dict)


def _utc(iso: str) -> datetime:
    moment: datetime = pd.Timestamp(iso).tz_convert("UTC").tz_localize(None).to_pydatetime()
    return moment


def _nearest_bin(bins: pd.DataFrame, lon: float, lat: float) -> str:
    """The id of the scenario's bin nearest a position (equirectangular distance, fine at street scale)."""
    dx = (bins["lon"].to_numpy(float) - lon) * math.cos(math.radians(lat))
    dy = bins["lat"].to_numpy(float) - lat
    return str(bins["bin_id"].iloc[int(np.argmin(dx * dx + dy * dy))])


@dataclass(frozen=True)
class _Crew:
    """What the events and the current version say about one crew at the re-plan's time."""

    vehicle_id: str
    anchor: str | None  # the bin where it is; None: its depot
    keeps: tuple[str, ...]
    route: tuple[str, ...]  # its remaining bins and tips in the current version's order
    load: tuple[float, float]
    lifts: int


def _crew_states(
    plan: Mapping[str, Any],
    day: Collection[str],
    events: Sequence[EventRow],
    settled: set[str],
    scn: Scenario,
    at: datetime,
) -> tuple[list[_Crew], list[str], dict[str, str]]:
    """The ``day``'s crews still out, the broken-down ones, and who had each remaining bin in the current version.

    A crew with no stops left in the current version is still out (its shift permitting).
    """
    rules = decision_rules(scn.fleet)
    info = scn.bins.set_index("bin_id")
    broken = sorted({e.vehicle_id for e in events if e.kind == "breakdown" and e.vehicle_id})
    crews, owner = [], {}
    for v in plan["vehicles"]:
        vid = v["vehicle_id"]
        if vid not in day:
            continue
        stops = [s for s in v["stops"] if s["kind"] == "bin"]
        keeps = tuple(s["id"] for s in stops if s["id"] not in settled)
        owner.update({b: vid for b in keeps})
        done_at = max((i for i, s in enumerate(v["stops"]) if s["kind"] == "bin" and s["id"] in settled), default=0)
        route = tuple(
            s["id"]
            for s in v["stops"][done_at + 1 :]
            if (s["kind"] == "bin" and s["id"] not in settled) or s["kind"] == "tip"
        )
        if vid in broken:
            continue
        mine = [e for e in events if e.vehicle_id == vid]
        seen = next((e for e in reversed(mine) if e.lon is not None or e.kind in STOP_KINDS), None)
        if seen is not None and seen.lon is not None and seen.lat is not None and seen.bin_id is None:
            anchor: str | None = _nearest_bin(scn.bins, seen.lon, seen.lat)
        elif seen is not None and seen.bin_id is not None:
            anchor = seen.bin_id
        else:  # nothing reported: where the plan has it now
            passed = [s for s in stops if _utc(s["departure"]) <= at]
            anchor = passed[-1]["id"] if passed else None
        tips = [_utc(s["eta"]) for s in v["stops"] if s["kind"] == "tip" and _utc(s["eta"]) <= at]
        since = max(tips) if tips else None
        kg = litres = 0.0
        lifts = 0
        for e in mine:
            if e.kind != "done" or e.bin_id is None or e.bin_id not in info.index:
                continue
            lifts += 1
            if since is None or e.at > since:
                row = info.loc[e.bin_id]
                a, b = demand_of(FILL_SEEN[e.fill or "full"], float(row["capacity_l"]), str(row["stream"]), rules)
                kg, litres = kg + a, litres + b
        crews.append(_Crew(vid, anchor, keeps, route, (kg, litres), lifts))
    return crews, broken, owner


def _decisions(scn: Scenario, plan: Mapping[str, Any], required: set[str], prize: float) -> dict[str, Decision]:
    """A decision for every bin: required for ``required``, optional at ``prize`` for the rest (never routed)."""
    fill = {s["id"]: s.get("predicted_fill_pct") for v in plan["vehicles"] for s in v["stops"] if s["kind"] == "bin"}
    fill.update({s["bin_id"]: s.get("predicted_fill_pct") for s in plan.get("skipped", [])})
    nan = float("nan")
    out = {}
    for b in scn.bins["bin_id"]:
        pct = fill.get(b)
        pct = REPORTED_FILL_PCT if pct is None else float(pct)
        kind, why = (MUST, "to collect for the rest of the day") if b in required else (MAY, "settled or not planned")
        out[b] = Decision(b, kind, why, pct, nan, nan, nan, nan, prize)
    return out


def replan_day(
    s: Session,
    root: PlanRow,
    newest: PlanRow,
    scenario: ScenarioRow,
    events: Sequence[EventRow],
    request: ReplanRequest,
    workdir: Path,
    networks: Path | None = None,
) -> ReplanOutcome:
    """Re-plan the rest of ``root``'s day from ``newest`` and the events up to ``request.at``.

    ``networks`` is the folder of the scenarios' network files (default: ``workdir / "networks"``); the
    plans' own, so that the drives their solves searched (kept beside the network file,
    :func:`binroute.geo.kept_place_matrices`) are read, and only those to and from places new to the day searched.

    Raises
    ------
    ProblemError
        When no crew is left with any shift (every one broken down or done for the day).
    """
    began = time.perf_counter()
    stages: dict[str, float] = {}
    lap = [began]

    def stage(name: str) -> None:
        t = time.perf_counter()
        stages[name] = round(stages.get(name, 0.0) + t - lap[0], 3)
        lap[0] = t

    plan: dict[str, Any] = json.loads(newest.summary_json or "{}")
    options = PlanOptions.from_json(json.loads(root.options_json))
    events = [e for e in events if e.at <= request.at]
    states = stop_states(events)
    settled = set(states)
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        export_scenario(s, scenario, Path(tmp) / "scenario", networks or workdir / "networks", fill_data=False)
        scn = load_scenario(Path(tmp) / "scenario")
        if scn.network is None:  # the service keeps a network with every scenario
            raise ProblemError("the scenario has no road network to re-plan on")
        net = load_network(scn.network)
    stage("scenario")
    crews, broken, owner = _crew_states(
        plan, day_crews(root.summary_json, newest.summary_json), events, settled, scn, request.at
    )
    if not crews:
        raise ProblemError("no crew is out: every one reported a breakdown")
    reported = {e.bin_id for e in events if e.kind in ("overflow", "missed") and e.bin_id is not None}
    added = {b for b in reported if states.get(b) is None or states[b].at < _last_report(events, b)} - set(owner)
    work = set(owner) | added
    anchors = {c.anchor for c in crews if c.anchor is not None}
    ids = scn.bins["bin_id"].tolist()
    chosen = [i for i, b in enumerate(ids) if b in work or b in anchors]
    notes: list[str] = []
    places = places_of(scn)
    snapped = snap_places(net, places, max_snap_m=scn.fleet.planning.max_snap_m, notes=notes)
    stage("states_snap")
    locations = list(range(places.n_fixed)) + [places.n_fixed + i for i in chosen]
    sides = scn.bins["side"].tolist() if "side" in scn.bins.columns else [None] * len(ids)
    roads = travel(
        net, places, snapped, locations, scn.fleet, notes=notes, side_rules=[sides[i] or "auto" for i in chosen]
    )
    stage("matrices")
    rules = decision_rules(scn.fleet, threshold_pct=options.threshold_pct)
    decisions = _decisions(scn, plan, work, rules.overflow_cost)
    problem = build_problem(
        scn, decisions, rules, chosen=chosen, locations=locations, n_fixed=places.n_fixed, travel=roads
    )
    where = {b.id: b.location for b in problem.bins}
    depot_of = {v.id: problem.depots[v.start_depot].location for v in problem.vehicles}
    now_s = int(
        (request.at - _utc(pd.Timestamp(options.date).tz_localize(scn.fleet.timezone).isoformat())).total_seconds()
    )
    now = [
        CrewNow(
            c.vehicle_id,
            where[c.anchor] if c.anchor is not None else depot_of[c.vehicle_id],
            (math.ceil(c.load[0]), math.ceil(c.load[1])),
            c.lifts,
            c.keeps,
        )
        for c in crews
    ]
    rest = midday_problem(problem, now, [b for b in problem.bins if b.id in work], now_s)
    keeps = {b: c.vehicle_id for c in crews for b in c.keeps}
    stage("problem")
    limits = (
        None  # each solve's time scaled to the stops left (routing.replan_time_limit)
        if request.time_limit_s is None and request.solution_limit is None
        else Limits(time_limit_s=request.time_limit_s, solution_limit=request.solution_limit)
    )
    params = SolveParams(engine="ortools", seed=request.seed)
    result = replan(
        rest,
        keeps,
        limits=limits,
        params=params,
        keep_unless_saves=request.keep_unless_saves,
        routes={c.vehicle_id: c.route for c in crews},
    )
    solution = result.solution
    stage("solves")
    report = check_solution(rest, solution)
    short = fleet_shortfall(_from_home(rest), solution)
    stage("checker")
    legs = route_legs(solution, roads)
    geo = plan_geojson(scn, options, solution, decisions, roads, street_names(net), legs)
    summary = plan_report(scn, options, rest, solution, decisions, notes, net, roads, legs)
    stage("report")
    served = {b: r.vehicle_id for r in solution.routes for b in r.bins}
    changes = _changes(plan, day_crews(root.summary_json, newest.summary_json), owner, served, added, states)
    remaining = list(keeps)
    kept = sum(served.get(b) == keeps[b] for b in remaining)
    summary["replan"] = {
        "at": request.at.isoformat() + "Z",
        "replaces": newest.id,
        "choice": result.choice,
        "changes": changes,
        "added": sorted(added),
        "broken_down": broken,
        "settled": len(settled),
        "fleet_short": short.message() if short else None,
    }
    summary["timings_s"] = stages  # this re-plan's seconds by stage (the map's is added below)
    page = map_html(geo, summary, tiles=json.loads(root.options_json).get("tiles"))
    stage("map")
    return ReplanOutcome(
        plan=summary,
        geojson=geo,
        map_html=page,
        choice=result.choice,
        costs=(round(result.kept_rank[1], 2), round(result.moved_rank[1], 2)),
        kept_share=round(kept / len(remaining), 4) if remaining else 1.0,
        changes=changes,
        unserved_required=sorted(u.bin_id for u in solution.unserved if u.required),
        feasible=report.ok,
        violations=list(report.violations),
        seconds=round(time.perf_counter() - began, 3),
        move_cost=round(result.move_cost, 2),
        fleet_short=short.message() if short else None,
        unserved_why=_why(solution),
    )


def _why(solution: Solution) -> dict[str, list[str]]:
    """The required bins left, by the reason each was left."""
    out: dict[str, list[str]] = {}
    for u in solution.unserved:
        if u.required:
            out.setdefault(u.reason, []).append(u.bin_id)
    return {why: sorted(bins) for why, bins in sorted(out.items())}


def _from_home(rest: Problem) -> Problem:
    """The rest of the day with each crew starting from its home depot: where a crew added to serve the bins
    left would come from (the fleet's shortfall names that depot, not a crew's position now)."""
    vehicles = tuple(dataclasses.replace(v, start_depot=v.end_depot) for v in rest.vehicles)
    return dataclasses.replace(rest, vehicles=vehicles)


def _last_report(events: Sequence[EventRow], bin_id: str) -> datetime:
    """When a bin was last reported overflowing or missed."""
    return max(e.at for e in events if e.bin_id == bin_id and e.kind in ("overflow", "missed"))


def _changes(
    plan: Mapping[str, Any],
    day: Collection[str],
    owner: Mapping[str, str],
    served: Mapping[str, str],
    added: set[str],
    states: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Per crew of the current version: stops kept, moved in and out (counts, bin ids), added, dropped, stops now."""
    out = []
    for v in plan["vehicles"]:
        vid = v["vehicle_id"]
        if vid not in day:
            continue
        mine = [b for b, who in owner.items() if who == vid]
        now = [b for b, who in served.items() if who == vid]
        planned = [s["id"] for s in v["stops"] if s["kind"] == "bin"]
        moved_in = sorted(b for b in now if owner.get(b) not in (None, vid))
        moved_out = sorted(b for b in mine if served.get(b) not in (None, vid))
        out.append(
            {
                "vehicle_id": vid,
                "kept": sum(served.get(b) == vid for b in mine),
                "moved_in": len(moved_in),
                "moved_out": len(moved_out),
                "moved_in_bins": moved_in,
                "moved_out_bins": moved_out,
                "added": sum(b in added for b in now),
                "dropped": sum(b in states and states[b].kind != "done" for b in planned),
                "stops": len(now),
            }
        )
    return out
