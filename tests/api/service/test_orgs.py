"""Organisations: every route keeps each organisation's objects to itself; roles; limits; audit; upgrades."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from binroute.api.service import create_app
from binroute.api.service.client import multipart_body
from binroute.api.service.db import ApiKey, AuditRow, Base, PlanRow, ReadingRow, SimulationRow, create_key, create_org
from binroute.api.service.live.tokens import make_crew_token
from binroute.api.service.migrate import SchemaOutOfDate
from binroute.api.service.openapi import SPEC_ATTR

DATA = Path(__file__).resolve().parents[2] / "data"
ORGS = ("north", "south")
ROLES = ("viewer", "planner", "admin")


def _upload(client, key, folder, name):
    files = {
        "fleet": ("fleet.json", (folder / "fleet.json").read_bytes()),
        "bins": ("bins.csv", (folder / "bins.csv").read_bytes()),
        "network": ("n.osm.pbf", (folder / "network.osm.pbf").read_bytes()),
        "readings": ("readings.csv", (folder / "readings.csv").read_bytes()),
    }
    body, ctype = multipart_body({"name": name}, files)
    resp = client.post("/api/v1/scenarios", data=body, content_type=ctype, headers={"X-API-Key": key})
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def _make_app(root, **config):
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
            "DATA_DIR": str(root / "data"),
            "SOLVE_WORKERS": 1,
            **config,
        }
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory, small):
    """Two organisations with a key of each role; 'north' has a scenario (same name as south's), a plan."""
    app = _make_app(tmp_path_factory.mktemp("orgs"))
    keys: dict[str, dict[str, tuple[str, str]]] = {}
    with app.extensions["binroute"]["sessions"]() as s:
        for org in ORGS:
            org_id = create_org(s, org).id
            keys[org] = {}
            for role in ROLES:
                row, secret = create_key(s, f"{org}-{role}", role, org_id)
                keys[org][role] = (row.id, secret)
    client = app.test_client()
    ids = {org: {"scenario": _upload(client, keys[org]["planner"][1], small, "same name")} for org in ORGS}
    with app.extensions["binroute"]["sessions"]() as s:
        for org in ORGS:
            org_id = s.get(ApiKey, keys[org]["admin"][0]).org_id
            plan = PlanRow(
                org_id=org_id,
                scenario_id=ids[org]["scenario"],
                status="done",
                options_json=json.dumps({"date": "2026-11-23"}),
                geojson=json.dumps({"type": "FeatureCollection", "features": [{"properties": {"vehicle_id": "V1"}}]}),
                map_html="<html></html>",
            )
            simulation = SimulationRow(
                org_id=org_id,
                scenario_id=ids[org]["scenario"],
                status="done",
                options_json=json.dumps({"from": "2026-11-02", "to": "2026-11-02", "policies": ["predictive"]}),
                days_done=1,
                days_total=1,
                result_json=json.dumps({"policies": {}}),
                report_html="<!doctype html><html></html>",
            )
            s.add_all([plan, simulation])
            s.flush()
            token, secret = make_crew_token(
                s, org_id=org_id, plan_id=plan.id, vehicle_id="V1", day=date(2026, 11, 23), tz="Europe/Helsinki"
            )
            s.commit()
            ids[org]["plan"], ids[org]["simulation"], ids[org]["token"] = plan.id, simulation.id, token.id
            ids[org]["token_secret"] = secret
    yield app, keys, ids
    app.extensions["binroute"]["jobs"].shutdown()


def _hdr(keys, org, role):
    return {"X-API-Key": keys[org][role][1]}


def _snapshot(app):
    """Every row of every table, to show requests changed nothing."""
    with app.extensions["binroute"]["sessions"]() as s:
        return {t.name: sorted(map(repr, s.execute(select(t)).all())) for t in Base.metadata.sorted_tables}


def _counts(app):
    """How many rows each table has (a cheap check after each request)."""
    with app.extensions["binroute"]["sessions"]() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


#: A valid body or query per route that needs one, so a 404 is about the id and not the request.
BODIES = {
    "forecast.forecast": {"query_string": {"at": "2026-11-23T10:00"}},
    "readings.ingest": {
        "json": {"readings": [{"bin_id": "B0001", "timestamp": "2026-11-23T05:00:00Z", "fill_pct": 5}]}
    },
    "plans.start_plan": {"json": {"date": "2026-11-23", "time_limit_s": 1}},
    "simulations.start_simulation": {
        "json": {"from": "2026-11-02", "to": "2026-11-02", "policies": ["predictive"], "solution_limit": 1}
    },
    "live.new_crew_token": {"json": {"vehicle_id": "V1"}},
    "live.post_events": {
        "json": {"events": [{"event_id": "e1", "kind": "not_out", "bin_id": "B0001", "at": "2026-11-23T09:00:00Z"}]}
    },
    "live.replan_plan": {"json": {"solution_limit": 1, "time_limit_s": None}},
    "collections.ingest_collections": {
        "json": {"collections": [{"bin_id": "B0001", "collected_at": "2026-11-23T05:00:00Z", "fill_pct": 80}]}
    },
}


def _routes_with_ids(app):
    """Every (method, rule, endpoint) of the app that names an object in its path and needs a key.

    The pages that take no key (the crew page, the live map) serve the same page for any id: they hold
    nothing of an organisation, and read it with the token or key in their link.
    """
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint == "static":
            continue
        spec = getattr(app.view_functions[rule.endpoint], SPEC_ATTR, None)
        if spec is not None and spec.role is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, rule.endpoint


def test_every_route_hides_other_organisations_objects(world):
    """South's keys of every role get 404 (as a missing id) on every route naming north's objects; nothing changes."""
    app, keys, ids = world
    north = {
        "scenario_id": ids["north"]["scenario"],
        "plan_id": ids["north"]["plan"],
        "simulation_id": ids["north"]["simulation"],
        "key_id": keys["north"]["viewer"][0],
        "token_id": ids["north"]["token"],
        "vehicle_id": "V1",
    }
    client = app.test_client()
    checked, everything = 0, _snapshot(app)
    for method, rule, endpoint in _routes_with_ids(app):
        params = set(re.findall(r"<(?:\w+:)?(\w+)>", rule))
        unknown = params - set(north)
        assert not unknown, f"{rule}: add an object of another organisation for {unknown} to this test"
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: north[m.group(1)], rule)
        for role in ROLES:
            before = _counts(app)
            resp = client.open(url, method=method, headers=_hdr(keys, "south", role), **BODIES.get(endpoint, {}))
            if resp.status_code == 403:  # the role may not do this at all, whatever the id
                continue
            assert resp.status_code == 404, (method, url, role, resp.status_code, resp.get_data(as_text=True)[:200])
            assert resp.json["error"]["code"] == "not_found"
            assert _counts(app) == before, (method, url, role)
            checked += 1
        missing = re.sub(r"<(?:\w+:)?(\w+)>", "0" * 32, rule)
        resp = client.open(missing, method=method, headers=_hdr(keys, "south", "admin"), **BODIES.get(endpoint, {}))
        assert resp.status_code == 404
    assert checked >= 15 and _snapshot(app) == everything


