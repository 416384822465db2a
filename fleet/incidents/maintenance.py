"""Maintenance windows: a technician works on a site or a device, failures there are expected.

A window covers a whole site (``site_id``) or one device; while it is active the monitor keeps
tracking states but opens no incident for what it covers, and a reboot inside it is expected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.errors import IncidentError
from fleet.store.db import Store
from fleet.store.models import MaintenanceWindow


@dataclass(frozen=True, slots=True)
class Window:
    id: int
    site_id: str | None
    device: str | None
    start: datetime
    end: datetime
    who: str
    why: str
    ended_at: datetime | None

    def active(self, at: datetime) -> bool:
        return self.start <= at < self.end and (self.ended_at is None or at < self.ended_at)

    def covers(self, site_id: str, device: str) -> bool:
        return (self.device is not None and self.device == device) or (
            self.device is None and self.site_id == site_id
        )

    @property
    def label(self) -> str:
        target = f"device {self.device}" if self.device else f"site {self.site_id}"
        return f"maintenance #{self.id} on {target} by {self.who}: {self.why}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site_id,
            "device": self.device,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "who": self.who,
            "why": self.why,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def _window(row: MaintenanceWindow) -> Window:
    return Window(row.id, row.site_id, row.device, row.start, row.end, row.who, row.why,
                  row.ended_at)  # fmt: skip


def add_window(
    store: Store,
    *,
    start: datetime,
    end: datetime,
    who: str,
    why: str,
    now: datetime,
    site_id: str | None = None,
    device: str | None = None,
) -> Window:
    """Declare a maintenance window on a site or a device (exactly one of them)."""
    if (site_id is None) == (device is None):
        raise IncidentError("maintenance: give a site or a device (exactly one)")
    if end <= start:
        raise IncidentError(f"maintenance: end {end.isoformat()} is not after start {start.isoformat()}")
    if not who.strip():
        raise IncidentError("maintenance: who is required (--by NAME or $USER)")
    if not why.strip():
        raise IncidentError("maintenance: why is required (--why TEXT)")
    with store.write() as session:
        row = MaintenanceWindow(
            site_id=site_id,
            device=device,
            start=start,
            end=end,
            who=who.strip(),
            why=why.strip(),
            created_at=now,
            ended_at=None,
        )
        session.add(row)
        session.flush()
        return _window(row)


def end_window(store: Store, window_id: int, *, at: datetime) -> Window:
    """End a window now (a technician leaves early; before it began: it never applies)."""
    with store.write() as session:
        row = session.get(MaintenanceWindow, window_id, with_for_update=True)
        if row is None:
            raise IncidentError(f"maintenance window #{window_id} does not exist")
        if row.ended_at is not None or row.end <= at:
            raise IncidentError(f"maintenance window #{window_id} has already ended")
        row.ended_at = at
        return _window(row)


def _live(at: datetime) -> Any:
    return (
        (MaintenanceWindow.start <= at)
        & (MaintenanceWindow.end > at)
        & (MaintenanceWindow.ended_at.is_(None) | (MaintenanceWindow.ended_at > at))
    )


def active_windows(session: Session, at: datetime) -> list[Window]:
    return [_window(r) for r in session.scalars(select(MaintenanceWindow).where(_live(at)))]


def list_windows(
    store: Store, *, at: datetime, include_past: bool = False, site_id: str | None = None
) -> list[Window]:
    with store.read() as session:
        query = select(MaintenanceWindow).order_by(MaintenanceWindow.start.desc())
        if not include_past:
            query = query.where(
                (MaintenanceWindow.end > at)
                & (MaintenanceWindow.ended_at.is_(None) | (MaintenanceWindow.ended_at > at))
            )
        if site_id is not None:
            query = query.where(MaintenanceWindow.site_id == site_id)
        return [_window(r) for r in session.scalars(query)]


def covering(windows: Iterable[Window], site_id: str, device: str, at: datetime) -> Window | None:
    return next((w for w in windows if w.active(at) and w.covers(site_id, device)), None)
