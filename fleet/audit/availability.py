"""Availability of each device **during the site's opening hours only**.

The monitor records every change of a device's ``reachability`` status (``state_changes``,
:mod:`fleet.monitor.cycle`); between two changes the status holds.  Over the audited month:

- the denominator is the site's opening time, from the one answer of
  :func:`fleet.inventory.hours.intervals` (a PC off at night or on Sunday is not downtime;
  exceptional closures are closed; DST is handled there);
- opening time covered by a maintenance window (of the device or of its whole site) is
  reported apart and counted neither up nor down;
- opening time before the device's first observation, or while its status is ``unknown``,
  is reported apart as "not measured";
- availability = up / (up + down), as a percentage of the measured opening time.

:func:`compute` is pure (tests feed it constructed histories); :func:`from_store` reads the
history and the windows from the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from fleet.audit.period import Interval, Month, intersect, normalise, subtract, total
from fleet.incidents.maintenance import windows_between
from fleet.inventory.hours import intervals as opening_intervals
from fleet.inventory.models import Device, Site
from fleet.monitor.rules import REACHABILITY
from fleet.store.db import Store
from fleet.store.models import StateChange


@dataclass(frozen=True, slots=True)
class Availability:
    """One device over one period; durations in seconds."""

    device: str
    open_s: float
    up_s: float
    down_s: float
    maintenance_s: float
    unmeasured_s: float
    outages: tuple[Interval, ...] = field(default=())
    """The down spans that fell in opening hours (outside maintenance), UTC."""

    @property
    def percent(self) -> float | None:
        """Up as a share of the measured opening time; None when nothing was measured."""
        measured = self.up_s + self.down_s
        return None if measured <= 0 else 100.0 * self.up_s / measured

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "percent": None if self.percent is None else round(self.percent, 3),
            "open_s": self.open_s,
            "up_s": self.up_s,
            "down_s": self.down_s,
            "maintenance_s": self.maintenance_s,
            "unmeasured_s": self.unmeasured_s,
            "outages": [[a.isoformat(), b.isoformat()] for a, b in self.outages],
        }


def timeline(
    start: datetime, end: datetime, initial: str | None, changes: Iterable[tuple[datetime, str]]
) -> dict[str, list[Interval]]:
    """Spans of [start, end) per status, from the status at ``start`` (None: never observed)
    and the changes (time, new status) in any order."""
    out: dict[str, list[Interval]] = {"up": [], "down": [], "unknown": []}
    status = initial or "unknown"
    cursor = start
    for at, new in sorted(changes):
        if at >= end:
            break
        if at > cursor:
            out.setdefault(status, []).append((cursor, at))
            cursor = at
        status = new
    if cursor < end:
        out.setdefault(status, []).append((cursor, end))
    return out


def compute(
    device: str,
    *,
    opening: Sequence[Interval],
    start: datetime,
    end: datetime,
    initial: str | None,
    changes: Iterable[tuple[datetime, str]],
    maintenance: Sequence[Interval] = (),
) -> Availability:
    """The figures of one device from its opening intervals, status history and windows."""
    open_spans = intersect(normalise(opening), [(start, end)])
    in_maintenance = intersect(open_spans, maintenance)
    counted = subtract(open_spans, in_maintenance)
    spans = timeline(start, end, initial, changes)
    up = intersect(counted, spans.get("up", []))
    down = intersect(counted, spans.get("down", []))
    unmeasured = subtract(counted, normalise([*up, *down]))
    return Availability(
        device=device,
        open_s=total(open_spans).total_seconds(),
        up_s=total(up).total_seconds(),
        down_s=total(down).total_seconds(),
        maintenance_s=total(in_maintenance).total_seconds(),
        unmeasured_s=total(unmeasured).total_seconds(),
        outages=tuple(down),
    )


def site_opening(site: Site, start: datetime, end: datetime) -> list[Interval]:
    return [(max(a, start), min(b, end)) for a, b in opening_intervals(site, start, end)]


def from_store(store: Store, site: Site, devices: Sequence[Device], month: Month) -> list[Availability]:
    """Availability of ``devices`` of ``site`` over ``month`` (the site's local month)."""
    start, end = month.bounds(site.tz)
    return for_period(store, site, devices, start, end)


def for_period(
    store: Store, site: Site, devices: Sequence[Device], start: datetime, end: datetime
) -> list[Availability]:
    """Availability of ``devices`` of ``site`` over [start, end)."""
    opening = site_opening(site, start, end)
    names = [d.hostname for d in devices]
    history = _history(store, names, start, end)
    windows = _windows(store, site.id, names, start, end)
    return [
        compute(
            name,
            opening=opening,
            start=start,
            end=end,
            initial=history.get(name, (None, []))[0],
            changes=history.get(name, (None, []))[1],
            maintenance=windows.get(name, []),
        )
        for name in names
    ]


def _history(
    store: Store, names: Sequence[str], start: datetime, end: datetime
) -> dict[str, tuple[str | None, list[tuple[datetime, str]]]]:
    out: dict[str, tuple[str | None, list[tuple[datetime, str]]]] = {}
    with store.read() as s:
        for name in names:
            before = s.scalars(
                select(StateChange)
                .where(StateChange.device == name, StateChange.check == REACHABILITY, StateChange.at < start)
                .order_by(StateChange.at.desc(), StateChange.id.desc())
                .limit(1)
            ).first()
            rows = s.scalars(
                select(StateChange)
                .where(
                    StateChange.device == name,
                    StateChange.check == REACHABILITY,
                    StateChange.at >= start,
                    StateChange.at < end,
                )
                .order_by(StateChange.at, StateChange.id)
            ).all()
            out[name] = (before.to_status if before else None, [(r.at, r.to_status) for r in rows])
    return out


def _windows(
    store: Store, site_id: str, names: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[Interval]]:
    """Maintenance spans per device (site-wide windows count for every device; weekly windows
    give one span per occurrence) — read through :mod:`fleet.incidents.maintenance`."""
    out: dict[str, list[Interval]] = {n: [] for n in names}
    with store.read() as s:
        windows = windows_between(s, start, end, site_id=site_id, devices=names)
    for w in windows:
        spans = w.occurrences(start, end)
        for name in names:
            if w.device == name or (w.device is None and w.site_id == site_id):
                out[name].extend(spans)
    return out


def site_summary(items: Sequence[Availability]) -> Mapping[str, float | None]:
    """The site's figure: measured up time over measured time, all devices pooled."""
    up = sum(a.up_s for a in items)
    down = sum(a.down_s for a in items)
    return {
        "percent": None if up + down <= 0 else 100.0 * up / (up + down),
        "down_hours": down / 3600,
        "maintenance_hours": sum(a.maintenance_s for a in items) / 3600,
        "unmeasured_hours": sum(a.unmeasured_s for a in items) / 3600,
    }
