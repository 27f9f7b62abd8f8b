"""``/api/v1/organisation``: the key's organisation and its limits, with how much of each is in use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g
from flask.typing import ResponseReturnValue

from ..auth import UPLOAD_SETTING, rate_of, require
from ..db import ORG_LIMITS, CollectionRow, Organisation, PlanRow, ReadingRow, SimulationRow
from ..store import current_org, in_use, own_or_server

organisation = Blueprint("organisation", __name__, url_prefix="/api/v1/organisation")

#: Per limit (:data:`~binroute.api.service.db.ORG_LIMITS`): the rows that use it, and whether only active jobs count.
_USES: dict[str, tuple[Any, bool]] = {
    "solves": (PlanRow, True),
    "simulations": (SimulationRow, True),
    "readings": (ReadingRow, False),
    "collections": (CollectionRow, False),
}


@organisation.get("")
@require("viewer")
def show_organisation() -> ResponseReturnValue:
    """The organisation, and per limit its cap (its own or the server's) and what is in use now."""
    org_id = current_org()
    limits: dict[str, Any] = {}
    with g.db() as s:
        row = s.get(Organisation, org_id)
        assert row is not None  # a key's organisation is never deleted
        for name, (column, setting) in ORG_LIMITS.items():
            model, active_jobs = _USES[name]
            own = getattr(row, column)
            limits[name] = {
                "limit": own_or_server(own, setting),
                "used": in_use(s, model, org_id, active_jobs=active_jobs),
                "own": own is not None,
            }
        out = {"id": row.id, "name": row.name, "created": row.created.isoformat() + "Z"}
        rate = rate_of(row.rate_limit)
        limits["upload_bytes"] = own_or_server(row.max_upload_bytes, UPLOAD_SETTING)
        limits["rate"] = str(rate) if rate is not None else None
    return {**out, "limits": limits}
