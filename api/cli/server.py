"""``binroute serve``, ``binroute orgs`` and ``binroute keys``: run the HTTP service, manage organisations and keys."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..service.defaults import MAX_ATTEMPTS, ROLES

if TYPE_CHECKING:
    from ..service.db import Organisation

#: Top-level modules of the ``service`` extra's libraries (and of what they load on demand).
SERVICE_MODULES = frozenset(
    {"flask", "werkzeug", "sqlalchemy", "alembic", "mako", "psycopg", "celery", "kombu", "redis", "waitress", "limits"}
)


def needs_service(func: Callable[..., Any]) -> Callable[..., Any]:
    """A command of the HTTP service: without the ``service`` extra, one line naming it and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] not in SERVICE_MODULES:
                raise
            _fail(f"this command needs the HTTP service's libraries ({exc}): pip install 'binroute[service]'")

    return wrapper


def _not_ready() -> tuple[type[Exception], ...]:
    """What stops a command at start with one line and exit code 2."""
    from ..service.errors import Unreachable
    from ..service.migrate import SchemaOutOfDate

    return (SchemaOutOfDate, Unreachable)


def _log_format_option(carrying: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--log-format text|json`` for ``serve`` and ``worker``; ``carrying`` says what id a line carries."""
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"Log lines as text or as one JSON object a line, {carrying}.",
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=8, show_default=True, type=int, help="Request threads.")
@click.option("--solves", default=1, show_default=True, type=int, help="Solves run at the same time.")
@click.option(
    "--forecast-processes",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="Processes that fit forecasts, off the request threads (0: in them).",
)
@click.option(
    "--forecast-niceness",
    default=5,
    show_default=True,
    type=click.IntRange(0, 19),
    help="Niceness of the forecast processes (higher: reads are answered first while forecasts wait).",
)
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder of uploaded networks and solve files (default: the instance folder's data/).",
)
@click.option(
    "--rate-limit", default="1200/minute", show_default=True, help="Requests per organisation, e.g. 600/minute; 'off'."
)
@click.option(
    "--broker",
    default=None,
    help=(
        "Broker URL of a task queue, redis://… or amqp://… (RabbitMQ): solves and simulations go to "
        "`binroute worker`s (default: run here)."
    ),
)
@click.option(
    "--rate-limit-storage",
    default=None,
    help=("Redis URL where every replica counts requests (default: a redis:// --broker, else this process's memory)."),
)
@_log_format_option("each with its request id")
@needs_service
def serve(
    host: str,
    port: int,
    workers: int,
    solves: int,
    forecast_processes: int,
    forecast_niceness: int,
    database: str | None,
    data_dir: str | None,
    rate_limit: str,
    broker: str | None,
    rate_limit_storage: str | None,
    log_format: str,
) -> None:
    """Run the HTTP API under the waitress production server."""
    import waitress

    from ..service import create_app
    from ..service.logs import configure_logging

    configure_logging(log_format)

    config: dict[str, Any] = {
        "SOLVE_WORKERS": solves,
        "FORECAST_PROCESSES": forecast_processes,
        "FORECAST_NICENESS": forecast_niceness,
        "RATE_LIMIT": None if rate_limit == "off" else rate_limit,
    }
    if database:
        config["DATABASE_URL"] = database
    if data_dir:
        config["DATA_DIR"] = data_dir
    if broker:
        config["BROKER_URL"] = broker
    if rate_limit_storage:
        config["RATE_LIMIT_STORAGE"] = rate_limit_storage
    try:
        app = create_app(config)
    except _not_ready() as exc:
        _fail(str(exc))
    click.echo(f"binroute API on http://{host}:{port}/api/v1/docs", err=True)
    waitress.serve(app, host=host, port=port, threads=workers, ident="binroute")


@click.command()
@click.option(
    "--broker", required=True, help="Broker URL of the task queue (redis://… or amqp://…), as given to serve --broker."
)
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@click.option(
    "--concurrency", default=1, show_default=True, type=int, help="Jobs (solves, simulations) run at the same time."
)
@click.option(
    "--workdir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Scratch space and network cache (default: a folder in the system's temporary directory).",
)
@click.option(
    "--plan-time-limit",
    default=300.0,
    show_default=True,
    type=float,
    help="The server's bound on a plan's (and a simulation day's) limit.",
)
@click.option(
    "--visibility-timeout",
    default=None,
    type=float,
    help=(
        "Redis only: seconds before Redis hands a task whose worker vanished to another (default: longer than "
        "the longest plan). Jobs of dead workers are handed out again sooner, from their stale heartbeats."
    ),
)
@click.option(
    "--max-attempts",
    default=MAX_ATTEMPTS,
    show_default=True,
    type=click.IntRange(min=1),
    help="Starts of one plan's solve or one simulation (workers killed mid-run) before it is failed.",
)
@_log_format_option("each with the id of the request that queued its job")
@needs_service
def worker(
    broker: str,
    database: str | None,
    concurrency: int,
    workdir: Path | None,
    plan_time_limit: float,
    visibility_timeout: float | None,
    max_attempts: int,
    log_format: str,
) -> None:
    """Run queued solves and simulations from the task queue (on any machine reaching the broker and database)."""
    import tempfile

    from ..service.logs import configure_logging

    configure_logging(log_format)
    logging.getLogger("celery").setLevel(logging.INFO)  # its task lines: received, succeeded

    from ..service.db import make_engine
    from ..service.jobs import check_broker, make_celery
    from ..service.migrate import ensure_current

    url = _database_url(database)
    engine = make_engine(url)
    app = make_celery(
        broker,
        database_url=url,
        workdir=workdir or Path(tempfile.gettempdir()) / "binroute-worker",
        max_time_limit_s=plan_time_limit,
        visibility_timeout_s=visibility_timeout,
        max_attempts=max_attempts,
    )
    try:
        ensure_current(engine)
        check_broker(app)
    except _not_ready() as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    app.worker_main(
        ["worker", f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    )


@click.group()
def orgs() -> None:
    """Create and list organisations (each council's scenarios, plans and keys are its own)."""


def _admin_sessions(database: str | None) -> Any:
    """Database sessions for admin commands: the server's database, without resuming its solves."""
    from ..service import create_app

    config: dict[str, Any] = {"RESUME_JOBS": False}
    if database:
        config["DATABASE_URL"] = database
    try:
        return create_app(config).extensions["binroute"]["sessions"]
    except _not_ready() as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _database_url(database: str | None) -> str:
    """``--database``, else ``DATABASE_URL``, else the SQLite file ``serve`` uses by default."""
    if database:
        return database
    from ..service.app import default_database_url

    return default_database_url()


@click.group()
def db() -> None:
    """The database's schema: upgrade it after installing a newer binroute."""


@db.command("upgrade")
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to upgrade to.")
@needs_service
def db_upgrade(database: str | None, revision: str) -> None:
    """Upgrade the database's schema (keeping its data); prints the revisions before and after."""
    from ..service.errors import Unreachable
    from ..service.migrate import head_revision, upgrade

    try:
        before, after = upgrade(_database_url(database), revision)
    except Unreachable as exc:
        _fail(str(exc))
    click.echo(f"database schema: {before or 'empty'} -> {after} (newest {head_revision()})")


@orgs.command("create")
@click.argument("name")
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@needs_service
def orgs_create(name: str, database: str | None) -> None:
    """Create an organisation; prints its id and name."""
    from ..service.db import create_org

    with _admin_sessions(database)() as s:
        try:
            row = create_org(s, name)
        except ValueError as exc:
            _fail(str(exc))
    click.echo(f"{row.id} {row.name}")


@orgs.command("list")
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@needs_service
def orgs_list(database: str | None) -> None:
    """List organisations: id and name, one a line, then any limits of their own (``solves=10``)."""
    from sqlalchemy import select

    from ..service.db import Organisation

    with _admin_sessions(database)() as s:
        for row in s.scalars(select(Organisation).order_by(Organisation.created, Organisation.name)):
            own = [f"{name}={value}" for name, value in _own_limits(row).items() if value is not None]
            click.echo(" ".join([row.id, row.name, *own]))


def _own_columns() -> dict[str, str]:
    """Each limit ``orgs limits`` sets, by name: its column on :class:`~binroute.api.service.db.Organisation`."""
    from ..service.db import ORG_LIMITS

    return {
        **{name: column for name, (column, _) in ORG_LIMITS.items()},
        "upload_bytes": "max_upload_bytes",
        "rate": "rate_limit",
    }


def _own_limits(row: Organisation) -> dict[str, int | str | None]:
    """The organisation's own limits by name; ``None`` where the server's setting holds."""
    return {name: getattr(row, column) for name, column in _own_columns().items()}


def _rate_value(given: str) -> str | None:
    """``--rate`` as given: a rate such as ``3000/minute``, ``off``, or ``default`` (the server's again)."""
    from limits import parse as parse_rate

    from ..service.auth import RATE_OFF

    text = given.strip().lower()
    if text == "default":
        return None
    if text == RATE_OFF:
        return RATE_OFF
    try:
        amount = parse_rate(text).amount
    except ValueError:
        amount = 0
    if amount < 1:
        _fail(f"--rate must be a rate such as 3000/minute or 50/second, 'off' or 'default'; not {given!r}")
    return text


def _limit_value(name: str, given: str) -> int | None:
    """``--NAME`` as given: a whole number of at least 1, or ``default`` (the server's setting again)."""
    if given.strip().lower() == "default":
        return None
    try:
        value = int(given)
    except ValueError:
        value = 0
    if value < 1:
        _fail(f"--{name} must be a whole number of at least 1, or 'default' for the server's setting; not {given!r}")
    return value


@orgs.command("limits")
@click.argument("org")
@click.option("--solves", metavar="N|default", help="Plans queued or running at once (server: ORG_MAX_SOLVES, 4).")
@click.option(
    "--simulations", metavar="N|default", help="Simulations queued or running at once (server: ORG_MAX_SIMULATIONS, 2)."
)
@click.option("--readings", metavar="N|default", help="Readings stored (server: ORG_MAX_READINGS, 20 million).")
@click.option(
    "--collections", metavar="N|default", help="Collections stored (server: ORG_MAX_COLLECTIONS, 20 million)."
)
@click.option(
    "--upload-bytes",
    metavar="N|default",
    help="Largest request body in bytes (server: ORG_MAX_UPLOAD_BYTES, 50 MB; every request is also bound by "
    "the server's MAX_CONTENT_LENGTH).",
)
@click.option(
    "--rate", metavar="RATE|off|default", help="Requests by its keys, e.g. 3000/minute (server: serve --rate-limit)."
)
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@needs_service
def orgs_limits(
    org: str, database: str | None, rate: str | None, upload_bytes: str | None, **given: str | None
) -> None:
    """Show or set an organisation's own limits (ORG: its id or name), e.g. more solves for a big city.

    A limit of its own replaces the server's setting for this organisation only;
    ``default`` goes back to the server's. Prints every limit afterwards, one a line:
    its value, or ``server`` where the server's setting holds.
    """
    from ..service.db import AuditRow, Organisation

    changes: dict[str, int | str | None] = {
        name: _limit_value(name, text) for name, text in given.items() if text is not None
    }
    if upload_bytes is not None:
        changes["upload_bytes"] = _limit_value("upload-bytes", upload_bytes)
    if rate is not None:
        changes["rate"] = _rate_value(rate)
    with _admin_sessions(database)() as s:
        row = s.get(Organisation, _org_for_key(s, org))
        assert row is not None
        for name, value in changes.items():
            setattr(row, _own_columns()[name], value)
        if changes:
            detail = json.dumps(changes)
            s.add(
                AuditRow(
                    org_id=row.id,
                    key_id=None,
                    action="limits",
                    target_type="organisation",
                    target_id=row.id,
                    detail_json=detail,
                )
            )
            s.commit()
        for name, value in _own_limits(row).items():
            click.echo(f"{name} {value if value is not None else 'server'}")


@click.group()
def keys() -> None:
    """Create and revoke API keys."""


def _org_for_key(s: Any, org: str | None) -> str:
    """The organisation a new key goes to: ``--org`` (an id or a name), else the only one there is.

    With no organisation at all, one named ``default`` is created, so ``keys create``
    without ``--org`` works as before organisations existed.
    """
    from sqlalchemy import select

    from ..service.db import DEFAULT_ORG, Organisation, create_org

    if org:
        row = s.get(Organisation, org) or s.scalars(select(Organisation).where(Organisation.name == org)).first()
        if row is None:
            _fail(f"no organisation {org} (see binroute orgs list)")
        return str(row.id)
    rows = s.scalars(select(Organisation)).all()
    if len(rows) > 1:
        _fail("there are several organisations; choose one with --org ORG_ID (see binroute orgs list)")
    return str(rows[0].id if rows else create_org(s, DEFAULT_ORG).id)


@keys.command("create")
@click.option("--org", default=None, help="Organisation id or name (may be left out while there is only one).")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@needs_service
def keys_create(org: str | None, name: str, role: str, database: str | None) -> None:
    """Create a key; prints its id, role and secret (shown this once)."""
    from ..service.db import AuditRow, create_key

    with _admin_sessions(database)() as s:
        row, secret = create_key(s, name, role, _org_for_key(s, org))
        s.add(AuditRow(org_id=row.org_id, key_id=None, action="create", target_type="key", target_id=row.id))
        s.commit()
    click.echo(f"{row.id} {role} {secret}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--database", default=None, help="Database URL (default: DATABASE_URL, else SQLite in ./instance).")
@needs_service
def keys_revoke(key_id: str, database: str | None) -> None:
    """Revoke a key by its id."""
    from ..service.db import ApiKey, AuditRow, now

    with _admin_sessions(database)() as s:
        row = s.get(ApiKey, key_id)
        if row is None:
            _fail(f"no key {key_id}")
        row.revoked = now()
        s.add(AuditRow(org_id=row.org_id, key_id=None, action="revoke", target_type="key", target_id=key_id))
        s.commit()
    click.echo(f"revoked {key_id}")
