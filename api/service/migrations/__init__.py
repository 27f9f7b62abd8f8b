"""Alembic migrations of the service's database (``binroute db upgrade``); see :mod:`binroute.api.service.migrate`."""
