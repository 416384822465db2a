"""Status at a glance: per site, per device, with open incidents.  Read-only.

"Is the borne at Florac France Services up?" -> :func:`site_status` / :func:`device_detail`.
The CLI (`fleet status`) and the dashboard call these same functions, so they never disagree.

Stale data never looks current: each device says when it was last polled, each site when its
last poll was, and anything older than ``stale_after`` (the CLI passes three poll intervals) is
``stale``; a site whose devices were never polled is ``unknown``, and :func:`last_poll` says
whether any poll ever wrote to the store.  The explanations are English (stable in JSON);
the faces translate them (they are in the message catalogue).
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from fleet.errors import ConfigError
from fleet.i18n import N_
from fleet.i18n import gettext as _
from fleet.incidents.lifecycle import IncidentView, view
from fleet.incidents.maintenance import Window, active_windows, covering
from fleet.inventory.hours import is_open, next_opening
from fleet.inventory.models import Device, Inventory, Site
from fleet.store.db import Store
from fleet.store.models import OPEN_STATUSES, DeviceEvent, Incident, Observation

REACHABILITY = "reachability"
BEHIND_PARENT = N_("behind a gateway/switch that is down")
SITE_CLOSED = N_("site closed")
OPENING_GRACE = N_("site just opened: grace period")


@dataclass(frozen=True, slots=True)
class CheckStatus:
    check: str
    status: str
    reason: str | None
    since: datetime | None
    at: datetime
    value: str | None
    suppressed: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "reason": self.reason,
            "since": _iso(self.since),
            "at": self.at.isoformat(),
            "value": self.value,
            "suppressed": self.suppressed,
        }


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    hostname: str
    kind: str
    site_id: str
    address: str
    state: str
    """up | down | degraded (answers, but a check fails) | unknown (never polled): the last
    state seen, which is ``stale`` when that was long ago."""
    reason: str | None
    since: datetime | None
    last_seen: datetime | None
    stale: bool
    """The last poll of this device is older than ``stale_after``: its state may be wrong."""
    explanation: str | None
    """Why a failure is expected: closed, maintenance, parent (behind a down gateway/switch)."""
    window: Window | None
    """The maintenance window covering the device now, if any."""
    checks: tuple[CheckStatus, ...]
    incidents: tuple[IncidentView, ...]
    events: tuple[tuple[datetime, str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.hostname,
            "kind": self.kind,
            "site": self.site_id,
            "address": self.address,
            "state": self.state,
            "reason": self.reason,
            "since": _iso(self.since),
            "last_seen": _iso(self.last_seen),
            "stale": self.stale,
            "explanation": self.explanation,
            "failing_checks": [c.check for c in self.checks if c.status == "down"],
            "checks": [c.to_json() for c in self.checks],
            "incidents": [i.to_json() for i in self.incidents],
            "events": [{"at": a.isoformat(), "kind": k, "detail": d} for a, k, d in self.events],
        }


@dataclass(frozen=True, slots=True)
class SiteStatus:
    id: str
    name: str
    timezone: str
    """The site's IANA timezone: its times are shown in it (``fleet status``, the dashboard)."""
    open: bool
    next_opening: datetime | None
    maintenance: str | None
    window: Window | None
    """The maintenance window on the whole site now, if any (``maintenance`` is its label)."""
    devices: tuple[DeviceStatus, ...]
    stale_after: timedelta | None = None

    @property
    def last_poll(self) -> datetime | None:
        """The last time any device of the site was polled (None: never)."""
        return max((d.last_seen for d in self.devices if d.last_seen is not None), default=None)

    @property
    def stale(self) -> bool:
        """Polled once, but not for longer than ``stale_after``: what it shows may be old."""
        return any(d.stale for d in self.devices)

    @property
    def incidents(self) -> tuple[IncidentView, ...]:
        return tuple(i for d in self.devices for i in d.incidents)

    def count(self, state: str) -> int:
        return sum(1 for d in self.devices if d.state == state)

    @property
    def summary(self) -> str:
        """incident | stale (not polled for too long) | unknown (never polled) | expected
        (failures explained by hours/maintenance) | watch (failing, no incident yet) | ok."""
        if self.incidents:
            return "incident"
        if self.stale:
            return "stale"
        if all(d.state == "unknown" for d in self.devices):
            return "unknown"
        if any(d.state in ("down", "degraded") for d in self.devices):
            return (
                "expected"
                if all(d.explanation for d in self.devices if d.state in ("down", "degraded"))
                else "watch"
            )
        return "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.id,
            "name": self.name,
            "timezone": self.timezone,
            "open": self.open,
            "next_opening": _iso(self.next_opening),
            "maintenance": self.maintenance,
            "last_poll": _iso(self.last_poll),
            "stale": self.stale,
            "summary": self.summary,
            "devices_up": self.count("up"),
            "devices_down": self.count("down"),
            "devices_degraded": self.count("degraded"),
            "devices_unknown": self.count("unknown"),
            "open_incidents": len(self.incidents),
            "devices": [d.to_json() for d in self.devices],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _device_status(
    device: Device,
    rows: Sequence[Observation],
    incidents: Sequence[Incident],
    window: Window | None,
    site_open: bool,
    now: datetime,
    stale_after: timedelta | None,
    events: Iterable[DeviceEvent] = (),
) -> DeviceStatus:
    checks = tuple(
        CheckStatus(r.check, r.status, r.reason, r.since, r.at, r.value, r.suppressed)
        for r in sorted(rows, key=lambda r: (r.check != REACHABILITY, r.check))
    )
    reach = next((c for c in checks if c.check == REACHABILITY), None)
    failing = [c for c in checks if c.status == "down" and c.check != REACHABILITY]
    if reach is None or reach.status == "unknown":
        state, reason, since = "unknown", None, None
    elif reach.status == "down":
        state, reason, since = "down", reach.reason, reach.since
    elif failing:
        state, reason, since = "degraded", ", ".join(c.check for c in failing), failing[0].since
    else:
        state, reason, since = "up", None, reach.since
    explanation = None
    if state in ("down", "degraded"):
        if window is not None:
            explanation = window.label
        elif reach is not None and reach.suppressed == "parent":
            explanation = BEHIND_PARENT
        elif state == "down" and not site_open:
            explanation = SITE_CLOSED
        elif reach is not None and reach.suppressed == "opening_grace":
            explanation = OPENING_GRACE
    last_seen = max((c.at for c in checks), default=None)
    return DeviceStatus(
        hostname=device.hostname,
        kind=device.kind.value,
        site_id=device.site_id,
        address=str(device.ip),
        state=state,
        reason=reason,
        since=since,
        last_seen=last_seen,
        stale=last_seen is not None and stale_after is not None and now - last_seen > stale_after,
        explanation=explanation,
        window=window,
        checks=checks,
        incidents=tuple(view(i) for i in incidents),
        events=tuple((e.at, e.kind, e.detail) for e in events),
    )


