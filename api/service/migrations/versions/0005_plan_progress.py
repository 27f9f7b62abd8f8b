"""A running plan's progress (stage, percent, when written) and how many times its solve has started.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("progress_stage", sa.String(20), nullable=True))
        batch.add_column(sa.Column("progress_pct", sa.Float, nullable=True))
        batch.add_column(sa.Column("progress_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("attempts")
        batch.drop_column("progress_at")
        batch.drop_column("progress_pct")
        batch.drop_column("progress_stage")
