"""Storage: SQLAlchemy 2 models, SQLite by default, any database by URL.

The schema is Alembic's (:mod:`.migrate`, revisions in :mod:`.migrations`): a
fresh database is created at the newest revision on start, an older one is
upgraded by ``binroute db upgrade``; a model added here needs a revision too
(``tests/api/service/test_migrations.py`` compares the two). Readings are
unique per ``(scenario, bin, timestamp)`` and collections per ``(scenario,
bin, collected_at)``, so ingest is idempotent.

Every stored object belongs to one organisation: a model that inherits
:class:`OrgOwned` gets an ``org_id`` column, and :func:`binroute.api.service.store.scoped`
and :func:`~binroute.api.service.store.find_owned` confine its queries to the requesting
key's organisation.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from .defaults import ROLES as ROLES

#: The organisation that receives the objects of a database from before organisations.
DEFAULT_ORG = "default"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def database_now(s: Session) -> datetime:
    """The time (naive UTC) by the database server's clock where it has one of its own (PostgreSQL), else :func:`now`.

    Heartbeats are written and judged by it, so a machine whose clock jumps or drifts
    (a worker an hour behind) neither looks dead while it beats nor alive once it stops.
    SQLite runs inside each process: its time is the machine's own.
    """
    if s.get_bind().dialect.name == "postgresql":
        value = s.scalar(select(func.now()))
        if value is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
    return now()


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    #: Its own limits (``binroute orgs limits``; :data:`ORG_LIMITS`); ``None``: the server's setting.
    max_solves: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_simulations: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_readings: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_collections: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Its own largest request body (bytes) and request rate (``"3000/minute"``, ``"off"``); ``None``: the server's.
    max_upload_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rate_limit: Mapped[str | None] = mapped_column(String(40), nullable=True)


#: An organisation's own limits: the name ``binroute orgs limits`` gives each, its column on
#: :class:`Organisation` and the server setting it replaces for that organisation.
ORG_LIMITS = {
    "solves": ("max_solves", "ORG_MAX_SOLVES"),
    "simulations": ("max_simulations", "ORG_MAX_SIMULATIONS"),
    "readings": ("max_readings", "ORG_MAX_READINGS"),
    "collections": ("max_collections", "ORG_MAX_COLLECTIONS"),
}


class OrgOwned:
    """Mixin: the row belongs to one organisation (``org_id``); query it through ``store.scoped``."""

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)


class ApiKey(OrgOwned, Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    revoked: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ScenarioRow(OrgOwned, Base):
    __tablename__ = "scenarios"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    fleet_json: Mapped[str] = mapped_column(Text)
    bins_csv: Mapped[str] = mapped_column(Text)
    network_file: Mapped[str] = mapped_column(String(500))  # server-side path chosen by the server
    #: The network's content in :class:`NetworkBlob`, so a worker on any machine can solve the scenario.
    network_sha256: Mapped[str | None] = mapped_column(ForeignKey("network_blobs.sha256"), nullable=True)


class NetworkBlob(Base):
    """A road network file, stored once by the SHA-256 of its bytes (scenarios with the same file share it)."""

    __tablename__ = "network_blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    suffix: Mapped[str] = mapped_column(String(20))  # .osm.pbf, .osm, ...: how geo reads it
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)


class ReadingRow(OrgOwned, Base):
    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("scenario_id", "bin_id", "ts", name="uq_reading"),
        Index("ix_reading_bin_ts", "scenario_id", "bin_id", "ts"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    bin_id: Mapped[str] = mapped_column(String(200))
    ts: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive
    fill_pct: Mapped[float] = mapped_column(Float)


class CollectionRow(OrgOwned, Base):
    """One emptying of a bin from a collection log: the level just before it and the weight, when known."""

    __tablename__ = "collections"
    __table_args__ = (
        UniqueConstraint("scenario_id", "bin_id", "collected_at", name="uq_collection"),
        Index("ix_collection_bin_ts", "scenario_id", "bin_id", "collected_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    bin_id: Mapped[str] = mapped_column(String(200))
    collected_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive
    fill_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    kg: Mapped[float | None] = mapped_column(Float, nullable=True)


class JobColumns:
    """Mixin: the columns of a background job's row, shared by every kind (:mod:`binroute.api.service.jobs`).

    Its request (``options_json``), where it is (``status``: queued, running, done or
    failed; ``error``), when it was made, started and finished, how many times it has
    started (``attempts``, capped by :func:`~binroute.api.service.jobs.lifecycle.start_job`)
    and when the process running it last said it is alive (``heartbeat``,
    :mod:`binroute.api.service.jobs.lifecycle`). A kind's own progress and outcome
    columns stay on its model.
    """

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    options_json: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PlanRow(JobColumns, OrgOwned, Base):
    """A plan solved in the background: its result (summary, GeoJSON, map page) and its progress while it runs."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("root_id", "version", name="uq_plan_version"),)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    summary_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    geojson: Mapped[str | None] = mapped_column(Text, nullable=True)
    map_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Where a running plan is (:mod:`binroute.api.service.jobs.plan`), written by whichever process solves it.
    progress_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    progress_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    progress_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: A re-plan's version of a day (:mod:`binroute.api.service.live`): the day's first plan (``root_id``),
    #: the version it replaces (``replan_of``) and its number (1 for the morning's plan).
    root_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    replan_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class SimulationRow(JobColumns, OrgOwned, Base):
    """A policy simulation run in the background: its request, progress (days done of all), result and report."""

    __tablename__ = "simulations"
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), index=True)
    days_done: Mapped[int] = mapped_column(Integer, default=0)
    days_total: Mapped[int] = mapped_column(Integer, default=0)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_html: Mapped[str | None] = mapped_column(Text, nullable=True)


