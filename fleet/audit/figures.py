"""The month's figures of a site from the store: incidents (and their notebook), deploys,
usage (sessions per station per week, median session length) and wipe failures.

Read-only; every period is the site's local month (:class:`fleet.audit.period.Month`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from fleet.audit.period import Month, week_start
from fleet.audit.usage import UsageRow, median_minutes, usage_rows
from fleet.inventory.models import Site
from fleet.store.db import Store
from fleet.store.models import Deploy, Incident


@dataclass(frozen=True, slots=True)
class NotebookEntry:
    """One line of the incident notebook (carnet d'incident)."""

    id: int
    device: str
    title: str
    severity: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    status: str
    """Status at the end of the month: ``open``, ``acknowledged``, ``in_progress`` or ``resolved``."""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "device": self.device, "title": self.title, "severity": self.severity,
            "opened_at": self.opened_at.isoformat(),
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "status": self.status, "notes": list(self.notes),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class IncidentFigures:
    opened: int
    mean_ack_minutes: float | None
    mean_resolve_minutes: float | None
    still_open: int
    notebook: tuple[NotebookEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "mean_ack_minutes": _r(self.mean_ack_minutes),
            "mean_resolve_minutes": _r(self.mean_resolve_minutes),
            "still_open": self.still_open,
            "notebook": [e.to_json() for e in self.notebook],
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _mean_minutes(spans: Sequence[timedelta]) -> float | None:
    return sum(s.total_seconds() for s in spans) / 60 / len(spans) if spans else None


def incidents(store: Store, site: Site, month: Month) -> IncidentFigures:
    """Incidents opened during the month, with the mean time to acknowledge and to resolve
    (of those acknowledged / resolved by the end of the month), and every incident that was
    open at some time of the month in the notebook; ``still_open``: open at the month's end."""
    start, end = month.bounds(site.tz)
    with store.read() as s:
        rows = s.scalars(
            select(Incident)
            .options(selectinload(Incident.events))
            .where(
                Incident.site_id == site.id,
                Incident.opened_at < end,
                or_(Incident.resolved_at.is_(None), Incident.resolved_at >= start),
            )
            .order_by(Incident.opened_at, Incident.id)
        ).all()
        entries: list[NotebookEntry] = []
        acks: list[timedelta] = []
        fixes: list[timedelta] = []
        opened = still = 0
        for r in rows:
            ack = r.acknowledged_at if r.acknowledged_at is not None and r.acknowledged_at < end else None
            res = r.resolved_at if r.resolved_at is not None and r.resolved_at < end else None
            if start <= r.opened_at:
                opened += 1
                if ack is not None:
                    acks.append(ack - r.opened_at)
                if res is not None:
                    fixes.append(res - r.opened_at)
            if res is None:
                still += 1
            status = "resolved" if res is not None else ("acknowledged" if ack is not None else "open")
            if res is None and r.status == "in_progress":
                status = "in_progress"
            notes = tuple(
                e.text for e in r.events if e.kind in ("note", "action") and start <= e.at < end and e.text
            )
            entries.append(
                NotebookEntry(r.id, r.device, r.title, r.severity, r.opened_at, ack, res, status, notes)
            )
    return IncidentFigures(opened, _mean_minutes(acks), _mean_minutes(fixes), still, tuple(entries))


@dataclass(frozen=True, slots=True)
class DeployLine:
    id: int
    started_at: datetime
    user: str
    outcome: str | None
    check_mode: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "user": self.user,
            "outcome": self.outcome,
            "check_mode": self.check_mode,
        }


def deploys(store: Store, site: Site, month: Month) -> list[DeployLine]:
    start, end = month.bounds(site.tz)
    with store.read() as s:
        rows = s.scalars(
            select(Deploy)
            .where(Deploy.site_id == site.id, Deploy.started_at >= start, Deploy.started_at < end)
            .order_by(Deploy.started_at, Deploy.id)
        ).all()
        return [DeployLine(r.id, r.started_at, r.user, r.outcome, r.check_mode) for r in rows]


@dataclass(frozen=True, slots=True)
class UsageFigures:
    weeks: tuple[date, ...]
    """Mondays of the ISO weeks that meet the month (a week cut by the month's edge counts
    only its days inside the month)."""
    per_station: dict[str, dict[date, int]] = field(default_factory=dict)
    """Sessions per station per week."""
    sessions: int = 0
    median_minutes: float | None = None
    wipes: int = 0
    wipe_failures: int = 0
    failures_per_station: dict[str, int] = field(default_factory=dict)

    def per_week(self) -> dict[date, int]:
        return {w: sum(st.get(w, 0) for st in self.per_station.values()) for w in self.weeks}

    def to_json(self) -> dict[str, Any]:
        return {
            "weeks": [w.isoformat() for w in self.weeks],
            "sessions_per_station_week": {
                st: {w.isoformat(): n for w, n in weeks.items()} for st, weeks in self.per_station.items()
            },
            "sessions": self.sessions,
            "median_session_minutes": self.median_minutes,
            "wipes": self.wipes,
            "wipe_failures": self.wipe_failures,
            "wipe_failures_per_station": self.failures_per_station,
        }


def usage(store: Store, site: Site, month: Month, stations: Sequence[str]) -> UsageFigures:
    days = month.days()
    rows = usage_rows(store, [site.id], days[0], days[-1])
    return usage_from_rows(rows, days, stations)


def usage_from_rows(rows: Sequence[UsageRow], days: Sequence[date], stations: Sequence[str]) -> UsageFigures:
    weeks = tuple(sorted({week_start(d) for d in days}))
    per: dict[str, dict[date, int]] = {st: dict.fromkeys(weeks, 0) for st in stations}
    failures: dict[str, int] = dict.fromkeys(stations, 0)
    for r in rows:
        per.setdefault(r.device, dict.fromkeys(weeks, 0))
        w = week_start(r.day)
        per[r.device][w] = per[r.device].get(w, 0) + r.sessions
        failures[r.device] = failures.get(r.device, 0) + r.wipe_failures
    return UsageFigures(
        weeks=weeks,
        per_station=per,
        sessions=sum(r.sessions for r in rows),
        median_minutes=median_minutes(rows),
        wipes=sum(r.wipes for r in rows),
        wipe_failures=sum(r.wipe_failures for r in rows),
        failures_per_station=failures,
    )
