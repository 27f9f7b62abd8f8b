"""Alembic's environment: migrations run on the connection :mod:`binroute.api.service.migrate` hands over.

``render_as_batch`` lets a revision change columns on SQLite (which cannot ALTER
them) by copying the table; elsewhere the same calls are plain ALTERs.
"""

from __future__ import annotations

from alembic import context

from binroute.api.service.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
