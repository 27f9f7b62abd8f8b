"""``/api/v1/scenarios/<id>/readings``: bulk ingest (JSON or CSV, idempotent) and queries by bin and time."""

from __future__ import annotations

import json

import pandas as pd
from flask import Blueprint, g

from ...pipeline.scenario import load_readings
from ..db import ReadingRow
from ..openapi import Reply, endpoint
from ..schemas import IngestOut, ReadingOut, ReadingPage, ReadingQuery, ReadingsIn
from ..store import audit, find_scenario, insert_readings, scenario_bin_ids, series_page
from ..validation import CSV_BODY, parse_csv_body

readings = Blueprint("readings", __name__, url_prefix="/api/v1/scenarios/<scenario_id>/readings")


@endpoint(
    readings,
    "POST",
    "",
    summary="Bulk ingest readings (JSON or text/csv), idempotent by (bin_id, timestamp)",
    role="planner",
    body=ReadingsIn,
    other_bodies=CSV_BODY,
    replies={201: IngestOut, 200: Reply("all duplicates", IngestOut)},
)
def ingest(scenario_id: str, body: ReadingsIn | None) -> tuple[IngestOut, int]:
    """Bulk ingest as JSON ``{"readings": [...]}`` or as a CSV body; idempotent by (bin, timestamp)."""
    with g.db() as s:
        row = find_scenario(s, scenario_id)
        tz = json.loads(row.fleet_json).get("timezone", "UTC")
        if body is None:
            frame = parse_csv_body(load_readings, tz, "invalid_readings")
        else:
            stamps = [pd.Timestamp(r.timestamp) for r in body.readings]
            stamps = [t.tz_localize(tz) if t.tzinfo is None else t for t in stamps]
            frame = pd.DataFrame(
                {
                    "bin_id": [r.bin_id for r in body.readings],
                    "timestamp": stamps,
                    "fill_pct": [r.fill_pct for r in body.readings],
                }
            )
        result = insert_readings(s, row, frame, scenario_bin_ids(row))
        if result["inserted"]:
            audit(s, "ingest", "readings", scenario_id, result)
        s.commit()
    return IngestOut(**result), 201 if result["inserted"] else 200


@endpoint(
    readings,
    "GET",
    "",
    summary="Query readings by bin and time range",
    query=ReadingQuery,
    replies={200: ReadingPage},
)
def query_readings(scenario_id: str, query: ReadingQuery) -> ReadingPage:
    with g.db() as s:
        find_scenario(s, scenario_id)
        rows, total = series_page(s, ReadingRow, ReadingRow.ts, scenario_id, query)
        items = [ReadingOut(bin_id=r.bin_id, timestamp=r.ts, fill_pct=r.fill_pct) for r in rows]
    return ReadingPage.of(items, total, query)
