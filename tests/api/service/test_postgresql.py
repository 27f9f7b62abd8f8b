"""The HTTP API's core tests again, on a real PostgreSQL (skipped where its binaries are absent).

The tests are :mod:`.test_http`'s own, collected here a second time with an
``app`` on PostgreSQL: scenarios, idempotent ingest (PostgreSQL's ``ON CONFLICT``),
plans solved by a separate process, failures, deletes and a restart.
"""

from __future__ import annotations

import pytest

from .helpers import make_app
from .servers import new_database
from .test_http import (
    test_delete_scenario_and_cors_off,
    test_duplicate_name_is_409,
    test_failed_solve_is_reported,
    test_forecast,
    test_plan_lifecycle,
    test_queued_plans_survive_a_restart,
    test_readings_ingest_is_idempotent_and_queryable,
    test_scenario_created_listed_and_read,
)

__all__ = [
    "test_delete_scenario_and_cors_off",
    "test_duplicate_name_is_409",
    "test_failed_solve_is_reported",
    "test_forecast",
    "test_plan_lifecycle",
    "test_queued_plans_survive_a_restart",
    "test_readings_ingest_is_idempotent_and_queryable",
    "test_scenario_created_listed_and_read",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory, postgres):
    """The same app as :mod:`.test_http`'s, on a new database of the PostgreSQL server."""
    root = tmp_path_factory.mktemp("api-pg")
    application = make_app(new_database(postgres, "http_tests"), root)
    assert application.extensions["binroute"]["engine"].dialect.name == "postgresql"
    yield application
    application.extensions["binroute"]["jobs"].shutdown()
