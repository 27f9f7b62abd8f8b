"""``binroute serve`` and ``binroute keys``: run the HTTP service, and create or revoke its API keys."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..service import create_app
from ..service.db import ROLES, ApiKey, create_key, now


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=8, show_default=True, type=int, help="Request threads.")
@click.option("--solves", default=1, show_default=True, type=int, help="Solves run at the same time.")
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
def serve(host: str, port: int, workers: int, solves: int, database: str | None) -> None:
    """Run the HTTP API under the waitress production server."""
    import waitress

    config: dict[str, Any] = {"SOLVE_WORKERS": solves}
    if database:
        config["DATABASE_URL"] = database
    app = create_app(config)
    click.echo(f"binroute API on http://{host}:{port}/api/v1/docs", err=True)
    waitress.serve(app, host=host, port=port, threads=workers, ident="binroute")


@click.group()
def keys() -> None:
    """Create and revoke API keys."""


def _admin_sessions(database: str | None) -> Any:
    """Database sessions for admin commands: the server's database, without resuming its solves."""
    config: dict[str, Any] = {"RESUME_JOBS": False}
    if database:
        config["DATABASE_URL"] = database
    return create_app(config).extensions["binroute"]["sessions"]


@keys.command("create")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--database", default=None)
def keys_create(name: str, role: str, database: str | None) -> None:
    """Create a key; the secret is printed once."""
    with _admin_sessions(database)() as s:
        row, secret = create_key(s, name, role)
    click.echo(f"{row.id} {role} {secret}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--database", default=None)
def keys_revoke(key_id: str, database: str | None) -> None:
    """Revoke a key by its id."""
    with _admin_sessions(database)() as s:
        row = s.get(ApiKey, key_id)
        if row is None:
            click.echo(f"error: no key {key_id}", err=True)
            sys.exit(2)
        row.revoked = now()
        s.commit()
    click.echo(f"revoked {key_id}")
