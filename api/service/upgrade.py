"""Upgrade a database from before organisations: its objects move into one default organisation.

Runs on every start after ``create_all`` (which adds new tables but never
changes existing ones). A table of an organisation-owned model that lacks its
``org_id`` column gets it, filled with the id of the organisation named
:data:`DEFAULT_ORG`, created if needed, so old API keys keep working and see
all the old data. Idempotent: a database that has the column is left alone.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

#: The organisation that receives the objects of a database from before organisations.
DEFAULT_ORG = "default"


def _default_org(conn: Connection) -> str:
    """The id of the organisation named :data:`DEFAULT_ORG`, created if missing."""
    found = conn.execute(text("SELECT id FROM organisations WHERE name = :n"), {"n": DEFAULT_ORG}).scalar()
    if found is not None:
        return str(found)
    org_id = uuid.uuid4().hex
    conn.execute(
        text("INSERT INTO organisations (id, name, created) VALUES (:i, :n, :c)"),
        {"i": org_id, "n": DEFAULT_ORG, "c": datetime.now(UTC).replace(tzinfo=None)},
    )
    return org_id


def _columns(insp: Any, table: str) -> set[str]:
    return {c["name"] for c in insp.get_columns(table)}


def upgrade_schema(engine: Engine, metadata: MetaData) -> list[str]:
    """Add and fill ``org_id`` on the tables that lack it; the names of the tables upgraded."""
    insp = inspect(engine)
    owned = [t for t in metadata.sorted_tables if "org_id" in t.c and t.name != "organisations"]
    todo = [
        t for t in owned if insp.has_table(t.name) and "org_id" not in {c["name"] for c in insp.get_columns(t.name)}
    ]
    if not todo:
        return []
    with engine.begin() as conn:
        org_id = _default_org(conn)
        for table in todo:
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN org_id VARCHAR(32) REFERENCES organisations(id)"))
            conn.execute(text(f"UPDATE {table.name} SET org_id = :o"), {"o": org_id})
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_{table.name}_org_id ON {table.name} (org_id)"))
    names = [t.name for t in todo]
    log.warning("upgraded tables %s: their rows now belong to organisation %r", ", ".join(names), DEFAULT_ORG)
    return names
