"""The app factory: ``create_app(config)`` builds the Flask app with its storage and job runner.

Config keys (with defaults): ``DATABASE_URL`` (SQLite file in the instance
folder, or the ``DATABASE_URL`` environment variable), ``MAX_CONTENT_LENGTH``
(50 MB), ``SOLVE_WORKERS`` (1 solve at a time), ``BROKER_URL`` (none: solves and
simulations run in local processes; a Redis or RabbitMQ URL: both on the task queue, for
``binroute worker``), ``PLAN_TIME_LIMIT_S`` (upper bound on a plan's or a
simulation day's time limit, 300), ``PLAN_MAX_ATTEMPTS`` (starts of one plan's
solve or one simulation before it is failed, 3), ``CORS_ORIGINS`` (none: CORS off),
``SIMULATION_WORKERS`` (1 simulation at a time in local processes, each using the
machine's cores for its policies), ``RESUME_JOBS`` (take up jobs left queued or running
at start, and hand out again those whose process is lost while serving; on),
``FORECAST_PROCESSES`` (processes that fit forecasts off the request threads,
:mod:`.offload`; 0: in the request thread). A database or broker that cannot be reached
raises :class:`~binroute.api.service.errors.Unreachable`.

Limits per organisation: ``ORG_MAX_SOLVES`` (plans queued or running at once,
4), ``ORG_MAX_SIMULATIONS`` (simulations queued or running at once, 2),
``ORG_MAX_READINGS`` (readings stored, 20 million), ``ORG_MAX_COLLECTIONS``
(collections stored, 20 million), ``ORG_MAX_UPLOAD_BYTES``
(one request body, 50 MB) and ``RATE_LIMIT`` (requests by the organisation's
keys, ``"1200/minute"``; ``None`` turns it off). Past one the API answers 429
with ``Retry-After`` (413 for an upload that is too large). An organisation's
own limits, stored on its row by ``binroute orgs limits``, replace these for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request

from .auth import init_rate_limits
from .blueprints import init_app
from .db import make_engine, sessions
from .errors import register_error_handlers
from .jobs import MAX_ATTEMPTS, PLAN_JOB, SIMULATION_JOB, JobRunner, local_sweeper
from .leftovers import sweep_leftovers
from .logs import init_request_ids
from .metrics import init_metrics
from .migrate import ensure_current
from .offload import Offload
from .validation import StrictJSONProvider

if TYPE_CHECKING:
    from .jobs import QueueRunner


def default_database_url() -> str:
    """``DATABASE_URL`` from the environment, else a SQLite file in the app's instance folder."""
    instance = Path(Flask(__name__, instance_relative_config=True).instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    return os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'binroute.sqlite3'}"


def _runners(config: Any, factory: Any, files: Path) -> tuple[JobRunner | QueueRunner, JobRunner | QueueRunner]:
    """The runners of plans' solves and of simulations: on the task queue when ``BROKER_URL`` is set, else local."""
    if config.get("BROKER_URL"):
        from .jobs import queue_runners

        queued = queue_runners(
            config["BROKER_URL"], factory, max_time_limit_s=config["PLAN_TIME_LIMIT_S"], sweep=config["RESUME_JOBS"]
        )
        return queued[PLAN_JOB], queued[SIMULATION_JOB]
    common = {"max_time_limit_s": config["PLAN_TIME_LIMIT_S"], "max_attempts": config["PLAN_MAX_ATTEMPTS"]}
    plans = JobRunner(config["DATABASE_URL"], factory, files, workers=config["SOLVE_WORKERS"], kind=PLAN_JOB, **common)
    simulations = JobRunner(
        config["DATABASE_URL"], factory, files, workers=config["SIMULATION_WORKERS"], kind=SIMULATION_JOB, **common
    )
    if config["RESUME_JOBS"]:
        local_sweeper({PLAN_JOB: plans, SIMULATION_JOB: simulations})
    return plans, simulations


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: storage, job runner, blueprints and error handlers."""
    app = Flask(__name__, instance_relative_config=True)
    app.json = StrictJSONProvider(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=default_database_url(),
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
        SOLVE_WORKERS=1,
        PLAN_TIME_LIMIT_S=300.0,
        PLAN_MAX_ATTEMPTS=MAX_ATTEMPTS,
        CORS_ORIGINS=None,
        BROKER_URL=None,
        RESUME_JOBS=True,
        ORG_MAX_SOLVES=4,
        SIMULATION_WORKERS=1,
        ORG_MAX_SIMULATIONS=2,
        ORG_MAX_READINGS=20_000_000,
        ORG_MAX_COLLECTIONS=20_000_000,
        ORG_MAX_UPLOAD_BYTES=50 * 1024 * 1024,
        RATE_LIMIT="1200/minute",
        FORECAST_PROCESSES=0,
        FORECAST_NICENESS=0,
    )
    app.config.update(config or {})
    engine = make_engine(app.config["DATABASE_URL"])
    try:
        ensure_current(engine)
    except Exception:
        engine.dispose()
        raise
    factory = sessions(engine)
    files = Path(app.config.get("DATA_DIR") or Path(app.instance_path) / "data")
    files.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(files, factory)
    try:
        jobs, simulations = _runners(app.config, factory, files)
    except Exception:
        engine.dispose()
        raise
    app.extensions["binroute"] = {
        "engine": engine,
        "sessions": factory,
        "files": files,
        "jobs": jobs,
        "simulations": simulations,
        "offload": Offload(app.config["FORECAST_PROCESSES"], app.config["FORECAST_NICENESS"]),
    }

    @app.before_request
    def _attach() -> None:
        g.db = factory

    @app.after_request
    def _cors(resp: Response) -> Response:
        origins = app.config.get("CORS_ORIGINS")
        origin = request.headers.get("Origin")
        if origins and origin and (origins == "*" or origin in origins):
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Vary"] = "Origin"
        return resp

    init_request_ids(app)
    init_metrics(app)
    init_rate_limits(app)
    init_app(app)
    register_error_handlers(app)
    if app.config["RESUME_JOBS"]:
        app.extensions["binroute"]["jobs"].resume()
        app.extensions["binroute"]["simulations"].resume()
    return app
