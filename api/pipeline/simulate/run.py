"""Simulating collection policies over past days, planned with the real pipeline.

Each morning a policy (:mod:`.policies`) decides from the readings it would
have seen by then: the simulated levels (:mod:`.replay`) at the real reading
times, so a bin it emptied reads low afterwards. The day is then planned like
``binroute plan`` (the same problem building, solver and one plan cost), with
the road network, snapping and travel matrices built once for every bin and
shared by all days and policies; the bins on the plan are emptied at their
planned times. Every day's crews, km, hours, CO2, cost, overflows, waste
spilled and wasted lifts are kept (:mod:`.kpis`).

A *log-only* scenario (``collections.csv`` and no readings) is replayed from
its log (:func:`.replay.traces_from_log`: a steady rate between logged
emptyings). Without sensors a policy sees no levels: ``predictive`` learns
from the real log before the first day and, after it, from its own
simulated collections (their fill as the log would record it, in the log's
steps), as a council without sensors does; ``as-logged`` collects the bins
the log really emptied each day; ``threshold`` needs readings.

Without a road network the matrices are estimates
(:func:`~binroute.api.pipeline.roads.estimate_travel`); ``simulation.json``
then says ``"distances": "estimate"`` and lists the assumption.

A policy's days depend on each other (levels carry over), but policies are
independent: with ``jobs`` above one, policies' day sequences run at once,
in this process and in helper processes (:mod:`binroute._processes`), the
scenario's and matrices' large arrays handed over once as read-only
memory-mapped files. The result is the same as one process's.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from binroute._processes import TELL, Call, Pool
from binroute.geo import load_network
from binroute.routing import Limits, SolveParams, solve
from binroute.routing.forecast import MAY, MUST, SKIP, Decision, DecisionRules, fit_fill_model

from ..errors import ScenarioError
from ..forecast import collect_at_s, decide_bins, decision_rules
from ..kpis import SUMMED, plan_kpis, total_kpis
from ..options import DEFAULT_ENGINE
from ..problem import build_problem
from ..roads import ESTIMATE, Travel, estimate_travel, places_of, snap_places, travel
from ..scenario import Scenario, parse_hhmm
from .policies import (
    AS_LOGGED,
    CLAIRVOYANT,
    PREDICTIVE,
    THRESHOLD,
    Policy,
    PolicyError,
    bins_due,
    logged_on,
    parse_policy,
)
from .replay import FULL_PCT, WASTED_BELOW_PCT, Replay, Trace, traces_from_log, traces_from_readings

#: Days of readings a simulation needs before its first day (to fit the forecast).
MIN_HISTORY_DAYS = 7
#: Solutions per day when neither limit is given: deterministic and quick.
DEFAULT_SOLUTION_LIMIT = 30
#: The per-day figures kept for each policy, summed into its totals.
DAY_FIGURES = (
    "crews_used",
    *SUMMED,
    "overflow_bin_days",
    "bins_at_risk",
    "due_not_served",
    "wasted_lifts",
    "overflow_l",
)
#: Steps (fill %) a collection log may record levels in, coarsest first; a simulated collection is recorded so.
LOG_STEPS = (25.0, 20.0, 10.0, 5.0)


@dataclass(frozen=True)
class SimOptions:
    """Settings of a simulation: the days, and the solver's limits per day."""

    start: Date
    end: Date
    time_limit_s: float | None = None
    solution_limit: int | None = DEFAULT_SOLUTION_LIMIT
    engine: str = DEFAULT_ENGINE
    seed: int = 0

    @classmethod
    def given(
        cls, start: Date, end: Date, time_limit_s: float | None, solution_limit: int | None, engine: str, seed: int
    ) -> SimOptions:
        """Options as a user gives them: without either limit, each day stops after :data:`DEFAULT_SOLUTION_LIMIT`."""
        if time_limit_s is None and solution_limit is None:
            solution_limit = DEFAULT_SOLUTION_LIMIT
        return cls(start, end, time_limit_s, solution_limit, engine, seed)

    @property
    def days(self) -> int:
        """How many days are simulated (``start`` to ``end``, both included)."""
        return (self.end - self.start).days + 1

    def as_json(self) -> dict[str, Any]:
        """The options as JSON values, the days as ``from`` and ``to`` in ISO text (as ``simulation.json`` has them)."""
        out = dataclasses.asdict(self)
        return {"from": out.pop("start").isoformat(), "to": out.pop("end").isoformat(), **out}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimOptions:
        """Options from :meth:`as_json`'s output; keys it does not know are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known, start=Date.fromisoformat(data["from"]), end=Date.fromisoformat(data["to"]))


def policies_from(texts: Sequence[str]) -> list[Policy]:
    """The policies to compare, parsed from their names (:func:`~.policies.parse_policy`).

    Raises
    ------
    PolicyError
        For a policy not understood, or the same policy given twice.
    """
    parsed = [parse_policy(t) for t in texts]
    if len({p.name for p in parsed}) != len(parsed):
        raise PolicyError(f"the same policy is given twice ({', '.join(texts)})")
    return parsed


class SimDateError(ScenarioError):
    """Days to simulate outside the data; ``field`` is ``"from"`` or ``"to"``, the date at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_span(
    start: Date, end: Date, first: Date | None, last: Date | None, *, names: tuple[str, str] = ("--from", "--to")
) -> None:
    """That ``start``..``end`` lies within readings from ``first`` to ``last``, after enough history.

    ``first`` and ``last`` are the days (in the fleet's timezone) of the first
    and last reading, ``None`` without readings; ``names`` are what the
    messages call the two dates (the CLI's flags, the HTTP body's fields).

    Raises
    ------
    SimDateError
        Naming the date at fault and the span of the data.
    """
    start_name, end_name = names
    if end < start:
        raise SimDateError(f"{end_name} {end} is before {start_name} {start}", field="to")
    if first is None or last is None:
        raise SimDateError(
            f"{start_name} {start}: no readings or collection log to replay (a simulation needs one)", field="from"
        )
    if start < first + timedelta(days=MIN_HISTORY_DAYS):
        raise SimDateError(
            f"{start_name} {start}: too little history before it; the readings start on {first}, "
            f"so the first day to simulate is {first + timedelta(days=MIN_HISTORY_DAYS)}",
            field="from",
        )
    if end > last:
        raise SimDateError(
            f"{end_name} {end}: after the last reading ({last}); the data cover {first} to {last}", field="to"
        )


