"""``/api/v1/audit``: who created, deleted or planned what, and when; for the organisation's admin."""

from __future__ import annotations

import json

from flask import Blueprint, g

from ..db import AuditRow
from ..openapi import endpoint
from ..schemas import AuditOut, AuditPage, ListQuery
from ..store import rows_page

audit_trail = Blueprint("audit", __name__, url_prefix="/api/v1/audit")


@endpoint(
    audit_trail,
    "GET",
    "",
    summary="Who created, deleted or planned what, newest first",
    role="admin",
    query=ListQuery,
    replies={200: AuditPage},
)
def list_audit(query: ListQuery) -> AuditPage:
    """The organisation's audit trail, newest first, paged."""
    with g.db() as s:
        rows, total = rows_page(s, AuditRow, query, (AuditRow.id.desc(),))
        items = [
            AuditOut(
                at=r.at,
                key_id=r.key_id,
                action=r.action,
                target_type=r.target_type,
                target_id=r.target_id,
                detail=json.loads(r.detail_json) if r.detail_json else None,
            )
            for r in rows
        ]
    return AuditPage.of(items, total, query)
