"""Simulating collection policies over past days, planned with the real pipeline.

Each morning a policy (:mod:`.policies`) decides from the readings it would
have seen by then: the simulated levels (:mod:`.replay`) at the real reading
times, so a bin it emptied reads low afterwards. The day is then planned like
``binroute plan`` (the same problem building, solver and one plan cost), with
the road network, snapping and travel matrices built once for every bin and
shared by all days and policies; the bins on the plan are emptied at their
planned times. Every day's crews, km, hours, CO2, cost and overflows are
kept (:mod:`.kpis`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from typing import Any

import pandas as pd

from geo import load_network
from routing import Limits, SolveParams, solve
from routing.decide import MAY, MUST, SKIP, Decision

from .errors import ScenarioError
from .forecast import collect_at_s, decide_bins, decision_rules
from .kpis import SUMMED, plan_kpis, total_kpis
from .options import DEFAULT_ENGINE
from .policies import PREDICTIVE, Policy, bins_due
from .problem import build_problem
from .replay import FULL_PCT, Replay, traces_from_readings
from .roads import Travel, places_of, snap_places, travel
from .scenario import Scenario, parse_hhmm

#: Days of readings a simulation needs before its first day (to fit the forecast).
MIN_HISTORY_DAYS = 7
#: The per-day figures kept for each policy, summed into its totals.
DAY_FIGURES = ("crews_used", *SUMMED, "overflow_bin_days", "bins_at_risk", "due_not_served")


@dataclass(frozen=True)
class SimOptions:
    """Settings of a simulation: the days, and the solver's limits per day."""

    start: Date
    end: Date
    time_limit_s: float | None = None
    solution_limit: int | None = 30
    engine: str = DEFAULT_ENGINE
    seed: int = 0


def check_dates(scn: Scenario, start: Date, end: Date) -> None:
    """That ``start``..``end`` lies within the readings, after :data:`MIN_HISTORY_DAYS` of history.

    Raises
    ------
    ScenarioError
        Naming the date and the span of the data.
    """
    if end < start:
        raise ScenarioError(f"--to {end} is before --from {start}")
    stamps = scn.readings["timestamp"].dt.tz_convert(scn.fleet.timezone)
    if stamps.empty:
        raise ScenarioError(f"{scn.name}: no readings to replay (simulate needs readings.csv)")
    first, last = stamps.min().date(), stamps.max().date()
    if start < first + timedelta(days=MIN_HISTORY_DAYS):
        raise ScenarioError(
            f"--from {start}: too little history before it; the readings start on {first}, "
            f"so the first day to simulate is {first + timedelta(days=MIN_HISTORY_DAYS)}"
        )
    if end > last:
        raise ScenarioError(f"--to {end}: after the last reading ({last}); the data cover {first} to {last}")


@dataclass
class _Roads:
    """The day-independent part of planning: every bin snapped, one travel model for all of them."""

    travel: Travel
    n_fixed: int

    def for_bins(self, chosen: Sequence[int]) -> Travel:
        """The travel model seen by a day that routes the bins of rows ``chosen``."""
        slots = self.travel.slots[: self.n_fixed] + [self.travel.slots[self.n_fixed + i] for i in chosen]
        return dataclasses.replace(self.travel, slots=slots)


def _roads(scn: Scenario, notes: list[str]) -> _Roads:
    """Load the network, snap every place and build the matrices once."""
    net = load_network(scn.network)
    places = places_of(scn)
    snapped = snap_places(net, places, max_snap_m=scn.fleet.planning.max_snap_m, notes=notes)
    sides = scn.bins["side"].tolist() if "side" in scn.bins.columns else [None] * len(scn.bins)
    every = list(range(len(places.ids)))
    roads = travel(net, places, snapped, every, scn.fleet, notes=notes, side_rules=[s or "auto" for s in sides])
    return _Roads(roads, places.n_fixed)


def _midnight(day: Date, tz: str) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(tz)


