"""``/api/v1/keys``: an organisation's admin lists, creates and revokes the organisation's API keys."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue

from ..auth import require
from ..db import ApiKey, create_key, now
from ..errors import APIError
from ..schemas import KeyIn, ListQuery
from ..store import audit, current_org, find_owned, page, rows_page
from ..validation import parse, parse_json

keys = Blueprint("keys", __name__, url_prefix="/api/v1/keys")


def _key_out(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "created": row.created.isoformat() + "Z",
        "revoked": row.revoked.isoformat() + "Z" if row.revoked else None,
    }


@keys.get("")
@require("admin")
def list_keys() -> ResponseReturnValue:
    q = parse(ListQuery, request.args.to_dict())
    with g.db() as s:
        rows, total = rows_page(s, ApiKey, q, (ApiKey.created, ApiKey.id))
        return page([_key_out(r) for r in rows], total, q)


@keys.post("")
@require("admin")
def new_key() -> ResponseReturnValue:
    """A new key of the admin's organisation; the secret is in this answer only."""
    body = parse_json(KeyIn)
    with g.db() as s:
        row, secret = create_key(s, body.name, body.role, current_org())
        audit(s, "create", "key", row.id, {"name": body.name, "role": body.role})
        s.commit()
        return jsonify({**_key_out(row), "secret": secret}), 201


@keys.delete("/<key_id>")
@require("admin")
def revoke_key(key_id: str) -> ResponseReturnValue:
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
