"""What each page shows, assembled from the engine's functions (the same ones the CLI calls:
:func:`fleet.incidents.status.site_status`, :mod:`fleet.incidents.lifecycle`, ...).

The overview of a national network (25,000 devices) is computed once per change of the store
(a cheap version key: the newest state change, incident event and maintenance window) or
after :attr:`WebConfig.overview_ttl_s`, whichever comes first, then served from memory; every
other page reads only what it shows (one site, one device, one page of incidents).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select

from fleet.audit.availability import for_period, site_summary
from fleet.incidents.lifecycle import IncidentView
from fleet.incidents.maintenance import Window, list_windows
from fleet.incidents.status import SiteStatus, site_status
from fleet.inventory.models import Device, Inventory, Site
from fleet.store.db import Store
from fleet.store.models import IncidentEvent, MaintenanceWindow, SampleRow, StateChange
from fleet.store.outbox import WAITING, OutboxEntry
from fleet.web import charts, mapsvg
from fleet.words import SEVERITIES

Clock = Callable[[], datetime]
SLOW_OVERVIEW_S = 0.5
"""An overview slower than this to compute is refreshed in the background (stale while
revalidating); a faster one before answering."""
RANK = MappingProxyType({s: i for i, s in enumerate(reversed(SEVERITIES), start=1)})  # info 1 ... critical 4


def worst(incidents: Sequence[IncidentView]) -> str | None:
    """The worst severity among open incidents (None: none open)."""
    best = max(incidents, key=lambda i: RANK.get(i.severity, 0), default=None)
    return best.severity if best is not None else None


def site_class(s: SiteStatus) -> str:
    """The map colour of a site: its worst open incident, else its summary.  A site closed
    with its devices off as expected is ``st-expected``, never red."""
    sev = worst(s.incidents)
    if sev is not None:
        return f"st-{sev}" if sev in RANK else "st-major"
    return f"st-{s.summary}"


@dataclass(frozen=True, slots=True)
class SiteRow:
    status: SiteStatus
    site: Site
    css: str
    severity: str | None

    @property
    def rank(self) -> tuple[int, int, str]:
        order = {"st-watch": 1, "st-unknown": 0, "st-expected": 0, "st-ok": 0}
        base = 10 + RANK.get(self.severity or "", 0) if self.severity else order.get(self.css, 0)
        return (-base, -len(self.status.incidents), self.site.id)


@dataclass(frozen=True, slots=True)
class Overview:
    rows: tuple[SiteRow, ...]
    """Worst first."""
    map: mapsvg.MapView
    computed_at: datetime
    totals: Mapping[str, int]
    statuses: tuple[SiteStatus, ...]
    """In inventory order: what ``fleet status --json`` lists."""


@dataclass
class _Cached:
    key: Any
    value: Any
    at: float


@dataclass
class Caches:
    """Per-application memory (never module-level): the overview and availability figures."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    overview: _Cached | None = None
    availability: dict[tuple[str, int], _Cached] = field(default_factory=dict)
    fragments: dict[Any, _Cached] = field(default_factory=dict)
    compute_s: float = 0.0
    """How long the last overview computation took."""


def store_version(store: Store) -> tuple[Any, ...]:
    """Changes when anything the overview shows may have changed."""
    with store.read() as session:
        return tuple(
            session.execute(
                select(
                    select(func.max(StateChange.id)).scalar_subquery(),
                    select(func.max(IncidentEvent.id)).scalar_subquery(),
                    select(func.max(MaintenanceWindow.id)).scalar_subquery(),
                    select(func.count(MaintenanceWindow.ended_at)).scalar_subquery(),
                )
            ).one()
        )


