"""Crew tokens: a crew's secret link to its own crew-day of one plan, expiring at the end of that day, revocable.

A token belongs to one organisation, one plan (the day's first version: a
re-plan keeps the crews' links working), one crew (vehicle) and one day. Only
its SHA-256 is stored; the secret is shown once, when it is made. The time the
service reads is the app's ``LIVE_CLOCK`` (a callable returning naive UTC; the
tests fix it), else the wall clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date as Date
from datetime import datetime, timedelta

import pandas as pd
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import CrewTokenRow, Organisation, hash_key, now
from ..errors import APIError

#: What every crew token starts with, so a leaked one is recognisable.
PREFIX = "crew_"


def live_now() -> datetime:
    """The service's time now, naive UTC: the app's ``LIVE_CLOCK`` if it has one, else the wall clock."""
    clock: Callable[[], datetime] | None = current_app.config.get("LIVE_CLOCK")
    return clock() if clock is not None else now()


def end_of_day(day: Date, tz: str) -> datetime:
    """Midnight after ``day`` in ``tz``, as naive UTC: when a crew token for that day expires."""
    stamp = pd.Timestamp(day + timedelta(days=1)).tz_localize(tz).tz_convert("UTC").tz_localize(None)
    moment: datetime = stamp.to_pydatetime()
    return moment


def make_crew_token(
    s: Session, *, org_id: str, plan_id: str, vehicle_id: str, day: Date, tz: str
) -> tuple[CrewTokenRow, str]:
    """Store a new token for ``vehicle_id``'s day of plan ``plan_id`` and return it with the secret (shown once)."""
    secret = PREFIX + secrets.token_urlsafe(24)
    row = CrewTokenRow(
        org_id=org_id,
        plan_id=plan_id,
        vehicle_id=vehicle_id,
        day=day.isoformat(),
        token_hash=hash_key(secret),
        expires=end_of_day(day, tz),
    )
    s.add(row)
    return row, secret


def find_crew_token(s: Session, secret: str) -> tuple[CrewTokenRow, Organisation]:
    """The crew token with this secret and its organisation; a 401 if it is unknown, revoked or expired."""
    found = s.execute(
        select(CrewTokenRow, Organisation)
        .join(Organisation, Organisation.id == CrewTokenRow.org_id)
        .where(CrewTokenRow.token_hash == hash_key(secret))
    ).first()
    if found is None:
        raise APIError(401, "unauthorized", "unknown crew token")
    row, org = found
    if row.revoked is not None:
        raise APIError(401, "unauthorized", "this crew token was revoked; ask the planner for a new link")
    if live_now() >= row.expires:
        raise APIError(401, "unauthorized", f"this crew token was for {row.day}, which is over")
    return row, org