def last_poll(store: Store) -> datetime | None:
    """The last time any poll wrote to the store (None: no poll has run on it)."""
    with store.read() as session:
        return session.scalar(select(func.max(Observation.at)))


def site_json(status: SiteStatus, site: Site) -> dict[str, Any]:
    """``fleet status SITE --json`` and ``GET /api/status/SITE``: the site's status and who to
    call (the site's SAV supplier and référent)."""
    return status.to_json() | {"contacts": {"sav": site.sav.model_dump(),
                                            "referent": site.referent.model_dump()}}


def site_status(
    store: Store, sites: Sequence[Site], now: datetime, *, stale_after: timedelta | None = None
) -> list[SiteStatus]:
    """The status of each site and each of its devices (data older than ``stale_after`` is
    flagged stale)."""
    hostnames = [d.hostname for s in sites for d in s.devices]
    with store.read() as session:
        obs: dict[str, list[Observation]] = {}
        incs: dict[str, list[Incident]] = {}
        for chunk in _chunks(hostnames, 500):
            for r in session.scalars(select(Observation).where(Observation.device.in_(chunk))):
                obs.setdefault(r.device, []).append(r)
            for i in session.scalars(
                select(Incident)
                .where(Incident.device.in_(chunk), Incident.status.in_(OPEN_STATUSES))
                .order_by(Incident.opened_at)
            ):
                incs.setdefault(i.device, []).append(i)
        windows = active_windows(session, now)
        out = []
        for site in sites:
            site_open = is_open(site, now)
            site_window = next((w for w in windows if w.device is None and w.site_id == site.id), None)
            devices = tuple(
                _device_status(
                    d,
                    obs.get(d.hostname, []),
                    incs.get(d.hostname, []),
                    covering(windows, site.id, d.hostname, now),
                    site_open,
                    now,
                    stale_after,
                )
                for d in site.devices
            )
            out.append(
                SiteStatus(
                    id=site.id,
                    name=site.name,
                    timezone=site.timezone,
                    open=site_open,
                    next_opening=None if site_open else next_opening(site, now),
                    maintenance=site_window.label if site_window else None,
                    window=site_window,
                    devices=devices,
                    stale_after=stale_after,
                )
            )
        return out


