"""``GET /healthz``: the app answers and its database too (no key needed)."""

from __future__ import annotations

from flask import Blueprint, g
from sqlalchemy import text

from ..openapi import endpoint
from ..schemas import Health

health = Blueprint("health", __name__)


@endpoint(health, "GET", "/healthz", summary="Health check (no key needed)", role=None, replies={200: Health})
def healthz() -> Health:
    """Health check: runs one query against the database."""
    with g.db() as s:
        s.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
