"""Policy simulations run through the HTTP API: request, progress, ``simulation.json`` and the report page.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "simulations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("options_json", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("days_done", sa.Integer, nullable=False),
        sa.Column("days_total", sa.Integer, nullable=False),
        sa.Column("result_json", sa.Text, nullable=True),
        sa.Column("report_html", sa.Text, nullable=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("started", sa.DateTime, nullable=True),
        sa.Column("finished", sa.DateTime, nullable=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organisations.id"), nullable=False),
    )
    op.create_index("ix_simulations_org_id", "simulations", ["org_id"])
    op.create_index("ix_simulations_scenario_id", "simulations", ["scenario_id"])


def downgrade() -> None:
    op.drop_table("simulations")
