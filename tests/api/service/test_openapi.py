"""Endpoints declared once: the OpenAPI document is written from the declarations the app serves."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask

from binroute.api.service import create_app
from binroute.api.service.errors import register_error_handlers
from binroute.api.service.openapi import SPEC_ATTR, endpoint, openapi_document
from binroute.api.service.schemas import Health, IngestOut, ListQuery


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("openapi")
    application = create_app(
        {"DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}", "DATA_DIR": str(root / "d"), "RESUME_JOBS": False}
    )
    yield application
    application.extensions["binroute"]["jobs"].shutdown()


def test_every_route_but_the_documents_own_is_declared(app):
    """Each route the app serves carries its declaration, and the document has an operation for each."""
    doc = openapi_document(app)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "docs.openapi", "docs.docs_page"):
            continue
        assert getattr(app.view_functions[rule.endpoint], SPEC_ATTR, None) is not None, rule.rule
        path = rule.rule.replace("<", "{").replace(">", "}")
        method = next(m for m in rule.methods if m not in ("HEAD", "OPTIONS")).lower()
        assert method in doc["paths"][path], (path, method)


def test_errors_follow_from_the_declaration(app):
    """A planner's body endpoint documents 400/401/403/404/413/415/422/429 (a plan's also 409: its ``like``
    plan is not done); the health check needs no key."""
    doc = openapi_document(app)
    start = doc["paths"]["/api/v1/scenarios/{scenario_id}/plans"]["post"]
    assert {"202", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"} == set(start["responses"])
    assert start["description"] == "Needs a planner key."
    assert [p["name"] for p in start["parameters"]] == ["scenario_id", "tiles"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    ingest = doc["paths"]["/api/v1/scenarios/{scenario_id}/readings"]["post"]["requestBody"]["content"]
    assert list(ingest) == ["application/json", "text/csv"]


def test_docs_page_is_the_shipped_template(app):
    """``/api/v1/docs`` answers the package's ``templates/docs.html`` as it is."""
    from importlib.resources import files

    page = files("binroute.api.service").joinpath("templates", "docs.html").read_text(encoding="utf-8")
    resp = app.test_client().get("/api/v1/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html" and resp.get_data(as_text=True) == page


def _tiny_app(handler_reply):
    """A bare app with one keyless endpoint whose handler returns ``handler_reply``."""
    bp = Blueprint("tiny", __name__)

    @endpoint(bp, "GET", "/tiny", summary="tiny", role=None, query=ListQuery, replies={200: Health})
    def tiny(query: ListQuery):
        return handler_reply

    application = Flask(__name__)
    application.register_blueprint(bp)
    register_error_handlers(application)
    return application


def test_handler_answer_is_checked_against_its_declaration():
    """A declared model is answered as JSON; a model or status the endpoint does not declare is a 500."""
    ok = _tiny_app(Health(status="ok", database="ok")).test_client().get("/tiny")
    assert ok.status_code == 200 and ok.json == {"status": "ok", "database": "ok"}
    wrong = _tiny_app(IngestOut(received=1, inserted=1, duplicates=0)).test_client().get("/tiny")
    assert wrong.status_code == 500 and wrong.json["error"]["code"] == "internal_error"
    status = _tiny_app((Health(status="ok", database="ok"), 201)).test_client().get("/tiny")
    assert status.status_code == 500


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("offset=-1", "offset"), ("other=1", "other")])
def test_query_is_validated_with_field_paths(query, field):
    """A query that breaks the declared model is a 422 naming the field, before the handler runs."""
    resp = _tiny_app(Health(status="ok", database="ok")).test_client().get(f"/tiny?{query}")
    assert resp.status_code == 422 and [d["field"] for d in resp.json["error"]["details"]] == [field]
