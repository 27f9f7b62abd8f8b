"""The HTTP API through Flask's test client, and once through a real server process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from binroute.api.service import create_app
from binroute.api.service.client import scenario_upload, served

from .helpers import N_BINS, hdr, make_app, multipart, scenario_files, upload, wait_for


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    application = make_app(f"sqlite:///{root / 'db.sqlite3'}", root)
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


def test_app(app):
    """The app the module shares: its own SQLite database and test settings, two keys acting for one organisation."""
    assert app.extensions["binroute"]["engine"].dialect.name == "sqlite"
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024 and app.config["SOLVE_WORKERS"] == 2
    client = app.test_client()
    seen = {role: client.get("/api/v1/organisation", headers=hdr(app, role)) for role in ("planner", "viewer")}
    assert [r.status_code for r in seen.values()] == [200, 200]
    assert seen["planner"].json["name"] == seen["viewer"].json["name"] == "test council"
    assert seen["planner"].json["id"] == seen["viewer"].json["id"]


def test_healthz_needs_no_key(app):
    assert app.test_client().get("/healthz").json == {"status": "ok", "database": "ok"}


def test_scenario_created_listed_and_read(app, scenario):
    """Upload gives 201 with counts; list pages; bins and vehicles are readable."""
    client = app.test_client()
    assert scenario["bins"] == N_BINS and scenario["readings"] > 1000
    page = client.get("/api/v1/scenarios?limit=1", headers=hdr(app, "viewer")).json
    assert page["total"] >= 1 and len(page["items"]) == 1
    assert client.get(f"/api/v1/scenarios/{scenario['id']}", headers=hdr(app, "viewer")).json["name"] == "small town"
    bins = client.get(f"/api/v1/scenarios/{scenario['id']}/bins?limit=5&offset=5", headers=hdr(app, "viewer")).json
    assert bins["total"] == N_BINS and len(bins["items"]) == 5
    assert client.get(f"/api/v1/scenarios/{scenario['id']}/vehicles", headers=hdr(app, "viewer")).json["total"] == 4


def test_duplicate_name_is_409(app, small, scenario):
    assert upload(app.test_client(), app, small, "small town", readings=False).status_code == 409


def test_readings_ingest_is_idempotent_and_queryable(app, scenario):
    """Posting the same readings twice inserts them once; CSV works too; queries filter by bin and time."""
    client, sid = app.test_client(), scenario["id"]
    body = {
        "readings": [
            {"bin_id": "B0001", "timestamp": "2026-11-23T05:00:00Z", "fill_pct": 55},
            {"bin_id": "B0001", "timestamp": "2026-11-23T05:30:00Z", "fill_pct": 56},
        ]
    }
    first = client.post(f"/api/v1/scenarios/{sid}/readings", json=body, headers=hdr(app))
    again = client.post(f"/api/v1/scenarios/{sid}/readings", json=body, headers=hdr(app))
    assert first.status_code == 201 and first.json["inserted"] == 2
    assert again.status_code == 200 and again.json == {"received": 2, "inserted": 0, "duplicates": 2}
    csv_body = "bin_id,timestamp,fill_pct\nB0002,2026-11-23T05:00:00+02:00,40\n"
    resp = client.post(f"/api/v1/scenarios/{sid}/readings", data=csv_body, content_type="text/csv", headers=hdr(app))
    assert resp.json["inserted"] == 1
    got = client.get(
        f"/api/v1/scenarios/{sid}/readings?bin_id=B0001&from=2026-11-23T04:59:00Z", headers=hdr(app, "viewer")
    ).json
    assert [r["fill_pct"] for r in got["items"]] == [55, 56]


def test_forecast(app, scenario):
    resp = app.test_client().get(
        f"/api/v1/scenarios/{scenario['id']}/forecast?at=2026-11-23T10:00", headers=hdr(app, "viewer")
    )
    assert resp.status_code == 200
    assert len(resp.json["bins"]) == N_BINS
    assert {b["decision"] for b in resp.json["bins"].values()} <= {"must", "may", "skip"}


@pytest.mark.parametrize("at", ["1900-01-01T00:00", "2199-12-31T23:59", "2020-01-01T00:00Z"])
def test_a_forecast_far_from_the_data_is_refused(app, scenario, at):
    """A forecast a century before the data (or far after it) is a 422 naming ``at``, not a guess."""
    resp = app.test_client().get(f"/api/v1/scenarios/{scenario['id']}/forecast?at={at}", headers=hdr(app, "viewer"))
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["details"][0]["field"] == "at" and "outside the scenario's data" in error["message"]


def test_times_are_answered_as_rfc_3339():
    """An offset with seconds (a zone's local mean time) cannot be written in RFC 3339: the time goes out in UTC."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from binroute.api.service.schemas import rfc3339

    helsinki = ZoneInfo("Europe/Helsinki")
    assert rfc3339(datetime(1900, 1, 1, tzinfo=helsinki)) == "1899-12-31T22:20:11Z"
    assert rfc3339(datetime(2026, 11, 23, 10, tzinfo=helsinki)) == "2026-11-23T10:00:00+02:00"


@pytest.mark.slow
def test_plan_lifecycle(app, scenario):
    """POST gives 202 and a URL; the plan solves in the background; downloads work; DELETE removes it."""
    client, sid = app.test_client(), scenario["id"]
    resp = client.post(
        f"/api/v1/scenarios/{sid}/plans",
        json={"date": "2026-11-23", "time_limit_s": 2, "engine": "ortools"},
        headers=hdr(app),
    )
    assert resp.status_code == 202 and resp.headers["Location"].endswith(resp.json["id"])
    plan = wait_for(client, app, resp.headers["Location"])
    assert plan["status"] == "done", plan
    assert plan["summary"]["totals"]["bins"] > 0
    geo = client.get(f"/api/v1/plans/{plan['id']}/routes.geojson", headers=hdr(app, "viewer"))
    assert geo.status_code == 200 and "attachment" in geo.headers["Content-Disposition"]
    fc = geo.get_json(force=True)
    vid = next(f["properties"]["vehicle_id"] for f in fc["features"] if f["properties"].get("vehicle_id"))
    one = client.get(f"/api/v1/plans/{plan['id']}/vehicles/{vid}.geojson", headers=hdr(app, "viewer"))
    assert one.status_code == 200 and all(
        f["properties"].get("vehicle_id") in (vid, None) for f in one.get_json(force=True)["features"]
    )
    assert (
        client.get(f"/api/v1/plans/{plan['id']}/vehicles/NOPE.geojson", headers=hdr(app, "viewer")).status_code == 404
    )
    page = client.get(f"/api/v1/plans/{plan['id']}/map", headers=hdr(app, "viewer"))
    assert page.status_code == 200 and b"L.map(" in page.data
    assert client.get("/api/v1/plans", headers=hdr(app, "viewer")).json["total"] >= 1
    assert client.delete(f"/api/v1/plans/{plan['id']}", headers=hdr(app)).status_code == 204
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=hdr(app, "viewer")).status_code == 404


