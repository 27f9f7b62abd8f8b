"""Fixtures the HTTP API tests share."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from binroute.api.service import create_app
from binroute.api.service.db import PlanRow, ScenarioRow, SimulationRow, create_org

from .helpers import JOB_OPTIONS, N_BINS, upload
from .servers import new_database, postgres_server, rabbitmq_server, redis_server


@pytest.fixture(scope="module")
def small(sample_dir, tmp_path_factory):
    """A small scenario cut from the sample: 30 bins and their readings."""
    folder = tmp_path_factory.mktemp("small")
    bins = pd.read_csv(sample_dir / "bins.csv", dtype=str, keep_default_na=False).head(N_BINS)
    bins.to_csv(folder / "bins.csv", index=False)
    readings = pd.read_csv(sample_dir / "readings.csv", dtype=str)
    readings[readings["bin_id"].isin(bins["bin_id"])].to_csv(folder / "readings.csv", index=False)
    (folder / "fleet.json").write_bytes((sample_dir / "fleet.json").read_bytes())
    (folder / "network.osm.pbf").write_bytes((sample_dir / "network.osm.pbf").read_bytes())
    return folder


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """The URL of a real PostgreSQL server started for the session; skips where the binaries are absent."""
    with postgres_server(tmp_path_factory.mktemp("pg")) as url:
        if url is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed")
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh empty database: a SQLite file, and a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return new_database(request.getfixturevalue("postgres"), f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def redis():
    """The URL of a redis-server started for the module's tests; skips where the binary is absent."""
    with redis_server() as url:
        if url is None:
            pytest.skip("redis-server is not installed")
        yield url


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory):
    """The ``amqp://`` URL of a RabbitMQ node started for the session; skips where rabbitmq-server is absent."""
    with rabbitmq_server(tmp_path_factory.mktemp("rabbitmq")) as url:
        if url is None:
            pytest.skip("rabbitmq-server is not installed")
        yield url


@pytest.fixture(params=["redis", pytest.param("rabbitmq", marks=pytest.mark.slow)])
def broker(request):
    """A task queue's broker URL: a redis-server, and a RabbitMQ node (slow: it takes seconds to start)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def jobs(request, tmp_path):
    """A database (the test's ``database_url`` if it asks for one) with one queued plan and one queued simulation."""
    url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else None
    app = create_app(
        {
            "DATABASE_URL": url or f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DATA_DIR": str(tmp_path / "d"),
            "RESUME_JOBS": False,
        }
    )
    factory = app.extensions["binroute"]["sessions"]
    with factory() as s:
        org = create_org(s, "beats").id
        scenario = ScenarioRow(org_id=org, name="s", fleet_json="{}", bins_csv="bin_id\n", network_file="n")
        s.add(scenario)
        s.flush()
        plan = PlanRow(org_id=org, scenario_id=scenario.id, options_json=JOB_OPTIONS)
        sim = SimulationRow(org_id=org, scenario_id=scenario.id, options_json=JOB_OPTIONS, days_total=2)
        s.add_all([plan, sim])
        s.commit()
        ids = {PlanRow: plan.id, SimulationRow: sim.id}
    yield factory, ids
    app.extensions["binroute"]["jobs"].shutdown()


@pytest.fixture(scope="module")
def scenario(app, small):
    """The small scenario uploaded to the module's ``app`` (a module defines ``app``)."""
    client = app.test_client()
    resp = upload(client, app, small, "small town")
    assert resp.status_code == 201, resp.json
    return resp.json
