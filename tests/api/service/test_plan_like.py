"""A plan request's rounds and its previous plan to stay close to (``like``): checked before any solve."""

from __future__ import annotations

import pytest

from .helpers import hdr, make_app, upload


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("api-like")
    application = make_app(f"sqlite:///{root / 'db.sqlite3'}", root)
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


@pytest.fixture(scope="module")
def scenario_id(app, small):
    resp = upload(app.test_client(), app, small, "like town", readings=False)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def test_an_unknown_rounds_mode_is_422_naming_it(app, scenario_id):
    """rounds takes districts or free only."""
    resp = app.test_client().post(
        f"/api/v1/scenarios/{scenario_id}/plans", json={"date": "2026-11-23", "rounds": "tidy"}, headers=hdr(app)
    )
    assert resp.status_code == 422
    assert [d["field"] for d in resp.json["error"]["details"]] == ["rounds"]


def test_like_an_unknown_plan_is_404(app, scenario_id):
    """A previous plan that is not the organisation's is not found, and nothing is queued."""
    client = app.test_client()
    before = client.get("/api/v1/plans", headers=hdr(app, "viewer")).json["total"]
    resp = client.post(
        f"/api/v1/scenarios/{scenario_id}/plans", json={"date": "2026-11-23", "like": "nope"}, headers=hdr(app)
    )
    assert resp.status_code == 404
    assert client.get("/api/v1/plans", headers=hdr(app, "viewer")).json["total"] == before


def test_openapi_shows_rounds_and_like(app):
    """PlanIn lists rounds (its choices from binroute.routing) and like."""
    from binroute.routing.limits import ROUNDS

    props = app.test_client().get("/api/v1/openapi.json").json["components"]["schemas"]["PlanIn"]["properties"]
    assert props["rounds"]["enum"] == list(ROUNDS) and "like" in props
