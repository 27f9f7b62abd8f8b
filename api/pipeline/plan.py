"""The daily plan, stage by stage: road graph → forecast → matrices → solve → report.

Each stage lives in its own module (:mod:`.roads`, :mod:`.forecast`,
:mod:`.problem`, :mod:`.report`); this one runs them in order, times them and
reports progress. Nothing is written here (see :mod:`.write`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo import RoadNetwork, load_network
from geo.snap import Snapped
from routing import Limits, Problem, Solution, SolveParams, solve
from routing.decide import MAY, MUST, Decision

from .forecast import decide_bins, decision_rules
from .options import PlanOptions
from .problem import build_problem
from .report import plan_geojson, plan_report, route_legs, street_names
from .roads import places_of, snap_places, travel
from .scenario import Scenario

#: The timed stages, as reported in ``plan.json``'s ``timings_s``.
STAGES = ("graph", "forecast", "matrix", "solve", "write")


@dataclass
class PlanResult:
    """A planned day: the problem and its solution, the decisions, and the report built from them."""

    problem: Problem
    solution: Solution
    decisions: dict[str, Decision]
    geojson: dict[str, Any]
    plan: dict[str, Any]
    snapped: Snapped
    network: RoadNetwork


def plan_scenario(
    scn: Scenario,
    options: PlanOptions,
    *,
    progress: Callable[[str], None] = lambda msg: None,
) -> PlanResult:
    """Run the whole daily plan for ``scn`` (nothing is written; see :func:`api.pipeline.write_plan`)."""
    fleet = scn.fleet
    timings: dict[str, float] = {}
    notes: list[str] = []
    clock = time.perf_counter()

    progress(f"graph: loading {scn.network.name}")
    net = load_network(scn.network)
    places = places_of(scn)
    snapped = snap_places(net, places, max_snap_m=fleet.planning.max_snap_m, notes=notes)
    timings["graph"] = time.perf_counter() - clock
    progress(f"graph: {net.n_nodes} nodes, {net.n_edges} edges; {len(places.ids)} places snapped")

    clock = time.perf_counter()
    rules = decision_rules(fleet, threshold_pct=options.threshold_pct)
    decisions = decide_bins(scn, options.date, rules, notes=notes)
    timings["forecast"] = time.perf_counter() - clock
    counts = pd.Series([d.decision for d in decisions.values()]).value_counts().to_dict()
    progress(f"forecast: {counts.get('must', 0)} must, {counts.get('may', 0)} may, {counts.get('skip', 0)} skip")

    clock = time.perf_counter()
    chosen = [
        i
        for i, b in enumerate(scn.bins["bin_id"])
        if decisions[b].decision == MUST or (options.include_may and decisions[b].decision == MAY)
    ]
    locations = list(range(places.n_fixed)) + [places.n_fixed + i for i in chosen]
    sides = scn.bins["side"].tolist() if "side" in scn.bins.columns else [None] * len(scn.bins)
    side_rules = [sides[i] or "auto" for i in chosen]
    roads = travel(net, places, snapped, locations, fleet, notes=notes, side_rules=side_rules)
    timings["matrix"] = time.perf_counter() - clock
    progress(f"matrix: {len(locations)} stops x {len(roads.matrices)} vehicle profile(s)")

    clock = time.perf_counter()
    problem = build_problem(
        scn, decisions, rules, chosen=chosen, locations=locations, n_fixed=places.n_fixed, travel=roads
    )
    solution = solve(
        problem,
        limits=Limits(time_limit_s=options.time_limit_s, solution_limit=options.solution_limit),
        params=SolveParams(engine=options.engine, seed=options.seed),
    )
    timings["solve"] = time.perf_counter() - clock
    progress(f"solve: {solution.status}, {len(solution.served())} bins on {solution.vehicles_used} vehicle(s)")

    clock = time.perf_counter()
    legs = route_legs(solution, roads)
    geo = plan_geojson(scn, options, solution, decisions, roads, street_names(net), legs)
    plan = plan_report(scn, options, problem, solution, decisions, notes, net, roads, legs)
    timings["write"] = time.perf_counter() - clock
    plan["timings_s"] = {k: round(timings.get(k, 0.0), 3) for k in STAGES}
    return PlanResult(problem, solution, decisions, geo, plan, snapped, net)
