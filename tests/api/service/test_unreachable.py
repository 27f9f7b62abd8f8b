"""An unreachable database or broker: one clear line and exit code 2 at start; a lost broker fails new plans."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from binroute.api.cli import main
from binroute.api.service import create_app
from binroute.api.service.client import free_port
from binroute.api.service.db import ScenarioRow, create_key, create_org

from .servers import redis_server

PLAN = {"date": "2026-11-23", "solution_limit": 5}


def _nothing_listens(scheme: str) -> str:
    """A URL on a loopback port that nothing listens on."""
    if scheme == "redis":
        return f"redis://127.0.0.1:{free_port()}/0"
    return f"postgresql+psycopg://binroute@127.0.0.1:{free_port()}/binroute"


@pytest.mark.parametrize(
    ("command", "database", "broker", "says"),
    [
        ("serve", "postgresql", None, "cannot reach the database postgresql+psycopg://binroute@127.0.0.1:"),
        ("serve", "sqlite", "redis", "cannot reach the task queue's broker redis://127.0.0.1:"),
        ("worker", "sqlite", "redis", "cannot reach the task queue's broker redis://127.0.0.1:"),
        ("worker", "postgresql", "redis", "cannot reach the database postgresql+psycopg://binroute@127.0.0.1:"),
        ("orgs list", "postgresql", None, "cannot reach the database"),
        ("db upgrade", "postgresql", None, "cannot reach the database"),
    ],
)
def test_an_unreachable_database_or_broker_stops_a_command_with_one_line(
    command, database, broker, says, tmp_path, monkeypatch
):
    """`serve`, `worker` and the admin commands say which server they cannot reach, exit 2, and show no traceback."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}" if database == "sqlite" else _nothing_listens(database)
    args = [*command.split(), "--database", url]
    if broker:
        args += ["--broker", _nothing_listens(broker)]
    if command == "serve":
        args += ["--port", str(free_port())]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2, run.output
    assert run.stderr.startswith(f"error: {says}"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.output


@pytest.mark.service
def test_a_broker_lost_while_serving_fails_new_plans_and_keeps_what_is_stored(tmp_path):
    """Once the broker is gone a new plan answers 503 and is stored failed with the reason; older rows stay."""
    import redis

    with redis_server() as broker:
        if broker is None:
            pytest.skip("redis-server is not installed")
        url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "BROKER_URL": broker})
        try:
            with app.extensions["binroute"]["sessions"]() as s:
                org = create_org(s, "lost broker").id
                key = {"X-API-Key": create_key(s, "p", "planner", org)[1]}
                scenario = ScenarioRow(org_id=org, name="s", fleet_json="{}", bins_csv="bin_id\n", network_file="n")
                s.add(scenario)
                s.commit()
            client, plans = app.test_client(), f"/api/v1/scenarios/{scenario.id}/plans"
            first = client.post(plans, json=PLAN, headers=key)
            assert first.status_code == 202
            redis.Redis.from_url(broker).shutdown(nosave=True)
            lost = client.post(plans, json=PLAN, headers=key)
            assert lost.status_code == 503, lost.json
            error = lost.json["error"]
            assert error["code"] == "queue_unavailable" and "cannot be reached" in error["message"]
            failed = client.get(f"/api/v1/plans/{error['details']['plan_id']}", headers=key).json
            assert failed["status"] == "failed" and failed["error"] == error["message"]
            assert client.get(f"/api/v1/plans/{first.json['id']}", headers=key).json["status"] == "queued"
            assert client.get(f"/api/v1/scenarios/{scenario.id}", headers=key).status_code == 200
            assert client.get("/api/v1/plans", headers=key).json["total"] == 2
        finally:
            app.extensions["binroute"]["jobs"].shutdown()