class CrewTokenRow(OrgOwned, Base):
    """A crew's link for one plan's day: the secret (hashed), the crew (vehicle), when it ends and if revoked."""

    __tablename__ = "crew_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    vehicle_id: Mapped[str] = mapped_column(String(200))
    day: Mapped[str] = mapped_column(String(10))  # the plan's date, YYYY-MM-DD
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    expires: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive: the end of the day in the fleet's timezone
    revoked: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class EventRow(OrgOwned, Base):
    """What a crew reported during the day (a stop done, an exception, a position), unique by the client's id."""

    __tablename__ = "plan_events"
    __table_args__ = (
        UniqueConstraint("plan_id", "event_id", name="uq_plan_event"),
        Index("ix_plan_event_at", "plan_id", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))  # the day's first plan
    event_id: Mapped[str] = mapped_column(String(100))
    vehicle_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    bin_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fill: Mapped[str | None] = mapped_column(String(20), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    received: Mapped[datetime] = mapped_column(DateTime, default=now)
    #: Who sent it: a crew token or an API key.
    token_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AuditRow(OrgOwned, Base):
    """Who (``key_id``; none for the operator's commands) did what to which object, and when."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64))
    detail_json: Mapped[str | None] = mapped_column(Text, nullable=True)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite: foreign keys on, WAL, a busy timeout); the schema is :mod:`.migrate`'s."""
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

    return engine


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, future=True)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def role_allows(role: str, needed: str) -> bool:
    """Whether a key with ``role`` may do what ``needed`` may (admin > planner > viewer)."""
    return ROLES.index(role) >= ROLES.index(needed)


def create_org(session: Session, name: str) -> Organisation:
    """Store a new organisation; ``ValueError`` if the name is empty or taken."""
    name = name.strip()
    if not name:
        raise ValueError("an organisation needs a name")
    if session.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise ValueError(f"an organisation named {name!r} exists already")
    row = Organisation(name=name)
    session.add(row)
    session.commit()
    return row


def create_key(session: Session, name: str, role: str, org_id: str) -> tuple[ApiKey, str]:
    """Store a new key of organisation ``org_id`` (hashed) and return it with the secret, shown once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if session.get(Organisation, org_id) is None:
        raise ValueError(f"no organisation {org_id}")
    secret = "br_" + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role, key_hash=hash_key(secret), org_id=org_id)
    session.add(row)
    session.commit()
    return row, secret


def find_key(session: Session, secret: str) -> tuple[ApiKey, Organisation] | None:
    """The unrevoked key with this secret and its organisation (one query), else ``None``."""
    row = session.execute(
        select(ApiKey, Organisation)
        .join(Organisation, Organisation.id == ApiKey.org_id)
        .where(ApiKey.key_hash == hash_key(secret))
    ).first()
    if row is None or row[0].revoked is not None:
        return None
    return row[0], row[1]
