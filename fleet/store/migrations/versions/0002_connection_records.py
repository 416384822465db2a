"""connection records of the public wifi (CPCE L34-1), issue 5

Revision ID: 0002_connlog
Revises: 0001
Create Date: 2026-11-23 04:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.connlog  # its model joins Base.metadata wherever this migration runs
import fleet.store.types

revision = "0002_connlog"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connection_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("started_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", fleet.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("client_mac", sa.String(length=17), nullable=False),
        sa.Column("client_ip", sa.String(length=45), nullable=False),
        sa.Column("proto", sa.String(length=8), nullable=True),
        sa.Column("client_port", sa.Integer(), nullable=True),
        sa.Column("public_ip", sa.String(length=45), nullable=True),
        sa.Column("public_port", sa.Integer(), nullable=True),
        sa.Column("collected_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('session', 'nat')", name=op.f("ck_connection_records_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_records")),
        sa.UniqueConstraint("gateway", "key", name=op.f("uq_connection_records_gateway_key")),
    )
    with op.batch_alter_table("connection_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connection_records_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_connection_records_started_at"), ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("connection_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connection_records_started_at"))
        batch_op.drop_index(batch_op.f("ix_connection_records_site_id"))
    op.drop_table("connection_records")
