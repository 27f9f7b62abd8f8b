"""Each bin's usual crew: from a previous plan, the scenario's ``crew`` column, or its ``areas.geojson``.

A crew learns an area and residents expect the same crew, so a plan can be
asked to stay close to the usual crews (:attr:`binroute.routing.SolveParams.usual_crews`).
Where they come from, first match wins for each bin:

1. a previous plan (``binroute plan --like PLAN_DIR``, or ``like`` with a plan id
   over HTTP): the crew that served the bin then (:func:`crews_from_plan`);
2. the ``crew`` column of ``bins.csv`` (a vehicle id);
3. ``areas.geojson`` in the scenario directory: polygons whose ``crew``
   property is a vehicle id; a bin inside one belongs to that crew
   (:func:`crews_from_areas`).

:func:`crew_changes` reports, for ``plan.json``, how many bins kept their
usual crew and why the others changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from .errors import ScenarioError
from .scenario import Scenario, read_json

AREAS_FILE = "areas.geojson"


def crews_from_plan(plan: Mapping[str, Any], *, where: str = "plan.json") -> dict[str, str]:
    """The crew (vehicle id) of each bin a plan (``plan.json``'s content) served."""
    vehicles = plan.get("vehicles")
    if not isinstance(vehicles, list):
        raise ScenarioError(f"{where}: no 'vehicles' list: not a binroute plan.json")
    out: dict[str, str] = {}
    for v in vehicles:
        for stop in v.get("stops", []) if isinstance(v, dict) else []:
            if stop.get("kind") == "bin":
                out[str(stop["id"])] = str(v["vehicle_id"])
    return out


def load_like(plan_dir: str | Path) -> dict[str, str]:
    """:func:`crews_from_plan` of ``PLAN_DIR/plan.json`` (the output directory of an earlier ``binroute plan``)."""
    path = Path(plan_dir) / "plan.json"
    plan = read_json(path, missing="file not found (--like takes the output directory of an earlier plan)")
    if not isinstance(plan, dict):
        raise ScenarioError(f"{path}: not a binroute plan.json")
    return crews_from_plan(plan, where=str(path))


def crews_from_areas(scn: Scenario) -> dict[str, str]:
    """Each bin inside a polygon of the scenario's ``areas.geojson`` and that polygon's ``crew`` (none: empty)."""
    path = scn.directory / AREAS_FILE
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ScenarioError(f"{path}: expected a GeoJSON FeatureCollection")
    crews = {v.id for v in scn.fleet.vehicles}
    points = shapely.points(scn.bins["lon"].to_numpy(dtype=float), scn.bins["lat"].to_numpy(dtype=float))
    ids = scn.bins["bin_id"].to_numpy()
    out: dict[str, str] = {}
    for k, feature in enumerate(data.get("features") or []):
        where = f"{path}: features[{k}]"
        crew = ((feature or {}).get("properties") or {}).get("crew")
        if crew not in crews:
            raise ScenarioError(f"{where}: properties.crew {crew!r} is not a vehicle id of fleet.json")
        try:
            shape = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ScenarioError(f"{where}: geometry is not valid GeoJSON ({exc})") from exc
        if shape.geom_type not in ("Polygon", "MultiPolygon"):
            raise ScenarioError(f"{where}: geometry is a {shape.geom_type}, not a Polygon or MultiPolygon")
        inside = shapely.covers(shape, points)
        for b in ids[np.flatnonzero(inside)]:
            out.setdefault(str(b), str(crew))
    return out


def usual_crews(scn: Scenario, like: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each bin's usual crew (see the module notes); bins without one are left out.

    Raises
    ------
    ScenarioError
        A ``crew`` in ``bins.csv`` (naming the line) or ``areas.geojson`` that is not a vehicle of ``fleet.json``.
    """
    crews = {v.id for v in scn.fleet.vehicles}
    out = crews_from_areas(scn)
    if "crew" in scn.bins.columns:
        for line, (b, crew) in enumerate(zip(scn.bins["bin_id"], scn.bins["crew"], strict=True), start=2):
            if crew is None or crew != crew or crew == "":
                continue
            if crew not in crews:
                raise ScenarioError(f"{scn.directory / 'bins.csv'} line {line}: crew {crew!r} is not a vehicle id")
            out[str(b)] = str(crew)
    out.update(like or {})
    return out


def crew_changes(
    usual: Mapping[str, str], served_by: Mapping[str, str], reasons: Mapping[str, str], source: str
) -> dict[str, Any]:
    """``plan.json``'s account of the usual crews: bins collected with one, how many kept it, why the others moved."""
    with_usual = [b for b in served_by if b in usual]
    moved = [b for b in with_usual if served_by[b] != usual[b]]
    why = Counter(reasons.get(b, "moved by the search") for b in moved)
    return {
        "source": source,
        "bins_with_usual_crew": len(with_usual),
        "kept": len(with_usual) - len(moved),
        "changed": len(moved),
        "kept_share": round((len(with_usual) - len(moved)) / len(with_usual), 3) if with_usual else None,
        "why": dict(sorted(why.items())),
        "moved": [
            {"bin_id": b, "from": usual[b], "to": served_by[b], "why": reasons.get(b, "")} for b in sorted(moved)
        ],
    }
