"""Organisations and the audit trail; every key, scenario, reading and plan belongs to an organisation.

The rows already there move into the organisation named ``default`` (created
here when there are any), so old API keys keep working and see all the old data.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The organisation that receives the objects of a database from before organisations.
DEFAULT_ORG = "default"
OWNED = ("api_keys", "scenarios", "readings", "plans")


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_type", sa.String(40), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("detail_json", sa.Text, nullable=True),
        sa.Column("org_id", sa.String(32), sa.ForeignKey("organisations.id"), nullable=False),
    )
    op.create_index("ix_audit_org_id", "audit", ["org_id"])
    conn = op.get_bind()
    has_rows = any(conn.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first() is not None for t in OWNED)
    org_id = uuid.uuid4().hex
    if has_rows:
        conn.execute(
            sa.text("INSERT INTO organisations (id, name, created) VALUES (:i, :n, :c)"),
            {"i": org_id, "n": DEFAULT_ORG, "c": datetime.now(UTC).replace(tzinfo=None)},
        )
    for table in OWNED:
        op.add_column(table, sa.Column("org_id", sa.String(32), nullable=True))
        conn.execute(sa.text(f"UPDATE {table} SET org_id = :o"), {"o": org_id})
        with op.batch_alter_table(table) as batch:
            batch.alter_column("org_id", existing_type=sa.String(32), nullable=False)
            batch.create_foreign_key(f"fk_{table}_org_id", "organisations", ["org_id"], ["id"])
            batch.create_index(f"ix_{table}_org_id", ["org_id"])


def downgrade() -> None:
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_org_id")
            batch.drop_constraint(f"fk_{table}_org_id", type_="foreignkey")
            batch.drop_column("org_id")
    op.drop_index("ix_audit_org_id", "audit")
    op.drop_table("audit")
    op.drop_table("organisations")
