"""What ``plan.json`` says about the rounds as crews' areas: districts, usual crews kept, and a fleet too small.

* ``totals.territory_overlap_same_stream``: the territory overlap
  (:func:`binroute.geo.territory.territory_overlap`) counting only rounds that
  collect a common stream against each other (``totals.territory_overlap``
  counts every pair, so one recycling and one general-waste lorry in the same
  town read as fully interleaved);
* ``districts``: each crew's district as a lon/lat outline, for the map;
* ``crew_changes``: with usual crews (:mod:`.areas`), how many bins kept theirs
  and why the others changed;
* ``fleet_short``: required bins left because the crews were full, and the crews
  estimated to serve them (:func:`binroute.routing.fleet_shortfall`); null when none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from binroute.geo import RoadNetwork, district_outlines, territory_overlap
from binroute.routing import Problem, Solution, fleet_shortfall

from .areas import crew_changes
from .report import round_points
from .roads import Travel, metric_crs


def rounds_report(
    problem: Problem,
    solution: Solution,
    travel: Travel,
    net: RoadNetwork | None,
    *,
    usual: Mapping[str, str],
    usual_source: str,
) -> dict[str, Any]:
    """The keys :mod:`.plan` adds to ``plan.json`` (see the module notes); ``totals`` holds the new totals only."""
    stream = {b.id: b.stream for b in problem.bins}
    points, crs = round_points(solution, travel), metric_crs(travel, net)
    groups = [frozenset(stream[b] for b in r.bins) for r in solution.routes]
    outlines = district_outlines(points, crs=crs)
    short = fleet_shortfall(problem, solution)
    served_by = {b: r.vehicle_id for r in solution.routes for b in r.bins}
    reasons = solution.details.get("crew_changes")
    out: dict[str, Any] = {
        "totals": {
            "territory_overlap_same_stream": round(territory_overlap(points, crs=crs, groups=groups), 3),
        },
        "districts": [
            {"vehicle_id": r.vehicle_id, "streams": sorted(g), "outline": o}
            for r, g, o in zip(solution.routes, groups, outlines, strict=True)
            if r.used and o
        ],
        "crew_changes": crew_changes(usual, served_by, reasons if isinstance(reasons, dict) else {}, usual_source)
        if usual
        else None,
        "fleet_short": None,
    }
    if short is not None:
        out["fleet_short"] = {
            "bins": len(short.bins),
            "extra_crews": short.crews,
            "message": short.message(),
            "by_stream": [
                {
                    "stream": e.stream,
                    "crews": e.crews,
                    "like_vehicle": e.like_vehicle,
                    "depot": e.depot,
                    "bins": e.bins,
                    "work_h": e.work_h,
                }
                for e in short.extra
            ],
            "bin_ids": list(short.bins),
        }
    return out
