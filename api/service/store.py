"""Storage helpers the blueprints share: the data folder, a scenario or 404, pages of rows, inserting readings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from flask import Response, current_app, jsonify
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .db import ReadingRow, ScenarioRow
from .errors import APIError

#: Readings inserted per statement.
INSERT_BATCH = 5000


def data_dir() -> Path:
    """The folder where the app keeps uploaded networks and solve scratch space."""
    path: Path = current_app.extensions["binroute"]["files"]
    return path


def find_scenario(s: Session, scenario_id: str) -> ScenarioRow:
    """The scenario, or a 404."""
    row = s.get(ScenarioRow, scenario_id)
    if row is None:
        raise APIError(404, "not_found", f"scenario {scenario_id} not found")
    return row


def rows_page(s: Session, model: Any, q: Any, order: tuple[Any, ...], where: tuple[Any, ...] = ()) -> tuple[Any, int]:
    """One page of ``model`` rows matching ``where`` in ``order``, and how many match in all."""
    total = s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = s.scalars(select(model).where(*where).order_by(*order).limit(q.limit).offset(q.offset)).all()
    return rows, total


def page(items: list[Any], total: int, q: Any) -> Response:
    """A page of items as JSON, with the total and the query's limit and offset."""
    return jsonify({"items": items, "total": total, "limit": q.limit, "offset": q.offset})


def insert_readings(s: Session, scenario_id: str, frame: pd.DataFrame, known: set[str]) -> dict[str, int]:
    """Insert readings, skipping those stored already; 422 if a bin is not in the scenario."""
    unknown = sorted(set(frame["bin_id"]) - known)
    if unknown:
        raise APIError(
            422, "unknown_bins", f"{len(unknown)} bin id(s) are not in the scenario", {"bin_ids": unknown[:50]}
        )
    rows = [
        {
            "scenario_id": scenario_id,
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
        inserted += getattr(s.execute(stmt), "rowcount", 0) or 0
    return {"received": len(frame), "inserted": inserted, "duplicates": len(rows) - inserted}
