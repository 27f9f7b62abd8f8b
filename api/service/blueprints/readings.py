"""``/api/v1/scenarios/<id>/readings``: bulk ingest (JSON or CSV, idempotent) and queries by bin and time."""

from __future__ import annotations

import json

import pandas as pd
from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from ...pipeline.scenario import load_readings
from ..auth import require
from ..db import ReadingRow
from ..schemas import ReadingQuery, ReadingsIn
from ..store import audit, find_scenario, insert_readings, page, scenario_bin_ids, series_page
from ..validation import parse, parse_csv_body, parse_json

readings = Blueprint("readings", __name__, url_prefix="/api/v1/scenarios/<scenario_id>/readings")


@readings.post("")
@require("planner")
def ingest(scenario_id: str) -> ResponseReturnValue:
    """Bulk ingest as JSON ``{"readings": [...]}`` or as a CSV body; idempotent by (bin, timestamp)."""
    with g.db() as s:
        row = find_scenario(s, scenario_id)
        tz = json.loads(row.fleet_json).get("timezone", "UTC")
        if request.mimetype == "text/csv":
            frame = parse_csv_body(load_readings, tz, "invalid_readings")
        else:
            body = parse_json(ReadingsIn)
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
    return jsonify(result), 201 if result["inserted"] else 200


@readings.get("")
@require("viewer")
def query_readings(scenario_id: str) -> ResponseReturnValue:
    q = parse(ReadingQuery, request.args.to_dict())
    with g.db() as s:
        find_scenario(s, scenario_id)
        rows, total = series_page(s, ReadingRow, ReadingRow.ts, scenario_id, q)
        items = [{"bin_id": r.bin_id, "timestamp": r.ts.isoformat() + "Z", "fill_pct": r.fill_pct} for r in rows]
    return page(items, total, q)
