"""``/api/v1/plans``: start a solve in the background, follow it, download its routes and map, delete it."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from binroute.geo import vehicle_collection

from ...pipeline.write import safe_name
from ..auth import require
from ..db import PlanRow
from ..errors import APIError
from ..jobs import progress_out
from ..schemas import ListQuery, PlanIn, PlanQuery
from ..store import (
    accepted,
    audit,
    check_job_slots,
    current_org,
    delete_job,
    find_owned,
    find_scenario,
    job_out,
    page,
    rows_page,
    submit_job,
)
from ..validation import parse, parse_json

plans = Blueprint("plans", __name__, url_prefix="/api/v1")


def _plan_out(row: PlanRow) -> dict[str, Any]:
    out = job_out(row, "plans.get_plan", plan_id=row.id) | {"summary": _summary(row)}
    if row.status == "done":
        out["links"]["routes"] = url_for("plans.plan_geojson", plan_id=row.id)
        out["links"]["map"] = url_for("plans.plan_map", plan_id=row.id)
    out["progress"] = progress_out(row)
    return out


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


@plans.post("/scenarios/<scenario_id>/plans")
@require("planner")
def start_plan(scenario_id: str) -> ResponseReturnValue:
    """Queue a solve with the request's options; 202 with the plan's URL."""
    tiles = parse(PlanQuery, request.args.to_dict()).tiles
    body = parse_json(PlanIn)
    run = body.options()
    limit = current_app.config["PLAN_TIME_LIMIT_S"]
    if run.time_limit_s is not None and run.time_limit_s > limit:
        raise APIError(
            422,
            "validation_error",
            "the request is not valid",
            [{"field": "time_limit_s", "message": f"at most {limit:g} s on this server"}],
        )
    options = {**run.as_json(), "tiles": tiles}
    with g.db() as s:
        find_scenario(s, scenario_id)
        check_job_slots(s, PlanRow, "ORG_MAX_SOLVES", "too_many_solves", "plans", 30)
        row = PlanRow(org_id=current_org(), scenario_id=scenario_id, options_json=json.dumps(options))
        s.add(row)
        s.flush()
        audit(s, "plan", "scenario", scenario_id, {"plan_id": row.id})
        s.commit()
        out = _plan_out(row)
    submit_job("jobs", row.id, "plan_id")
    return accepted(out)


@plans.get("/plans")
@require("viewer")
def list_plans() -> ResponseReturnValue:
    q = parse(ListQuery, request.args.to_dict())
    with g.db() as s:
        rows, total = rows_page(s, PlanRow, q, (PlanRow.created.desc(),))
        return page([_plan_out(r) for r in rows], total, q)


@plans.get("/plans/<plan_id>")
@require("viewer")
def get_plan(plan_id: str) -> ResponseReturnValue:
    with g.db() as s:
        return jsonify(_plan_out(_plan(s, plan_id)))


def _done(s: Session, plan_id: str) -> PlanRow:
    row = _plan(s, plan_id)
    if row.status != "done":
        raise APIError(409, "not_ready", f"plan {plan_id} is {row.status}", {"status": row.status, "error": row.error})
    return row


@plans.get("/plans/<plan_id>/routes.geojson")
@require("viewer")
def plan_geojson(plan_id: str) -> ResponseReturnValue:
    with g.db() as s:
        row = _done(s, plan_id)
    return Response(
        row.geojson,
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="plan-{row.id}.geojson"'},
    )


@plans.get("/plans/<plan_id>/vehicles/<vehicle_id>.geojson")
@require("viewer")
def vehicle_geojson(plan_id: str, vehicle_id: str) -> ResponseReturnValue:
    with g.db() as s:
        row = _done(s, plan_id)
    collection = json.loads(row.geojson or "{}")
    if not any(f["properties"].get("vehicle_id") == vehicle_id for f in collection["features"]):
        raise APIError(404, "not_found", f"vehicle {vehicle_id} has no route in plan {plan_id}")
    body = json.dumps(vehicle_collection(collection, vehicle_id), separators=(",", ":"))
    return Response(
        body,
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="plan-{row.id}-{safe_name(vehicle_id)}.geojson"'},
    )


@plans.get("/plans/<plan_id>/map")
@require("viewer")
def plan_map(plan_id: str) -> ResponseReturnValue:
    with g.db() as s:
        row = _done(s, plan_id)
    return Response(row.map_html, mimetype="text/html")


@plans.delete("/plans/<plan_id>")
@require("planner")
def delete_plan(plan_id: str) -> ResponseReturnValue:
    with g.db() as s:
        return delete_job(s, _plan(s, plan_id), "plan", "the plan is being solved; delete it when it is done or failed")
