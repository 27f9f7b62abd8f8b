"""``/api/v1/scenarios/<id>/forecast``: predicted fill and must/may/skip per bin at a time."""

from __future__ import annotations

import io

import pandas as pd
from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ...pipeline import forecast_bins
from ...pipeline.scenario import FleetIn
from ..auth import require
from ..db import ReadingRow
from ..errors import APIError
from ..schemas import ForecastQuery
from ..store import find_scenario
from ..validation import parse

forecasts = Blueprint("forecast", __name__, url_prefix="/api/v1/scenarios/<scenario_id>/forecast")


@forecasts.get("")
@require("viewer")
def forecast(scenario_id: str) -> ResponseReturnValue:
    q = parse(ForecastQuery, request.args.to_dict())
    with g.db() as s:
        row = find_scenario(s, scenario_id)
        data = s.execute(
            select(ReadingRow.bin_id, ReadingRow.ts, ReadingRow.fill_pct).where(ReadingRow.scenario_id == scenario_id)
        ).all()
    if not data:
        raise APIError(409, "no_readings", "the scenario has no sensor readings yet")
    fleet = FleetIn.model_validate_json(row.fleet_json)
    frame = pd.DataFrame(data, columns=["bin_id", "timestamp", "fill_pct"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize("UTC")
    bins = pd.read_csv(io.StringIO(row.bins_csv), dtype={"bin_id": str}, keep_default_na=False)
    when = pd.Timestamp(q.at)
    when = when.tz_localize(fleet.timezone) if when.tzinfo is None else when
    return jsonify(forecast_bins(frame, bins, fleet.timezone, fleet, when))
