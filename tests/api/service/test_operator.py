"""The operator's view: Prometheus metrics, request ids in JSON log lines and in the worker, readiness."""

from __future__ import annotations

import json
import logging

import pytest

from binroute.api.service import create_app
from binroute.api.service.client import free_port
from binroute.api.service.logs import REQUEST_ID, JsonFormatter, RequestIdFilter, configure_logging

from .helpers import hdr, make_app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """An app on SQLite with a planner and a viewer key."""
    application = make_app(f"sqlite:///{tmp_path_factory.mktemp('ops') / 'db.sqlite3'}", tmp_path_factory.mktemp("d"))
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


def test_metrics_count_requests_by_route_and_jobs_by_state(app, scenario):
    """GET /metrics: requests by method, route rule and status; latencies; plans by state; no key needed."""
    client = app.test_client()
    client.get(f"/api/v1/scenarios/{scenario['id']}", headers=hdr(app, "viewer"))
    client.get("/api/v1/scenarios/no-such-scenario", headers=hdr(app, "viewer"))
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    route = 'route="/api/v1/scenarios/<scenario_id>"'
    assert f'binroute_http_requests_total{{method="GET",{route},status="200"}}' in text
    assert f'binroute_http_requests_total{{method="GET",{route},status="404"}}' in text
    assert f'binroute_http_request_seconds_bucket{{le="0.1",method="GET",{route}}}' in text
    assert 'binroute_jobs{kind="plan",status="queued"}' in text
    assert 'binroute_queue_length{kind="simulation"}' in text
    assert 'binroute_solve_seconds{quantile="0.95"}' in text


def test_a_request_id_is_answered_and_logged_as_json(app, caplog):
    """A caller's X-Request-Id comes back and is on the request's log line; a bad one is replaced by a new id."""
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="binroute.access"):
        given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
        bad = client.get("/healthz", headers={"X-Request-Id": "has spaces; and more"})
    assert given.headers["X-Request-Id"] == "abc-123"
    assert len(bad.headers["X-Request-Id"]) == 32 and bad.headers["X-Request-Id"] != "abc-123"
    record = next(r for r in caplog.records if r.name == "binroute.access")
    RequestIdFilter().filter(record)  # the id in force as the line was written is on it
    REQUEST_ID.set("abc-123")
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc-123" and line["status"] == 200 and line["path"] == "/healthz"
    assert line["time"].endswith("Z") and line["level"] == "INFO"
    REQUEST_ID.set(None)
    with pytest.raises(ValueError, match="log format must be one of text, json"):
        configure_logging("yaml")


def test_readiness_fails_while_the_database_or_broker_is_away(tmp_path):
    """/readyz: 200 with database and broker ok; 503 naming the broker while it is unreachable."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DATA_DIR": str(tmp_path / "d")})
    try:
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200 and ready.json == {"status": "ready", "database": "ok", "broker": "none"}
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


@pytest.mark.service
def test_readiness_names_a_lost_broker(tmp_path):
    """A broker that goes away while the server runs: /readyz answers 503 naming it; /healthz still 200."""
    import redis as redis_client

    from binroute.api.service.client import redis_server

    with redis_server() as broker:
        if broker is None:
            pytest.skip("redis-server is not installed")
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                "DATA_DIR": str(tmp_path / "d"),
                "BROKER_URL": broker,
            }
        )
        try:
            client = app.test_client()
            assert client.get("/readyz").json["broker"] == "ok"
            redis_client.Redis.from_url(broker).shutdown(nosave=True)
            lost = client.get("/readyz")
            assert lost.status_code == 503, lost.json
            assert lost.json["error"]["code"] == "not_ready" and "broker:" in lost.json["error"]["message"]
            assert lost.json["error"]["details"]["database"] == "ok"
            assert client.get("/healthz").status_code == 200
        finally:
            app.extensions["binroute"]["jobs"].shutdown()


def test_readiness_names_an_unreachable_database(tmp_path):
    """A database that does not answer (a PostgreSQL port nobody listens on): /readyz and requests are 503s."""
    from flask import g
    from sqlalchemy.orm import sessionmaker

    from binroute.api.service.db import make_engine

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DATA_DIR": str(tmp_path / "d")})
    gone = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2")

    @app.before_request
    def _lost_database() -> None:
        g.db = sessionmaker(gone)

    try:
        lost = app.test_client().get("/readyz")
        assert lost.status_code == 503 and lost.json["error"]["details"]["database"] != "ok", lost.json
        away = app.test_client().get("/api/v1/scenarios", headers={"X-API-Key": "br_any"})  # a request needing it
        assert away.status_code == 503 and away.json["error"]["code"] == "database_unavailable", away.json
        assert away.headers["Retry-After"] == "5"
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
