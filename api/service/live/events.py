"""Recording a crew's events: idempotent by the client's event id, each emptying a row of the collection log.

Events belong to the day's first plan (``root``), so they carry across re-plans.
A batch may come late and in any order (a phone that was out of signal sends
its queue when it is back): an event is stored once per ``event_id``, and
what a stop's state is comes from the events' own times, not their arrival.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import CrewTokenRow, EventRow, PlanRow, ScenarioRow
from ..errors import APIError
from ..schemas import FILL_SEEN, STOP_KINDS, EventIn
from ..store import insert_collections, insert_new


@dataclass(frozen=True)
class Recorded:
    """What a batch did: events received, new, already stored, and collection-log rows added."""

    received: int
    inserted: int
    duplicates: int
    collections: int


def _invalid(field: str, message: str) -> APIError:
    return APIError(422, "validation_error", "the request is not valid", [{"field": field, "message": message}])


def event_utc(at: datetime, tz: str) -> datetime:
    """An event's time as stored, naive UTC; a time without an offset is local time in the fleet's ``tz``."""
    ts = pd.Timestamp(at)
    # A local time the clocks skip or repeat (daylight saving) is taken forward, or as summer time.
    ts = ts.tz_localize(tz, ambiguous=True, nonexistent="shift_forward") if ts.tzinfo is None else ts
    moment: datetime = ts.tz_convert("UTC").tz_localize(None).to_pydatetime()
    return moment


def record_events(
    s: Session,
    root: PlanRow,
    scenario: ScenarioRow,
    events: list[EventIn],
    *,
    bins: set[str],
    crews: set[str],
    routes: Mapping[str, str],
    tz: str,
    crew: CrewTokenRow | None,
    key_id: str | None,
) -> Recorded:
    """Store a batch of events of plan ``root``'s day and add each new emptying to the scenario's collection log.

    Parameters
    ----------
    bins, crews
        The scenario's bin ids and the plan's vehicle ids: an event naming another is a 422 naming its field.
    routes
        Bin id -> the crew whose route has it now: an event without a vehicle is that crew's.
    crew
        The crew token that sent the batch (its own vehicle is every event's; another's is a 404), or ``None``
        for an API key.
    """
    rows: list[dict[str, Any]] = []
    for i, e in enumerate(events):
        vehicle = e.vehicle_id
        if crew is not None:
            if vehicle is not None and vehicle != crew.vehicle_id:
                raise APIError(404, "not_found", f"vehicle {vehicle} is not this crew token's")
            vehicle = crew.vehicle_id
        if vehicle is not None and vehicle not in crews:
            raise _invalid(f"events.{i}.vehicle_id", f"{vehicle} is not a vehicle of this plan")
        if vehicle is None and e.bin_id is not None and e.kind in STOP_KINDS:
            vehicle = routes.get(e.bin_id)
        if vehicle is None and e.kind in ("breakdown", "position"):
            raise _invalid(f"events.{i}.vehicle_id", f"a {e.kind} event needs the vehicle")
        if e.bin_id is not None and e.bin_id not in bins:
            raise _invalid(f"events.{i}.bin_id", f"{e.bin_id} is not a bin of the scenario")
        rows.append(
            {
                "org_id": root.org_id,
                "plan_id": root.id,
                "event_id": e.event_id,
                "vehicle_id": vehicle,
                "kind": e.kind,
                "bin_id": e.bin_id,
                "fill": e.fill,
                "at": event_utc(e.at, tz),
                "lon": e.lon,
                "lat": e.lat,
                "note": e.note,
                "token_id": crew.id if crew is not None else None,
                "key_id": key_id,
            }
        )
    unique = list({r["event_id"]: r for r in reversed(rows)}.values())[::-1]  # the first of a repeated id
    new = set(insert_new(s, EventRow, unique, EventRow.event_id))
    emptied = [r for r in unique if r["event_id"] in new and r["kind"] == "done"]
    added = 0
    if emptied:
        frame = pd.DataFrame(
            {
                "bin_id": [r["bin_id"] for r in emptied],
                "collected_at": pd.to_datetime([r["at"] for r in emptied]).tz_localize("UTC"),
                "fill_pct": [FILL_SEEN[r["fill"]] for r in emptied],
                "kg": [float("nan")] * len(emptied),
            }
        )
        added = insert_collections(s, scenario, frame, bins)["inserted"]
    return Recorded(len(events), len(new), len(events) - len(new), added)


def day_events(s: Session, root_id: str) -> list[EventRow]:
    """Every event of a day (its first plan ``root_id``), in the order of their own times."""
    return list(s.scalars(select(EventRow).where(EventRow.plan_id == root_id).order_by(EventRow.at, EventRow.id)))
