"""Storage helpers the blueprints share: organisation scoping, the data folder, pages of rows, readings, audit.

Organisation scoping, the one rule every resource follows: a model that
inherits :class:`~api.service.db.OrgOwned` is read only through
:func:`scoped` (a ``select`` confined to the requesting key's organisation),
:func:`find_owned` (one row, or the same 404 a missing id gets) and
:func:`rows_page` (which scopes by itself), and is created with
``org_id=current_org()``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Response, current_app, g, jsonify
from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .db import AuditRow, ReadingRow, ScenarioRow
from .errors import APIError

#: Readings inserted per statement.
INSERT_BATCH = 5000


def data_dir() -> Path:
    """The folder where the app keeps uploaded networks and solve scratch space."""
    path: Path = current_app.extensions["binroute"]["files"]
    return path


def current_org() -> str:
    """The organisation of the request's API key (set by ``auth.require``)."""
    org_id: str = g.key.org_id
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
            key_id=g.key.id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail_json=json.dumps(detail) if detail else None,
        )
    )


def page(items: list[Any], total: int, q: Any) -> Response:
    """A page of items as JSON, with the total and the query's limit and offset."""
    return jsonify({"items": items, "total": total, "limit": q.limit, "offset": q.offset})


def insert_readings(s: Session, scenario: ScenarioRow, frame: pd.DataFrame, known: set[str]) -> dict[str, int]:
    """Insert a scenario's readings, skipping those stored already; 422 if a bin is not in the scenario.

    Raises a 429 if they would take the organisation past its stored-readings limit
    (``ORG_MAX_READINGS``).
    """
    unknown = sorted(set(frame["bin_id"]) - known)
    if unknown:
        raise APIError(
            422, "unknown_bins", f"{len(unknown)} bin id(s) are not in the scenario", {"bin_ids": unknown[:50]}
        )
    stored = s.scalar(select(func.count()).select_from(ReadingRow).where(ReadingRow.org_id == scenario.org_id)) or 0
    cap = current_app.config["ORG_MAX_READINGS"]
    if stored + len(frame) > cap:
        raise APIError(
            429,
            "quota_exceeded",
            f"the organisation stores {stored} readings; {len(frame)} more would pass its limit of {cap}",
            {"limit": cap, "stored": stored},
            headers={"Retry-After": "3600"},
        )
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
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = 0
    for start in range(0, len(rows), INSERT_BATCH):
        stmt = insert(ReadingRow).values(rows[start : start + INSERT_BATCH]).on_conflict_do_nothing()
        # RETURNING counts what went in on every backend (psycopg reports no rowcount here).
        inserted += len(s.execute(stmt.returning(ReadingRow.id)).all())
    return {"received": len(frame), "inserted": inserted, "duplicates": len(rows) - inserted}
