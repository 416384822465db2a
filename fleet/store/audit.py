"""Tables of the monthly audit and the funder statistics (issue 16).  Tables only; what fills
and reads them lives in :mod:`fleet.audit` (layer 6).

- ``usage_days``: how PCs and bornes were used, **counts per station per local day** (sessions,
  their total and a histogram of their lengths in minutes, wipes, failed wipes, wipes per
  trigger).  No row ever holds a time of day, a file name or anything that identifies a person.
- ``usage_cursors``: per station, how far its wipe record has been counted (the time of the last
  record counted and digests of the records at exactly that time), so collecting the same
  record twice counts it once.
- ``premises_checks``: the auditor's premises checklist, one row per site, month and item.
- ``grid_counts`` / ``grid_people``: the weekly counting grid (services rendered per partner
  organisation, people received), counts only.
- ``audits`` / ``audit_files``: one row per audit run (its verdicts per item, for next month's
  comparison) and per file it produced, with the file's SHA-256 and Ed25519 signature.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.store.models import Base

CHECK_STATUSES = ("ok", "ko", "na")


class UsageDay(Base):
    __tablename__ = "usage_days"

    device: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    """Local date (site's timezone), ISO ``YYYY-MM-DD``."""
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    session_seconds: Mapped[int] = mapped_column(Integer, default=0)
    lengths: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Session lengths: whole minutes (as a string key) -> how many sessions."""
    wipes: Mapped[int] = mapped_column(Integer, default=0)
    wipe_failures: Mapped[int] = mapped_column(Integer, default=0)
    triggers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class UsageCursor(Base):
    __tablename__ = "usage_cursors"

    device: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_at: Mapped[datetime]
    last_keys: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """``{"keys": [...]}``: digests of the records counted whose time is ``last_at``."""
    collected_at: Mapped[datetime]


class PremisesCheck(Base):
    __tablename__ = "premises_checks"
    __table_args__ = (CheckConstraint("status IN ('ok', 'ko', 'na')", name="status"),)

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    item: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(2))
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(256), default="")
    entered_by: Mapped[str] = mapped_column(String(128))
    entered_at: Mapped[datetime]


class GridCount(Base):
    __tablename__ = "grid_counts"
    __table_args__ = (CheckConstraint("count >= 0", name="count"),)

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    week: Mapped[str] = mapped_column(String(10), primary_key=True)
    """Monday of the ISO week, ``YYYY-MM-DD``."""
    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    entered_by: Mapped[str] = mapped_column(String(128))
    entered_at: Mapped[datetime]


class GridPeople(Base):
    __tablename__ = "grid_people"
    __table_args__ = (CheckConstraint("people >= 0", name="people"),)

    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    week: Mapped[str] = mapped_column(String(10), primary_key=True)
    people: Mapped[int] = mapped_column(Integer)
    entered_by: Mapped[str] = mapped_column(String(128))
    entered_at: Mapped[datetime]


class Audit(Base):
    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """None for the network-wide report."""
    month: Mapped[str] = mapped_column(String(7), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    user: Mapped[str] = mapped_column(String(128))
    lab: Mapped[bool] = mapped_column(Boolean, default=False)
    verdict: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per item verdicts and the month's figures (what next month compares with)."""

    files: Mapped[list[AuditFile]] = relationship(
        back_populates="audit", order_by="AuditFile.id", cascade="all, delete-orphan"
    )


class AuditFile(Base):
    __tablename__ = "audit_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    signature: Mapped[str] = mapped_column(Text)
    """Ed25519 signature (base64) of the signed statement (see fleet.audit.signing)."""
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(Text)
    signed_by: Mapped[str] = mapped_column(String(128))
    signed_at: Mapped[datetime]

    audit: Mapped[Audit] = relationship(back_populates="files")
