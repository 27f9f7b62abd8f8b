"""``/api/v1/audit``: who created, deleted or planned what, and when; for the organisation's admin."""

from __future__ import annotations

import json

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from ..auth import require
from ..db import AuditRow
from ..schemas import ListQuery
from ..store import page, rows_page
from ..validation import parse

audit_trail = Blueprint("audit", __name__, url_prefix="/api/v1/audit")


@audit_trail.get("")
@require("admin")
def list_audit() -> ResponseReturnValue:
    """The organisation's audit trail, newest first, paged."""
    q = parse(ListQuery, request.args.to_dict())
    with g.db() as s:
        rows, total = rows_page(s, AuditRow, q, (AuditRow.id.desc(),))
        items = [
            {
                "at": r.at.isoformat() + "Z",
                "key_id": r.key_id,
                "action": r.action,
                "target_type": r.target_type,
                "target_id": r.target_id,
                "detail": json.loads(r.detail_json) if r.detail_json else None,
            }
            for r in rows
        ]
    return page(items, total, q)