def log_only(scn: Scenario) -> bool:
    """Whether ``scn`` is replayed from its collection log: collections and no readings."""
    return scn.readings.empty and scn.collections is not None and not scn.collections.empty


def check_dates(scn: Scenario, start: Date, end: Date) -> None:
    """That ``start``..``end`` lies within the scenario's readings (or its log, when log-only), after history.

    :data:`MIN_HISTORY_DAYS` of data must come before ``start``.

    Raises
    ------
    SimDateError
        Naming the date and the span of the data (see :func:`check_span`).
    """
    if log_only(scn):
        assert scn.collections is not None
        stamps = scn.collections["collected_at"].dt.tz_convert(scn.fleet.timezone)
    else:
        stamps = scn.readings["timestamp"].dt.tz_convert(scn.fleet.timezone)
    if stamps.empty:
        check_span(start, end, None, None)
    check_span(start, end, stamps.min().date(), stamps.max().date())


def check_policies(scn: Scenario, policies: Sequence[Policy]) -> None:
    """That every policy can run on ``scn``: ``as-logged`` needs a log, ``threshold`` needs readings.

    Raises
    ------
    ScenarioError
        Naming the policy and what the scenario lacks.
    """
    for p in policies:
        if p.kind == AS_LOGGED and (scn.collections is None or scn.collections.empty):
            raise ScenarioError(f"policy {p.name!r}: the scenario has no collection log (collections.csv)")
        if p.kind == THRESHOLD and scn.readings.empty:
            raise ScenarioError(
                f"policy {p.name!r}: the scenario has no readings (readings.csv) for a threshold to read; "
                "without sensors, compare predictive, as-logged and timetables"
            )


@dataclass(frozen=True)
class Progress:
    """A step of a simulation: ``message``, and for a day done its policy and day ``done`` of ``total``."""

    message: str
    policy: str | None = None
    done: int = 0
    total: int = 0

    def __str__(self) -> str:
        if self.policy is None:
            return self.message
        return f"{self.policy}: day {self.done} of {self.total}, {self.message}"


def _no_progress(step: Progress) -> None:
    """Progress nobody follows."""


