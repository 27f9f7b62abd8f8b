"""The HTTP API: ``create_app(config)`` builds a Flask app with its storage and job runner.

Config keys (with defaults): ``DATABASE_URL`` (SQLite file in the instance
folder, or the ``DATABASE_URL`` environment variable), ``MAX_CONTENT_LENGTH``
(50 MB), ``SOLVE_WORKERS`` (1 solve at a time), ``PLAN_TIME_LIMIT_S`` (upper
bound on a plan's time limit, 300), ``CORS_ORIGINS`` (none: CORS off).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from .db import find_key, make_engine, sessions
from .jobs import JobRunner

log = logging.getLogger(__name__)
KEY_HEADER = "X-API-Key"


class APIError(Exception):
    """An error answered as ``{"error": {"code", "message", "details"}}``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None):
    return jsonify({"error": {"code": code, "message": message, "details": details}}), status


def require(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: a valid API key with ``role`` (``planner`` may do what ``viewer`` may)."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            secret = request.headers.get(KEY_HEADER, "")
            if not secret:
                raise APIError(401, "unauthorized", f"send an API key in the {KEY_HEADER} header")
            with g.db() as s:
                key = find_key(s, secret)
            if key is None:
                raise APIError(401, "unauthorized", "unknown or revoked API key")
            if role == "planner" and key.role != "planner":
                raise APIError(403, "forbidden", "this key may only read; writing needs a planner key")
            g.key = key
            return func(*args, **kwargs)

        return inner

    return wrap


def parse(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` with ``model``; errors become 422 with field paths."""
    return model.model_validate(data)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(APIError)
    def _api(e: APIError):
        return error_response(e.status, e.code, e.message, e.details)

    @app.errorhandler(ValidationError)
    def _invalid(e: ValidationError):
        details = [{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in e.errors()]
        return error_response(422, "validation_error", "the request is not valid", details)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        code = {
            413: "too_large",
            404: "not_found",
            405: "method_not_allowed",
            400: "bad_request",
            415: "unsupported_media_type",
        }.get(e.code or 500, "error")
        return error_response(e.code or 500, code, e.description or e.name)

    @app.errorhandler(Exception)
    def _crash(e: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the server hit an unexpected error; it has been logged")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: storage, job runner, blueprints and error handlers."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'binroute.sqlite3'}",
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
        SOLVE_WORKERS=1,
        PLAN_TIME_LIMIT_S=300.0,
        CORS_ORIGINS=None,
        RESUME_JOBS=True,
    )
    app.config.update(config or {})
    engine = make_engine(app.config["DATABASE_URL"])
    factory = sessions(engine)
    files = Path(app.config.get("DATA_DIR") or Path(app.instance_path) / "data")
    files.mkdir(parents=True, exist_ok=True)
    app.extensions["binroute"] = {
        "engine": engine,
        "sessions": factory,
        "files": files,
        "jobs": JobRunner(app.config["DATABASE_URL"], factory, files, app.config["SOLVE_WORKERS"]),
    }

    @app.before_request
    def _attach() -> None:
        g.db = factory

    @app.after_request
    def _cors(resp):
        origins = app.config.get("CORS_ORIGINS")
        origin = request.headers.get("Origin")
        if origins and origin and (origins == "*" or origin in origins):
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Vary"] = "Origin"
        return resp

    from .routes import init_app

    init_app(app)
    _register_errors(app)
    if app.config["RESUME_JOBS"]:
        app.extensions["binroute"]["jobs"].resume()
    return app
