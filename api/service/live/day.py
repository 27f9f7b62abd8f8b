"""The day as it stands: each crew's stops in the plan's current version, what was reported, where it is.

Pure functions of the current version's ``plan.json`` and GeoJSON, the scenario's
bins and the day's events; the blueprint turns the result into the answer.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..db import EventRow
from ..schemas import STOP_KINDS

#: Reports shown for the whole day rather than for a crew's stops.
DAY_REPORTS = ("overflow", "fly_tip", "missed")
#: Exceptions a crew reports at a stop (every stop kind but done), and a breakdown.
EXCEPTIONS = (*(k for k in STOP_KINDS if k != "done"), "breakdown", "overflow", "fly_tip")


@dataclass(frozen=True)
class StopState:
    """The latest outcome reported at a bin (by the event's own time), and who reported it."""

    kind: str
    fill: str | None
    vehicle_id: str | None
    at: datetime


def stop_states(events: Iterable[EventRow]) -> dict[str, StopState]:
    """Each bin's latest stop outcome (done or an exception), by the events' own times; later wins."""
    out: dict[str, StopState] = {}
    for e in sorted(events, key=lambda e: (e.at, e.id)):
        if e.kind in STOP_KINDS and e.bin_id is not None:
            out[e.bin_id] = StopState(e.kind, e.fill, e.vehicle_id, e.at)
    return out


def stop_points(geojson: Mapping[str, Any]) -> dict[tuple[str, str], tuple[float, float]]:
    """Where each (vehicle, bin) stop of a plan's GeoJSON is: (lon, lat)."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for f in geojson.get("features", []):
        p = f["properties"]
        if p.get("kind") == "stop":
            lon, lat = f["geometry"]["coordinates"][:2]
            out[(p["vehicle_id"], p["bin_id"])] = (float(lon), float(lat))
    return out


def event_json(e: EventRow) -> dict[str, Any]:
    """An event as the API answers it."""
    return {
        "event_id": e.event_id,
        "kind": e.kind,
        "vehicle_id": e.vehicle_id,
        "bin_id": e.bin_id,
        "fill": e.fill,
        "at": e.at,
        "lon": e.lon,
        "lat": e.lat,
        "note": e.note,
    }


def _utc(iso: str) -> datetime:
    moment: datetime = pd.Timestamp(iso).tz_convert("UTC").tz_localize(None).to_pydatetime()
    return moment


def day_crews(*summaries: str | None) -> list[str]:
    """The crews of a day: the vehicles with a route in any of its versions (``summary_json``), in fleet order."""
    out: dict[str, None] = {}
    for text in summaries:
        for v in json.loads(text or "{}").get("vehicles", []):
            if v["used"]:
                out[v["vehicle_id"]] = None
    return list(out)


def crew_days(
    plan: Mapping[str, Any],
    geojson: Mapping[str, Any],
    bins: pd.DataFrame,
    events: list[EventRow],
    *,
    crews: Collection[str],
    only: str | None = None,
) -> list[dict[str, Any]]:
    """Each of the day's ``crews``' day (``only``: one's alone): its stops in ``plan`` with their state, counts,
    position and lateness."""
    states = stop_states(events)
    points = stop_points(geojson)
    info = bins.set_index("bin_id")
    out = []
    routes = {v["vehicle_id"]: v for v in plan.get("vehicles", [])}
    for vid in crews:
        if only is not None and vid != only:
            continue
        v = routes.get(vid, {"stops": []})  # a crew out of the current version (broken down) has no stops
        mine = [e for e in events if e.vehicle_id == vid]
        stops = []
        for stop in v["stops"]:
            if stop["kind"] != "bin":
                continue
            bid = stop["id"]
            state = states.get(bid)
            lon, lat = points.get((vid, bid), (float("nan"), float("nan")))
            row = info.loc[bid] if bid in info.index else None
            stops.append(
                {
                    "sequence": stop["sequence"],
                    "bin_id": bid,
                    "street": stop.get("street"),
                    "side": stop.get("side"),
                    "walk_out_m": stop.get("walk_out_m"),
                    "stream": None if row is None else str(row["stream"]),
                    "capacity_l": None if row is None else float(row["capacity_l"]),
                    "eta": stop["eta"],
                    "lon": lon,
                    "lat": lat,
                    "status": state.kind if state else "left",
                    "fill": state.fill if state else None,
                }
            )
        etas = {s["bin_id"]: _utc(s["eta"]) for s in stops}
        visited = {e.bin_id for e in mine if e.kind in STOP_KINDS and e.bin_id is not None}
        latest = next((e for e in reversed(mine) if e.kind in STOP_KINDS and e.bin_id in etas), None)
        late = None if latest is None or latest.bin_id is None else (latest.at - etas[latest.bin_id]).total_seconds()
        placed = next((e for e in reversed(mine) if e.lon is not None and e.lat is not None), None)
        position: dict[str, Any] | None = None
        if placed is not None:
            position = {"lon": placed.lon, "lat": placed.lat, "at": placed.at}
        elif latest is not None and latest.bin_id is not None and (vid, latest.bin_id) in points:
            lon, lat = points[(vid, latest.bin_id)]
            position = {"lon": lon, "lat": lat, "at": latest.at}
        out.append(
            {
                "vehicle_id": vid,
                "stops_done": len(visited),
                "stops_left": sum(s["status"] == "left" for s in stops),
                "exceptions": [event_json(e) for e in mine if e.kind in EXCEPTIONS],
                "last_position": position,
                "late_min": None if late is None else round(late / 60.0, 1),
                "broken_down": any(e.kind == "breakdown" for e in mine),
                "stops": stops,
            }
        )
    return out
