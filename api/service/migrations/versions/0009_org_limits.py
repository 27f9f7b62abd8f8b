"""Each organisation's own limits (``binroute orgs limits``); none set means the server's settings.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("max_solves", "max_simulations", "max_readings", "max_collections", "max_upload_bytes")


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("rate_limit", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("rate_limit")
        for name in reversed(COLUMNS):
            batch.drop_column(name)