class Views:
    def __init__(self, store: Store, inventory: Inventory, clock: Clock, ttl: float) -> None:
        self.store = store
        self.inventory = inventory
        self.clock = clock
        self.ttl = ttl
        self.caches = Caches()
        self.sites: dict[str, Site] = {s.id: s for s in inventory.sites}
        self.devices: dict[str, Device] = {d.hostname: d for s in inventory.sites for d in s.devices}

    # ------------------------------------------------------------------- overview ------

    def overview(self) -> Overview:
        """The overview, recomputed when the store changed or after the TTL.  A recomputation
        that took long (the national network: seconds) happens in the background while the
        previous overview is served (its "computed at" says how old it is); a quick one (a
        department) happens before answering, so a small network always sees its last change."""
        version = store_version(self.store)
        cached = self.caches.overview
        if cached is not None and cached.key == version and time.monotonic() - cached.at < self.ttl:
            hit: Overview = cached.value
            return hit
        if cached is not None and self.caches.compute_s > SLOW_OVERVIEW_S:
            if self.caches.lock.acquire(blocking=False):
                threading.Thread(target=self._refresh, args=(version,), daemon=True).start()
            stale: Overview = cached.value
            return stale
        with self.caches.lock:  # one computation at a time; the others wait for it
            cached = self.caches.overview
            if cached is not None and cached.key == version and time.monotonic() - cached.at < self.ttl:
                again: Overview = cached.value
                return again
            return self._store_overview(version)

    def _refresh(self, version: tuple[Any, ...]) -> None:
        try:
            self._store_overview(version)
        finally:
            self.caches.lock.release()

    def _store_overview(self, version: tuple[Any, ...]) -> Overview:
        started = time.monotonic()
        value = self._compute_overview()
        self.caches.compute_s = time.monotonic() - started
        self.caches.overview = _Cached(version, value, time.monotonic())
        self.caches.fragments = {}
        return value

    def fragment(self, key: Any, make: Callable[[], str]) -> str:
        """A rendered piece of the overview (the map), kept while the overview is."""
        ov = self.caches.overview
        full = (id(ov), key)
        hit = self.caches.fragments.get(full)
        if hit is not None:
            text: str = hit.value
            return text
        text = make()
        self.caches.fragments[full] = _Cached(full, text, time.monotonic())
        return text

    def _compute_overview(self) -> Overview:
        now = self.clock()
        statuses = site_status(self.store, self.inventory.sites, now)
        rows = []
        totals: dict[str, int] = {"sites": 0, "open": 0, "closed": 0, "up": 0, "down": 0, "degraded": 0,
                                  "unknown": 0, "incidents": 0}  # fmt: skip
        for s in statuses:
            site = self.sites[s.id]
            rows.append(SiteRow(s, site, site_class(s), worst(s.incidents)))
            totals["sites"] += 1
            totals["open" if s.open else "closed"] += 1
            for state in ("up", "down", "degraded", "unknown"):
                totals[state] += s.count(state)
            totals["incidents"] += len(s.incidents)
            for sev in (i.severity for i in s.incidents):
                totals[f"sev_{sev}"] = totals.get(f"sev_{sev}", 0) + 1
        rows.sort(key=lambda r: r.rank)
        points = [
            mapsvg.Point(
                r.site.id, r.site.name, r.site.coordinates.lat, r.site.coordinates.lon,
                r.css + ("" if r.status.open else " closed"), r.css, r.site.postcode[:2],
            )
            for r in rows
        ]
        titles = {r.site.id: r.site.commune for r in rows}  # an inset is named after its first site
        return Overview(tuple(rows), mapsvg.build(points, titles), now, totals, tuple(statuses))

    # ------------------------------------------------------------------ site page ------

    def availability(self, site: Site, days: int) -> float | None:
        now = self.clock()
        key = (site.id, days)
        hit = self.caches.availability.get(key)
        if hit is not None and time.monotonic() - hit.at < 300:
            value: float | None = hit.value
            return value
        figures = for_period(self.store, site, site.devices, now - timedelta(days=days), now)
        value = site_summary(figures)["percent"]
        self.caches.availability[key] = _Cached(key, value, time.monotonic())
        return value

    def windows_of(self, site: Site, now: datetime) -> list[Window]:
        names = {d.hostname for d in site.devices}
        return [w for w in list_windows(self.store, at=now)
                if w.site_id == site.id or (w.device is not None and w.device in names)]  # fmt: skip

    # ---------------------------------------------------------------- device page ------

    def health(self, device: Device, start: datetime, end: datetime) -> dict[str, Any]:
        """Charts of a device's samples over [start, end), downsampled to at most 240 points."""
        with self.store.read() as session:
            rows = session.execute(
                select(SampleRow.at, SampleRow.ok, SampleRow.elapsed_ms, SampleRow.metrics)
                .where(SampleRow.device == device.hostname, SampleRow.at >= start, SampleRow.at < end)
                .order_by(SampleRow.at)
            ).all()
        if rows:  # the charts span what was recorded (a device polled for 2 hours: 2 hours)
            start = max(start, rows[0].at)
        strip = charts.strip([(r.at, bool(r.ok)) for r in rows], start, end)
        keys = ["elapsed_ms", "cpu_load_pct", "mem_used_pct", "disk_used_pct:/", "ups_charge_pct",
                "if_up_count"]  # fmt: skip
        supplies = sorted({k for r in rows for k in (r.metrics or {}) if k.startswith("supply_pct:")})
        series: dict[str, list[tuple[datetime, float]]] = {k: [] for k in [*keys, *supplies]}
        for r in rows:
            if r.ok:
                series["elapsed_ms"].append((r.at, float(r.elapsed_ms)))
            for k, v in (r.metrics or {}).items():
                if k in series and isinstance(v, int | float) and not isinstance(v, bool):
                    series[k].append((r.at, float(v)))
        out = []
        for k, points in series.items():
            if not points:
                continue
            percent = k.endswith("_pct") or "_pct:" in k
            thin = _downsample(points, start, end, 240)
            unit, high = ("%", 100.0) if percent else ("", None)
            out.append(charts.line(k, unit, thin, start, end, high=high))
        return {"strip": strip, "charts": out, "samples": len(rows), "start": start}

    def handoff_waiting(self) -> int:
        with self.store.read() as session:
            return int(session.scalar(
                select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status.in_(WAITING))
            ) or 0)  # fmt: skip


def _downsample(
    points: Sequence[tuple[datetime, float]], start: datetime, end: datetime, buckets: int
) -> list[tuple[datetime, float]]:
    if len(points) <= buckets:
        return list(points)
    width = (end - start) / buckets
    out: list[tuple[datetime, float]] = []
    current: list[float] = []
    index = -1
    at = start
    for t, v in points:
        i = int((t - start) / width)
        if i != index and current:
            out.append((at, sum(current) / len(current)))
            current = []
        if i != index:
            index, at = i, start + width * i + width / 2
        current.append(v)
    if current:
        out.append((at, sum(current) / len(current)))
    return out
