"""``GET /healthz`` (the app answers, its database too) and ``GET /readyz`` (database and broker reachable); no key."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, current_app, g
from sqlalchemy import text

from ..errors import APIError, reason
from ..openapi import endpoint
from ..schemas import Health, Ready

health = Blueprint("health", __name__)


@endpoint(health, "GET", "/healthz", summary="Health check (no key needed)", role=None, replies={200: Health})
def healthz() -> Health:
    """Health check: runs one query against the database."""
    with g.db() as s:
        s.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")


#: Seconds the readiness check waits for the database or the broker.
READY_TIMEOUT_S = 2.0


def _database_problem() -> str | None:
    """Why the database does not answer ``SELECT 1``; ``None`` when it does."""
    try:
        with g.db() as s:
            s.execute(text("SELECT 1"))
    except Exception as exc:
        return reason(exc)
    return None


def _broker_problem() -> str | None:
    """Why the task queue's broker cannot be reached; ``None`` when it can or there is none (local jobs)."""
    celery = getattr(current_app.extensions["binroute"]["jobs"], "celery", None)
    if celery is None:
        return None
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=READY_TIMEOUT_S)
    except Exception as exc:
        return reason(exc)
    return None


@endpoint(
    health,
    "GET",
    "/readyz",
    summary="Readiness: the database and the task queue's broker answer (no key needed)",
    role=None,
    replies={200: Ready},
    errors=(503,),
)
def readyz() -> Ready:
    """503 naming what is unreachable while the database or the broker does not answer; else 200."""
    database, broker = _database_problem(), _broker_problem()
    queue: Literal["ok", "none"] = (
        "none" if getattr(current_app.extensions["binroute"]["jobs"], "celery", None) is None else "ok"
    )
    if database or broker:
        parts = [f"database: {database}" if database else "", f"broker: {broker}" if broker else ""]
        raise APIError(
            503,
            "not_ready",
            "not ready; " + "; ".join(p for p in parts if p),
            {"database": database or "ok", "broker": broker or queue},
        )
    return Ready(status="ready", database="ok", broker=queue)
