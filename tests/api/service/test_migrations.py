"""Alembic migrations: the oldest schema upgrades to the newest with its data; serve refuses an old schema."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from binroute.api.service import create_app
from binroute.api.service.db import Base
from binroute.api.service.migrate import SchemaOutOfDate, head_revision, upgrade

DATA = Path(__file__).resolve().parents[2] / "data"
SECRET = "br_old-secret"


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "binroute.api.cli", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def _old_database(url: str) -> None:
    """A database with the first schema and a key, a scenario, a reading and a plan in it."""
    if url.startswith("sqlite"):  # exactly as old binroute made it, without Alembic's table
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.executescript((DATA / "schema_v0.sql").read_text())
        con.close()
    else:
        upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO api_keys VALUES ('k1', 'office', 'planner', :h, '2025-01-01 00:00:00', NULL)"),
            {"h": hashlib.sha256(SECRET.encode()).hexdigest()},
        )
        conn.execute(
            text("INSERT INTO scenarios VALUES ('s1', 'old town', '2025-01-01 00:00:00', :f, :b, '/nowhere/n.osm')"),
            {"f": json.dumps({"vehicles": [], "timezone": "UTC"}), "b": "bin_id,lon,lat\nB1,24.9,60.1\n"},
        )
        conn.execute(text("INSERT INTO readings VALUES (1, 's1', 'B1', '2025-01-01 06:00:00', 40.0)"))
        conn.execute(
            text(
                "INSERT INTO plans VALUES "
                "('p1', 's1', 'failed', '{}', 'x', NULL, NULL, NULL, '2025-01-01 00:00:00', NULL, NULL)"
            )
        )
    engine.dispose()


def _differences(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    return diff


@pytest.mark.slow
def test_first_schema_upgrades_to_the_newest_keeping_data(database_url, tmp_path):
    """`db upgrade` takes the first schema to the head: rows join organisation 'default', the old key still works."""
    _old_database(database_url)
    with pytest.raises(SchemaOutOfDate, match="binroute db upgrade --database"):
        create_app({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data")})
    run = _cli("db", "upgrade", "--database", database_url, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"0001 -> {head_revision()}" in run.stdout
    assert _cli("db", "upgrade", "--database", database_url, cwd=tmp_path).returncode == 0  # a no-op now
    app = create_app({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"), "RESUME_JOBS": False})
    try:
        client, hdr = app.test_client(), {"X-API-Key": SECRET}
        assert [s["name"] for s in client.get("/api/v1/scenarios", headers=hdr).json["items"]] == ["old town"]
        assert client.get("/api/v1/scenarios/s1/readings", headers=hdr).json["total"] == 1
        assert client.get("/api/v1/plans/p1", headers=hdr).json["status"] == "failed"
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
    orgs = _cli("orgs", "list", "--database", database_url, cwd=tmp_path).stdout.split()
    assert orgs[1::2] == ["default"]
    assert _differences(database_url) == []


def test_fresh_database_is_created_at_the_head_and_matches_the_models(database_url, tmp_path):
    """An empty database is created at the newest revision on start, and it is exactly what the models describe."""
    app = create_app({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"), "RESUME_JOBS": False})
    app.extensions["binroute"]["jobs"].shutdown()
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    engine.dispose()
    assert _differences(database_url) == []


@pytest.mark.slow
def test_serve_refuses_an_old_schema_and_says_what_to_run(tmp_path):
    """`binroute serve` on a database at an older revision exits with the command that upgrades it."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0001")
    run = _cli("serve", "--port", "1", "--database", url, cwd=tmp_path)
    assert run.returncode == 2
    assert f"run `binroute db upgrade --database {url}`" in run.stderr