def test_a_crew_token_of_another_organisation_gets_404(world):
    """South's crew token on north's plan is a 404, like a missing plan; on its own plan it is let in."""
    app, _, ids = world
    app.config["LIVE_CLOCK"] = lambda: datetime(2026, 11, 23, 8, 0)
    try:
        client = app.test_client()
        south = {"X-Crew-Token": ids["south"]["token_secret"]}
        assert client.get(f"/api/v1/plans/{ids['north']['plan']}/day", headers=south).status_code == 404
        assert client.get(f"/api/v1/plans/{ids['south']['plan']}/day", headers=south).status_code == 200
    finally:
        del app.config["LIVE_CLOCK"]


def test_their_own_objects_are_reachable(world):
    """The same routes answer north's own admin (the 404s above are about ownership, not the route)."""
    app, keys, ids = world
    client = app.test_client()
    sid, pid = ids["north"]["scenario"], ids["north"]["plan"]
    for url in (
        f"/api/v1/scenarios/{sid}",
        f"/api/v1/scenarios/{sid}/bins",
        f"/api/v1/scenarios/{sid}/readings",
        f"/api/v1/scenarios/{sid}/collections",
        f"/api/v1/plans/{pid}",
        f"/api/v1/plans/{pid}/routes.geojson",
        f"/api/v1/plans/{pid}/vehicles/V1.geojson",
        f"/api/v1/plans/{pid}/map",
        f"/api/v1/simulations/{ids['north']['simulation']}",
        f"/api/v1/simulations/{ids['north']['simulation']}/report",
    ):
        assert client.get(url, headers=_hdr(keys, "north", "viewer")).status_code == 200, url


