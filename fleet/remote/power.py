"""Power by opening hours, the controller's side: wake the devices that are due, and the
monthly report (hours powered off, estimated kWh saved).

The schedule itself is :mod:`fleet.inventory.power` (``site_power``): devices shut down by
themselves from a timer the ``power_schedule`` role renders; the controller wakes them
``wake_before`` minutes before opening with the ``wake`` action (Wake-on-LAN from the gateway).
:func:`wake_due` is what ``fleet power wake --due`` runs, and ``fleet poll --daemon`` each
cycle: it wakes each scheduled device once per off period (a ``wake`` device event by any
actor since the period's wake instant means done).  A device that does not answer after it is
the monitor's business: it is expected off while the site is closed, and "not back at opening"
once the opening grace has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fleet import settings
from fleet.errors import ConfigError
from fleet.inventory.models import Device, Site
from fleet.inventory.power import OffWindow, default_watts, off_windows
from fleet.remote import wake
from fleet.remote.base import Request, Result
from fleet.remote.record import device_actions, record_device_action
from fleet.store.db import Store

SCHEDULE_ACTOR = "power-schedule"
#: A wake is still due this long after opening (the daemon was down at the wake instant).
CATCH_UP = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class DueWake:
    site: Site
    device: Device
    window: OffWindow


def _window_due(site: Site, now: datetime) -> OffWindow | None:
    if site.power is None:
        return None
    for w in off_windows(site, site.power, now - timedelta(days=1), now + timedelta(seconds=1)):
        if w.wake_at <= now < w.opens_at + CATCH_UP:
            return w
    return None


def due(store: Store, sites: Sequence[Site], now: datetime) -> list[DueWake]:
    """Scheduled devices whose wake instant has passed and that were not woken since."""
    out = []
    for site in sites:
        w = _window_due(site, now)
        if w is None or site.power is None:
            continue
        for d in site.devices:
            if not site.power.applies_to(d.kind.value):
                continue
            # woken between the wake instant and now: a wake recorded "later" than the clock
            # in use (an injected clock, a replay) is not this period's
            done = [e for e in device_actions(store, d.hostname, since=w.wake_at, until=now)
                    if (e.data or {}).get("action") == "wake"]
            if not done:
                out.append(DueWake(site, d, w))
    return out


def wake_due(store: Store, sites: Sequence[Site], now: datetime, *, actor: str = SCHEDULE_ACTOR,
             lab: bool = False, wait: bool = True, boot_timeout: float | None = None,
             timeout: float | None = None) -> list[Result]:
    """Wake every device that is due (see :func:`due`), record each attempt, return them."""
    results: list[Result] = []
    by_site: dict[str, list[DueWake]] = {}
    for item in due(store, sites, now):
        by_site.setdefault(item.site.id, []).append(item)
    for items in by_site.values():
        site = items[0].site
        request = Request(
            action="wake", site=site, devices=tuple(i.device for i in items), now=now, lab=lab,
            wait=wait, timeout=float(settings.get("remote_timeout", timeout)),
            boot_timeout=float(settings.get("remote_boot_timeout", boot_timeout)),
        )
        window = items[0].window
        for r in wake.perform(request):
            detail = f"wake on {r.device} (opening at {window.opens_at.isoformat()}): " \
                     f"{r.outcome.replace('_', ' ')} — {r.message}"
            record_device_action(store, device=r.device, site_id=site.id, at=now, actor=actor,
                                 action="wake", outcome=r.outcome, detail=detail,
                                 data={**dict(r.data), "message": r.message, "scheduled": True,
                                       "window": window.to_json()})
            results.append(r)
    return results


# ------------------------------------------------------------------------------ report ----


def parse_month(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``YYYY-MM`` (default: this month) -> [first instant, first instant of next month) UTC."""
    if text is None:
        year, month = now.astimezone(UTC).year, now.astimezone(UTC).month
    else:
        try:
            year, month = (int(x) for x in text.split("-", 1))
            if not 1 <= month <= 12:
                raise ValueError(text)
        except ValueError:
            raise ConfigError(f"--month {text!r}: expected YYYY-MM, e.g. 2026-11") from None
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


@dataclass(frozen=True, slots=True)
class KindLine:
    kind: str
    devices: int
    hours_off: float
    """Scheduled hours off of one device over the period."""
    watts: float

    @property
    def device_hours(self) -> float:
        return self.devices * self.hours_off

    @property
    def kwh(self) -> float:
        return self.device_hours * self.watts / 1000

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "devices": self.devices, "hours_off_each": round(self.hours_off, 2),
                "device_hours": round(self.device_hours, 2), "watts": self.watts,
                "kwh_saved": round(self.kwh, 2)}


@dataclass(frozen=True, slots=True)
class PowerReport:
    site_id: str
    start: datetime
    end: datetime
    windows: int
    lines: tuple[KindLine, ...]
    wakes_ok: int
    wakes_failed: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kwh(self) -> float:
        return sum(line.kwh for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site_id, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "off_periods": self.windows, "kinds": [x.to_json() for x in self.lines],
                "kwh_saved": round(self.kwh, 2), "wakes_ok": self.wakes_ok,
                "wakes_failed": self.wakes_failed, "notes": list(self.notes)}


def report(store: Store, site: Site, start: datetime, end: datetime,
           watts_file: Path | None = None) -> PowerReport:
    """Hours powered off by schedule over [start, end) and the estimated kWh saved."""
    if site.power is None:
        raise ConfigError(f"site {site.id}: no site_power in the inventory ({site.source.file}): "
                          "nothing is powered by schedule")
    power = site.power
    windows = off_windows(site, power, start, end)
    hours = sum((min(w.wake_at, end) - max(w.off_at, start)).total_seconds() for w in windows) / 3600
    defaults = default_watts(watts_file) if watts_file else default_watts()
    lines = []
    for kind in sorted({d.kind.value for d in site.devices if power.applies_to(d.kind.value)}):
        n = sum(1 for d in site.devices if d.kind.value == kind)
        lines.append(KindLine(kind, n, hours, power.watts_of(kind, defaults)))
    ok = failed = 0
    for d in site.devices:
        if not power.applies_to(d.kind.value):
            continue
        for e in device_actions(store, d.hostname, since=start, limit=10000):
            if e.at < end and (e.data or {}).get("action") == "wake" and (e.data or {}).get("scheduled"):
                if e.data.get("outcome") in ("changed", "no_change"):
                    ok += 1
                else:
                    failed += 1
    notes = ("estimate: scheduled off hours x the kind's draw (fleet/inventory/power_watts.yml, "
             "site_power.watts); a device that failed to shut down or was woken by hand is counted "
             "as off",)
    return PowerReport(site.id, start, end, len(windows), tuple(lines), ok, failed, notes)
