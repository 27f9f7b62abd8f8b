"""``/api/v1/scenarios/<id>/collections``: collection logs in bulk (JSON or CSV, idempotent) and queries.

A collection is one emptying of a bin: when, the level just before it (when
known) and the weight (optional), as a row of ``collections.csv``. Items are
checked by the same code as that file, so a bad one is a 422 naming its index
(or line) and field.
"""

from __future__ import annotations

import json

import pandas as pd
from flask import Blueprint, g

from ...pipeline import RowError
from ...pipeline.scenario import collections_frame, load_collections
from ..db import CollectionRow
from ..errors import APIError
from ..openapi import Reply, endpoint
from ..schemas import CollectionOut, CollectionPage, CollectionQuery, CollectionsIn, IngestOut
from ..store import audit, find_scenario, insert_collections, scenario_bin_ids, series_page
from ..validation import CSV_BODY, parse_csv_body

collections = Blueprint("collections", __name__, url_prefix="/api/v1/scenarios/<scenario_id>/collections")


@endpoint(
    collections,
    "POST",
    "",
    summary="Bulk ingest collections (JSON or text/csv as collections.csv), idempotent by (bin_id, collected_at)",
    role="planner",
    body=CollectionsIn,
    other_bodies=CSV_BODY,
    replies={201: IngestOut, 200: Reply("all duplicates", IngestOut)},
)
def ingest_collections(scenario_id: str, body: CollectionsIn | None) -> tuple[IngestOut, int]:
    """Bulk ingest as JSON ``{"collections": [...]}`` or as a CSV body; idempotent by (bin, collected_at)."""
    with g.db() as s:
        row = find_scenario(s, scenario_id)
        tz = json.loads(row.fleet_json).get("timezone", "UTC")
        if body is None:
            frame = parse_csv_body(load_collections, tz, "invalid_collections")
        else:
            frame = _frame_from_json(body, tz)
        result = insert_collections(s, row, frame, scenario_bin_ids(row))
        if result["inserted"]:
            audit(s, "create", "collection", scenario_id, result)
        s.commit()
    return IngestOut(**result), 201 if result["inserted"] else 200


def _frame_from_json(body: CollectionsIn, tz: str) -> pd.DataFrame:
    """The items as ``collections.csv`` rows, checked by the file's own code; a bad one is a 422."""

    def text(x: float | None) -> str:
        return "" if x is None else repr(x)

    items = body.collections
    rows = pd.DataFrame(
        {
            "bin_id": [c.bin_id for c in items],
            "collected_at": [c.collected_at.isoformat() for c in items],
            "fill_pct": [text(c.fill_pct) for c in items],
            "kg": [text(c.kg) for c in items],
        }
    )
    try:
        return collections_frame(rows, tz, where=lambda i: f"collections[{i}]")
    except RowError as exc:
        field = f"collections.{exc.row}.{exc.field}"
        raise APIError(
            422, "validation_error", "the request is not valid", [{"field": field, "message": str(exc)}]
        ) from exc


@endpoint(
    collections,
    "GET",
    "",
    summary="Query collections by bin and time range",
    query=CollectionQuery,
    replies={200: CollectionPage},
)
def query_collections(scenario_id: str, query: CollectionQuery) -> CollectionPage:
    with g.db() as s:
        find_scenario(s, scenario_id)
        rows, total = series_page(s, CollectionRow, CollectionRow.collected_at, scenario_id, query)
        items = [
            CollectionOut(bin_id=r.bin_id, collected_at=r.collected_at, fill_pct=r.fill_pct, kg=r.kg) for r in rows
        ]
    return CollectionPage.of(items, total, query)