def _seen_frames(scn: Scenario, replay: Replay, until: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Readings and collections a policy holds at ``until`` (ns): real before the start, simulated after."""
    real = scn.readings[scn.readings["timestamp"].astype("int64") < replay.start]
    rows = [(b, t, v) for b, seq in replay.readings.items() for t, v in seq if t <= until]
    sim = pd.DataFrame(rows, columns=["bin_id", "timestamp", "fill_pct"])
    sim["timestamp"] = pd.to_datetime(sim["timestamp"].astype("int64"), utc=True)
    readings = pd.concat([real, sim], ignore_index=True)
    collections = None
    if scn.collections is not None or replay.emptied:
        done = pd.DataFrame(
            [(b, t, min(v, FULL_PCT), math.nan) for b, t, v in replay.emptied if t <= until],
            columns=["bin_id", "collected_at", "fill_pct", "kg"],
        )
        done["collected_at"] = pd.to_datetime(done["collected_at"].astype("int64"), utc=True)
        parts = [done]
        if scn.collections is not None:
            before = scn.collections["collected_at"].astype("int64") < replay.start
            parts.insert(0, scn.collections[before])
        collections = pd.concat(parts, ignore_index=True)
    return readings, collections


def _decisions(scn: Scenario, policy: Policy, day: Date, replay: Replay, morning: int) -> dict[str, Decision]:
    """What ``policy`` collects on ``day``, as the pipeline's decisions (the bins it collects are ``must``)."""
    rules = decision_rules(scn.fleet)
    if policy.kind == PREDICTIVE:
        readings, collections = _seen_frames(scn, replay, morning)
        return decide_bins(dataclasses.replace(scn, readings=readings, collections=collections), day, rules, notes=[])
    seen = replay.last_seen(morning)
    due = set(bins_due(policy, day, seen))
    nan = math.nan
    return {
        b: Decision(b, MUST if b in due else SKIP, policy.name, seen.get(b, nan), nan, nan, nan, nan)
        for b in scn.bins["bin_id"]
    }


def _empty_day() -> dict[str, Any]:
    return {k: 0 for k in DAY_FIGURES} | {"utilisation": None}


def simulate_policy(
    scn: Scenario,
    policy: Policy,
    options: SimOptions,
    *,
    roads: _Roads,
    progress: Callable[[str], None] = lambda msg: None,
) -> dict[str, Any]:
    """Replay ``options.start``..``options.end`` under ``policy``: per day its figures, and the totals."""
    tz = scn.fleet.timezone
    rules = decision_rules(scn.fleet)
    start = _midnight(options.start, tz)
    replay = Replay(traces_from_readings(scn.readings), int(start.value))
    rows = scn.bins["bin_id"].tolist()
    morning_s = min(parse_hhmm(v.shift_start) for v in scn.fleet.vehicles)
    days = []
    day = options.start
    while day <= options.end:
        midnight = _midnight(day, tz)
        morning = int((midnight + pd.Timedelta(seconds=min(morning_s, collect_at_s(scn.fleet)))).value)
        decisions = _decisions(scn, policy, day, replay, morning)
        chosen = [i for i, b in enumerate(rows) if decisions[b].decision in (MUST, MAY)]
        figures = _empty_day()
        emptyings: dict[str, int] = {}
        if chosen:
            sub = roads.for_bins(chosen)
            problem = build_problem(
                scn, decisions, rules, chosen=chosen, locations=[], n_fixed=roads.n_fixed, travel=sub
            )
            solution = solve(
                problem,
                limits=Limits(time_limit_s=options.time_limit_s, solution_limit=options.solution_limit),
                params=SolveParams(engine=options.engine, seed=options.seed),
            )
            bins = {b.id: b for b in problem.bins}
            kgs = {r.vehicle_id: float(sum(bins[b].demand[0] for b in r.bins)) for r in solution.routes}
            figures.update(total_kpis(plan_kpis(scn.fleet, problem, solution, kgs).values()))
            figures["due_not_served"] = sum(u.required for u in solution.unserved)
            for route in solution.routes:
                for visit in route.visits:
                    if visit.id in bins and visit.kind == "bin":
                        emptyings[visit.id] = int((midnight + pd.Timedelta(seconds=visit.start_s)).value)
        outcome = replay.day(int(midnight.value), int((midnight + pd.Timedelta(days=1)).value), emptyings)
        figures["overflow_bin_days"] = len(outcome.overflowing)
        figures["bins_at_risk"] = sum(rules.threshold_pct <= level <= FULL_PCT for level in outcome.levels.values())
        days.append({"date": day.isoformat(), **figures})
        progress(
            f"{policy.name} {day}: {figures['lifts']} lifts, {figures['crews_used']} crew(s), "
            f"{figures['km']:.1f} km, {figures['overflow_bin_days']} overflowing"
        )
        day += timedelta(days=1)
    return {"policy": policy.name, "totals": sum_days(days), "days": days}


def sum_days(days: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A policy's totals over its days; utilisation is hours worked over hours paid."""
    out: dict[str, Any] = {"days": len(days)}
    for key in DAY_FIGURES:
        out[key] = round(sum(d[key] for d in days), 3)
    out["crew_days"] = out.pop("crews_used")
    out["utilisation"] = round(out["hours"] / out["paid_hours"], 3) if out["paid_hours"] else None
    return out


def simulate(
    scn: Scenario,
    policies: Sequence[Policy],
    options: SimOptions,
    *,
    progress: Callable[[str], None] = lambda msg: None,
) -> dict[str, Any]:
    """Simulate every policy over the same days; the result is ``simulation.json``.

    Raises
    ------
    ScenarioError
        When the days are outside the data or too little history comes before them.
    """
    check_dates(scn, options.start, options.end)
    notes: list[str] = []
    progress("roads: snapping every bin and building the matrices once")
    roads = _roads(scn, notes)
    results = [simulate_policy(scn, p, options, roads=roads, progress=progress) for p in policies]
    return {
        "scenario": scn.name,
        "from": options.start.isoformat(),
        "to": options.end.isoformat(),
        "solver": {
            "engine": options.engine,
            "time_limit_s": options.time_limit_s,
            "solution_limit": options.solution_limit,
            "seed": options.seed,
        },
        "policies": {r["policy"]: {"totals": r["totals"], "days": r["days"]} for r in results},
        "warnings": notes,
    }
