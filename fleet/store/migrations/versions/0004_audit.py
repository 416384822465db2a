"""audit: usage counts, premises checklist, counting grid, signed reports (issue 16)

Revision ID: 0004_audit
Revises: 0003_handoff_outbox
Create Date: 2026-11-30 02:32:56
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.audit  # its models join Base.metadata wherever this migration runs
import fleet.store.types

revision = "0004_audit"
down_revision = "0003_handoff_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("started_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("lab", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audits")),
    )
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audits_month"), ["month"], unique=False)
        batch_op.create_index(batch_op.f("ix_audits_site_id"), ["site_id"], unique=False)

    op.create_table(
        "grid_counts",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("partner", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("entered_by", sa.String(length=128), nullable=False),
        sa.Column("entered_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_grid_counts_count")),
        sa.PrimaryKeyConstraint("site_id", "week", "partner", "service", name=op.f("pk_grid_counts")),
    )
    op.create_table(
        "grid_people",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("entered_by", sa.String(length=128), nullable=False),
        sa.Column("entered_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("people >= 0", name=op.f("ck_grid_people_people")),
        sa.PrimaryKeyConstraint("site_id", "week", name=op.f("pk_grid_people")),
    )
    op.create_table(
        "premises_checks",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=2), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("entered_by", sa.String(length=128), nullable=False),
        sa.Column("entered_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('ok', 'ko', 'na')", name=op.f("ck_premises_checks_status")),
        sa.PrimaryKeyConstraint("site_id", "month", "item", name=op.f("pk_premises_checks")),
    )
    op.create_table(
        "usage_cursors",
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("last_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_keys", sa.JSON(), nullable=False),
        sa.Column("collected_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device", name=op.f("pk_usage_cursors")),
    )
    op.create_table(
        "usage_days",
        sa.Column("device", sa.String(length=128), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("session_seconds", sa.Integer(), nullable=False),
        sa.Column("lengths", sa.JSON(), nullable=False),
        sa.Column("wipes", sa.Integer(), nullable=False),
        sa.Column("wipe_failures", sa.Integer(), nullable=False),
        sa.Column("triggers", sa.JSON(), nullable=False),
        sa.Column("updated_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device", "day", name=op.f("pk_usage_days")),
    )
    with op.batch_alter_table("usage_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_days_site_id"), ["site_id"], unique=False)

    op.create_table(
        "audit_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("signed_by", sa.String(length=128), nullable=False),
        sa.Column("signed_at", fleet.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_id"], ["audits.id"], name=op.f("fk_audit_files_audit_id_audits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_files")),
    )
    with op.batch_alter_table("audit_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_files_audit_id"), ["audit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_files_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_files_sha256"))
        batch_op.drop_index(batch_op.f("ix_audit_files_audit_id"))

    op.drop_table("audit_files")
    with op.batch_alter_table("usage_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_days_site_id"))

    op.drop_table("usage_days")
    op.drop_table("usage_cursors")
    op.drop_table("premises_checks")
    op.drop_table("grid_people")
    op.drop_table("grid_counts")
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audits_site_id"))
        batch_op.drop_index(batch_op.f("ix_audits_month"))

    op.drop_table("audits")
