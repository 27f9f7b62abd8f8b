"""Logs an operator can search: one JSON object a line, each with the request id that caused it.

Every request gets an id (:func:`init_request_ids`): the caller's ``X-Request-Id``
when it is a plain token of at most 64 characters, else a new one; it is answered
in the same header, set in :data:`REQUEST_ID` while the request runs, and sent
with any job the request queues, so the worker's lines about that job carry it
too. :func:`configure_logging` writes the process's log lines to standard error,
as text or (``json``) as one JSON object a line with ``time``, ``level``,
``logger``, ``message``, ``request_id`` and any exception.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, Response, request

#: The id of the request (or of the request that queued the job) this code runs for.
REQUEST_ID: ContextVar[str | None] = ContextVar("binroute_request_id", default=None)
#: The header a request id comes in and goes out in.
REQUEST_ID_HEADER = "X-Request-Id"
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: The formats :func:`configure_logging` writes.
LOG_FORMATS = ("text", "json")
access_log = logging.getLogger("binroute.access")


class RequestIdFilter(logging.Filter):
    """Puts the current request id (:data:`REQUEST_ID`) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (RFC 3339, UTC), level, logger, message, request id, extras, exception."""

    #: Extra fields a line carries when the call gave them (``log.info(..., extra={...})``).
    EXTRAS = ("method", "path", "status", "ms", "org_id", "job_id")

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line.update({name: getattr(record, name) for name in self.EXTRAS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(fmt: str = "text", *, level: int = logging.INFO) -> None:
    """Send this process's log lines to standard error, as ``text`` or ``json``, each with its request id.

    binroute's own loggers (``binroute.*``, the request lines among them) write from ``level``;
    the libraries' (alembic, SQLAlchemy, Celery) from warnings up.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.WARNING))
    logging.getLogger("binroute").setLevel(level)


def init_request_ids(app: Flask) -> None:
    """Give every request of ``app`` an id (the caller's ``X-Request-Id`` if plain), answer it, log the request."""

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        REQUEST_ID.set(given if _GIVEN_ID.match(given) else uuid.uuid4().hex)
        request.environ["binroute.started"] = time.perf_counter()

    @app.after_request
    def _answer_id(resp: Response) -> Response:
        rid = REQUEST_ID.get()
        if rid:
            resp.headers[REQUEST_ID_HEADER] = rid
        took = time.perf_counter() - request.environ.get("binroute.started", time.perf_counter())
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            resp.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": resp.status_code,
                "ms": round(took * 1e3, 1),
            },
        )
        return resp

    @app.teardown_request
    def _forget_id(_exc: BaseException | None) -> None:
        REQUEST_ID.set(None)
