"""The live day under ``/api/v1/plans/<id>``: crew tokens, the crews' events, the day, the crew page, re-plans.

A crew's token (``X-Crew-Token``) opens only its own crew-day: its events, its
stops. Another organisation's plan is a 404 whatever the token or key; an
expired or revoked token a 401. Events and tokens belong to the day's first plan
(its ``root``); a re-plan is a new version of the plan and the day view shows
the newest.
"""

from __future__ import annotations

import functools
import io
import json
import re
from datetime import date as Date
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
import xstatic.pkg.leaflet as leaflet
from flask import Blueprint, Response, g, url_for
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from binroute.geo import OSM_ATTRIBUTION, PALETTE
from binroute.routing import ProblemError

from ...pipeline.mapview import DEFAULT_TILES
from ..db import CrewTokenRow, PlanRow, ScenarioRow, now
from ..errors import APIError
from ..live.day import DAY_REPORTS, crew_days, day_crews, event_json
from ..live.events import day_events, event_utc, record_events
from ..live.replan import ReplanRequest, replan_day
from ..live.tokens import live_now, make_crew_token
from ..openapi import Reply, endpoint, file_reply
from ..schemas import (
    CrewChange,
    CrewTokenCreated,
    CrewTokenIn,
    CrewTokenList,
    CrewTokenOut,
    DayOut,
    EventsIn,
    EventsOut,
    ReplanIn,
    ReplanOut,
)
from ..store import audit, current_org, data_dir, find_owned, scenario_bin_ids, scoped
from .plans import plan_out

live = Blueprint("live", __name__, url_prefix="/api/v1/plans/<plan_id>")


#: A value of a page template: ``__NAME__``.
PLACEHOLDER = re.compile(r"__[A-Z_]+__")


def _inline_js(path: Path) -> str:
    """A bundled script, safe inside a <script> element, without its source-map link."""
    text = path.read_text(encoding="utf-8").replace("</script", "<\\/script")
    return re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)


@functools.cache
def page_html(name: str) -> str:
    """A page of ``templates/`` (the crew page, the live map) with Leaflet inlined, so it needs no other server."""
    base = Path(leaflet.BASE_DIR)
    values = {
        "__LEAFLET_CSS__": (base / "leaflet.css").read_text(encoding="utf-8"),
        "__LEAFLET_JS__": _inline_js(base / "leaflet.js"),
        "__TILES__": json.dumps(DEFAULT_TILES),
        "__ATTRIBUTION__": json.dumps(OSM_ATTRIBUTION),
        "__PALETTE__": json.dumps(list(PALETTE)),
    }
    page = files("binroute.api.service").joinpath("templates", name).read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda m: values.get(m.group(0), m.group(0)), page)


def day_plan(s: Session, plan_id: str) -> tuple[PlanRow, PlanRow]:
    """The day's first plan and its newest version, from any version's id; 404 for a crew token of another day.

    409 while the plan is not done.
    """
    row: PlanRow = find_owned(s, PlanRow, plan_id, "plan")
    root_id = row.root_id or row.id
    crew = g.get("crew")
    if crew is not None and crew.plan_id != root_id:
        raise APIError(404, "not_found", f"plan {plan_id} not found")
    root = row if row.id == root_id else find_owned(s, PlanRow, root_id, "plan")
    if root.status != "done":
        raise APIError(409, "not_ready", f"plan {plan_id} is {root.status}", {"status": root.status})
    newest = s.scalars(
        scoped(PlanRow, (PlanRow.id == root_id) | (PlanRow.root_id == root_id)).order_by(PlanRow.version.desc())
    ).first()
    assert newest is not None
    return root, newest


def plan_day(root: PlanRow) -> Date:
    """The date a plan is for."""
    return Date.fromisoformat(json.loads(root.options_json)["date"])


def fleet_tz(scenario: ScenarioRow) -> str:
    tz: str = json.loads(scenario.fleet_json).get("timezone", "UTC")
    return tz


def _token_out(row: CrewTokenRow) -> CrewTokenOut:
    return CrewTokenOut.model_validate(row, from_attributes=True)


