"""``GET /healthz``: the app answers and its database too (no key needed)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify
from sqlalchemy import text

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    """Health check: runs one query against the database."""
    with g.db() as s:
        s.execute(text("SELECT 1"))
    return jsonify({"status": "ok", "database": "ok"})
