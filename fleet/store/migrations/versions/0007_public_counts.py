"""per-day counts of the start page's tiles and the end-of-session answers, issue 17

Revision ID: 0007_public_counts
Revises: 0006_netdev_backups
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.publiccounts  # its model joins Base.metadata wherever this migration runs
import fleet.store.types

revision = "0007_public_counts"
down_revision = "0006_netdev_backups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_counts",
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("collected_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device", "day", "section", "key", name=op.f("pk_public_counts")),
    )
    with op.batch_alter_table("public_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_public_counts_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("public_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_counts_site_id"))
    op.drop_table("public_counts")
