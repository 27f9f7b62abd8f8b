"""``/api/v1/organisation``: the key's organisation and its limits, with how much of each is in use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from ..auth import UPLOAD_SETTING, rate_of
from ..db import ORG_LIMITS, CollectionRow, Organisation, PlanRow, ReadingRow, SimulationRow
from ..openapi import endpoint
from ..schemas import LimitOut, OrgLimitsOut, OrgOut
from ..store import current_org, in_use, own_or_server

organisation = Blueprint("organisation", __name__, url_prefix="/api/v1/organisation")

#: Per limit (:data:`~binroute.api.service.db.ORG_LIMITS`): the rows that use it, and whether only active jobs count.
_USES: dict[str, tuple[Any, bool]] = {
    "solves": (PlanRow, True),
    "simulations": (SimulationRow, True),
    "readings": (ReadingRow, False),
    "collections": (CollectionRow, False),
}


@endpoint(
    organisation,
    "GET",
    "",
    summary="The key's organisation and its limits: each cap and how much of it is in use",
    replies={200: OrgOut},
)
def show_organisation() -> OrgOut:
    """The organisation, and per limit its cap (its own or the server's) and what is in use now."""
    org_id = current_org()
    limits: dict[str, LimitOut] = {}
    with g.db() as s:
        row = s.get(Organisation, org_id)
        assert row is not None  # a key's organisation is never deleted
        for name, (column, setting) in ORG_LIMITS.items():
            model, active_jobs = _USES[name]
            own = getattr(row, column)
            limits[name] = LimitOut(
                limit=own_or_server(own, setting),
                used=in_use(s, model, org_id, active_jobs=active_jobs),
                own=own is not None,
            )
        rate = rate_of(row.rate_limit)
        return OrgOut(
            id=row.id,
            name=row.name,
            created=row.created,
            limits=OrgLimitsOut(
                **limits,
                upload_bytes=own_or_server(row.max_upload_bytes, UPLOAD_SETTING),
                rate=str(rate) if rate is not None else None,
            ),
        )
