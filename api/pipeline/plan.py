"""The daily plan, stage by stage: road graph → forecast → matrices → solve → report.

Each stage lives in its own module (:mod:`.roads`, :mod:`.forecast`,
:mod:`.problem`, :mod:`.report`); this one runs them in order, times them and
reports progress. Nothing is written here (see :mod:`.write`).

Progress goes to one plain callable as :class:`Progress` events: each stage
once when it starts and once when it ends (with a line for a person to read),
and during the solve about every :data:`TICK_S` seconds with the share of the
solve's time budget used so far. The CLI prints the lines; the HTTP service
stores the stage and a percentage on the plan's row.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from binroute.geo import RoadNetwork, Snapped, load_network
from binroute.routing import Budget, Limits, Problem, Solution, SolveParams, solve
from binroute.routing.forecast import MAY, MUST, Decision

from .areas import usual_crews
from .forecast import decide_bins, decision_rules, rule_summary
from .options import PlanOptions
from .problem import build_problem
from .reach import check_near_roads
from .report import plan_geojson, plan_report, route_legs, street_names
from .roads import metric_crs, places_of, snap_places, travel
from .rounds import rounds_report
from .scenario import Scenario

#: The timed stages, as reported in ``plan.json``'s ``timings_s``.
STAGES = ("graph", "forecast", "matrix", "solve", "write")
#: Seconds between two reports of the solve's progress.
TICK_S = 1.0


@dataclass(frozen=True)
class Progress:
    """Where a plan is: one of :data:`STAGES`, the share of that stage done (0 to 1), and a line to show if any."""

    stage: str
    done: float
    message: str | None = None


ProgressCallback = Callable[[Progress], None]


@contextmanager
def ticking(progress: ProgressCallback, stage: str, expected_s: float, *, every_s: float = TICK_S) -> Iterator[None]:
    """Report ``stage`` every ``every_s`` seconds while the block runs, done as the share of ``expected_s`` used.

    The share stays below 1 until the block is over (a search may run a little past
    its budget). The reports come from a thread, so an engine that holds the
    interpreter while it searches (OR-Tools) delays them until it lets go.
    """
    began, stop = time.monotonic(), threading.Event()

    def tick() -> None:
        while not stop.wait(every_s):
            progress(Progress(stage, min((time.monotonic() - began) / expected_s, 0.99)))

    thread = threading.Thread(target=tick, name=f"binroute-{stage}-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass
class PlanResult:
    """A planned day: the problem and its solution, the decisions, and the report built from them."""

    problem: Problem
    solution: Solution
    decisions: dict[str, Decision]
    geojson: dict[str, Any]
    plan: dict[str, Any]
    snapped: Snapped
    network: RoadNetwork | None  # None: distances estimated


def plan_scenario(
    scn: Scenario,
    options: PlanOptions,
    *,
    progress: ProgressCallback = lambda event: None,
) -> PlanResult:
    """Run the whole daily plan for ``scn`` (nothing is written; see :func:`binroute.api.pipeline.write_plan`).

    ``progress`` receives a :class:`Progress` when each stage starts and ends, and
    during the solve (see the module notes).
    """
    fleet = scn.fleet
    timings: dict[str, float] = {}
    notes: list[str] = []
    clock = time.perf_counter()

    source = scn.network.name if scn.network else "no road network: distances estimated from coordinates"
    progress(Progress("graph", 0.0, f"graph: loading {source}"))
    net = load_network(scn.network) if scn.network else None
    if net is not None:
        check_near_roads(
            net,
            fleet,
            scn.bins,
            bins_file=str(scn.directory / "bins.csv"),
            fleet_file=str(scn.directory / "fleet.json"),
        )
    places = places_of(scn)
    snapped = snap_places(net, places, max_snap_m=fleet.planning.max_snap_m, notes=notes)
    timings["graph"] = time.perf_counter() - clock
    line = f"graph: {net.n_nodes} nodes, {net.n_edges} edges; {len(places.ids)} places snapped" if net else source
    progress(Progress("graph", 1.0, line))

    clock = time.perf_counter()
    progress(Progress("forecast", 0.0))
    rules = decision_rules(fleet, threshold_pct=options.threshold_pct, bins=scn.bins, horizon_days=options.horizon_days)
    decisions = decide_bins(scn, options.date, rules, notes=notes)
    timings["forecast"] = time.perf_counter() - clock
    counts = pd.Series([d.decision for d in decisions.values()]).value_counts().to_dict()
    line = f"forecast: {counts.get('must', 0)} must, {counts.get('may', 0)} may, {counts.get('skip', 0)} skip"
    progress(Progress("forecast", 1.0, line))

    clock = time.perf_counter()
    progress(Progress("matrix", 0.0))
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
    progress(Progress("matrix", 1.0, f"matrix: {len(locations)} stops x {len(roads.matrices)} vehicle profile(s)"))

    clock = time.perf_counter()
    progress(Progress("solve", 0.0))
    problem = build_problem(
        scn,
        decisions,
        rules,
        chosen=chosen,
        locations=locations,
        n_fixed=places.n_fixed,
        travel=roads,
        crs=metric_crs(roads, net),
    )
    limits = Limits(time_limit_s=options.time_limit_s, solution_limit=options.solution_limit)
    # The budget solve() will have: the time limit, or a solution limit's backstop deadline.
    budget_s = Budget.from_limits(limits, len(problem.bins)).deadline.total_s
    with ticking(progress, "solve", budget_s):
        usual = usual_crews(scn, options.usual_crews)
        params = SolveParams(
            engine=options.engine,
            seed=options.seed,
            rounds=options.rounds,
            usual_crews=usual,
            max_overlap=scn.fleet.planning.max_overlap,
        )
        solution = solve(problem, limits=limits, params=params)
    timings["solve"] = time.perf_counter() - clock
    line = f"solve: {solution.status}, {len(solution.served())} bins on {solution.vehicles_used} vehicle(s)"
    progress(Progress("solve", 1.0, line))

    clock = time.perf_counter()
    progress(Progress("write", 0.0))
    legs = route_legs(solution, roads)
    geo = plan_geojson(scn, options, solution, decisions, roads, street_names(net), legs)
    plan = plan_report(scn, options, problem, solution, decisions, notes, net, roads, legs)
    timings["write"] = time.perf_counter() - clock
    plan["timings_s"] = {k: round(timings.get(k, 0.0), 3) for k in STAGES}
    plan["collect_rule"] = rule_summary(rules)
    source = f"previous plan {options.like}" if options.usual_crews else "scenario areas (crew column, areas.geojson)"
    extra = rounds_report(problem, solution, roads, net, usual=usual, usual_source=source)
    plan["totals"].update(extra.pop("totals"))
    plan.update(extra)
    return PlanResult(problem, solution, decisions, geo, plan, snapped, net)
