"""Dashboard users, sessions, login failures, audit trail; acknowledgement expiry; weekly
maintenance windows (issue 14)

Revision ID: 0005_web_users
Revises: 0004_audit
Create Date: 2026-11-30 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.store.types
import fleet.store.users  # its models join Base.metadata wherever this migration runs

revision = "0005_web_users"
down_revision = "0004_audit"
branch_labels = None
depends_on = None

UTC = fleet.store.types.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("password_changed_at", UTC(timezone=True), nullable=False),
        sa.Column("last_login_at", UTC(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('technician', 'hotline', 'auditor', 'admin')", name=op.f("ck_web_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_users")),
        sa.UniqueConstraint("name", name=op.f("uq_web_users_name")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTC(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["web_users.id"], name=op.f("fk_web_sessions_user_id_web_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "web_login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_login_failures")),
    )
    op.create_index(op.f("ix_web_login_failures_name_at"), "web_login_failures", ["name", "at"])
    op.create_index(op.f("ix_web_login_failures_address_at"), "web_login_failures", ["address", "at"])
    op.create_table(
        "web_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=160), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_audit")),
    )
    op.create_index(op.f("ix_web_audit_at"), "web_audit", ["at"])
    op.create_index(op.f("ix_web_audit_user"), "web_audit", ["user"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acknowledged_until", UTC(timezone=True), nullable=True))
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.add_column(sa.Column("weekly", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        batch.add_column(sa.Column("repeat_until", UTC(timezone=True), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("maintenance_windows") as batch:
        batch.drop_column("timezone")
        batch.drop_column("repeat_until")
        batch.drop_column("weekly")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("acknowledged_until")
    op.drop_index(op.f("ix_web_audit_user"), table_name="web_audit")
    op.drop_index(op.f("ix_web_audit_at"), table_name="web_audit")
    op.drop_table("web_audit")
    op.drop_index(op.f("ix_web_login_failures_address_at"), table_name="web_login_failures")
    op.drop_index(op.f("ix_web_login_failures_name_at"), table_name="web_login_failures")
    op.drop_table("web_login_failures")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_users")