@endpoint(
    live,
    "POST",
    "/crew-tokens",
    summary="A crew's link for the plan's day: a token for one vehicle, expiring at the end of the day",
    role="planner",
    body=CrewTokenIn,
    replies={201: CrewTokenCreated},
    errors=(409,),
)
def new_crew_token(plan_id: str, body: CrewTokenIn) -> CrewTokenCreated:
    """A token for one crew of a done plan, shown once, with the crew page's link; 409 once the day is over."""
    with g.db() as s:
        root, newest = day_plan(s, plan_id)
        if body.vehicle_id not in day_crews(root.summary_json, newest.summary_json):
            raise APIError(
                422,
                "validation_error",
                "the request is not valid",
                [{"field": "vehicle_id", "message": f"{body.vehicle_id} has no route in plan {plan_id}"}],
            )
        scenario = s.get(ScenarioRow, root.scenario_id)
        assert scenario is not None
        row, secret = make_crew_token(
            s,
            org_id=current_org(),
            plan_id=root.id,
            vehicle_id=body.vehicle_id,
            day=plan_day(root),
            tz=fleet_tz(scenario),
        )
        if row.expires <= live_now():
            raise APIError(409, "conflict", f"the plan's day ({row.day}) is over")
        s.flush()
        audit(s, "create", "crew_token", row.id, {"plan_id": root.id, "vehicle_id": body.vehicle_id})
        s.commit()
        link = url_for("live.crew_page", plan_id=root.id) + "#" + secret
        return CrewTokenCreated(**_token_out(row).model_dump(), token=secret, link=link)


@endpoint(
    live,
    "GET",
    "/crew-tokens",
    summary="The crew tokens of the plan's day (without their secrets)",
    replies={200: CrewTokenList},
    errors=(409,),
)
def list_crew_tokens(plan_id: str) -> CrewTokenList:
    with g.db() as s:
        root, _ = day_plan(s, plan_id)
        rows = s.scalars(scoped(CrewTokenRow, CrewTokenRow.plan_id == root.id).order_by(CrewTokenRow.created))
        return CrewTokenList(items=[_token_out(r) for r in rows])


@endpoint(
    live,
    "DELETE",
    "/crew-tokens/<token_id>",
    summary="Revoke a crew token (its link stops working at once)",
    role="planner",
    replies={204: Reply("revoked")},
    errors=(409,),
)
def revoke_crew_token(plan_id: str, token_id: str) -> Response:
    with g.db() as s:
        root, _ = day_plan(s, plan_id)
        row: CrewTokenRow = find_owned(s, CrewTokenRow, token_id, "crew token")
        if row.plan_id != root.id:
            raise APIError(404, "not_found", f"crew token {token_id} not found")
        if row.revoked is None:
            row.revoked = now()
            audit(s, "revoke", "crew_token", token_id)
            s.commit()
    return Response(status=204)


def route_of_bins(row: PlanRow) -> dict[str, str]:
    """Bin id -> the crew whose route has it, in a plan's version."""
    plan = json.loads(row.summary_json or "{}")
    return {s["id"]: v["vehicle_id"] for v in plan.get("vehicles", []) for s in v["stops"] if s["kind"] == "bin"}


def scenario_bins(scenario: ScenarioRow) -> pd.DataFrame:
    """A stored scenario's bins table."""
    return pd.read_csv(io.StringIO(scenario.bins_csv), dtype={"bin_id": str})


@endpoint(
    live,
    "POST",
    "/events",
    summary="Record what crews report (stops done, exceptions, positions); idempotent by event_id",
    role="planner",
    crew=True,
    body=EventsIn,
    replies={201: EventsOut, 200: Reply("all duplicates", EventsOut)},
    errors=(409,),
)
def post_events(plan_id: str, body: EventsIn) -> tuple[EventsOut, int]:
    """Store a batch of events in any order, each once; every emptying becomes a row of the collection log."""
    with g.db() as s:
        root, newest = day_plan(s, plan_id)
        scenario = s.get(ScenarioRow, root.scenario_id)
        assert scenario is not None
        crews = set(day_crews(root.summary_json, newest.summary_json))
        key = g.get("key")
        done = record_events(
            s,
            root,
            scenario,
            body.events,
            bins=scenario_bin_ids(scenario),
            crews=crews,
            routes=route_of_bins(newest),
            tz=fleet_tz(scenario),
            crew=g.crew,
            key_id=key.id if key is not None else None,
        )
        s.commit()
    out = EventsOut(
        received=done.received, inserted=done.inserted, duplicates=done.duplicates, collections=done.collections
    )
    return out, 201 if done.inserted else 200


def day_out(s: Session, root: PlanRow, newest: PlanRow, only: str | None) -> DayOut:
    """The day as it stands, for every crew or ``only`` one."""
    scenario = s.get(ScenarioRow, root.scenario_id)
    assert scenario is not None
    events = day_events(s, root.id)
    plan: dict[str, Any] = json.loads(newest.summary_json or "{}")
    crews = crew_days(
        plan,
        json.loads(newest.geojson or "{}"),
        scenario_bins(scenario),
        events,
        crews=day_crews(root.summary_json, newest.summary_json),
        only=only,
    )
    reports = [event_json(e) for e in events if e.kind in DAY_REPORTS and (only is None or e.vehicle_id == only)]
    links = {
        "self": url_for("live.plan_day_state", plan_id=newest.id),
        "plan": url_for("plans.get_plan", plan_id=newest.id),
        "routes": url_for("plans.plan_geojson", plan_id=newest.id),
    }
    return DayOut.model_validate(
        {
            "plan_id": newest.id,
            "root_id": root.id,
            "version": newest.version,
            "date": plan_day(root).isoformat(),
            "timezone": fleet_tz(scenario),
            "crews": crews,
            "reports": reports,
            "events": len(events) if only is None else sum(e.vehicle_id == only for e in events),
            "links": links,
        }
    )


