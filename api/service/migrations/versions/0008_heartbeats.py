"""A heartbeat on running plans and simulations, written by the process running one, so a lost one is noticed.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("plans", "simulations"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("heartbeat", sa.DateTime, nullable=True))


def downgrade() -> None:
    for table in ("simulations", "plans"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("heartbeat")