@pytest.mark.slow
def test_failed_solve_is_reported(app, scenario):
    """A solve that cannot run (no vehicles' streams accepted) ends 'failed' with the reason; the server stays up."""
    client = app.test_client()
    fleet = json.loads(
        json.dumps(client.get(f"/api/v1/scenarios/{scenario['id']}/vehicles", headers=hdr(app, "viewer")).json)
    )
    assert fleet["total"] == 4
    body = {
        "name": "broken",
        "network_from": scenario["id"],
        "bins": [{"bin_id": "X1", "lon": 24.94, "lat": 60.17, "stream": "general", "capacity_l": 240}],
        "fleet": {
            "depots": [{"id": "D", "lon": 24.94, "lat": 60.166}],
            "facilities": [{"id": "G", "lon": 24.95, "lat": 60.177, "streams": ["glass"]}],
            "vehicles": [
                {
                    "id": "V",
                    "depot": "D",
                    "streams": ["general"],
                    "capacity_kg": 1000,
                    "capacity_l": 1000,
                    "shift_start": "06:00",
                    "shift_end": "14:00",
                }
            ],
        },
    }
    created = client.post("/api/v1/scenarios", json=body, headers=hdr(app))
    assert created.status_code == 201, created.json
    resp = client.post(
        f"/api/v1/scenarios/{created.json['id']}/plans",
        json={"date": "2026-11-23", "time_limit_s": 1},
        headers=hdr(app),
    )
    plan = wait_for(client, app, resp.headers["Location"])
    assert plan["status"] == "failed" and "disposal site" in plan["error"]
    assert client.get(f"/api/v1/plans/{plan['id']}/routes.geojson", headers=hdr(app, "viewer")).status_code == 409
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "code"),
    [
        ("get", "/api/v1/scenarios", {"headers": {}}, 401, "unauthorized"),
        ("get", "/api/v1/scenarios", {"headers": {"X-API-Key": "br_wrong"}}, 401, "unauthorized"),
        ("post", "/api/v1/scenarios", {"json": {}, "role": "viewer"}, 403, "forbidden"),
        ("get", "/api/v1/scenarios/nope", {"role": "viewer"}, 404, "not_found"),
        ("get", "/api/v1/plans/nope", {"role": "viewer"}, 404, "not_found"),
        ("post", "/api/v1/scenarios", {"json": {"name": ""}}, 422, "validation_error"),
        (
            "post",
            "/api/v1/scenarios",
            {"data": "x", "content_type": "multipart/form-data; boundary=x"},
            400,
            "bad_request",
        ),
        ("get", "/api/v1/scenarios?limit=0", {"role": "viewer"}, 422, "validation_error"),
        (
            "post",
            "/api/v1/scenarios",
            {"data": b"x" * (3 * 1024 * 1024), "content_type": "multipart/form-data; boundary=x"},
            413,
            "too_large",
        ),
        ("post", "/api/v1/scenarios", {"data": "name=x", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_error_paths(app, method, url, kwargs, status, code):
    """Errors come as JSON with a code, a message and no stack trace."""
    role = kwargs.pop("role", "planner")
    headers = kwargs.pop("headers", hdr(app, role))
    resp = getattr(app.test_client(), method)(url, headers=headers, **kwargs)
    assert resp.status_code == status, resp.json
    assert resp.json["error"]["code"] == code
    assert "Traceback" not in resp.get_data(as_text=True)


def test_plan_validation_lists_fields(app, scenario):
    resp = app.test_client().post(
        f"/api/v1/scenarios/{scenario['id']}/plans", json={"date": "tomorrow", "engine": "magic"}, headers=hdr(app)
    )
    assert resp.status_code == 422
    assert {d["field"] for d in resp.json["error"]["details"]} == {"date", "engine"}


def test_bad_upload_names_the_file_line_and_field(app, small):
    bad = (small / "bins.csv").read_text().replace("recycling", "", 1)
    body, ctype = multipart("bad", scenario_files(small, readings=False, bins=bad.encode()))
    resp = app.test_client().post("/api/v1/scenarios", data=body, headers=hdr(app), content_type=ctype)
    assert resp.status_code == 422
    assert "bins.csv line" in resp.json["error"]["message"] and "stream" in resp.json["error"]["message"]


def test_delete_scenario_and_cors_off(app, small):
    client = app.test_client()
    created = upload(client, app, small, "to delete", readings=False).json
    resp = client.delete(f"/api/v1/scenarios/{created['id']}", headers={**hdr(app), "Origin": "https://evil.example"})
    assert resp.status_code == 204 and "Access-Control-Allow-Origin" not in resp.headers
    assert client.get(f"/api/v1/scenarios/{created['id']}", headers=hdr(app, "viewer")).status_code == 404


def test_openapi_and_docs(app):
    """The OpenAPI 3.1 document names every route; the docs page is served by the app."""
    client = app.test_client()
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"] == "3.1.0" and "PlanIn" in doc["components"]["schemas"]
    routes = {r.rule.replace("<", "{").replace(">", "}") for r in app.url_map.iter_rules() if r.endpoint != "static"}
    documented = set(doc["paths"]) | {"/api/v1/openapi.json", "/api/v1/docs"}
    assert routes <= documented
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"openapi.json" in page.data and b"<script src=" not in page.data


@pytest.mark.service
def test_real_server_end_to_end(small, tmp_path):
    """`binroute serve` on a free local port: create a key, upload, plan, download, over HTTP."""
    db = f"sqlite:///{tmp_path / 'srv.sqlite3'}"
    key = subprocess.run(
        [
            sys.executable,
            "-m",
            "binroute.api.cli",
            "keys",
            "create",
            "--name",
            "t",
            "--role",
            "planner",
            "--database",
            db,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()[2]
    with served(db, cwd=tmp_path) as base:
        body, ctype = scenario_upload("over http", small)
        req = urllib.request.Request(
            f"{base}/api/v1/scenarios", data=body, method="POST", headers={"X-API-Key": key, "Content-Type": ctype}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            sid = json.load(r)["id"]
        req = urllib.request.Request(
            f"{base}/api/v1/scenarios/{sid}/plans",
            method="POST",
            data=json.dumps({"date": "2026-11-23", "time_limit_s": 2, "engine": "ortools"}).encode(),
            headers={"X-API-Key": key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 202
            url = base + resp.headers["Location"]
        for _ in range(360):
            with urllib.request.urlopen(urllib.request.Request(url, headers={"X-API-Key": key}), timeout=10) as r:
                plan = json.load(r)
            if plan["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
        assert plan["status"] == "done", plan
        req = urllib.request.Request(base + plan["links"]["routes"], headers={"X-API-Key": key})
        with urllib.request.urlopen(req, timeout=10) as geo:
            assert json.load(geo)["type"] == "FeatureCollection"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/api/v1/plans", timeout=10)
        assert err.value.code == 401
        err.value.close()


@pytest.mark.slow
def test_queued_plans_survive_a_restart(app, scenario, tmp_path):
    """A plan left queued when the server stopped is solved by the next server on the same database."""
    from binroute.api.service.db import PlanRow, ScenarioRow

    with app.extensions["binroute"]["sessions"]() as s:
        row = PlanRow(
            org_id=s.get(ScenarioRow, scenario["id"]).org_id,
            scenario_id=scenario["id"],
            status="queued",
            options_json=json.dumps({"date": "2026-11-23", "time_limit_s": 2, "engine": "ortools", "seed": 0}),
        )
        s.add(row)
        s.commit()
        plan_id = row.id
    restarted = create_app(
        {"DATABASE_URL": app.config["DATABASE_URL"], "DATA_DIR": app.extensions["binroute"]["files"]}
    )
    try:
        restarted.config["TEST_KEYS"] = app.config["TEST_KEYS"]
        plan = wait_for(restarted.test_client(), restarted, f"/api/v1/plans/{plan_id}")
        assert plan["status"] == "done", plan["error"]
    finally:
        restarted.extensions["binroute"]["jobs"].shutdown()


@pytest.mark.slow
def test_revoked_key_is_refused(app, tmp_path):
    """`binroute keys revoke` makes a key useless."""
    db = app.config["DATABASE_URL"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "binroute.api.cli",
            "keys",
            "create",
            "--name",
            "tmp",
            "--role",
            "viewer",
            "--database",
            db,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    client = app.test_client()
    assert client.get("/api/v1/scenarios", headers={"X-API-Key": out[2]}).status_code == 200
    subprocess.run(
        [sys.executable, "-m", "binroute.api.cli", "keys", "revoke", out[0], "--database", db],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert client.get("/api/v1/scenarios", headers={"X-API-Key": out[2]}).status_code == 401


def test_cors_only_when_configured(tmp_path):
    configured = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
            "DATA_DIR": str(tmp_path),
            "CORS_ORIGINS": ["https://planner.example"],
        }
    )
    try:
        ok = configured.test_client().get("/healthz", headers={"Origin": "https://planner.example"})
        other = configured.test_client().get("/healthz", headers={"Origin": "https://other.example"})
        assert ok.headers["Access-Control-Allow-Origin"] == "https://planner.example"
        assert "Access-Control-Allow-Origin" not in other.headers
    finally:
        configured.extensions["binroute"]["jobs"].shutdown()


def test_each_scenario_keeps_its_own_network_file(app, small):
    """Two scenarios never share a stored network file (deleting one leaves the other intact)."""
    from binroute.api.service.db import ScenarioRow

    client = app.test_client()
    a = upload(client, app, small, "net a", readings=False).json["id"]
    b = upload(client, app, small, "net b", readings=False).json["id"]
    with app.extensions["binroute"]["sessions"]() as s:
        files = {s.get(ScenarioRow, a).network_file, s.get(ScenarioRow, b).network_file}
    assert len(files) == 2 and all(a in f or b in f for f in files)
    client.delete(f"/api/v1/scenarios/{a}", headers=hdr(app))
    with app.extensions["binroute"]["sessions"]() as s:
        from pathlib import Path

        assert Path(s.get(ScenarioRow, b).network_file).is_file()


def test_solve_process_ignores_packages_in_the_working_directory(tmp_path):
    """A bogus binroute/ package in the server's working directory cannot replace ours in a job process."""
    from binroute.api.service.jobs import PLAN_JOB
    from binroute.api.service.migrate import upgrade

    upgrade(f"sqlite:///{tmp_path / 'db.sqlite3'}")  # a server's database is always at the newest schema
    (tmp_path / "binroute").mkdir()
    (tmp_path / "binroute" / "__init__.py").write_text("raise SystemExit(7)\n")
    cmd = PLAN_JOB.command(f"sqlite:///{tmp_path / 'db.sqlite3'}", "no-such-plan", tmp_path)
    assert cmd[1] == "-P"
    guarded = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert guarded.returncode == 0, guarded.stderr
    exposed = subprocess.run(
        [x for x in cmd if x != "-P"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert exposed.returncode == 7


@pytest.mark.slow
def test_plan_takes_solution_limit_and_include_may(app, scenario):
    """A plan request takes solution_limit (then no time limit, as in the CLI) and include_may."""
    client = app.test_client()
    resp = client.post(
        f"/api/v1/scenarios/{scenario['id']}/plans",
        json={"date": "2026-11-23", "solution_limit": 5, "include_may": False, "engine": "ortools"},
        headers=hdr(app),
    )
    assert resp.status_code == 202, resp.json
    options = resp.json["options"]
    assert options["solution_limit"] == 5 and options["time_limit_s"] is None and options["include_may"] is False
    plan = wait_for(client, app, resp.headers["Location"])
    assert plan["status"] == "done", plan
    assert plan["summary"]["totals"]["bins"] <= plan["summary"]["decisions"]["must"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"solution_limit": 0}, "solution_limit"),
        ({"include_may": "perhaps"}, "include_may"),
        ({"time_limit_s": 0.01}, "time_limit_s"),
        ({"threshold_pct": 0}, "threshold_pct"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 40}, "horizon_days"),
    ],
)
def test_plan_options_have_the_cli_bounds(app, scenario, body, field):
    """Out-of-bounds plan options are 422 naming the field."""
    resp = app.test_client().post(
        f"/api/v1/scenarios/{scenario['id']}/plans", json={"date": "2026-11-23", **body}, headers=hdr(app)
    )
    assert resp.status_code == 422
    assert [d["field"] for d in resp.json["error"]["details"]] == [field]


def test_openapi_shows_every_plan_option(app):
    """PlanIn in the OpenAPI document lists solution_limit, include_may and the engines from binroute.routing."""
    from binroute.routing.limits import ENGINES

    doc = app.test_client().get("/api/v1/openapi.json").json
    props = doc["components"]["schemas"]["PlanIn"]["properties"]
    assert {"date", "time_limit_s", "solution_limit", "engine", "seed", "threshold_pct", "include_may"} <= set(props)
    assert props["engine"]["enum"] == list(ENGINES)
