"""Errors answered as JSON from one place: ``APIError`` and the app's error handlers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

#: Error codes for the HTTP errors Flask and werkzeug raise themselves.
HTTP_CODES = {
    413: "too_large",
    404: "not_found",
    405: "method_not_allowed",
    400: "bad_request",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class Unreachable(RuntimeError):
    """The database or the task queue's broker cannot be reached; the message names it and says why."""


def reason(exc: BaseException) -> str:
    """The first line of what a driver said about a failed connection (without SQLAlchemy's long tail)."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


class APIError(Exception):
    """An error answered as ``{"error": {"code", "message", "details"}}``."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> tuple[Response, int]:
    """The JSON body and status of an error, with extra headers (``Retry-After``, ``Allow``)."""
    resp = jsonify({"error": {"code": code, "message": message, "details": details}})
    resp.headers.update(headers or {})
    return resp, status


#: Seconds a client is asked to wait when the database cannot be reached.
DATABASE_RETRY_S = 5


def register_error_handlers(app: Flask) -> None:
    """Answer API errors, validation errors (422 with field paths), HTTP errors and crashes as JSON."""

    @app.errorhandler(APIError)
    def _api(e: APIError) -> tuple[Response, int]:
        return error_response(e.status, e.code, e.message, e.details, e.headers)

    @app.errorhandler(ValidationError)
    def _invalid(e: ValidationError) -> tuple[Response, int]:
        details = [{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in e.errors()]
        return error_response(422, "validation_error", "the request is not valid", details)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> tuple[Response, int]:
        keep = {k: v for k, v in e.get_headers() if k in ("Allow", "Retry-After")}
        return error_response(
            e.code or 500, HTTP_CODES.get(e.code or 500, "error"), e.description or e.name, None, keep
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_away(e: DBAPIError) -> tuple[Response, int]:
        """The database dropped the connection or does not answer (a restart): 503, try again shortly."""
        log.warning("database unavailable: %s", reason(e))
        message = f"the database cannot be reached ({reason(e)}); try again shortly"
        return error_response(503, "database_unavailable", message, None, {"Retry-After": str(DATABASE_RETRY_S)})

    @app.errorhandler(Exception)
    def _crash(e: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the server hit an unexpected error; it has been logged")
