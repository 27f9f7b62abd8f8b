"""``/api/v1/simulations``: the same job as ``binroute simulate`` in the background, org-scoped, its report served."""

from __future__ import annotations

import json
from datetime import date

import pytest

from binroute.api.pipeline import load_scenario
from binroute.api.pipeline.simulate.run import SimOptions, policies_from, simulate
from binroute.api.service.db import ScenarioRow, SimulationRow
from binroute.api.service.jobs import run_simulation

from .helpers import BODY, add_other_org, hdr, make_app, upload, wait_for


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("simapi")
    application = make_app(f"sqlite:///{root / 'db.sqlite3'}", root)
    add_other_org(application, "viewer")
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


@pytest.fixture(scope="module")
def scenario(app, small):
    resp = upload(app.test_client(), app, small, "small town")
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture(scope="module")
def finished(app, scenario):
    """The tiny simulation, started over HTTP and followed until it is over."""
    client = app.test_client()
    resp = client.post(f"/api/v1/scenarios/{scenario['id']}/simulations", json=BODY, headers=hdr(app))
    assert resp.status_code == 202, resp.json
    assert resp.headers["Location"].endswith(resp.json["id"])
    assert resp.json["progress"] == {"days_done": 0, "days_total": 4}
    return wait_for(client, app, resp.headers["Location"])


@pytest.mark.slow
def test_simulation_runs_the_cli_job(app, finished, small):
    """The simulation ends done with all days counted, and its result is what `binroute simulate` computes."""
    assert finished["status"] == "done", finished
    assert finished["progress"] == {"days_done": 4, "days_total": 4}
    result = finished["result"]
    assert finished["options"] == {**BODY, "time_limit_s": None, "seed": 0}
    assert result["from"] == "2026-11-02" and result["to"] == "2026-11-03"
    options = SimOptions.given(date(2026, 11, 2), date(2026, 11, 3), None, 3, "ortools", 0)
    local = simulate(load_scenario(small), policies_from(BODY["policies"]), options, jobs=1)
    assert result["policies"] == local["policies"]


@pytest.mark.slow
def test_report_downloads_as_html(app, finished):
    """The report is the simulation's report.html, served as text/html with the policies' charts."""
    resp = app.test_client().get(finished["links"]["report"], headers=hdr(app, "viewer"))
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert page.startswith("<!doctype html>") and page.count("<svg") == 5 and "threshold:80" in page


@pytest.mark.slow
def test_listed_hidden_from_other_organisations_and_deleted(app, finished):
    """The organisation lists it; another organisation gets 404 everywhere; delete removes it."""
    client, sid = app.test_client(), finished["id"]
    listed = client.get("/api/v1/simulations", headers=hdr(app, "viewer")).json
    assert [item["result"] for item in listed["items"] if item["id"] == sid] == [None]  # kept for GET of one
    other = {"X-API-Key": app.config["TEST_KEYS"]["other"]}
    assert client.get("/api/v1/simulations", headers=other).json["total"] == 0
    for url in (f"/api/v1/simulations/{sid}", f"/api/v1/simulations/{sid}/report"):
        resp = client.get(url, headers=other)
        assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    assert client.delete(f"/api/v1/simulations/{sid}", headers=hdr(app, "viewer")).status_code == 403
    assert client.delete(f"/api/v1/simulations/{sid}", headers=hdr(app)).status_code == 204
    assert client.get(f"/api/v1/simulations/{sid}", headers=hdr(app, "viewer")).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"policies": ["weekly"]}, "policies.0", "policy 'weekly' not understood"),
        ({"policies": ["threshold:80", "Threshold:80"]}, "policies", "the same policy is given twice"),
        ({"policies": []}, "policies", "at least 1 item"),
        ({"from": "2026-09-29", "to": "2026-09-30"}, "from", "too little history"),
        ({"to": "2026-12-02"}, "to", "after the last reading"),
        ({"from": "2026-11-03", "to": "2026-11-02"}, "to", "before from"),
        ({"from": "yesterday"}, "from", "a date YYYY-MM-DD"),
        ({"solution_limit": 0}, "solution_limit", "greater than or equal to 1"),
        ({"time_limit_s": 600}, "time_limit_s", "at most 60 s on this server"),
        ({"engine": "magic"}, "engine", "must be one of"),
        ({"jobs": 2}, "jobs", "Extra inputs are not permitted"),
    ],
)
def test_bad_bodies_name_the_field(app, scenario, change, field, message):
    """A policy not understood, days outside the data, too little history or a bad option: 422 naming the field."""
    body = {**BODY, **change}
    resp = app.test_client().post(f"/api/v1/scenarios/{scenario['id']}/simulations", json=body, headers=hdr(app))
    assert resp.status_code == 422, resp.json
    details = resp.json["error"]["details"]
    assert [d["field"] for d in details] == [field] and message in details[0]["message"], details


