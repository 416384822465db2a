"""Maintenance windows: a technician works on a site or a device, failures there are expected.

A window covers a whole site (``site_id``) or one device; while it is active the monitor keeps
tracking states but opens no incident for what it covers, and a reboot inside it is expected.

A window is one-off (``start`` -> ``end``) or weekly: ``start``/``end`` are then its first
occurrence and it comes back every week at the same wall-clock times in ``timezone`` (the
site's), until ``repeat_until``.  An occurrence may cross midnight (Saturday 22:00 -> Sunday
02:00) and keeps its wall-clock times across DST changes (:func:`Window.occurrences`).  Ending
a window by hand (``ended_at``) ends the whole series.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fleet.errors import IncidentError
from fleet.inventory.hours import wall_to_utc
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
    weekly: bool = False
    repeat_until: datetime | None = None
    """Weekly windows: no occurrence starts at or after this instant (None: no end)."""
    timezone: str | None = None
    """Weekly windows: the zone whose wall clock the occurrences keep (the site's)."""

    def occurrences(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The spans of this window meeting [start, end), cut at ``ended_at`` (UTC)."""
        stop = self.ended_at if self.ended_at is not None else None
        spans: list[tuple[datetime, datetime]] = []
        if not self.weekly:
            candidates = [(self.start, self.end)]
        else:
            tz = ZoneInfo(self.timezone or "UTC")
            first = self.start.astimezone(tz).replace(tzinfo=None)
            last = self.end.astimezone(tz).replace(tzinfo=None)
            week = timedelta(days=7)
            k = max(0, int((start - self.start) / week) - 1)
            candidates = []
            while True:
                s = wall_to_utc(first + k * week, tz)
                if s >= end or (self.repeat_until is not None and s >= self.repeat_until):
                    break
                if stop is not None and s >= stop:
                    break
                candidates.append((s, wall_to_utc(last + k * week, tz)))
                k += 1
        for s, e in candidates:
            cut = min(e, stop) if stop is not None else e
            if cut > s and cut > start and s < end:
                spans.append((s, cut))
        return spans

    def active(self, at: datetime) -> bool:
        if not self.weekly:
            return self.start <= at < self.end and (self.ended_at is None or at < self.ended_at)
        return bool(self.occurrences(at, at + timedelta(microseconds=1)))

    def current_or_next(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence running at ``at`` or the next one (None: none left)."""
        found = self.occurrences(at, at + timedelta(days=8))
        return found[0] if found else None

    def covers(self, site_id: str, device: str) -> bool:
        return (self.device is not None and self.device == device) or (
            self.device is None and self.site_id == site_id
        )

    @property
    def label(self) -> str:
        target = f"device {self.device}" if self.device else f"site {self.site_id}"
        weekly = " (weekly)" if self.weekly else ""
        return f"maintenance #{self.id}{weekly} on {target} by {self.who}: {self.why}"

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
            "weekly": self.weekly,
            "repeat_until": self.repeat_until.isoformat() if self.repeat_until else None,
            "timezone": self.timezone,
        }


def _window(row: MaintenanceWindow) -> Window:
    return Window(row.id, row.site_id, row.device, row.start, row.end, row.who, row.why,
                  row.ended_at, row.weekly, row.repeat_until, row.timezone)  # fmt: skip


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
    weekly: bool = False,
    repeat_until: datetime | None = None,
    timezone: str | None = None,
) -> Window:
    """Declare a maintenance window on a site or a device (exactly one of them); ``weekly``:
    it comes back every week at the same wall-clock times in ``timezone``, until
    ``repeat_until`` (None: until ended by hand)."""
    if (site_id is None) == (device is None):
        raise IncidentError("maintenance: give a site or a device (exactly one)")
    if end <= start:
        raise IncidentError(f"maintenance: end {end.isoformat()} is not after start {start.isoformat()}")
    if weekly:
        if end - start >= timedelta(days=7):
            raise IncidentError("maintenance: a weekly window lasts less than a week")
        if timezone is None:
            raise IncidentError("maintenance: a weekly window needs the site's timezone")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise IncidentError(f"maintenance: unknown timezone {timezone!r}") from None
        if repeat_until is not None and repeat_until <= start:
            raise IncidentError("maintenance: the repetition ends before the first occurrence")
    elif repeat_until is not None:
        raise IncidentError("maintenance: repeat_until is for weekly windows")
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
            weekly=weekly,
            repeat_until=repeat_until if weekly else None,
            timezone=timezone if weekly else None,
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
        if row.ended_at is not None or not _window(row).current_or_next(at):
            raise IncidentError(f"maintenance window #{window_id} has already ended")
        row.ended_at = at
        return _window(row)


def _not_over(at: datetime) -> Any:
    """Windows with an occurrence running at or after ``at`` (a superset for weekly ones)."""
    weekly_left = MaintenanceWindow.weekly & (
        MaintenanceWindow.repeat_until.is_(None) | (MaintenanceWindow.repeat_until > at)
    )
    return ((MaintenanceWindow.end > at) | weekly_left) & (
        MaintenanceWindow.ended_at.is_(None) | (MaintenanceWindow.ended_at > at)
    )


def _live(at: datetime) -> Any:
    return (MaintenanceWindow.start <= at) & _not_over(at)


def active_windows(session: Session, at: datetime) -> list[Window]:
    rows = session.scalars(select(MaintenanceWindow).where(_live(at)))
    return [w for w in map(_window, rows) if w.active(at)]


def list_windows(
    store: Store, *, at: datetime, include_past: bool = False, site_id: str | None = None
) -> list[Window]:
    with store.read() as session:
        query = select(MaintenanceWindow).order_by(MaintenanceWindow.start.desc())
        if not include_past:
            query = query.where(_not_over(at))
        if site_id is not None:
            query = query.where(MaintenanceWindow.site_id == site_id)
        return [_window(r) for r in session.scalars(query)]


def covering(windows: Iterable[Window], site_id: str, device: str, at: datetime) -> Window | None:
    return next((w for w in windows if w.active(at) and w.covers(site_id, device)), None)


def windows_between(
    session: Session, start: datetime, end: datetime, *, site_id: str, devices: Sequence[str]
) -> list[Window]:
    """The windows of a site or of some of its devices with an occurrence meeting [start, end)
    (for availability figures: :meth:`Window.occurrences` gives the spans)."""
    rows = session.scalars(
        select(MaintenanceWindow).where(
            or_(MaintenanceWindow.site_id == site_id, MaintenanceWindow.device.in_(list(devices))),
            MaintenanceWindow.start < end,
        )
    )
    return [w for w in map(_window, rows) if w.occurrences(start, end)]
