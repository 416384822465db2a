"""SAV hand-off outbox (GLPI, e-mail), issue 13

Revision ID: 0003_handoff_outbox
Revises: 0002_connlog
Create Date: 2026-11-30 02:17:11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.outbox  # its models join Base.metadata wherever this migration runs
import fleet.store.types

revision = "0003_handoff_outbox"
down_revision = "0002_connlog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_channels",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("enabled_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", fleet.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_handoff_channels")),
    )
    op.create_table(
        "handoff_queues",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", fleet.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_handoff_queues_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "channel", name=op.f("pk_handoff_queues")),
    )
    op.create_table(
        "handoff_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", fleet.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'skipped')", name=op.f("ck_handoff_outbox_status")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["incident_events.id"],
            name=op.f("fk_handoff_outbox_event_id_incident_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_handoff_outbox_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_outbox")),
        sa.UniqueConstraint("event_id", "channel", name=op.f("uq_handoff_outbox_event_id_channel")),
    )
    with op.batch_alter_table("handoff_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_outbox_incident_id_channel_id"),
            ["incident_id", "channel", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_handoff_outbox_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_outbox_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_handoff_outbox_incident_id_channel_id"))

    op.drop_table("handoff_outbox")
    op.drop_table("handoff_queues")
    op.drop_table("handoff_channels")
