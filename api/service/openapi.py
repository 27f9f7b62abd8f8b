"""The OpenAPI 3.1 document, generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import schemas as m

_MODELS: list[type[BaseModel]] = [
    m.ErrorOut,
    m.OrgOut,
    m.ScenarioOut,
    m.ScenarioPage,
    m.ScenarioJsonIn,
    m.ReadingsIn,
    m.IngestOut,
    m.ReadingPage,
    m.CollectionsIn,
    m.CollectionPage,
    m.ForecastOut,
    m.PlanIn,
    m.PlanOut,
    m.PlanPage,
    m.SimulationIn,
    m.SimulationOut,
    m.SimulationPage,
    m.Health,
    m.KeyIn,
    m.KeyOut,
    m.KeyCreated,
    m.KeyPage,
    m.AuditOut,
    m.AuditPage,
]


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type, description: str = "") -> dict[str, Any]:
    return {"description": description or model.__name__, "content": {"application/json": {"schema": _ref(model)}}}


#: What each error status means, for the document.
ERROR_TEXT = {
    400: "bad request (a body that is not JSON, a broken multipart upload)",
    401: "no or bad API key",
    403: "the key's role may not do this",
    404: "not found (also another organisation's object)",
    409: "conflict with the current state",
    413: "request body too large",
    415: "unsupported content type",
    422: "validation error (field paths in details)",
    429: "a limit of the organisation was reached (Retry-After says when to try again)",
    503: "the task queue cannot be reached; the plan or simulation is stored as failed with the reason",
}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _json(m.ErrorOut, ERROR_TEXT[c]) for c in sorted(set(codes))}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters a query model takes, bounds and all, as OpenAPI parameters."""
    schema = model.model_json_schema(by_alias=True)
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        options = [x for x in prop.pop("anyOf", []) if x.get("type") != "null"]
        if options:
            prop.update(options[0])
        prop.pop("title", None)
        description = prop.pop("description", name)
        out.append(
            {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            | {"description": description}
        )
    return out


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    role: str | None = "viewer",
    path: tuple[str, ...] = (),
    query: type[BaseModel] | None = None,
    body: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    """One operation, its error statuses derived from what it takes (every status the code can answer)."""
    codes = set(errors)
    if role is not None:
        codes |= {401, 413, 429}
        if role != "viewer":
            codes.add(403)
    if path:
        codes.add(404)
    if query is not None:
        codes.add(422)
    if body is not None:
        codes |= {400, 413, 415, 422}
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [_path(p) for p in path] + (query_parameters(query) if query else []),
        "responses": responses | _errors(*codes),
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if role is None:
        op["security"] = []
    elif role != "viewer":
        op["description"] = f"Needs a {role} key."
    return op


def openapi_document() -> dict[str, Any]:
    """The API description, with every schema taken from :mod:`binroute.api.schemas`."""
    _, defs = models_json_schema([(x, "validation") for x in _MODELS], ref_template="#/components/schemas/{model}")
    sid, pid, simid = ("scenario_id",), ("plan_id",), ("simulation_id",)
    multipart = {
        "schema": {
            "type": "object",
            "required": ["name", "fleet", "bins", "network"],
            "properties": {
                k: {"type": "string", "format": "binary"}
                for k in ("fleet", "bins", "network", "readings", "collections")
            }
            | {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
        }
    }
    geojson = {"description": "GeoJSON", "content": {"application/geo+json": {"schema": {"type": "object"}}}}
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("Health check (no key needed)", {"200": _json(m.Health)}, role=None)},
        "/api/v1/scenarios": {
            "post": _op(
                "Create a scenario from uploaded files "
                "(multipart: name, fleet, bins, network, readings?, collections?) or JSON",
                {"201": _json(m.ScenarioOut)},
                role="planner",
                body={"application/json": {"schema": _ref(m.ScenarioJsonIn)}, "multipart/form-data": multipart},
                errors=(404, 409),
            ),
            "get": _op("List the organisation's scenarios", {"200": _json(m.ScenarioPage)}, query=m.ListQuery),
        },
        "/api/v1/scenarios/{scenario_id}": {
            "get": _op("Get a scenario", {"200": _json(m.ScenarioOut)}, path=sid),
            "delete": _op(
                "Delete a scenario, its readings, collections and plans",
                {"204": {"description": "deleted"}},
                role="planner",
                path=sid,
                errors=(409,),
            ),
        },
        "/api/v1/scenarios/{scenario_id}/bins": {
            "get": _op("Bins of a scenario", {"200": {"description": "a page of bins"}}, path=sid, query=m.ListQuery)
        },
        "/api/v1/scenarios/{scenario_id}/vehicles": {
            "get": _op("Vehicles of a scenario", {"200": {"description": "the vehicles"}}, path=sid)
        },
        "/api/v1/scenarios/{scenario_id}/readings": {
            "post": _op(
                "Bulk ingest readings (JSON or text/csv), idempotent by (bin_id, timestamp)",
                {"201": _json(m.IngestOut), "200": _json(m.IngestOut, "all duplicates")},
                role="planner",
                path=sid,
                body={
                    "application/json": {"schema": _ref(m.ReadingsIn)},
                    "text/csv": {"schema": {"type": "string"}},
                },
            ),
            "get": _op(
                "Query readings by bin and time range", {"200": _json(m.ReadingPage)}, path=sid, query=m.ReadingQuery
            ),
        },
        "/api/v1/scenarios/{scenario_id}/collections": {
            "post": _op(
                "Bulk ingest collections (JSON or text/csv as collections.csv), idempotent by (bin_id, collected_at)",
                {"201": _json(m.IngestOut), "200": _json(m.IngestOut, "all duplicates")},
                role="planner",
                path=sid,
                body={
                    "application/json": {"schema": _ref(m.CollectionsIn)},
                    "text/csv": {"schema": {"type": "string"}},
                },
            ),
            "get": _op(
                "Query collections by bin and time range",
                {"200": _json(m.CollectionPage)},
                path=sid,
                query=m.CollectionQuery,
            ),
        },
        "/api/v1/scenarios/{scenario_id}/forecast": {
            "get": _op(
                "Predicted fill and must/may/skip per bin at a time",
                {"200": _json(m.ForecastOut)},
                path=sid,
                query=m.ForecastQuery,
                errors=(409,),
            )
        },
        "/api/v1/scenarios/{scenario_id}/plans": {
            "post": _op(
                "Start a solve in the background; 202 with the plan's URL",
                {"202": _json(m.PlanOut)},
                role="planner",
                path=sid,
                query=m.PlanQuery,
                body={"application/json": {"schema": _ref(m.PlanIn)}},
                errors=(503,),
            )
        },
        "/api/v1/plans": {"get": _op("List the organisation's plans", {"200": _json(m.PlanPage)}, query=m.ListQuery)},
        "/api/v1/plans/{plan_id}": {
            "get": _op("A plan's status, summary, and progress while it runs", {"200": _json(m.PlanOut)}, path=pid),
            "delete": _op(
                "Delete a plan", {"204": {"description": "deleted"}}, role="planner", path=pid, errors=(409,)
            ),
        },
        "/api/v1/plans/{plan_id}/routes.geojson": {
            "get": _op("Download the plan as GeoJSON", {"200": geojson}, path=pid, errors=(409,))
        },
        "/api/v1/plans/{plan_id}/vehicles/{vehicle_id}.geojson": {
            "get": _op("One crew's route as GeoJSON", {"200": geojson}, path=(*pid, "vehicle_id"), errors=(409,))
        },
        "/api/v1/plans/{plan_id}/map": {
            "get": _op(
                "The plan's map page",
                {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
                path=pid,
                errors=(409,),
            )
        },
        "/api/v1/scenarios/{scenario_id}/simulations": {
            "post": _op(
                "Simulate collection policies over past days in the background (as `binroute simulate`); "
                "202 with the simulation's URL",
                {"202": _json(m.SimulationOut)},
                role="planner",
                path=sid,
                body={"application/json": {"schema": _ref(m.SimulationIn)}},
                errors=(503,),
            )
        },
        "/api/v1/simulations": {
            "get": _op("List the organisation's simulations", {"200": _json(m.SimulationPage)}, query=m.ListQuery)
        },
        "/api/v1/simulations/{simulation_id}": {
            "get": _op(
                "A simulation's status, progress and, when done, simulation.json",
                {"200": _json(m.SimulationOut)},
                path=simid,
            ),
            "delete": _op(
                "Delete a simulation", {"204": {"description": "deleted"}}, role="planner", path=simid, errors=(409,)
            ),
        },
        "/api/v1/simulations/{simulation_id}/report": {
            "get": _op(
                "The simulation's report page (report.html)",
                {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
                path=simid,
                errors=(409,),
            )
        },
        "/api/v1/keys": {
            "get": _op("The organisation's API keys", {"200": _json(m.KeyPage)}, role="admin", query=m.ListQuery),
            "post": _op(
                "Create a key of the organisation; the secret is in this answer only",
                {"201": _json(m.KeyCreated)},
                role="admin",
                body={"application/json": {"schema": _ref(m.KeyIn)}},
            ),
        },
        "/api/v1/keys/{key_id}": {
            "delete": _op(
                "Revoke a key of the organisation (not the key asking)",
                {"204": {"description": "revoked"}},
                role="admin",
                path=("key_id",),
                errors=(409,),
            )
        },
        "/api/v1/audit": {
            "get": _op(
                "Who created, deleted or planned what, newest first",
                {"200": _json(m.AuditPage)},
                role="admin",
                query=m.ListQuery,
            )
        },
        "/api/v1/organisation": {
            "get": _op(
                "The key's organisation and its limits: each cap and how much of it is in use",
                {"200": _json(m.OrgOut)},
                role="viewer",
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "binroute",
            "version": "1",
            "description": "Waste-collection route planning. Road data © OpenStreetMap contributors, ODbL.",
        },
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
        "security": [{"apiKey": []}],
    }
