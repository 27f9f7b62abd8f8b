"""Storage helpers the blueprints share: organisation scoping, the data folder, pages of rows, fill data, audit.

Organisation scoping, the one rule every resource follows: a model that
inherits :class:`~binroute.api.service.db.OrgOwned` is read only through
:func:`scoped` (a ``select`` confined to the requesting key's organisation),
:func:`find_owned` (one row, or the same 404 a missing id gets) and
:func:`rows_page` (which scopes by itself), and is created with
``org_id=current_org()``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Response, current_app, g, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .db import ORG_LIMITS, AuditRow, CollectionRow, Organisation, ReadingRow, ScenarioRow
from .errors import APIError, Unreachable

#: Readings or collections inserted per statement.
INSERT_BATCH = 5000


def data_dir() -> Path:
    """The folder where the app keeps uploaded networks and solve scratch space."""
    path: Path = current_app.extensions["binroute"]["files"]
    return path


def current_org() -> str:
    """The organisation of the request's API key or crew token (set by ``auth.require``)."""
    caller = g.key if g.get("key") is not None else g.crew
    org_id: str = caller.org_id
    return org_id


def scoped(model: Any, *where: Any) -> Select[Any]:
    """``select(model)`` confined to the request's organisation, with ``where`` conditions."""
    return select(model).where(model.org_id == current_org(), *where)


def find_owned(s: Session, model: Any, obj_id: str, what: str) -> Any:
    """The ``model`` row ``obj_id`` of the request's organisation, or a 404 like that of a missing id."""
    row = s.scalars(scoped(model, model.id == obj_id)).first()
    if row is None:
        raise APIError(404, "not_found", f"{what} {obj_id} not found")
    return row


def find_scenario(s: Session, scenario_id: str) -> ScenarioRow:
    """The scenario of the request's organisation, or a 404."""
    row: ScenarioRow = find_owned(s, ScenarioRow, scenario_id, "scenario")
    return row


def scenario_bin_ids(row: ScenarioRow) -> set[str]:
    """The ids of a stored scenario's bins."""
    return set(pd.read_csv(io.StringIO(row.bins_csv), dtype={"bin_id": str})["bin_id"])


def rows_page(s: Session, model: Any, q: Any, order: tuple[Any, ...], where: tuple[Any, ...] = ()) -> tuple[Any, int]:
    """One page of the organisation's ``model`` rows matching ``where`` in ``order``, and how many match in all."""
    where = (model.org_id == current_org(), *where)
    total = s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = s.scalars(select(model).where(*where).order_by(*order).limit(q.limit).offset(q.offset)).all()
    return rows, total


def audit(s: Session, action: str, target_type: str, target_id: str, detail: dict[str, Any] | None = None) -> None:
    """Record that the request's key did ``action`` to an object (committed with the caller's session)."""
    s.add(
        AuditRow(
            org_id=current_org(),
            key_id=g.key.id if g.get("key") is not None else None,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail_json=json.dumps(detail) if detail else None,
        )
    )


def naive_utc(t: Any) -> Any:
    """A time as stored: UTC without a time zone (a time without one is taken as UTC)."""
    ts = pd.Timestamp(t)
    return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).to_pydatetime()


def series_page(s: Session, model: Any, at: Any, scenario_id: str, q: Any) -> tuple[list[Any], int]:
    """One page of a scenario's time series (readings, collections): by ``q.bin_id`` and ``at`` in [start, end]."""
    cond = [model.scenario_id == scenario_id]
    if q.bin_id:
        cond.append(model.bin_id == q.bin_id)
    if q.start is not None:
        cond.append(at >= naive_utc(q.start))
    if q.end is not None:
        cond.append(at <= naive_utc(q.end))
    return rows_page(s, model, q, (model.bin_id, at), tuple(cond))


