"""``/api/v1/openapi.json`` and ``/api/v1/docs``: the API's description and its offline docs page."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..openapi import DOCS_HTML, openapi_document

docs = Blueprint("docs", __name__, url_prefix="/api/v1")


@docs.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document."""
    return jsonify(openapi_document())


@docs.get("/docs")
def docs_page() -> Response:
    """A documentation page that renders the OpenAPI document without outside scripts."""
    return Response(DOCS_HTML, mimetype="text/html")
