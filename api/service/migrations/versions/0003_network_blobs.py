"""Road network files in the database, content-addressed, so workers on other machines can solve any plan.

Scenarios whose network file is readable here get their blob now; the others
keep solving from their file on the machine that has it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SUFFIXES = (".osm.pbf", ".osm.bz2", ".osm.xml", ".osm")


def upgrade() -> None:
    op.create_table(
        "network_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("suffix", sa.String(20), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("scenarios") as batch:
        batch.add_column(sa.Column("network_sha256", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_scenarios_network_sha256", "network_blobs", ["network_sha256"], ["sha256"])
    conn = op.get_bind()
    for sid, name in conn.execute(sa.text("SELECT id, network_file FROM scenarios")).all():
        path = Path(name)
        suffix = next((x for x in SUFFIXES if name.endswith(x)), None)
        if suffix is None or not path.is_file():
            continue
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if conn.execute(sa.text("SELECT 1 FROM network_blobs WHERE sha256 = :h"), {"h": digest}).first() is None:
            conn.execute(
                sa.text("INSERT INTO network_blobs VALUES (:h, :s, :n, :c, :t)"),
                {
                    "h": digest,
                    "s": suffix,
                    "n": len(content),
                    "c": content,
                    "t": datetime.now(UTC).replace(tzinfo=None),
                },
            )
        conn.execute(sa.text("UPDATE scenarios SET network_sha256 = :h WHERE id = :i"), {"h": digest, "i": sid})


def downgrade() -> None:
    with op.batch_alter_table("scenarios") as batch:
        batch.drop_constraint("fk_scenarios_network_sha256", type_="foreignkey")
        batch.drop_column("network_sha256")
    op.drop_table("network_blobs")
