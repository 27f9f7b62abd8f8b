"""Collection logs: one row per emptying of a bin (the level just before it and the weight, when known).

A database that created the table on start before migrations existed keeps it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("collections"):
        return
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False),
        sa.Column("bin_id", sa.String(200), nullable=False),
        sa.Column("collected_at", sa.DateTime, nullable=False),
        sa.Column("fill_pct", sa.Float, nullable=True),
        sa.Column("kg", sa.Float, nullable=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organisations.id"), nullable=False),
        sa.UniqueConstraint("scenario_id", "bin_id", "collected_at", name="uq_collection"),
    )
    op.create_index("ix_collection_bin_ts", "collections", ["scenario_id", "bin_id", "collected_at"])
    op.create_index("ix_collections_org_id", "collections", ["org_id"])


def downgrade() -> None:
    op.drop_table("collections")
