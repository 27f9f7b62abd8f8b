"""``/api/v1/openapi.json`` and ``/api/v1/docs``: the API's description and its offline docs page."""

from __future__ import annotations

import functools
from importlib.resources import files

from flask import Blueprint, Response, current_app, jsonify

from ..openapi import openapi_document

docs = Blueprint("docs", __name__, url_prefix="/api/v1")


@functools.cache
def _page() -> str:
    """The docs page, ``templates/docs.html`` shipped with the package."""
    return files("binroute.api.service").joinpath("templates", "docs.html").read_text(encoding="utf-8")


@docs.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document, written once per app from the endpoints' declarations."""
    state = current_app.extensions["binroute"]
    if "openapi" not in state:
        state["openapi"] = openapi_document(current_app)
    return jsonify(state["openapi"])


@docs.get("/docs")
def docs_page() -> Response:
    """A documentation page that renders the OpenAPI document without outside scripts."""
    return Response(_page(), mimetype="text/html")
