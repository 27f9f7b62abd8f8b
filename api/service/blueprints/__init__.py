"""The HTTP resources, one blueprint module each; :func:`init_app` registers them all.

``health`` (``/healthz``), ``scenarios``, ``readings``, ``forecast`` and ``plans``
under ``/api/v1``, and ``docs`` (the OpenAPI document and its page).
"""

from __future__ import annotations

from flask import Flask

from .docs import docs
from .forecast import forecasts
from .health import health
from .plans import plans
from .readings import readings
from .scenarios import scenarios

BLUEPRINTS = (health, scenarios, readings, forecasts, plans, docs)


def init_app(app: Flask) -> None:
    """Register every blueprint on ``app``."""
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
