"""Each HTTP endpoint declared once: :func:`endpoint` and the OpenAPI 3.1 document written from the declarations.

A blueprint declares an endpoint with :func:`endpoint`: its route, the role its
API key needs, its query and body models and its answers. The decorator
registers the route, checks the key (``auth.require``) before anything else,
validates the query and the JSON body as :mod:`.validation` does (a broken one
is a 422 with field paths), calls the handler with them as ``query`` and
``body``, and turns the response model it returns into JSON. The declaration
stays on the view function, where :func:`openapi_document` reads it: the
document describes exactly the routes the app serves.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, jsonify, request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .auth import require
from .schemas import ErrorOut
from .validation import parse, parse_json

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute of a view function that holds its :class:`Endpoint`.
SPEC_ATTR = "endpoint_spec"

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


@dataclass(frozen=True)
class Reply:
    """One answer of an endpoint: a description and a body (a JSON model, another media type's schema, or none)."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str | None = None
    schema: Mapping[str, Any] | None = None


def file_reply(media_type: str, description: str, schema: Mapping[str, Any] | None = None) -> Reply:
    """An answer that is a document of ``media_type`` (GeoJSON, an HTML page) rather than a model."""
    return Reply(description, media_type=media_type, schema=schema or {"type": "string"})


@dataclass(frozen=True)
class Endpoint:
    """What one endpoint takes and answers, as :func:`endpoint` declared it."""

    summary: str
    role: str | None
    crew: bool
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    other_bodies: Mapping[str, Mapping[str, Any]]
    replies: Mapping[int, Reply]
    errors: tuple[int, ...]
    success: int = field(init=False)

    def __post_init__(self) -> None:
        ok = sorted(s for s in self.replies if s < 300)
        object.__setattr__(self, "success", ok[0] if len(ok) == 1 else 200)


def endpoint(
    bp: Blueprint,
    method: str,
    rule: str,
    *,
    summary: str,
    replies: Mapping[int, type[BaseModel] | Reply],
    role: str | None = "viewer",
    crew: bool = False,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    other_bodies: Mapping[str, Mapping[str, Any]] | None = None,
    errors: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Declare and register an endpoint of ``bp``: route, key, request models and answers in one place.

    Parameters
    ----------
    bp, method, rule
        The blueprint, HTTP method and URL rule (``bp``'s prefix comes before it).
    summary
        One line for the document.
    replies
        Status to answer: a response model (JSON) or a :class:`Reply`.
    role
        The role the API key needs (``None``: no key).
    crew
        A crew's token (``X-Crew-Token``) may be sent instead of the key; the handler
        confines it to its crew-day (``g.crew``).
    query
        The model of the query string, passed to the handler as ``query``.
    body
        The model of a JSON body, passed as ``body`` (strictly validated; ``None``
        when the request is one of ``other_bodies``' media types).
    other_bodies
        Other media types the body may have, with their schemas; the handler reads those itself.
    errors
        Error statuses the handler answers besides those the declaration implies
        (401, 403, 413 and 429 from the key, 404 from a path id, 400, 415 and 422 from a body).

    The handler returns a response model (answered with the single success status
    declared, else 200), a ``(model, status[, headers])`` tuple, or a Flask ``Response``.
    """
    spec = Endpoint(
        summary,
        role,
        crew,
        query,
        body,
        dict(other_bodies or {}),
        {status: r if isinstance(r, Reply) else Reply(r.__name__, r) for status, r in replies.items()},
        errors,
    )

    def register(func: F) -> F:
        @functools.wraps(func)
        def view(**kwargs: Any) -> Any:
            if spec.query is not None:
                kwargs["query"] = parse(spec.query, request.args.to_dict())
            if spec.body is not None:
                kwargs["body"] = None if request.mimetype in spec.other_bodies else parse_json(spec.body)
            return _answer(spec, func(**kwargs))

        checked = require(role, crew=crew)(view) if role is not None else view
        setattr(checked, SPEC_ATTR, spec)
        bp.add_url_rule(rule, endpoint=func.__name__, view_func=checked, methods=[method])
        return func

    return register


def _answer(spec: Endpoint, out: Any) -> Any:
    """The Flask answer to what a handler returned: a response model as JSON with its status, else as it is."""
    if isinstance(out, Response):
        return out
    model, status, headers = (*out, {})[:3] if isinstance(out, tuple) else (out, spec.success, {})
    expected = spec.replies.get(status)
    if expected is None or expected.model is None or not isinstance(model, expected.model):
        raise TypeError(f"the handler answered {type(model).__name__} with {status}, which it does not declare")
    resp = jsonify(model.model_dump(mode="json", by_alias=True))
    resp.status_code = status
    resp.headers.update(headers)
    return resp


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _reply(reply: Reply) -> dict[str, Any]:
    if reply.model is not None:
        return {"description": reply.description, "content": {"application/json": {"schema": _ref(reply.model)}}}
    if reply.media_type is not None:
        return {"description": reply.description, "content": {reply.media_type: {"schema": dict(reply.schema or {})}}}
    return {"description": reply.description}


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


def _operation(spec: Endpoint, path_names: list[str]) -> dict[str, Any]:
    """One operation, its error statuses derived from what it takes (every status the code can answer)."""
    codes = set(spec.errors)
    if spec.role is not None:
        codes |= {401, 413, 429}
        if spec.role != "viewer":
            codes.add(403)
    if path_names:
        codes.add(404)
    if spec.query is not None:
        codes.add(422)
    if spec.body is not None:
        codes |= {400, 413, 415, 422}
    path = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}} for p in path_names
    ]
    responses = {str(status): _reply(r) for status, r in spec.replies.items()}
    error = {str(c): _reply(Reply(ERROR_TEXT[c], ErrorOut)) for c in sorted(codes)}
    op: dict[str, Any] = {
        "summary": spec.summary,
        "parameters": path + (query_parameters(spec.query) if spec.query else []),
        "responses": responses | error,
    }
    if spec.body is not None:
        content = {"application/json": {"schema": _ref(spec.body)}} | {k: dict(v) for k, v in spec.other_bodies.items()}
        op["requestBody"] = {"required": True, "content": content}
    if spec.role is None:
        op["security"] = []
    elif spec.role != "viewer":
        op["description"] = f"Needs a {spec.role} key."
    if spec.crew and spec.role is not None:
        op["security"] = [{"apiKey": []}, {"crewToken": []}]
        op["description"] = f"Needs a {spec.role} key or the crew's token (its own crew-day only)."
    return op


def openapi_document(app: Flask) -> dict[str, Any]:
    """The API description of every endpoint ``app`` serves that is declared with :func:`endpoint`."""
    paths: dict[str, Any] = {}
    models: dict[str, type[BaseModel]] = {ErrorOut.__name__: ErrorOut}
    for rule in app.url_map.iter_rules():
        spec: Endpoint | None = getattr(app.view_functions[rule.endpoint], SPEC_ATTR, None)
        if spec is None:
            continue
        names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule.rule)
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        method = next(m for m in sorted(rule.methods or ()) if m not in ("HEAD", "OPTIONS")).lower()
        paths.setdefault(path, {})[method] = _operation(spec, names)
        for model in (spec.body, *(r.model for r in spec.replies.values())):
            if model is not None:
                models[model.__name__] = model
    _, defs = models_json_schema(
        [(x, "validation") for x in models.values()], ref_template="#/components/schemas/{model}"
    )
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
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "crewToken": {"type": "apiKey", "in": "header", "name": "X-Crew-Token"},
            },
        },
        "security": [{"apiKey": []}],
    }
