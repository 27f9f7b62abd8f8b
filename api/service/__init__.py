"""The HTTP service: ``create_app(config)`` builds the Flask app.

Modules: :mod:`.app` (the factory), :mod:`.errors` (``APIError`` and JSON error
handlers), :mod:`.auth` (API keys, roles, request-rate and upload limits),
:mod:`.validation` (request checking),
:mod:`.schemas` (pydantic request and response models), :mod:`.openapi` (each
endpoint declared once, and the OpenAPI document written from the declarations),
:mod:`.blueprints` (one module per resource, declaring its endpoints), :mod:`.store`
(organisation scoping and storage helpers the blueprints share), :mod:`.db`
(SQLAlchemy models), :mod:`.migrate` (Alembic migrations, :mod:`.migrations`),
:mod:`.jobs` (background plans' solves and simulations: one lifecycle, run
in local processes or on a Celery task queue), :mod:`.networks` (road
network files stored by content), :mod:`.client` (a client, a broker and
workers for tests and benchmarks), :mod:`.defaults` (the settings the command
line shows before Flask and SQLAlchemy load).

``create_app`` is imported on first use (PEP 562), so the command line can read
:mod:`.defaults` without the service's libraries installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from binroute._lazy import lazy_exports

__all__ = ["create_app"]

if TYPE_CHECKING:
    from .app import create_app as create_app


__getattr__, __dir__ = lazy_exports(__name__, {"create_app": ".app"})
