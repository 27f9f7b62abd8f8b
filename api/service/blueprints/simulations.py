"""``/api/v1/simulations``: simulate collection policies in the background, follow them, download the report.

The same job as ``binroute simulate``: the request takes its options (the
same defaults, bounds and messages), and days outside the readings or too
little history before them are refused at once, naming ``from`` or ``to``.
"""

from __future__ import annotations

import json
from datetime import date as Date
from typing import Any

import pandas as pd
from flask import Blueprint, Response, current_app, g, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...pipeline.scenario import FleetIn
from ...pipeline.simulate.run import SimDateError, check_span
from ..db import ReadingRow, ScenarioRow, SimulationRow
from ..errors import APIError
from ..openapi import Reply, endpoint, file_reply
from ..schemas import ListQuery, SimulationIn, SimulationOut, SimulationPage, SimulationProgress
from ..store import (
    audit,
    check_job_slots,
    current_org,
    delete_job,
    find_owned,
    find_scenario,
    job_out,
    rows_page,
    submit_job,
)

simulations = Blueprint("simulations", __name__, url_prefix="/api/v1")


def _simulation_out(row: SimulationRow, *, result: bool = True) -> SimulationOut:
    """A simulation's answer; with ``result``, its ``simulation.json`` when done (lists leave it out)."""
    out = job_out(row, "simulations.get_simulation", simulation_id=row.id)
    if row.status == "done":
        out["links"]["report"] = url_for("simulations.simulation_report", simulation_id=row.id)
    return SimulationOut(
        **out,
        progress=SimulationProgress(days_done=row.days_done, days_total=row.days_total),
        result=json.loads(row.result_json) if result and row.result_json else None,
    )


def _simulation(s: Session, simulation_id: str) -> SimulationRow:
    row: SimulationRow = find_owned(s, SimulationRow, simulation_id, "simulation")
    return row


def _invalid(field: str, message: str) -> APIError:
    """A 422 naming one field of the request, as a validation error would."""
    return APIError(422, "validation_error", "the request is not valid", [{"field": field, "message": message}])


def _reading_days(s: Session, scenario: ScenarioRow) -> tuple[Date | None, Date | None]:
    """The days (in the fleet's timezone) of a scenario's first and last reading; ``None`` without readings."""
    first, last = s.execute(
        select(func.min(ReadingRow.ts), func.max(ReadingRow.ts)).where(ReadingRow.scenario_id == scenario.id)
    ).one()
    if first is None or last is None:
        return None, None
    tz = FleetIn.model_validate_json(scenario.fleet_json).timezone

    def day(t: Any) -> Date:
        return pd.Timestamp(t).tz_localize("UTC").tz_convert(tz).date()

    return day(first), day(last)


@endpoint(
    simulations,
    "POST",
    "/scenarios/<scenario_id>/simulations",
    summary="Simulate collection policies over past days in the background (as `binroute simulate`); "
    "202 with the simulation's URL",
    role="planner",
    body=SimulationIn,
    replies={202: SimulationOut},
    errors=(503,),
)
def start_simulation(scenario_id: str, body: SimulationIn) -> tuple[SimulationOut, int, dict[str, str]]:
    """Queue a simulation with the request's options; 202 with its URL."""
    run = body.options()
    limit = current_app.config["PLAN_TIME_LIMIT_S"]
    if run.time_limit_s is not None and run.time_limit_s > limit:
        raise _invalid("time_limit_s", f"at most {limit:g} s on this server")
    with g.db() as s:
        scenario = find_scenario(s, scenario_id)
        try:
            check_span(run.start, run.end, *_reading_days(s, scenario), names=("from", "to"))
        except SimDateError as exc:
            raise _invalid(exc.field, str(exc)) from exc
        check_job_slots(s, SimulationRow, "ORG_MAX_SIMULATIONS", "too_many_simulations", "simulations", 60)
        row = SimulationRow(
            org_id=current_org(),
            scenario_id=scenario_id,
            options_json=json.dumps({**run.as_json(), "policies": body.policies}),
            days_done=0,
            days_total=run.days * len(body.policies),
        )
        s.add(row)
        s.flush()
        audit(s, "simulate", "scenario", scenario_id, {"simulation_id": row.id})
        s.commit()
        out = _simulation_out(row)
    submit_job("simulations", row.id, "simulation_id")
    return out, 202, {"Location": out.links["self"]}


@endpoint(
    simulations,
    "GET",
    "/simulations",
    summary="List the organisation's simulations",
    query=ListQuery,
    replies={200: SimulationPage},
)
def list_simulations(query: ListQuery) -> SimulationPage:
    with g.db() as s:
        rows, total = rows_page(s, SimulationRow, query, (SimulationRow.created.desc(),))
        items = [_simulation_out(r, result=False) for r in rows]
        return SimulationPage.of(items, total, query)


@endpoint(
    simulations,
    "GET",
    "/simulations/<simulation_id>",
    summary="A simulation's status, progress and, when done, simulation.json",
    replies={200: SimulationOut},
)
def get_simulation(simulation_id: str) -> SimulationOut:
    with g.db() as s:
        return _simulation_out(_simulation(s, simulation_id))


@endpoint(
    simulations,
    "GET",
    "/simulations/<simulation_id>/report",
    summary="The simulation's report page (report.html)",
    replies={200: file_reply("text/html", "HTML")},
    errors=(409,),
)
def simulation_report(simulation_id: str) -> Response:
    """``report.html`` of a simulation that is done (409 before)."""
    with g.db() as s:
        row = _simulation(s, simulation_id)
    if row.status != "done":
        raise APIError(
            409, "not_ready", f"simulation {simulation_id} is {row.status}", {"status": row.status, "error": row.error}
        )
    return Response(
        row.report_html,
        mimetype="text/html",
        headers={"Content-Disposition": f'attachment; filename="simulation-{row.id}.html"'},
    )


@endpoint(
    simulations,
    "DELETE",
    "/simulations/<simulation_id>",
    summary="Delete a simulation",
    role="planner",
    replies={204: Reply("deleted")},
    errors=(409,),
)
def delete_simulation(simulation_id: str) -> Response:
    with g.db() as s:
        busy = "the simulation is running; delete it when it is done or failed"
        return delete_job(s, _simulation(s, simulation_id), "simulation", busy)