def test_viewer_cannot_start_one_and_the_organisation_has_a_limit(app, scenario):
    """Starting needs a planner key; past the organisation's simulations at once: 429 with Retry-After."""
    client, url = app.test_client(), f"/api/v1/scenarios/{scenario['id']}/simulations"
    assert client.post(url, json=BODY, headers=hdr(app, "viewer")).status_code == 403
    app.config["ORG_MAX_SIMULATIONS"] = 0
    try:
        resp = client.post(url, json=BODY, headers=hdr(app))
    finally:
        app.config["ORG_MAX_SIMULATIONS"] = 2
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert resp.json["error"]["code"] == "too_many_simulations"


def test_openapi_documents_simulations(app):
    """The OpenAPI document has the simulation routes and the request's fields."""
    doc = app.test_client().get("/api/v1/openapi.json").json
    assert "/api/v1/scenarios/{scenario_id}/simulations" in doc["paths"]
    assert "/api/v1/simulations/{simulation_id}/report" in doc["paths"]
    props = doc["components"]["schemas"]["SimulationIn"]["properties"]
    assert {"from", "to", "policies", "time_limit_s", "solution_limit", "engine", "seed"} == set(props)


def test_a_failing_job_is_stored_once(app, scenario, tmp_path):
    """A job whose run hits bad input ends failed with the message; a second run of it stores nothing."""
    factory = app.extensions["binroute"]["sessions"]
    with factory() as s:
        org = s.get(ScenarioRow, scenario["id"]).org_id
        options = {**BODY, "policies": ["predictive"], "to": "2027-01-01"}  # past the data: checked again in the job
        row = SimulationRow(org_id=org, scenario_id=scenario["id"], options_json=json.dumps(options), days_total=1)
        s.add(row)
        s.commit()
    assert run_simulation(factory, row.id, tmp_path)
    with factory() as s:
        stored = s.get(SimulationRow, row.id)
        assert stored.status == "failed" and "after the last reading" in stored.error
    assert not run_simulation(factory, row.id, tmp_path)


def _scenario_with_simulation(app, small, name: str, status: str) -> tuple[str, str]:
    """A new scenario and a simulation of it in ``status``: their ids."""
    sid = upload(app.test_client(), app, small, name).json["id"]
    with app.extensions["binroute"]["sessions"]() as s:
        org = s.get(ScenarioRow, sid).org_id
        row = SimulationRow(org_id=org, scenario_id=sid, status=status, options_json="{}", days_total=1)
        s.add(row)
        s.commit()
        return sid, row.id


def test_deleting_the_scenario_deletes_its_simulations(app, small):
    """A scenario's simulations go with it."""
    client = app.test_client()
    sid, sim = _scenario_with_simulation(app, small, "short lived", "failed")
    assert client.delete(f"/api/v1/scenarios/{sid}", headers=hdr(app)).status_code == 204
    assert client.get(f"/api/v1/simulations/{sim}", headers=hdr(app, "viewer")).status_code == 404


def test_a_scenario_with_a_running_simulation_is_not_deleted(app, small):
    """Deleting a scenario while one of its simulations runs is refused (409), and nothing is deleted."""
    client = app.test_client()
    sid, sim = _scenario_with_simulation(app, small, "still simulating", "running")
    refused = client.delete(f"/api/v1/scenarios/{sid}", headers=hdr(app))
    assert refused.status_code == 409 and "simulations queued or running" in refused.json["error"]["message"]
    assert client.get(f"/api/v1/scenarios/{sid}", headers=hdr(app, "viewer")).status_code == 200
    assert client.get(f"/api/v1/simulations/{sim}", headers=hdr(app, "viewer")).status_code == 200
    with app.extensions["binroute"]["sessions"]() as s:  # over, so the organisation's slots are free again
        s.get(SimulationRow, sim).status = "failed"
        s.commit()
