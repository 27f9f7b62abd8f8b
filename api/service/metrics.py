"""``GET /metrics``: the service in Prometheus's text format, for an operator's scraper (no key needed).

Counted in this process as requests are answered (:func:`init_metrics`):

- ``binroute_http_requests_total{method, route, status}``, the route as its rule
  (``/api/v1/plans/<plan_id>``), so ids do not make a series each;
- ``binroute_http_request_seconds{method, route}``, a histogram of latencies.

Read from the database at each scrape, so every replica shows the same
(:class:`JobsCollector`):

- ``binroute_jobs{kind, status}``: plans and simulations by state;
- ``binroute_queue_length{kind}``: jobs queued and not yet started;
- ``binroute_solve_seconds{quantile}``: plans' solve times (start to finish) over
  the last :data:`RECENT_S` seconds, with ``binroute_solve_seconds_count``.

Each app has a registry of its own (two apps in one process do not share counts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .db import PlanRow, SimulationRow, now
from .openapi import endpoint, file_reply

#: Seconds of finished plans the solve-time quantiles look back over.
RECENT_S = 3600.0
#: Latency buckets in seconds: reads take milliseconds, uploads seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_JOB_TABLES: dict[str, Any] = {"plan": PlanRow, "simulation": SimulationRow}

metrics = Blueprint("metrics", __name__)


class JobsCollector(Collector):
    """Jobs by state, queue lengths and recent solve times, read from the database at each scrape."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("binroute_jobs", "Plans and simulations by state.", labels=["kind", "status"])
        queued = GaugeMetricFamily("binroute_queue_length", "Jobs queued and not yet started.", labels=["kind"])
        solve = GaugeMetricFamily(
            "binroute_solve_seconds", f"Plans' solve seconds, finished in the last {RECENT_S:g} s.", labels=["quantile"]
        )
        count = GaugeMetricFamily("binroute_solve_seconds_count", f"Plans finished in the last {RECENT_S:g} s.")
        try:
            with self.factory() as s:
                for kind, model in _JOB_TABLES.items():
                    counted = s.execute(select(model.status, func.count()).group_by(model.status))
                    by_status: dict[str, int] = {status: n for status, n in counted.all()}
                    for status in ("queued", "running", "done", "failed"):
                        jobs.add_metric([kind, status], by_status.get(status, 0))
                    queued.add_metric([kind], by_status.get("queued", 0))
                since = now() - timedelta(seconds=RECENT_S)
                spans = s.execute(
                    select(PlanRow.started, PlanRow.finished).where(
                        PlanRow.status == "done", PlanRow.finished >= since, PlanRow.started.is_not(None)
                    )
                ).all()
        except SQLAlchemyError:
            return  # the database is away: /readyz says so; the request counts still go out
        seconds = sorted((f - b).total_seconds() for b, f in spans if b is not None and f is not None)
        for q in (0.5, 0.95, 0.99):
            solve.add_metric([f"{q:g}"], seconds[min(len(seconds) - 1, int(q * len(seconds)))] if seconds else 0.0)
        count.add_metric([], len(seconds))
        yield from (jobs, queued, solve, count)


def init_metrics(app: Flask) -> None:
    """Count every request of ``app`` and serve ``GET /metrics`` from a registry of its own."""
    registry = CollectorRegistry()
    requests = Counter(
        "binroute_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "binroute_http_request_seconds", "Seconds to answer.", ["method", "route"], buckets=BUCKETS, registry=registry
    )
    registry.register(JobsCollector(app.extensions["binroute"]["sessions"]))
    app.extensions["binroute"]["metrics"] = registry

    @app.before_request
    def _started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(resp: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        requests.labels(request.method, route, str(resp.status_code)).inc()
        took = time.perf_counter() - g.get("started", time.perf_counter())
        latency.labels(request.method, route).observe(took)
        return resp

    app.register_blueprint(metrics)


@endpoint(
    metrics,
    "GET",
    "/metrics",
    summary="The service's metrics in Prometheus's text format (no key needed)",
    role=None,
    replies={200: file_reply(CONTENT_TYPE_LATEST, "Prometheus text exposition format")},
)
def scrape() -> Any:
    """The app's metrics in Prometheus's text format."""
    return Response(generate_latest(current_app.extensions["binroute"]["metrics"]), mimetype=CONTENT_TYPE_LATEST)
