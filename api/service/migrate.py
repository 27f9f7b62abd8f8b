"""The database schema's version: upgrade it with Alembic, and check it before serving.

The migrations live in :mod:`binroute.api.service.migrations` (package data, so an
installed binroute can upgrade its database): ``0001`` is the schema from
before organisations, each later revision one change, and the head is what the
models in :mod:`binroute.api.service.db` describe.

A database that Alembic has never seen is recognised by its tables: none (a
fresh database, created at the head), the tables of ``0001``, or those of
``0002`` (a database that the old start-up upgrade or ``create_all`` made), and
is stamped with that revision before it is upgraded.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from .errors import Unreachable, reason


class SchemaOutOfDate(RuntimeError):
    """The database's schema is older (or newer) than this binroute's; the message says what to run."""


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "binroute.api.service:migrations")
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    """The newest revision this binroute knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _unversioned_revision(conn: Connection) -> str | None:
    """The revision a database without ``alembic_version`` is at, judged by its tables (``None``: empty)."""
    tables = set(inspect(conn).get_table_names())
    if "organisations" in tables:
        return "0002"
    if "plans" in tables or "api_keys" in tables:
        return "0001"
    return None


def current_revision(conn: Connection) -> str | None:
    """The database's revision, read from ``alembic_version`` or judged by its tables; ``None`` if empty."""
    found = MigrationContext.configure(conn).get_current_revision()
    return found if found is not None else _unversioned_revision(conn)


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the database at ``url`` to ``revision``; the revisions before and after.

    Raises :class:`~binroute.api.service.errors.Unreachable` if the database cannot be reached.

    SQLite's foreign keys stay off while it runs (a plain engine), so a table
    copied by a batch migration never cascades deletes into its children.
    """
    engine = create_engine(url)
    try:
        check_reachable(engine)
        with engine.begin() as conn:
            before = current_revision(conn)
            if before is not None and MigrationContext.configure(conn).get_current_revision() is None:
                command.stamp(_config(conn), before)
            command.upgrade(_config(conn), revision)
            after = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    assert after is not None
    return before, after


def check_reachable(engine: Engine) -> None:
    """Connect once; :class:`~binroute.api.service.errors.Unreachable`, naming the database, if that fails."""
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        shown = engine.url.render_as_string(hide_password=True)
        raise Unreachable(f"cannot reach the database {shown}: {reason(exc)}") from exc


def ensure_current(engine: Engine) -> None:
    """Create an empty database at the head; raise :class:`SchemaOutOfDate` if it is at another revision.

    Raises :class:`~binroute.api.service.errors.Unreachable` if the database cannot be reached.
    """
    check_reachable(engine)
    with engine.connect() as conn:
        found = current_revision(conn)
    head = head_revision()
    if found == head:
        return
    url = engine.url.render_as_string(hide_password=False)
    if found is None:
        upgrade(url)
        return
    shown = engine.url.render_as_string(hide_password=True)
    raise SchemaOutOfDate(
        f"the database {shown} has schema revision {found}, this binroute needs {head}: "
        f"run `binroute db upgrade --database {shown}` (back the database up first)"
    )