@endpoint(
    live,
    "GET",
    "/day",
    summary="The day as it stands: per crew, stops done and left, exceptions, last position, lateness",
    crew=True,
    replies={200: DayOut},
    errors=(409,),
)
def plan_day_state(plan_id: str) -> DayOut:
    """Every crew's day for a key; a crew token's own crew only."""
    with g.db() as s:
        root, newest = day_plan(s, plan_id)
        crew = g.get("crew")
        return day_out(s, root, newest, crew.vehicle_id if crew is not None else None)


@endpoint(
    live,
    "GET",
    "/crew",
    summary="The crew page (the token goes in the link's fragment, which browsers never send)",
    role=None,
    replies={200: file_reply("text/html", "HTML")},
)
def crew_page(plan_id: str) -> Response:
    """The crew's page for a phone; it reads its token from the link's fragment and works offline."""
    return Response(page_html("crew.html"), mimetype="text/html")


@endpoint(
    live,
    "GET",
    "/crew-sw.js",
    summary="The crew page's service worker, which keeps the page on the phone for when there is no signal",
    role=None,
    replies={200: file_reply("text/javascript", "JavaScript")},
)
def crew_service_worker(plan_id: str) -> Response:
    """The service worker of the crew page (its scope: this plan's pages)."""
    script = files("binroute.api.service").joinpath("templates", "crew-sw.js").read_text(encoding="utf-8")
    return Response(script, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@endpoint(
    live,
    "GET",
    "/live",
    summary="The supervisor's live map of the day (a viewer key goes in the link's fragment)",
    role=None,
    replies={200: file_reply("text/html", "HTML")},
)
def live_map(plan_id: str) -> Response:
    """Each crew's position, stops done and left, exceptions and reports, refreshed every 15 s from ``/day``."""
    return Response(page_html("live.html"), mimetype="text/html")


@endpoint(
    live,
    "POST",
    "/replan",
    summary="Re-plan the rest of the day from what the crews reported; a new version of the plan",
    role="planner",
    body=ReplanIn,
    replies={201: ReplanOut},
    errors=(409,),
)
def replan_plan(plan_id: str, body: ReplanIn) -> tuple[ReplanOut, int, dict[str, str]]:
    """Re-plan from the newest version as of ``at`` (default: now); 201 with the new version and the change."""
    with g.db() as s:
        root, newest = day_plan(s, plan_id)
        scenario = s.get(ScenarioRow, root.scenario_id)
        assert scenario is not None
        at = live_now() if body.at is None else event_utc(body.at, fleet_tz(scenario))
        request = ReplanRequest(
            at=at,
            time_limit_s=body.time_limit_s,
            solution_limit=body.solution_limit,
            seed=body.seed,
            keep_unless_saves=body.keep_unless_saves_pct / 100.0,
        )
        try:
            done = replan_day(
                s,
                root,
                newest,
                scenario,
                day_events(s, root.id),
                request,
                data_dir() / "replans",
                data_dir() / "networks",
            )
        except ProblemError as exc:
            raise APIError(409, "conflict", str(exc)) from exc
        options = {
            **json.loads(root.options_json),
            "replan": {"at": at.isoformat() + "Z", **body.model_dump(mode="json", exclude={"at"})},
        }
        row = PlanRow(
            org_id=root.org_id,
            scenario_id=root.scenario_id,
            options_json=json.dumps(options),
            status="done",
            started=now(),
            finished=now(),
            summary_json=json.dumps(done.plan),
            geojson=json.dumps(done.geojson, separators=(",", ":")),
            map_html=done.map_html,
            root_id=root.id,
            replan_of=newest.id,
            version=newest.version + 1,
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError as exc:
            raise APIError(409, "conflict", "another re-plan of this day was stored meanwhile; re-plan again") from exc
        audit(s, "replan", "plan", root.id, {"version": row.version, "plan_id": row.id, "choice": done.choice})
        s.commit()
        out = ReplanOut(
            plan=plan_out(row),
            version=row.version,
            replaces=newest.id,
            choice=done.choice,
            kept_share=done.kept_share,
            kept_cost=done.costs[0],
            moved_cost=done.costs[1],
            move_cost=done.move_cost,
            changes=[CrewChange(**c) for c in done.changes],
            unserved_required=done.unserved_required,
            unserved_why=done.unserved_why,
            fleet_short=done.fleet_short,
            feasible=done.feasible,
            seconds=done.seconds,
        )
    return out, 201, {"Location": out.plan.links["self"]}
