"""The HTTP resources, one blueprint module each; :func:`init_app` registers them all.

``health`` (``/healthz``), ``scenarios``, ``readings``, ``collections``, ``forecast``, ``plans``,
``live`` (the live day of a plan), ``simulations``, ``keys``, ``audit`` and ``organisation`` under
``/api/v1``, and ``docs`` (the OpenAPI document and its page).
"""

from __future__ import annotations

from flask import Flask

from .audit import audit_trail
from .collections import collections
from .docs import docs
from .forecast import forecasts
from .health import health
from .keys import keys
from .live import live
from .organisation import organisation
from .plans import plans
from .readings import readings
from .scenarios import scenarios
from .simulations import simulations

BLUEPRINTS = (
    health,
    scenarios,
    readings,
    collections,
    forecasts,
    plans,
    live,
    simulations,
    keys,
    audit_trail,
    organisation,
    docs,
)


def init_app(app: Flask) -> None:
    """Register every blueprint on ``app``."""
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
