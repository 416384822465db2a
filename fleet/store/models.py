"""SQLAlchemy 2 models of everything the engine persists.

The schema itself is created and evolved by the Alembic migrations in
:mod:`fleet.store.migrations` (never ``create_all``); these classes must match them, which
``tests/store/test_migrations.py`` checks with Alembic's autogenerate comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fleet.store.types import UtcDateTime

NAMING: Mapping[str, str] = MappingProxyType({
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

#: Incident statuses, in lifecycle order.  The last two are "not open".
INCIDENT_STATUSES = ("open", "acknowledged", "in_progress", "resolved", "closed")
OPEN_STATUSES = ("open", "acknowledged", "in_progress")
#: The SQL predicate of the partial unique index: an incident still being dealt with.
OPEN_PREDICATE = "status NOT IN ('resolved', 'closed')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=dict(NAMING))
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class Observation(Base):
    """Latest observation and state-machine state of one (device, check)."""

    __tablename__ = "observations"

    device: Mapped[str] = mapped_column(String(128), primary_key=True)
    check: Mapped[str] = mapped_column(String(160), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    since: Mapped[datetime | None]
    value: Mapped[str | None] = mapped_column(Text)
    suppressed: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Counters of the state machine (streaks, recent transitions, flags); see rules.CheckState."""


class SampleRow(Base):
    """One poll of one device, kept for a bounded time (``observation_retention_days``)."""

    __tablename__ = "samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(128))
    site_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(32))
    elapsed_ms: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index(None, "device", "at"),)


class StateChange(Base):
    """A (device, check) changed status (or started/stopped flapping)."""

    __tablename__ = "state_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(128))
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    check: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    suppressed: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "device", "check", "id"),)


class Incident(Base):
    """Something the hotline must deal with, keyed by (device, check)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(128))
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    check: Mapped[str] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    root_cause: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_until: Mapped[datetime | None]
    """An acknowledgement with an expiry: the incident is open again from then on."""
    assigned_to: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None]

    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'acknowledged', 'in_progress', 'resolved', 'closed')",
            name="status",
        ),
        Index(
            "uq_incidents_one_open",
            "device",
            "check",
            unique=True,
            sqlite_where=text(OPEN_PREDICATE),
            postgresql_where=text(OPEN_PREDICATE),
        ),
        Index(None, "device", "check"),
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class IncidentEvent(Base):
    """Everything that happened to an incident: opened, acknowledged, assigned, notes, actions."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="events")


class MaintenanceWindow(Base):
    """A technician works on a site or one device: failures there are expected."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str | None] = mapped_column(String(64), index=True)
    device: Mapped[str | None] = mapped_column(String(128), index=True)
    start: Mapped[datetime]
    end: Mapped[datetime]
    who: Mapped[str] = mapped_column(String(128))
    why: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    """Set when ended early by hand (``end`` is then moved to this instant too)."""
    weekly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    """Comes back every week (``start``/``end``: the first occurrence)."""
    repeat_until: Mapped[datetime | None]
    timezone: Mapped[str | None] = mapped_column(String(64))
    """Weekly windows keep their wall-clock times in this zone (the site's)."""

    __table_args__ = (
        CheckConstraint("site_id IS NOT NULL OR device IS NOT NULL", name="target"),
        CheckConstraint('"end" > start', name="span"),
    )


class DeviceEvent(Base):
    """Something that happened to a device and is not an incident (reboot, ...)."""

    __tablename__ = "device_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(128), index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Deploy(Base):
    """One ``fleet deploy`` run."""

    __tablename__ = "deploys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    user: Mapped[str] = mapped_column(String(128))
    repo_commit: Mapped[str | None] = mapped_column(String(64))
    check_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[str | None] = mapped_column(Text)
    limit: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))

    hosts: Mapped[list[DeployHost]] = relationship(
        back_populates="deploy", order_by="DeployHost.hostname", cascade="all, delete-orphan"
    )


class DeployHost(Base):
    """Per-host result of a deploy (Ansible's recap counters)."""

    __tablename__ = "deploy_hosts"

    deploy_id: Mapped[int] = mapped_column(ForeignKey("deploys.id", ondelete="CASCADE"), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(128), primary_key=True)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")

    deploy: Mapped[Deploy] = relationship(back_populates="hosts")


class InventorySnapshot(Base):
    """The resolved inventory a deploy ran with (secrets never included)."""

    __tablename__ = "inventory_snapshots"

    deploy_id: Mapped[int] = mapped_column(ForeignKey("deploys.id", ondelete="CASCADE"), primary_key=True)
    json: Mapped[dict[str, Any]] = mapped_column(JSON)
