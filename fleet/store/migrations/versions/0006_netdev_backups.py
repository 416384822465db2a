"""network gear configuration backups with history, issue 15

Revision ID: 0006_netdev_backups
Revises: 0005_web_users
Create Date: 2026-11-30 03:00:00

Renumbered when the branches merged: it follows 0005_web_users.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.netdev  # its model joins Base.metadata wherever this migration runs
import fleet.store.types

revision = "0006_netdev_backups"
down_revision = "0005_web_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "netdev_backups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("taken_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_netdev_backups")),
        sa.UniqueConstraint("device", "version", name=op.f("uq_netdev_backups_device_version")),
    )
    with op.batch_alter_table("netdev_backups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_netdev_backups_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("netdev_backups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_netdev_backups_site_id"))
    op.drop_table("netdev_backups")
