"""Two `serve` replicas on one database: an organisation's request rate is counted once, in Redis."""

from __future__ import annotations

import pytest

from binroute.api.service import create_app
from binroute.api.service.auth import rate_storage_uri
from binroute.api.service.client import call, served_replicas
from binroute.api.service.db import create_key, create_org


def _key(database_url: str, root, org: str) -> str:
    """A viewer key of a new organisation in the database at ``database_url``."""
    app = create_app({"DATABASE_URL": database_url, "DATA_DIR": str(root / "data"), "RESUME_JOBS": False})
    with app.extensions["binroute"]["sessions"]() as s:
        key = create_key(s, "v", "viewer", create_org(s, org).id)[1]
    app.extensions["binroute"]["jobs"].shutdown()
    return key


@pytest.mark.service
@pytest.mark.slow
def test_two_replicas_share_one_organisations_rate(redis, tmp_path):
    """6 requests a minute over two replicas: 4 asked of each, 6 answered in all, the rest 429; a third org is free."""
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    key = _key(database_url, tmp_path, "one")
    other = _key(database_url, tmp_path, "two")
    options = ["--rate-limit", "6/minute", "--rate-limit-storage", redis]
    with served_replicas(database_url, 2, cwd=tmp_path, options=options) as (one, two):
        codes = [call(f"{base}/api/v1/scenarios", key)[0] for base in (one, two) * 4]
        assert sorted(codes) == [200] * 6 + [429] * 2, codes
        assert call(f"{two}/api/v1/scenarios", other)[0] == 200  # counted by organisation


def test_the_counts_go_where_redis_is_configured():
    """RATE_LIMIT_STORAGE first, else a redis:// broker; an amqp:// broker or none leaves them in the process."""
    assert rate_storage_uri({"RATE_LIMIT_STORAGE": "redis://h:1/2", "BROKER_URL": "redis://b/0"}) == "redis://h:1/2"
    assert rate_storage_uri({"BROKER_URL": "redis://b/0"}) == "redis://b/0"
    assert rate_storage_uri({"BROKER_URL": "amqp://guest@h//"}) is None
    assert rate_storage_uri({}) is None


def test_an_unreachable_rate_store_lets_requests_through(tmp_path):
    """Redis for the counts away: requests are answered (uncounted), never a 500."""
    from binroute.api.service.client import free_port

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DATA_DIR": str(tmp_path / "d"),
            "RATE_LIMIT": "1/minute",
            "RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{free_port()}/0",
        }
    )
    try:
        with app.extensions["binroute"]["sessions"]() as s:
            key = create_key(s, "v", "viewer", create_org(s, "o").id)[1]
        client = app.test_client()
        assert [client.get("/api/v1/scenarios", headers={"X-API-Key": key}).status_code for _ in range(3)] == [200] * 3
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
