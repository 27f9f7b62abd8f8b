"""The OpenAPI 3.1 document, generated from the pydantic models, and an offline docs page."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import schemas as m

_MODELS: list[type[BaseModel]] = [
    m.ErrorOut,
    m.ScenarioOut,
    m.ScenarioPage,
    m.ScenarioJsonIn,
    m.ReadingsIn,
    m.IngestOut,
    m.ReadingPage,
    m.ForecastOut,
    m.PlanIn,
    m.PlanOut,
    m.PlanPage,
    m.Health,
]


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type, description: str = "") -> dict[str, Any]:
    return {"description": description or model.__name__, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "bad request",
        401: "no or bad API key",
        403: "key may not write",
        404: "not found",
        409: "conflict with the current state",
        413: "request too large",
        422: "validation error",
    }
    return {str(c): _json(m.ErrorOut, text[c]) for c in codes}


def _query(name: str, schema: dict[str, Any], description: str, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


PAGING = [
    _query("limit", {"type": "integer", "minimum": 1}, "page size"),
    _query("offset", {"type": "integer", "minimum": 0}, "items to skip"),
]


def openapi_document() -> dict[str, Any]:
    """The API description, with every schema taken from :mod:`api.schemas`."""
    _, defs = models_json_schema([(x, "validation") for x in _MODELS], ref_template="#/components/schemas/{model}")
    sid, pid = _path("scenario_id"), _path("plan_id")
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {"summary": "Health check (no key needed)", "security": [], "responses": {"200": _json(m.Health)}}
        },
        "/api/v1/scenarios": {
            "post": {
                "summary": "Create a scenario from uploaded files (multipart: name, fleet, bins, network, "
                "readings?) or JSON",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": _ref(m.ScenarioJsonIn)},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["name", "fleet", "bins", "network"],
                                "properties": {
                                    k: {"type": "string", "format": "binary"}
                                    for k in ("fleet", "bins", "network", "readings")
                                }
                                | {"name": {"type": "string"}},
                            }
                        },
                    }
                },
                "responses": {"201": _json(m.ScenarioOut), **_errors(400, 401, 403, 409, 413, 422)},
            },
            "get": {
                "summary": "List scenarios",
                "parameters": PAGING,
                "responses": {"200": _json(m.ScenarioPage), **_errors(401, 422)},
            },
        },
        "/api/v1/scenarios/{scenario_id}": {
            "get": {
                "summary": "Get a scenario",
                "parameters": [sid],
                "responses": {"200": _json(m.ScenarioOut), **_errors(401, 404)},
            },
            "delete": {
                "summary": "Delete a scenario, its readings and plans",
                "parameters": [sid],
                "responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404, 409)},
            },
        },
        "/api/v1/scenarios/{scenario_id}/bins": {
            "get": {
                "summary": "Bins of a scenario",
                "parameters": [sid, *PAGING],
                "responses": {"200": {"description": "a page of bins"}, **_errors(401, 404)},
            }
        },
        "/api/v1/scenarios/{scenario_id}/vehicles": {
            "get": {
                "summary": "Vehicles of a scenario",
                "parameters": [sid],
                "responses": {"200": {"description": "the vehicles"}, **_errors(401, 404)},
            }
        },
        "/api/v1/scenarios/{scenario_id}/readings": {
            "post": {
                "summary": "Bulk ingest readings (JSON or text/csv), idempotent by (bin_id, timestamp)",
                "parameters": [sid],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": _ref(m.ReadingsIn)},
                        "text/csv": {"schema": {"type": "string"}},
                    }
                },
                "responses": {
                    "201": _json(m.IngestOut),
                    "200": _json(m.IngestOut, "all duplicates"),
                    **_errors(401, 403, 404, 413, 422),
                },
            },
            "get": {
                "summary": "Query readings by bin and time range",
                "parameters": [
                    sid,
                    _query("bin_id", {"type": "string"}, "one bin"),
                    _query("from", {"type": "string", "format": "date-time"}, "from (inclusive)"),
                    _query("to", {"type": "string", "format": "date-time"}, "to (inclusive)"),
                    *PAGING,
                ],
                "responses": {"200": _json(m.ReadingPage), **_errors(401, 404, 422)},
            },
        },
        "/api/v1/scenarios/{scenario_id}/forecast": {
            "get": {
                "summary": "Predicted fill and must/may/skip per bin at a time",
                "parameters": [sid, _query("at", {"type": "string", "format": "date-time"}, "when", required=True)],
                "responses": {"200": _json(m.ForecastOut), **_errors(401, 404, 409, 422)},
            }
        },
        "/api/v1/scenarios/{scenario_id}/plans": {
            "post": {
                "summary": "Start a solve in the background; 202 with the plan's URL",
                "parameters": [sid],
                "requestBody": {"content": {"application/json": {"schema": _ref(m.PlanIn)}}},
                "responses": {"202": _json(m.PlanOut), **_errors(401, 403, 404, 422)},
            }
        },
        "/api/v1/plans": {
            "get": {
                "summary": "List plans",
                "parameters": PAGING,
                "responses": {"200": _json(m.PlanPage), **_errors(401, 422)},
            }
        },
        "/api/v1/plans/{plan_id}": {
            "get": {
                "summary": "A plan's status and summary",
                "parameters": [pid],
                "responses": {"200": _json(m.PlanOut), **_errors(401, 404)},
            },
            "delete": {
                "summary": "Delete a plan",
                "parameters": [pid],
                "responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404, 409)},
            },
        },
        "/api/v1/plans/{plan_id}/routes.geojson": {
            "get": {
                "summary": "Download the plan as GeoJSON",
                "parameters": [pid],
                "responses": {
                    "200": {"description": "GeoJSON", "content": {"application/geo+json": {}}},
                    **_errors(401, 404, 409),
                },
            }
        },
        "/api/v1/plans/{plan_id}/vehicles/{vehicle_id}.geojson": {
            "get": {
                "summary": "One crew's route as GeoJSON",
                "parameters": [pid, _path("vehicle_id")],
                "responses": {"200": {"description": "GeoJSON"}, **_errors(401, 404, 409)},
            }
        },
        "/api/v1/plans/{plan_id}/map": {
            "get": {
                "summary": "The plan's map page",
                "parameters": [pid],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}, **_errors(401, 404, 409)},
            }
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


DOCS_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>binroute API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{background:#f4f4f4;padding:2px 4px}.op{border-left:4px solid #369;padding:4px 10px;margin:10px 0}
.m{font-weight:bold;text-transform:uppercase;margin-right:8px}</style></head>
<body><h1>binroute API</h1><p>Send your key in the <code>X-API-Key</code> header. The machine-readable
description is at <a href="openapi.json">openapi.json</a>.</p><div id="ops">loading…</div>
<h2>Schemas</h2><div id="schemas"></div>
<script>
fetch("openapi.json").then((r) => r.json()).then((doc) => {
  const esc = (s) => String(s ?? "").replace(/[&<>]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;"}[c]));
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) {
    const params = (op.parameters || []).map((p) => `<code>${esc(p.name)}</code> (${p.in})`).join(", ");
    const codes = Object.keys(op.responses).join(", ");
    ops.push(`<div class="op"><span class="m">${method}</span><code>${esc(path)}</code><div>${esc(op.summary)}</div>` +
      (params ? `<div>parameters: ${params}</div>` : "") + `<div>responses: ${codes}</div></div>`);
  }
  document.getElementById("ops").innerHTML = ops.join("");
  document.getElementById("schemas").innerHTML = Object.entries(doc.components.schemas).map(([n, s]) =>
    `<h3>${esc(n)}</h3><pre>${esc(JSON.stringify(s.properties || s, null, 2))}</pre>`).join("");
});
</script></body></html>
"""