def stored_fill_data(s: Session, scenario_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A scenario's readings and collections as the forecast takes them (times in UTC); either may be empty.

    The caller has checked that the scenario is the organisation's (or runs outside a request).
    """
    readings = pd.DataFrame(
        s.execute(
            select(ReadingRow.bin_id, ReadingRow.ts, ReadingRow.fill_pct).where(ReadingRow.scenario_id == scenario_id)
        ).all(),
        columns=["bin_id", "timestamp", "fill_pct"],
    )
    collections = pd.DataFrame(
        s.execute(
            select(CollectionRow.bin_id, CollectionRow.collected_at, CollectionRow.fill_pct, CollectionRow.kg).where(
                CollectionRow.scenario_id == scenario_id
            )
        ).all(),
        columns=["bin_id", "collected_at", "fill_pct", "kg"],
    )
    readings["timestamp"] = pd.to_datetime(readings["timestamp"]).dt.tz_localize("UTC")
    readings["fill_pct"] = readings["fill_pct"].astype(float)
    collections["collected_at"] = pd.to_datetime(collections["collected_at"]).dt.tz_localize("UTC")
    collections[["fill_pct", "kg"]] = collections[["fill_pct", "kg"]].astype(float)
    return readings, collections


def insert_readings(s: Session, scenario: ScenarioRow, frame: pd.DataFrame, known: set[str]) -> dict[str, int]:
    """Insert a scenario's readings, skipping those stored already; 422 if a bin is not in the scenario.

    Raises a 429 if they would take the organisation past its stored-readings limit
    (``ORG_MAX_READINGS``).
    """
    _check_bins(frame, known)
    _check_room(s, ReadingRow, scenario.org_id, len(frame), "readings", "ORG_MAX_READINGS")
    rows = [
        {
            "org_id": scenario.org_id,
            "scenario_id": scenario.id,
            "bin_id": b,
            "ts": t.tz_convert("UTC").tz_localize(None).to_pydatetime(),
            "fill_pct": float(f),
        }
        for b, t, f in zip(frame["bin_id"], frame["timestamp"], frame["fill_pct"], strict=True)
        if f == f
    ]
    inserted = _insert_new(s, ReadingRow, rows)
    return {"received": len(frame), "inserted": inserted, "duplicates": len(rows) - inserted}


def insert_collections(s: Session, scenario: ScenarioRow, frame: pd.DataFrame, known: set[str]) -> dict[str, int]:
    """Insert a scenario's collections (from ``scenario.collections_frame``), skipping those stored already.

    A collection is stored already when the scenario has one of the same bin
    at the same time. 422 if a bin is not in the scenario; 429 past the
    organisation's stored-collections limit (``ORG_MAX_COLLECTIONS``).
    """
    _check_bins(frame, known)
    _check_room(s, CollectionRow, scenario.org_id, len(frame), "collections", "ORG_MAX_COLLECTIONS")

    def num(x: float) -> float | None:
        return None if x != x else float(x)

    rows = [
        {
            "org_id": scenario.org_id,
            "scenario_id": scenario.id,
            "bin_id": b,
            "collected_at": t.tz_convert("UTC").tz_localize(None).to_pydatetime(),
            "fill_pct": num(f),
            "kg": num(kg),
        }
        for b, t, f, kg in zip(frame["bin_id"], frame["collected_at"], frame["fill_pct"], frame["kg"], strict=True)
    ]
    inserted = _insert_new(s, CollectionRow, rows)
    return {"received": len(frame), "inserted": inserted, "duplicates": len(rows) - inserted}


def _check_bins(frame: pd.DataFrame, known: set[str]) -> None:
    """422 naming the bins of ``frame`` that are not in the scenario."""
    unknown = sorted(set(frame["bin_id"]) - known)
    if unknown:
        raise APIError(
            422, "unknown_bins", f"{len(unknown)} bin id(s) are not in the scenario", {"bin_ids": unknown[:50]}
        )


def own_or_server(own: int | None, setting: str) -> int:
    """An organisation's own value of a limit if it has one, else the server's ``setting`` (``ORG_MAX_*``)."""
    return int(own) if own is not None else int(current_app.config[setting])


def org_limit(s: Session, org_id: str, setting: str) -> int:
    """The organisation's limit for the server ``setting``: its own (``binroute orgs limits``), else the server's.

    ``setting`` is one of :data:`~.db.ORG_LIMITS`'s.
    """
    column = next(c for c, name in ORG_LIMITS.values() if name == setting)
    return own_or_server(s.scalar(select(getattr(Organisation, column)).where(Organisation.id == org_id)), setting)


def in_use(s: Session, model: Any, org_id: str, *, active_jobs: bool = False) -> int:
    """How many ``model`` rows the organisation holds: all of them, or its jobs queued or running (``active_jobs``)."""
    query = select(func.count()).select_from(model).where(model.org_id == org_id)
    if active_jobs:
        query = query.where(model.status.in_(ACTIVE_JOBS))
    return int(s.scalar(query) or 0)


def _check_room(s: Session, model: Any, org_id: str, adding: int, what: str, limit: str) -> None:
    """429 if ``adding`` more ``model`` rows would take the organisation past its ``limit`` (:func:`org_limit`)."""
    stored = in_use(s, model, org_id)
    cap = org_limit(s, org_id, limit)
    if stored + adding > cap:
        raise APIError(
            429,
            "quota_exceeded",
            f"the organisation stores {stored} {what}; {adding} more would pass its limit of {cap}",
            {"limit": cap, "stored": stored},
            headers={"Retry-After": "3600"},
        )


def _insert_new(s: Session, model: Any, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows``, skipping those that break the table's unique key; how many were inserted."""
    return len(insert_new(s, model, rows, model.id))


def insert_new(s: Session, model: Any, rows: list[dict[str, Any]], returning: Any) -> list[Any]:
    """Insert ``rows``, skipping those that break the table's unique key; the ``returning`` column of those inserted."""
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement with its rows as parameter sets ("insertmanyvalues"): compiled once and cached. A
    # statement with the rows inside it (.values(rows)) was compiled again for every batch: 16 of the
    # 27 s an upload of 18,500 readings took. RETURNING says what went in (psycopg reports no rowcount).
    stmt = insert(model.__table__).on_conflict_do_nothing().returning(returning)
    out: list[Any] = []
    for start in range(0, len(rows), INSERT_BATCH):
        out.extend(s.execute(stmt, rows[start : start + INSERT_BATCH]).scalars().all())
    return out


#: States of a background job (a plan's solve, a simulation) that hold one of the organisation's slots.
ACTIVE_JOBS = ("queued", "running")


def job_out(row: Any, endpoint: str, **ids: Any) -> dict[str, Any]:
    """The fields every background job's answer (``schemas.JobOut``) starts with: ids, status, times, options, link."""
    return {
        "id": row.id,
        "scenario_id": row.scenario_id,
        "status": row.status,
        "error": row.error,
        "created": row.created,
        "started": row.started,
        "finished": row.finished,
        "options": json.loads(row.options_json),
        "links": {"self": url_for(endpoint, **ids)},
    }


def check_job_slots(s: Session, model: Any, limit: str, code: str, what: str, retry_after_s: int) -> None:
    """429 when the organisation has as many ``model`` jobs queued or running as its ``limit`` (:func:`org_limit`)."""
    org_id = current_org()
    busy = in_use(s, model, org_id, active_jobs=True)
    cap = org_limit(s, org_id, limit)
    if busy >= cap:
        raise APIError(
            429,
            code,
            f"the organisation has {busy} {what} queued or running, its limit; try again when one is done",
            {"limit": cap},
            headers={"Retry-After": str(retry_after_s)},
        )


def submit_job(runner: str, job_id: str, id_field: str) -> None:
    """Hand a stored job to the app's ``runner`` (``jobs``, ``simulations``), local or the task queue alike.

    When the task queue's broker cannot take it (the job is then stored failed with the
    same message): 503 ``queue_unavailable`` with the job's id as ``id_field``.
    """
    try:
        current_app.extensions["binroute"][runner].submit(job_id)
    except Unreachable as exc:
        raise APIError(503, "queue_unavailable", str(exc), {id_field: job_id}, headers={"Retry-After": "60"}) from exc


def delete_job(s: Session, row: Any, what: str, busy: str) -> Response:
    """Delete a job of the organisation unless it is running (409 with ``busy``), audited; 204."""
    if row.status == "running":
        raise APIError(409, "conflict", busy)
    s.delete(row)
    audit(s, "delete", what, row.id)
    s.commit()
    return Response(status=204)
