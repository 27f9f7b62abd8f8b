"""The live day: crew tokens, the crews' events, and re-planned versions of a plan.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("root_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("replan_of", sa.String(32), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.create_index("ix_plans_root_id", ["root_id"])
        batch.create_unique_constraint("uq_plan_version", ["root_id", "version"])
    op.create_table(
        "crew_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("plan_id", sa.String(32), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("vehicle_id", sa.String(200), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("expires", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.DateTime, nullable=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organisations.id"), nullable=False),
    )
    op.create_index("ix_crew_tokens_org_id", "crew_tokens", ["org_id"])
    op.create_index("ix_crew_tokens_plan_id", "crew_tokens", ["plan_id"])
    op.create_table(
        "plan_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.String(32), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("vehicle_id", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("bin_id", sa.String(200), nullable=True),
        sa.Column("fill", sa.String(20), nullable=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("received", sa.DateTime, nullable=False),
        sa.Column("token_id", sa.String(32), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organisations.id"), nullable=False),
        sa.UniqueConstraint("plan_id", "event_id", name="uq_plan_event"),
    )
    op.create_index("ix_plan_events_org_id", "plan_events", ["org_id"])
    op.create_index("ix_plan_event_at", "plan_events", ["plan_id", "at"])


def downgrade() -> None:
    op.drop_table("plan_events")
    op.drop_table("crew_tokens")
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint("uq_plan_version", type_="unique")
        batch.drop_index("ix_plans_root_id")
        batch.drop_column("version")
        batch.drop_column("replan_of")
        batch.drop_column("root_id")
