"""``/api/v1/scenarios/<id>/forecast``: predicted fill and must/may/skip per bin at a time."""

from __future__ import annotations

import io

import pandas as pd
from flask import Blueprint, current_app, g

from ...pipeline import forecast_bins
from ...pipeline.scenario import FleetIn
from ..errors import APIError
from ..openapi import endpoint
from ..schemas import ForecastOut, ForecastQuery
from ..store import find_scenario, stored_fill_data

forecasts = Blueprint("forecast", __name__, url_prefix="/api/v1/scenarios/<scenario_id>/forecast")


#: How far before the scenario's first reading or collection, and after its last, a forecast may be asked for.
BEFORE_DATA = pd.Timedelta(days=7)
AFTER_DATA = pd.Timedelta(days=366)


def _check_within_data(when: pd.Timestamp, readings: pd.DataFrame, collections: pd.DataFrame) -> None:
    """422 naming ``at`` when it is more than a week before the data, or more than a year after it."""
    times = pd.concat([readings["timestamp"], collections["collected_at"]])
    first, last = times.min(), times.max()
    if when < first - BEFORE_DATA or when > last + AFTER_DATA:
        message = (
            f"at {when.isoformat()} is outside the scenario's data (readings and collections from "
            f"{first:%Y-%m-%d} to {last:%Y-%m-%d}); a forecast may be asked from a week before the first "
            "to a year after the last"
        )
        raise APIError(422, "validation_error", message, [{"field": "at", "message": message}])


@endpoint(
    forecasts,
    "GET",
    "",
    summary="Predicted fill and must/may/skip per bin at a time",
    query=ForecastQuery,
    replies={200: ForecastOut},
    errors=(409, 422),
)
def forecast(scenario_id: str, query: ForecastQuery) -> ForecastOut:
    with g.db() as s:
        row = find_scenario(s, scenario_id)
        readings, collections = stored_fill_data(s, scenario_id)
    if readings.empty and collections.empty:
        raise APIError(409, "no_readings", "the scenario has no sensor readings or collections yet")
    fleet = FleetIn.model_validate_json(row.fleet_json)
    bins = pd.read_csv(io.StringIO(row.bins_csv), dtype={"bin_id": str}, keep_default_na=False)
    when = pd.Timestamp(query.at)
    when = when.tz_localize(fleet.timezone) if when.tzinfo is None else when
    _check_within_data(when, readings, collections)
    offload = current_app.extensions["binroute"]["offload"]  # the fits run off the request threads (.offload)
    return ForecastOut.model_validate(
        offload.run(forecast_bins, readings, bins, fleet.timezone, fleet, when, collections=collections)
    )