@dataclass
class _Roads:
    """The day-independent part of planning: every bin snapped, one travel model for all of them."""

    travel: Travel
    n_fixed: int

    @property
    def estimated(self) -> bool:
        """Whether km and times are estimates (no road network)."""
        return self.travel.estimated

    def for_bins(self, chosen: Sequence[int]) -> Travel:
        """The travel model seen by a day that routes the bins of rows ``chosen``."""
        slots = self.travel.slots[: self.n_fixed] + [self.travel.slots[self.n_fixed + i] for i in chosen]
        return dataclasses.replace(self.travel, slots=slots)


def _roads(scn: Scenario, notes: list[str]) -> _Roads:
    """Load the network, snap every place and build the matrices once.

    A simulation plans but never draws: the road network and what finds drives
    through it are dropped, leaving what a problem is built from (the matrices,
    the places' locations, the vehicle profiles). Without a network, the
    matrices are estimated from the coordinates.
    """
    places = places_of(scn)
    if scn.network is None:
        return _Roads(estimate_travel(places, range(len(places.ids)), scn.fleet), places.n_fixed)
    net = load_network(scn.network)
    snapped = snap_places(net, places, max_snap_m=scn.fleet.planning.max_snap_m, notes=notes)
    sides = scn.bins["side"].tolist() if "side" in scn.bins.columns else [None] * len(scn.bins)
    every = list(range(len(places.ids)))
    roads = travel(net, places, snapped, every, scn.fleet, notes=notes, side_rules=[s or "auto" for s in sides])
    planning = dataclasses.replace(roads, finders={}, kerbside={}, network=None)
    return _Roads(planning, places.n_fixed)


def _midnight(day: Date, tz: str) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(tz)


def log_step(fills: pd.Series) -> float:
    """The coarsest of :data:`LOG_STEPS` every logged fill lies on (0: the log records levels as they are)."""
    values = fills.dropna().to_numpy(dtype=float)
    for q in LOG_STEPS:
        if len(values) and (np.abs(values / q - np.round(values / q)) < 1e-6).all():
            return q
    return 0.0


