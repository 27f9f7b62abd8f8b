"""``/api/v1/keys``: an organisation's admin lists, creates and revokes the organisation's API keys."""

from __future__ import annotations

from flask import Blueprint, Response, g

from ..db import ApiKey, create_key, now
from ..errors import APIError
from ..openapi import Reply, endpoint
from ..schemas import KeyCreated, KeyIn, KeyOut, KeyPage, ListQuery
from ..store import audit, current_org, find_owned, rows_page

keys = Blueprint("keys", __name__, url_prefix="/api/v1/keys")


def _key_out(row: ApiKey) -> KeyOut:
    return KeyOut.model_validate(row, from_attributes=True)


@endpoint(keys, "GET", "", summary="The organisation's API keys", role="admin", query=ListQuery, replies={200: KeyPage})
def list_keys(query: ListQuery) -> KeyPage:
    with g.db() as s:
        rows, total = rows_page(s, ApiKey, query, (ApiKey.created, ApiKey.id))
        return KeyPage.of([_key_out(r) for r in rows], total, query)


@endpoint(
    keys,
    "POST",
    "",
    summary="Create a key of the organisation; the secret is in this answer only",
    role="admin",
    body=KeyIn,
    replies={201: KeyCreated},
)
def new_key(body: KeyIn) -> KeyCreated:
    """A new key of the admin's organisation; the secret is in this answer only."""
    with g.db() as s:
        row, secret = create_key(s, body.name, body.role, current_org())
        audit(s, "create", "key", row.id, {"name": body.name, "role": body.role})
        s.commit()
        return KeyCreated(**_key_out(row).model_dump(), secret=secret)


@endpoint(
    keys,
    "DELETE",
    "/<key_id>",
    summary="Revoke a key of the organisation (not the key asking)",
    role="admin",
    replies={204: Reply("revoked")},
    errors=(409,),
)
def revoke_key(key_id: str) -> Response:
    """Revoke a key of the admin's organisation (again is harmless); not the key asking, 409."""
    with g.db() as s:
        row = find_owned(s, ApiKey, key_id, "key")
        if row.id == g.key.id:
            raise APIError(409, "conflict", "a key cannot revoke itself; use another admin key or binroute keys revoke")
        if row.revoked is None:
            row.revoked = now()
            audit(s, "revoke", "key", key_id)
            s.commit()
    return Response(status=204)
