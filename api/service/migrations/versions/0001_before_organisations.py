"""The schema from before organisations: keys, scenarios, readings and plans (tests/data/schema_v0.sql).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.DateTime, nullable=True),
    )
    op.create_table(
        "scenarios",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("fleet_json", sa.Text, nullable=False),
        sa.Column("bins_csv", sa.Text, nullable=False),
        sa.Column("network_file", sa.String(500), nullable=False),
    )
    op.create_table(
        "readings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False),
        sa.Column("bin_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("fill_pct", sa.Float, nullable=False),
        sa.UniqueConstraint("scenario_id", "bin_id", "ts", name="uq_reading"),
    )
    op.create_index("ix_reading_bin_ts", "readings", ["scenario_id", "bin_id", "ts"])
    op.create_table(
        "plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("scenario_id", sa.String(32), sa.ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("options_json", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("summary_json", sa.Text, nullable=True),
        sa.Column("geojson", sa.Text, nullable=True),
        sa.Column("map_html", sa.Text, nullable=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("started", sa.DateTime, nullable=True),
        sa.Column("finished", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    for table in ("plans", "readings", "scenarios", "api_keys"):
        op.drop_table(table)