def _seen_frames(scn: Scenario, replay: Replay, until: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Readings and collections a policy holds at ``until`` (ns): real before the start, simulated after.

    Log-only: no readings at all (the replay's are not seen: no sensors), and
    each simulated collection's fill recorded in the log's steps.
    """
    real = scn.readings[scn.readings["timestamp"].astype("int64") < replay.start]
    sensors = not log_only(scn)
    step = 0.0 if sensors or scn.collections is None else log_step(scn.collections["fill_pct"])
    rows = [(b, t, v) for b, seq in replay.readings.items() for t, v in seq if t <= until and sensors]
    sim = pd.DataFrame(rows, columns=["bin_id", "timestamp", "fill_pct"])
    sim["timestamp"] = pd.to_datetime(sim["timestamp"].astype("int64"), utc=True)
    readings = pd.concat([real, sim], ignore_index=True)
    collections = None
    if scn.collections is not None or replay.emptied:
        done = pd.DataFrame(
            [(b, t, _recorded(v, step), math.nan) for b, t, v in replay.emptied if t <= until],
            columns=["bin_id", "collected_at", "fill_pct", "kg"],
        )
        done["collected_at"] = pd.to_datetime(done["collected_at"].astype("int64"), utc=True)
        parts = [done]
        if scn.collections is not None:
            before = scn.collections["collected_at"].astype("int64") < replay.start
            parts.insert(0, scn.collections[before])
        collections = pd.concat(parts, ignore_index=True)
    return readings, collections


def _recorded(level: float, step: float) -> float:
    """A simulated collection's fill as a log records it: capped at 100%, on the log's step if it has one."""
    capped = min(level, FULL_PCT)
    return capped if step <= 0 else float(min(round(capped / step) * step, FULL_PCT))


def _decisions(
    scn: Scenario, policy: Policy, rules: DecisionRules, day: Date, replay: Replay, morning: int
) -> dict[str, Decision]:
    """What ``policy`` collects on ``day`` under ``rules``, as the pipeline's decisions (its bins are ``must``)."""
    if policy.kind == PREDICTIVE:
        readings, collections = _seen_frames(scn, replay, morning)
        return decide_bins(dataclasses.replace(scn, readings=readings, collections=collections), day, rules, notes=[])
    seen = replay.last_seen(morning)
    if policy.kind == CLAIRVOYANT:
        due = _clairvoyant(scn, rules, day, replay)
    elif policy.kind == AS_LOGGED:
        assert scn.collections is not None
        due = set(logged_on(scn.collections, day, scn.fleet.timezone))
        seen = dict.fromkeys(seen, math.nan)  # the policy reads no levels
    else:
        due = set(bins_due(policy, day, seen))
    nan = math.nan
    return {
        b: Decision(b, MUST if b in due else SKIP, policy.name, seen.get(b, nan), nan, nan, nan, nan)
        for b in scn.bins["bin_id"]
    }


def _clairvoyant(scn: Scenario, rules: DecisionRules, day: Date, replay: Replay) -> set[str]:
    """The bins a clairvoyant collects on ``day``: the collect rule with a perfect forecast.

    Left alone, a bin would pass 100% at a known time; the lorry's arrival on
    the next chance is spread over the day's visit window as the rule has it
    (:attr:`DecisionRules.reach_offsets` after the next chance's collection
    time), so its risk is the share of arrivals that would come after it
    passed 100%. It is due when that share is above the rule's tolerated risk.
    """
    collect = _midnight(day, scn.fleet.timezone) + pd.Timedelta(seconds=collect_at_s(scn.fleet))
    nxt = collect + pd.Timedelta(days=rules.next_opportunity_days)  # as outlook() has it
    reach = [int((nxt + pd.Timedelta(hours=float(h))).value) for h in rules.reach_offsets]
    due = set()
    for b in scn.bins["bin_id"]:
        if b in replay.traces:
            late = np.mean([replay.peek(b, t) > FULL_PCT for t in reach])
            if late > rules.tolerated_risk:
                due.add(b)
    return due


def _empty_day() -> dict[str, Any]:
    return {k: 0 for k in DAY_FIGURES} | {"utilisation": None}


def log_rates(scn: Scenario) -> dict[str, float]:
    """Each bin's censored fill rate (% per day) fitted on its whole collection log; the replay's stand-in.

    The Tobit rate of :mod:`binroute.routing.forecast.censored`, from the
    forecast's own fit (:func:`~binroute.routing.forecast.fit_fill_model`,
    without the learned candidate) over the whole log alike (not its recent
    level); a bin without usable intervals gets its group's rate.
    """
    model = fit_fill_model(None, bins=scn.bins, tz=scn.fleet.timezone, collections=scn.collections, learned=False)
    ids = sorted(set(scn.bins["bin_id"].astype(str)) | set(model.fits))
    if model.candidates is None:
        return {}
    return dict(zip(ids, model.candidates.censored.rates(ids, recent=False).tolist(), strict=True))


def traces_of(scn: Scenario) -> dict[str, Trace]:
    """The replay's traces of the bins in ``bins.csv``: from the readings, or from the log when log-only."""
    if log_only(scn):
        assert scn.collections is not None
        traces = traces_from_log(scn.collections, log_rates(scn))
    else:
        traces = traces_from_readings(scn.readings, collections=scn.collections)
    known = set(scn.bins["bin_id"].astype(str))
    return {b: t for b, t in traces.items() if b in known}


def simulate_policy(
    scn: Scenario,
    policy: Policy,
    options: SimOptions,
    *,
    roads: _Roads,
    traces: dict[str, Trace] | None = None,
    progress: Callable[[Progress], None] = _no_progress,
) -> dict[str, Any]:
    """Replay ``options.start``..``options.end`` under ``policy``: per day its figures, and the totals.

    ``traces`` are the replay's (:func:`traces_of`), computed here when not given.
    """
    tz = scn.fleet.timezone
    rules = decision_rules(scn.fleet, bins=scn.bins, horizon_days=policy.horizon_days)
    start = _midnight(options.start, tz)
    replay = Replay(traces_of(scn) if traces is None else traces, int(start.value))
    capacity = dict(zip(scn.bins["bin_id"].astype(str), scn.bins["capacity_l"].astype(float), strict=True))
    rows = scn.bins["bin_id"].tolist()
    morning_s = min(parse_hhmm(v.shift_start) for v in scn.fleet.vehicles)
    days: list[dict[str, Any]] = []
    day = options.start
    while day <= options.end:
        midnight = _midnight(day, tz)
        morning = int((midnight + pd.Timedelta(seconds=min(morning_s, collect_at_s(scn.fleet)))).value)
        decisions = _decisions(scn, policy, rules, day, replay, morning)
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
        figures["wasted_lifts"] = outcome.wasted_lifts
        figures["overflow_l"] = round(sum(v / 100 * capacity.get(b, 0.0) for b, v in outcome.spilled.items()), 1)
        figures["bins_at_risk"] = sum(rules.threshold_pct <= level <= FULL_PCT for level in outcome.levels.values())
        days.append({"date": day.isoformat(), **figures})
        progress(
            Progress(
                f"{day}: {figures['lifts']} lifts, {figures['crews_used']} crew(s), "
                f"{figures['km']:.1f} km, {figures['overflow_bin_days']} overflowing",
                policy.name,
                len(days),
                options.days,
            )
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
    jobs: int | None = None,
    progress: Callable[[Progress], None] = _no_progress,
) -> dict[str, Any]:
    """Simulate every policy over the same days; the result is ``simulation.json``.

    Parameters
    ----------
    scn, policies, options
        The scenario, the policies to compare and the days and solver limits.
    jobs
        Processes that simulate policies at once (default: the machine's
        cores); one runs everything in this process. The result is the same.
    progress
        Called with each step: the roads built, and every policy's every day.

    Raises
    ------
    ScenarioError
        When the days are outside the data or too little history comes before them, or a policy
        needs data the scenario lacks (:func:`check_policies`).
    """
    check_dates(scn, options.start, options.end)
    check_policies(scn, policies)
    notes: list[str] = []
    if scn.network is None:
        progress(Progress("roads: no road network; estimating distances from coordinates"))
    else:
        progress(Progress("roads: snapping every bin and building the matrices once"))
    roads = _roads(scn, notes)
    traces = traces_of(scn)
    workers = min(jobs or os.cpu_count() or 1, len(policies))
    if workers > 1:
        results = _in_processes(scn, policies, options, roads, traces, workers, progress)
    else:
        results = [simulate_policy(scn, p, options, roads=roads, traces=traces, progress=progress) for p in policies]
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
        "distances": ESTIMATE if roads.estimated else "roads",
        "assumptions": assumptions(scn, options, estimated=roads.estimated),
    }


def assumptions(scn: Scenario, options: SimOptions, *, estimated: bool) -> list[str]:
    """What a simulation's figures rest on, in sentences for a reader (``simulation.json``, ``report.html``)."""
    planning = scn.fleet.planning
    out = []
    if estimated:
        out.append(
            f"km and hours are estimates: no road network, so great-circle distances x {planning.detour_factor:g} "
            f"(detour factor) at {planning.estimate_speed_kph:g} km/h"
        )
    else:
        out.append(f"km and hours on the road network {scn.network.name if scn.network else ''}".rstrip())
    if log_only(scn):
        out.append(
            "waste replayed from the collection log: each bin filled at a steady rate between logged emptyings; "
            "a logged 100% (at least full) at the larger of 100% and the bin's censored fill rate; "
            "no sensors, so predictive learns only from the collections it makes"
        )
    else:
        out.append("waste replayed from the sensor readings (a full sensor's hidden waste at the bin's own rate)")
    limit = f"{options.solution_limit} solutions" if options.solution_limit is not None else f"{options.time_limit_s} s"
    out.append(f"each day planned by {options.engine}, stopped after {limit} (seed {options.seed})")
    out.append(f"a wasted lift is a bin emptied below {WASTED_BELOW_PCT:g}% full")
    return out


def _in_processes(
    scn: Scenario,
    policies: Sequence[Policy],
    options: SimOptions,
    roads: _Roads,
    traces: dict[str, Trace],
    workers: int,
    progress: Callable[[Progress], None],
) -> list[dict[str, Any]]:
    """Policies simulated ``workers`` at a time: every ``workers``-th here, the others in helper processes.

    This process, its imports already done, takes policies ``0, workers,
    2 * workers, ...``; ``workers - 1`` helper processes take the rest
    (:mod:`binroute._processes`), the scenario's and roads' large arrays
    written once as files they all map. Their progress is passed to
    ``progress`` here, in the caller's thread, after each of this process's
    days and while it waits for them. Results in the order of ``policies``.
    """
    here = list(range(0, len(policies), workers))
    there = [k for k in range(len(policies)) if k not in here]
    results: dict[int, dict[str, Any]] = {}
    with Pool(workers=workers - 1, on_message=progress) as pool:
        for k in there:
            kwargs = {"roads": roads, "traces": traces, "progress": TELL}
            pool.submit(Call(simulate_policy, (scn, policies[k], options), kwargs))

        def told(step: Progress) -> None:
            progress(step)
            pool.relay()

        for k in here:
            results[k] = simulate_policy(scn, policies[k], options, roads=roads, traces=traces, progress=told)
        results.update(zip(there, pool.results(), strict=True))
    return [results[k] for k in range(len(policies))]
