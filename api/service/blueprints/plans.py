"""``/api/v1/plans``: start a solve in the background, follow it, download its routes and map, delete it."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, current_app, g, url_for
from sqlalchemy.orm import Session

from binroute.geo import vehicle_collection

from ...pipeline.areas import crews_from_plan
from ...pipeline.write import safe_name
from ..db import PlanRow
from ..errors import APIError
from ..jobs import progress_out
from ..openapi import Reply, endpoint, file_reply
from ..schemas import ListQuery, PlanIn, PlanOut, PlanPage, PlanProgress, PlanQuery
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

plans = Blueprint("plans", __name__, url_prefix="/api/v1")


#: A plan's GeoJSON download, for the declarations.
GEOJSON = file_reply("application/geo+json", "GeoJSON", {"type": "object"})


def plan_out(row: PlanRow) -> PlanOut:
    out = job_out(row, "plans.get_plan", plan_id=row.id)
    if row.status == "done":
        out["links"]["routes"] = url_for("plans.plan_geojson", plan_id=row.id)
        out["links"]["map"] = url_for("plans.plan_map", plan_id=row.id)
    progress = progress_out(row)
    return PlanOut(**out, summary=_summary(row), progress=PlanProgress.model_validate(progress) if progress else None)


def _summary(row: PlanRow) -> dict[str, Any] | None:
    if not row.summary_json:
        return None
    plan = json.loads(row.summary_json)
    return {
        k: plan[k] for k in ("totals", "decisions", "unserved_required", "engine", "status", "timings_s") if k in plan
    }


def _plan(s: Session, plan_id: str) -> PlanRow:
    row: PlanRow = find_owned(s, PlanRow, plan_id, "plan")
    return row


@endpoint(
    plans,
    "POST",
    "/scenarios/<scenario_id>/plans",
    summary="Start a solve in the background; 202 with the plan's URL",
    role="planner",
    query=PlanQuery,
    body=PlanIn,
    replies={202: PlanOut},
    errors=(404, 409, 503),
)
def start_plan(scenario_id: str, query: PlanQuery, body: PlanIn) -> tuple[PlanOut, int, dict[str, str]]:
    """Queue a solve with the request's options; 202 with the plan's URL."""
    run = body.options()
    limit = current_app.config["PLAN_TIME_LIMIT_S"]
    if run.time_limit_s is not None and run.time_limit_s > limit:
        raise APIError(
            422,
            "validation_error",
            "the request is not valid",
            [{"field": "time_limit_s", "message": f"at most {limit:g} s on this server"}],
        )
    with g.db() as s:
        find_scenario(s, scenario_id)
        if body.like is not None:
            earlier = _done(s, body.like)
            run = replace(run, usual_crews=crews_from_plan(json.loads(earlier.summary_json or "{}")), like=body.like)
        options = {**run.as_json(), "tiles": query.tiles}
        check_job_slots(s, PlanRow, "ORG_MAX_SOLVES", "too_many_solves", "plans", 30)
        row = PlanRow(org_id=current_org(), scenario_id=scenario_id, options_json=json.dumps(options))
        s.add(row)
        s.flush()
        audit(s, "plan", "scenario", scenario_id, {"plan_id": row.id})
        s.commit()
        out = plan_out(row)
    submit_job("jobs", row.id, "plan_id")
    return out, 202, {"Location": out.links["self"]}


@endpoint(plans, "GET", "/plans", summary="List the organisation's plans", query=ListQuery, replies={200: PlanPage})
def list_plans(query: ListQuery) -> PlanPage:
    with g.db() as s:
        rows, total = rows_page(s, PlanRow, query, (PlanRow.created.desc(),))
        return PlanPage.of([plan_out(r) for r in rows], total, query)


@endpoint(
    plans,
    "GET",
    "/plans/<plan_id>",
    summary="A plan's status, summary, and progress while it runs",
    replies={200: PlanOut},
)
def get_plan(plan_id: str) -> PlanOut:
    with g.db() as s:
        return plan_out(_plan(s, plan_id))


def _done(s: Session, plan_id: str) -> PlanRow:
    row = _plan(s, plan_id)
    if row.status != "done":
        raise APIError(409, "not_ready", f"plan {plan_id} is {row.status}", {"status": row.status, "error": row.error})
    return row


@endpoint(
    plans,
    "GET",
    "/plans/<plan_id>/routes.geojson",
    summary="Download the plan as GeoJSON",
    replies={200: GEOJSON},
    errors=(409,),
)
def plan_geojson(plan_id: str) -> Response:
    with g.db() as s:
        row = _done(s, plan_id)
    return Response(
        row.geojson,
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="plan-{row.id}.geojson"'},
    )


@endpoint(
    plans,
    "GET",
    "/plans/<plan_id>/vehicles/<vehicle_id>.geojson",
    summary="One crew's route as GeoJSON",
    crew=True,
    replies={200: GEOJSON},
    errors=(409,),
)
def vehicle_geojson(plan_id: str, vehicle_id: str) -> Response:
    """One crew's trips and stops; a crew token reads its own crew's, in any version of its day's plan."""
    with g.db() as s:
        row = _done(s, plan_id)
    crew = g.get("crew")
    if crew is not None and (crew.plan_id != (row.root_id or row.id) or crew.vehicle_id != vehicle_id):
        raise APIError(404, "not_found", f"vehicle {vehicle_id} has no route in plan {plan_id}")
    collection = json.loads(row.geojson or "{}")
    if not any(f["properties"].get("vehicle_id") == vehicle_id for f in collection["features"]):
        raise APIError(404, "not_found", f"vehicle {vehicle_id} has no route in plan {plan_id}")
    body = json.dumps(vehicle_collection(collection, vehicle_id), separators=(",", ":"))
    return Response(
        body,
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="plan-{row.id}-{safe_name(vehicle_id)}.geojson"'},
    )


@endpoint(
    plans,
    "GET",
    "/plans/<plan_id>/map",
    summary="The plan's map page",
    replies={200: file_reply("text/html", "HTML")},
    errors=(409,),
)
def plan_map(plan_id: str) -> Response:
    with g.db() as s:
        row = _done(s, plan_id)
    return Response(row.map_html, mimetype="text/html")


@endpoint(
    plans,
    "DELETE",
    "/plans/<plan_id>",
    summary="Delete a plan",
    role="planner",
    replies={204: Reply("deleted")},
    errors=(409,),
)
def delete_plan(plan_id: str) -> Response:
    with g.db() as s:
        return delete_job(s, _plan(s, plan_id), "plan", "the plan is being solved; delete it when it is done or failed")
