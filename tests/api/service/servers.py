"""Real database and broker servers for tests, from the Debian binaries, on free loopback ports.

Each helper returns ``None`` when its binary is missing, so a test can skip.
``postgres_server``, ``redis_server`` and ``rabbitmq_server`` are
:mod:`binroute.api.service.client`'s (the benchmarks use them too).
"""

from __future__ import annotations

from binroute.api.service.client import postgres_server as postgres_server
from binroute.api.service.client import rabbitmq_server as rabbitmq_server
from binroute.api.service.client import redis_server as redis_server


def new_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``server_url``; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