def device_detail(
    store: Store, site: Site, device: Device, now: datetime, *, stale_after: timedelta | None = None
) -> DeviceStatus:
    """One device with every check, open incidents and its last device events."""
    with store.read() as session:
        rows = list(session.scalars(select(Observation).where(Observation.device == device.hostname)))
        incidents = list(
            session.scalars(
                select(Incident).where(Incident.device == device.hostname, Incident.status.in_(OPEN_STATUSES))
            )
        )
        events = list(
            session.scalars(
                select(DeviceEvent)
                .where(DeviceEvent.device == device.hostname)
                .order_by(DeviceEvent.at.desc())
                .limit(10)
            )
        )
        window = covering(active_windows(session, now), site.id, device.hostname, now)
        return _device_status(device, rows, incidents, window, is_open(site, now), now, stale_after,
                              events)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def fold(text: str) -> str:
    """For matching what a person types: no accents, no case, punctuation as spaces
    (``Nouméa`` -> ``noumea``, ``St-Germain`` -> ``st germain``)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in plain.casefold()).split())


def resolve_target(inventory: Inventory, target: str) -> Site | tuple[Site, Device]:
    """A site id, a hostname, or an unambiguous search: every word of ``target`` found in a site's
    id, name, commune or postcode, or in a device's hostname — without accents or case
    (``Noumea``, ``florac borne``)."""
    for site in inventory.sites:
        if site.id == target:
            return site
    for site in inventory.sites:
        for d in site.devices:
            if d.hostname == target:
                return site, d
    words = fold(target).split()
    if not words:
        raise ConfigError(_("an empty name is neither a site nor a device"))

    def hit(*fields: str) -> bool:
        hay = " ".join(fold(f) for f in fields)
        return all(w in hay for w in words)

    sites = [s for s in inventory.sites if hit(s.id, s.name, s.commune, s.postcode)]
    if len(sites) == 1:
        return sites[0]
    devices = [(s, d) for s in inventory.sites for d in s.devices if hit(d.hostname)]
    if not sites and len(devices) == 1:
        return devices[0]
    candidates = [s.id for s in sites] + [d.hostname for _s, d in devices]
    if candidates:
        shown = ", ".join(candidates[:8]) + (" ..." if len(candidates) > 8 else "")
        raise ConfigError(_("{target!r} is ambiguous: {candidates}").format(
            target=target, candidates=shown))
    names = [s.id for s in inventory.sites] + [d.hostname for d in inventory.devices]
    hint = difflib.get_close_matches(target, names, n=1)
    suffix = _(" (did you mean {name!r}?)").format(name=hint[0]) if hint else ""
    raise ConfigError(_("{target!r} is neither a site nor a device of the inventory").format(
        target=target) + suffix)