@pytest.mark.parametrize(
    "url", ["/api/v1/scenarios", "/api/v1/plans", "/api/v1/simulations", "/api/v1/keys", "/api/v1/audit"]
)
def test_lists_show_only_the_organisations_objects(world, url):
    """Every list holds only the key's organisation's objects."""
    app, keys, ids = world
    south = app.test_client().get(url, headers=_hdr(keys, "south", "admin")).json
    north_ids = {*ids["north"].values(), *(k for k, _ in keys["north"].values())}
    seen = {item.get("id") or item.get("target_id") for item in south["items"]}
    assert south["total"] == len(south["items"]) and not seen & north_ids


def test_roles(world):
    """A viewer cannot write; a planner cannot manage keys or read the audit; an admin manages only its own keys."""
    app, keys, ids = world
    client = app.test_client()
    sid = ids["south"]["scenario"]
    viewer, planner, admin = (_hdr(keys, "south", r) for r in ROLES)
    assert client.post(f"/api/v1/scenarios/{sid}/plans", json={"date": "2026-11-23"}, headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/scenarios/{sid}", headers=viewer).status_code == 403
    assert client.get("/api/v1/keys", headers=planner).status_code == 403
    assert client.post("/api/v1/keys", json={"name": "x", "role": "viewer"}, headers=planner).status_code == 403
    assert client.get("/api/v1/audit", headers=planner).status_code == 403
    made = client.post("/api/v1/keys", json={"name": "new", "role": "viewer"}, headers=admin)
    assert made.status_code == 201 and made.json["secret"].startswith("br_")
    listed = client.get(f"/api/v1/scenarios/{sid}", headers={"X-API-Key": made.json["secret"]})
    assert listed.status_code == 200
    assert client.delete(f"/api/v1/keys/{made.json['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/scenarios", headers={"X-API-Key": made.json["secret"]}).status_code == 401
    north_key, north_secret = keys["north"]["viewer"]
    assert client.delete(f"/api/v1/keys/{north_key}", headers=admin).status_code == 404
    assert client.get("/api/v1/scenarios", headers={"X-API-Key": north_secret}).status_code == 200
    assert client.post("/api/v1/keys", json={"name": "x", "role": "owner"}, headers=admin).status_code == 422


def test_audit_records_who_did_what(world, small):
    """Creating, planning and deleting land in the organisation's audit trail with the key's id, newest first."""
    app, keys, _ = world
    client = app.test_client()
    planner_id, planner = keys["south"]["planner"]
    sid = _upload(client, planner, small, "audited")
    assert client.delete(f"/api/v1/scenarios/{sid}", headers={"X-API-Key": planner}).status_code == 204
    trail = client.get("/api/v1/audit?limit=5", headers=_hdr(keys, "south", "admin")).json
    first, second = trail["items"][:2]
    assert (first["action"], first["target_id"], first["key_id"]) == ("delete", sid, planner_id)
    assert (second["action"], second["target_type"], second["target_id"]) == ("create", "scenario", sid)
    north = client.get("/api/v1/audit?limit=500", headers=_hdr(keys, "north", "admin")).json
    assert sid not in {e["target_id"] for e in north["items"]}


def test_limits_answer_429_with_retry_after(tmp_path, small):
    """Past an organisation's solves, readings or request rate: 429 and Retry-After; past its upload size: 413."""
    app = _make_app(tmp_path, ORG_MAX_SOLVES=1, ORG_MAX_READINGS=10**9, ORG_MAX_UPLOAD_BYTES=10**8, RESUME_JOBS=False)
    try:
        with app.extensions["binroute"]["sessions"]() as s:
            org = create_org(s, "tiny").id
            key = create_key(s, "k", "planner", org)[1]
            other = create_key(s, "o", "planner", create_org(s, "other").id)[1]
        client, hdr = app.test_client(), {"X-API-Key": key}
        sid = _upload(client, key, small, "limits")
        with app.extensions["binroute"]["sessions"]() as s:  # a solve in flight holds the organisation's one slot
            s.add(PlanRow(org_id=org, scenario_id=sid, status="running", options_json="{}"))
            s.commit()
        resp = client.post(f"/api/v1/scenarios/{sid}/plans", json={"date": "2026-11-23"}, headers=hdr)
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
        assert resp.json["error"]["code"] == "too_many_solves"
        app.config["ORG_MAX_READINGS"] = 1
        body = {"readings": [{"bin_id": "B0001", "timestamp": "2026-11-23T05:00:00Z", "fill_pct": 5}]}
        resp = client.post(f"/api/v1/scenarios/{sid}/readings", json=body, headers=hdr)
        assert resp.status_code == 429 and "Retry-After" in resp.headers
        app.config["ORG_MAX_UPLOAD_BYTES"] = 100
        resp = client.post(f"/api/v1/scenarios/{sid}/readings", json={"readings": body["readings"] * 5}, headers=hdr)
        assert resp.status_code == 413
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
    rated = _make_app(tmp_path / "r", RATE_LIMIT="3/minute", DATABASE_URL=app.config["DATABASE_URL"])
    try:
        client = rated.test_client()
        codes = [client.get("/api/v1/scenarios", headers={"X-API-Key": key}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        resp = client.get("/api/v1/scenarios", headers={"X-API-Key": key})
        assert int(resp.headers["Retry-After"]) > 0 and resp.json["error"]["code"] == "too_many_requests"
        assert client.get("/api/v1/scenarios", headers={"X-API-Key": other}).status_code == 200  # its own budget
    finally:
        rated.extensions["binroute"]["jobs"].shutdown()


@pytest.mark.slow
def test_an_organisation_s_own_limits_replace_the_server_s(tmp_path, small):
    """`orgs limits` gives one organisation its own caps (others keep the server's); `default` goes back; bad values
    are refused naming the option; the change is audited."""
    from click.testing import CliRunner

    from binroute.api.cli.server import orgs

    app = _make_app(tmp_path, ORG_MAX_SOLVES=4, ORG_MAX_READINGS=10**9, RESUME_JOBS=False)
    db = app.config["DATABASE_URL"]
    run = CliRunner().invoke
    try:
        with app.extensions["binroute"]["sessions"]() as s:
            org = create_org(s, "big city").id
            key = create_key(s, "k", "planner", org)[1]
            admin = create_key(s, "a", "admin", org)[1]
            other_org = create_org(s, "village").id
            other = create_key(s, "o", "planner", other_org)[1]
        client = app.test_client()
        sid, other_sid = _upload(client, key, small, "mine"), _upload(client, other, small, "theirs")
        with app.extensions["binroute"]["sessions"]() as s:  # one solve in flight for each
            s.add(PlanRow(org_id=org, scenario_id=sid, status="running", options_json="{}"))
            s.add(PlanRow(org_id=other_org, scenario_id=other_sid, status="running", options_json="{}"))
            s.commit()
        out = run(orgs, ["limits", "big city", "--solves", "1", "--readings", "2", "--database", db])
        assert out.exit_code == 0, out.output
        assert out.output.splitlines() == [
            "solves 1",
            "simulations server",
            "readings 2",
            "collections server",
            "upload_bytes server",
            "rate server",
        ]
        assert f"{org} big city solves=1 readings=2" in run(orgs, ["list", "--database", db]).output
        with app.extensions["binroute"]["sessions"]() as s:
            viewer = create_key(s, "v", "viewer", org)[1]
            stored = s.query(ReadingRow).filter(ReadingRow.org_id == org).count()
        shown = client.get("/api/v1/organisation", headers={"X-API-Key": viewer}).json
        assert (shown["id"], shown["name"]) == (org, "big city")
        limits = shown["limits"]
        assert limits["solves"] == {"limit": 1, "used": 1, "own": True}
        assert limits["readings"] == {"limit": 2, "used": stored, "own": True} and stored > 2
        assert limits["simulations"] == {"limit": 2, "used": 0, "own": False}  # the server's default
        assert limits["upload_bytes"] == app.config["ORG_MAX_UPLOAD_BYTES"] and "1200" in limits["rate"]
        village = client.get("/api/v1/organisation", headers={"X-API-Key": other}).json["limits"]
        assert village["solves"] == {"limit": 4, "used": 1, "own": False}
        plan = {"date": "2026-11-23"}
        resp = client.post(f"/api/v1/scenarios/{sid}/plans", json=plan, headers={"X-API-Key": key})
        assert resp.status_code == 429 and resp.json["error"]["details"]["limit"] == 1
        reading = {"bin_id": "B0001", "timestamp": "2026-11-23T05:00:00Z", "fill_pct": 5}
        resp = client.post(
            f"/api/v1/scenarios/{sid}/readings", json={"readings": [reading]}, headers={"X-API-Key": key}
        )
        assert resp.status_code == 429 and resp.json["error"]["details"]["limit"] == 2  # the scenario's, and the cap 2
        resp = client.post(
            f"/api/v1/scenarios/{other_sid}/readings", json={"readings": [reading]}, headers={"X-API-Key": other}
        )
        assert resp.status_code == 201, resp.json  # the village's readings: the server's 10**9

        def busy(org_id: str, n: int) -> None:  # n more plans queued (nothing runs them: RESUME_JOBS is off)
            with app.extensions["binroute"]["sessions"]() as s:
                s.add_all(PlanRow(org_id=org_id, scenario_id=sid, status="queued", options_json="{}") for _ in range(n))
                s.commit()

        busy(other_org, 3)  # the village: the server's 4 slots taken
        resp = client.post(f"/api/v1/scenarios/{other_sid}/plans", json=plan, headers={"X-API-Key": other})
        assert resp.status_code == 429 and resp.json["error"]["details"]["limit"] == 4
        out = run(orgs, ["limits", org, "--solves", "default", "--database", db])
        assert out.exit_code == 0 and out.output.splitlines()[0] == "solves server"
        busy(org, 3)
        resp = client.post(f"/api/v1/scenarios/{sid}/plans", json=plan, headers={"X-API-Key": key})
        assert resp.status_code == 429 and resp.json["error"]["details"]["limit"] == 4  # the server's again
        for bad in ("0", "-3", "many", "2.5"):
            out = run(orgs, ["limits", org, "--simulations", bad, "--database", db])
            assert out.exit_code == 2 and "--simulations must be a whole number of at least 1" in out.output
            assert repr(bad) in out.output
        for option, bad in (("--rate", "fast"), ("--rate", "0/minute"), ("--upload-bytes", "-1")):
            out = run(orgs, ["limits", org, option, bad, "--database", db])
            assert out.exit_code == 2 and f"{option} must be" in out.output and repr(bad) in out.output
        out = run(orgs, ["limits", "nowhere", "--database", db])
        assert out.exit_code == 2 and "no organisation nowhere" in out.output
        trail = client.get("/api/v1/audit?limit=10", headers={"X-API-Key": admin}).json["items"]
        changes = [e["detail"] for e in trail if e["action"] == "limits"]
        assert changes == [{"solves": None}, {"solves": 1, "readings": 2}]  # newest first
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


def test_an_organisation_s_own_request_rate_and_upload_size(tmp_path):
    """`orgs limits --rate/--upload-bytes`: one organisation's keys get their own rate (or none) and body size."""
    from click.testing import CliRunner

    from binroute.api.cli.server import orgs

    app = _make_app(tmp_path, RATE_LIMIT="3/minute", ORG_MAX_UPLOAD_BYTES=10**6, RESUME_JOBS=False)
    db = app.config["DATABASE_URL"]
    run = CliRunner().invoke
    try:
        with app.extensions["binroute"]["sessions"]() as s:
            busy, calm, free = (create_org(s, name).id for name in ("busy", "calm", "free"))
            keys = {org: create_key(s, "k", "planner", org)[1] for org in (busy, calm, free)}
        out = run(orgs, ["limits", "busy", "--rate", "5/minute", "--upload-bytes", "100", "--database", db])
        assert out.exit_code == 0, out.output
        assert out.output.splitlines()[-2:] == ["upload_bytes 100", "rate 5/minute"]
        assert run(orgs, ["limits", "free", "--rate", "off", "--database", db]).exit_code == 0
        client = app.test_client()

        def codes(org: str, n: int) -> list[int]:
            return [client.get("/api/v1/scenarios", headers={"X-API-Key": keys[org]}).status_code for _ in range(n)]

        assert codes(busy, 6) == [200] * 5 + [429]  # its own 5 a minute
        assert codes(calm, 4) == [200] * 3 + [429]  # the server's 3
        assert codes(free, 10) == [200] * 10  # none at all
        shown = client.get("/api/v1/organisation", headers={"X-API-Key": keys[free]}).json["limits"]
        assert shown["rate"] is None and shown["upload_bytes"] == 10**6
        body = {"readings": [{"bin_id": "B0001", "timestamp": "2026-11-23T05:00:00Z", "fill_pct": 5}] * 3}
        resp = client.post("/api/v1/scenarios/x/readings", json=body, headers={"X-API-Key": keys[free]})
        assert resp.status_code == 404  # within the server's size: on to the (missing) scenario
        out = run(orgs, ["limits", "free", "--upload-bytes", "100", "--database", db])
        resp = client.post("/api/v1/scenarios/x/readings", json=body, headers={"X-API-Key": keys[free]})
        assert resp.status_code == 413 and "100 byte limit" in resp.json["error"]["message"]
        out = run(orgs, ["limits", "free", "--upload-bytes", "default", "--rate", "default", "--database", db])
        assert out.output.splitlines()[-2:] == ["upload_bytes server", "rate server"]
        shown = client.get("/api/v1/organisation", headers={"X-API-Key": keys[free]}).json["limits"]
        assert shown["rate"] == "3 per 1 minute" and shown["upload_bytes"] == 10**6
    finally:
        app.extensions["binroute"]["jobs"].shutdown()


@pytest.mark.slow
def test_old_database_moves_into_a_default_organisation(tmp_path):
    """An old database, after `db upgrade`: its rows join organisation 'default' and its keys still work."""
    db = tmp_path / "old.sqlite3"
    secret = "br_old-secret"
    con = sqlite3.connect(db)
    con.executescript((DATA / "schema_v0.sql").read_text())
    con.execute(
        "INSERT INTO api_keys VALUES ('k1', 'office', 'planner', ?, '2025-01-01 00:00:00', NULL)",
        (hashlib.sha256(secret.encode()).hexdigest(),),
    )
    con.execute(
        "INSERT INTO scenarios VALUES ('s1', 'old town', '2025-01-01 00:00:00', ?, ?, '/nowhere/network.osm')",
        (json.dumps({"vehicles": [], "timezone": "UTC"}), "bin_id,lon,lat\nB1,24.9,60.1\n"),
    )
    con.execute("INSERT INTO readings VALUES (1, 's1', 'B1', '2025-01-01 06:00:00', 40.0)")
    con.execute(
        "INSERT INTO plans VALUES "
        "('p1', 's1', 'failed', '{}', 'x', NULL, NULL, NULL, '2025-01-01 00:00:00', NULL, NULL)"
    )
    con.commit()
    con.close()
    url = f"sqlite:///{db}"
    with pytest.raises(SchemaOutOfDate):
        _make_app(tmp_path, DATABASE_URL=url)
    _cli("db", "upgrade", "--database", url, cwd=tmp_path)
    app = _make_app(tmp_path, DATABASE_URL=url)
    again = _make_app(tmp_path / "again", DATABASE_URL=url)  # a second start changes nothing
    try:
        client, hdr = app.test_client(), {"X-API-Key": secret}
        assert [s["name"] for s in client.get("/api/v1/scenarios", headers=hdr).json["items"]] == ["old town"]
        assert client.get("/api/v1/scenarios/s1/readings", headers=hdr).json["total"] == 1
        assert client.get("/api/v1/plans/p1", headers=hdr).json["status"] == "failed"
        with app.extensions["binroute"]["sessions"]() as s:
            newcomer = create_key(s, "n", "admin", create_org(s, "newcomer").id)[1]
            assert s.scalar(select(AuditRow).limit(1)) is None
        assert client.get("/api/v1/scenarios/s1", headers={"X-API-Key": newcomer}).status_code == 404
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
        again.extensions["binroute"]["jobs"].shutdown()
    orgs = _cli("orgs", "list", "--database", url, cwd=tmp_path).split("\n")
    assert sorted(line.split()[1] for line in orgs if line) == ["default", "newcomer"]


def _cli(*args, cwd, check=True):
    run = subprocess.run(
        [sys.executable, "-m", "binroute.api.cli", *args], capture_output=True, text=True, cwd=cwd, check=False
    )
    if check:
        assert run.returncode == 0, run.stderr
        return run.stdout
    return run


@pytest.mark.slow
def test_operator_commands(tmp_path):
    """`orgs create`/`list`, `keys create --org`/`revoke`; `keys create` without --org needs a single organisation."""
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    first = _cli("keys", "create", "--name", "as before", "--role", "planner", "--database", db, cwd=tmp_path).split()
    assert first[1] == "planner" and first[2].startswith("br_")
    assert _cli("orgs", "list", "--database", db, cwd=tmp_path).split()[1] == "default"
    org_id, name = _cli("orgs", "create", "Espoo", "--database", db, cwd=tmp_path).split()
    assert name == "Espoo" and re.fullmatch(r"[0-9a-f]{32}", org_id)
    assert _cli("orgs", "create", "Espoo", "--database", db, cwd=tmp_path, check=False).returncode == 2
    ambiguous = _cli("keys", "create", "--name", "x", "--role", "viewer", "--database", db, cwd=tmp_path, check=False)
    assert ambiguous.returncode == 2 and "--org" in ambiguous.stderr
    key_id, role, secret = _cli(
        "keys", "create", "--org", org_id, "--name", "espoo admin", "--role", "admin", "--database", db, cwd=tmp_path
    ).split()
    assert role == "admin"
    app = _make_app(tmp_path, DATABASE_URL=db, RESUME_JOBS=False)
    try:
        client = app.test_client()
        keys = client.get("/api/v1/keys", headers={"X-API-Key": secret}).json["items"]
        assert [k["id"] for k in keys] == [key_id]
        _cli("keys", "revoke", key_id, "--database", db, cwd=tmp_path)
        assert client.get("/api/v1/keys", headers={"X-API-Key": secret}).status_code == 401
    finally:
        app.extensions["binroute"]["jobs"].shutdown()
