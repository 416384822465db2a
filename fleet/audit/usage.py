"""Usage of the public PCs and bornes, from the records their session wipe writes.

Every wipe appends one JSON line to ``/var/log/relais/wipe.jsonl`` on the station (role
``session_wipe``): time, host, trigger, outcome, per-item counts and, when a guest session
ended, its length in seconds.  No identity is in it, and none is kept here: the store keeps
**counts per station per local day** (:class:`fleet.store.audit.UsageDay`).

Collection (:func:`collect`) fetches the record files over SSH with the one fetch path of
:mod:`fleet.remote.fetch` (the one the connection log uses) and imports them
(:func:`import_dir`).  It is idempotent: per station a cursor keeps the time of the last record
counted and digests of the records at exactly that time, so a file collected twice, or a
record seen again in a rotated copy, is counted once.  A record older than the cursor that was
never counted (the station's clock went back) is not counted either.

Parsing is tolerant (:func:`parse_lines`): unknown fields (e.g. ``residue``, ``canary``)
are ignored; a line that is not a record is skipped and reported as ``file:line``.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from fleet.errors import ConfigError
from fleet.inventory.models import Device, DeviceKind, Site
from fleet.remote.fetch import fetch_files
from fleet.remote.pyinfra_run import Target
from fleet.store.audit import UsageCursor, UsageDay
from fleet.store.db import Store

RECORD = "/var/log/relais/wipe.jsonl"
"""Where ``relais-wipe`` writes (the role's ``session_wipe_record`` default)."""
RECORD_FILES = re.compile(r"^wipe\.jsonl(\.\d+)?$")
"""The record and its plain rotated copies (``wipe.jsonl.1``); compressed ones are not read."""
SESSION_TRIGGERS = frozenset({"logout", "idle", "max-session"})
"""Triggers that end a guest session (the others: nightly, boot, remote, deploy, manual...)."""
STATIONS = (DeviceKind.PUBLIC_PC, DeviceKind.BORNE)


@dataclass(frozen=True, slots=True)
class WipeEvent:
    at: datetime
    trigger: str
    ok: bool
    session_seconds: int | None
    key: str
    """Digest of the record (what makes it "already counted")."""

    @property
    def is_session(self) -> bool:
        return self.trigger in SESSION_TRIGGERS or self.session_seconds is not None


@dataclass(frozen=True, slots=True)
class Parsed:
    events: tuple[WipeEvent, ...]
    skipped: tuple[str, ...] = ()
    """``file:line: why`` of each line that is not a record."""


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(UTC) if t.tzinfo is not None else None


def parse_lines(lines: Iterable[str], source: str) -> Parsed:
    """Wipe records from JSON lines; what is not one is skipped with its ``file:line``."""
    events: list[WipeEvent] = []
    skipped: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            skipped.append(f"{source}:{number}: not a JSON record")
            continue
        if not isinstance(data, dict):
            skipped.append(f"{source}:{number}: not a JSON object")
            continue
        at = _time(data.get("time"))
        if at is None:
            skipped.append(f"{source}:{number}: time {data.get('time')!r} is not an ISO time with its offset")
            continue
        trigger = data.get("trigger")
        if not isinstance(trigger, str) or not trigger:
            skipped.append(f"{source}:{number}: no trigger")
            continue
        seconds = data.get("session_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            seconds = None
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        events.append(
            WipeEvent(
                at=at,
                trigger=trigger,
                ok=data.get("outcome") == "ok",
                session_seconds=seconds,
                key=hashlib.sha256(canonical.encode()).hexdigest()[:32],
            )
        )
    return Parsed(tuple(events), tuple(skipped))


def read_dir(folder: Path) -> Parsed:
    """Every record file of a station's fetched folder (rotated copies first)."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a directory")
    files = sorted(
        (p for p in folder.iterdir() if RECORD_FILES.match(p.name)),
        key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0,
    )
    events: list[WipeEvent] = []
    skipped: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        parsed = parse_lines(text.splitlines(), str(path))
        events.extend(parsed.events)
        skipped.extend(parsed.skipped)
    return Parsed(tuple(events), tuple(skipped))


# ------------------------------------------------------------------------ aggregation ----


@dataclass(slots=True)
class DayCounts:
    sessions: int = 0
    session_seconds: int = 0
    lengths: dict[str, int] = field(default_factory=dict)
    wipes: int = 0
    wipe_failures: int = 0
    triggers: dict[str, int] = field(default_factory=dict)

    def add(self, e: WipeEvent) -> None:
        self.wipes += 1
        self.wipe_failures += 0 if e.ok else 1
        self.triggers[e.trigger] = self.triggers.get(e.trigger, 0) + 1
        if e.is_session:
            self.sessions += 1
            if e.session_seconds is not None:
                self.session_seconds += e.session_seconds
                minute = str(e.session_seconds // 60)
                self.lengths[minute] = self.lengths.get(minute, 0) + 1


def by_day(events: Iterable[WipeEvent], tz: ZoneInfo) -> dict[date, DayCounts]:
    out: dict[date, DayCounts] = {}
    for e in events:
        out.setdefault(e.at.astimezone(tz).date(), DayCounts()).add(e)
    return out


@dataclass(frozen=True, slots=True)
class ImportResult:
    device: str
    records: int
    counted: int
    already: int
    """Records counted before (or older than the last one counted)."""
    skipped: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "device": self.device,
            "records": self.records,
            "counted": self.counted,
            "already_counted": self.already,
            "skipped": list(self.skipped),
        }


def import_events(store: Store, site: Site, device: str, parsed: Parsed, now: datetime) -> ImportResult:
    """Count the records not counted yet into ``usage_days`` and move the cursor, in one
    transaction (a crash counts all of them or none)."""
    with store.write(lock=f"usage:{device}") as s:
        cursor = s.get(UsageCursor, device)
        last = cursor.last_at if cursor is not None else None
        known = set((cursor.last_keys or {}).get("keys", [])) if cursor is not None else set()
        fresh: list[WipeEvent] = []
        seen: set[str] = set()
        already = 0
        for e in sorted(parsed.events, key=lambda e: e.at):
            duplicate = e.key in seen
            seen.add(e.key)
            if duplicate or (last is not None and (e.at < last or (e.at == last and e.key in known))):
                already += 1
                continue
            fresh.append(e)
        if fresh:
            for day, counts in by_day(fresh, site.tz).items():
                row = s.get(UsageDay, (device, day.isoformat()))
                if row is None:
                    row = UsageDay(
                        device=device,
                        day=day.isoformat(),
                        site_id=site.id,
                        sessions=0,
                        session_seconds=0,
                        lengths={},
                        wipes=0,
                        wipe_failures=0,
                        triggers={},
                        updated_at=now,
                    )
                    s.add(row)
                row.sessions += counts.sessions
                row.session_seconds += counts.session_seconds
                row.lengths = _add(row.lengths, counts.lengths)
                row.wipes += counts.wipes
                row.wipe_failures += counts.wipe_failures
                row.triggers = _add(row.triggers, counts.triggers)
                row.updated_at = now
            newest = max(e.at for e in fresh)
            keys = {e.key for e in fresh if e.at == newest}
            if last is not None and newest == last:
                keys |= known
            if cursor is None:
                cursor = UsageCursor(device=device, last_at=newest, last_keys={}, collected_at=now)
                s.add(cursor)
            cursor.last_at = newest
            cursor.last_keys = {"keys": sorted(keys)}
        if cursor is not None:
            cursor.collected_at = now
    return ImportResult(device, len(parsed.events), len(fresh), already, parsed.skipped)


def _add(into: Mapping[str, object], more: Mapping[str, int]) -> dict[str, int]:
    out = {k: int(v) for k, v in into.items() if isinstance(v, int)}
    for k, v in more.items():
        out[k] = out.get(k, 0) + v
    return out


def import_dir(store: Store, site: Site, device: str, folder: Path, now: datetime) -> ImportResult:
    """Import a copy of one station's record files (as fetched, or given by hand)."""
    return import_events(store, site, device, read_dir(folder), now)


# ------------------------------------------------------------------------- collection ----


@dataclass(frozen=True, slots=True)
class CollectResult:
    site_id: str
    imported: tuple[ImportResult, ...]
    unreachable: Mapping[str, str]

    def to_json(self) -> dict[str, object]:
        return {
            "site": self.site_id,
            "imported": [r.to_json() for r in self.imported],
            "unreachable": dict(self.unreachable),
        }


def stations(site: Site) -> list[Device]:
    return [d for d in site.devices if d.kind in STATIONS]


def collect(store: Store, site: Site, targets: Sequence[Target], now: datetime) -> CollectResult:
    """Fetch the wipe records of the site's stations over SSH and count them (idempotent).
    A station that cannot be reached is reported, the others are counted."""
    wanted = {d.hostname for d in stations(site)}
    chosen = [t for t in targets if t.hostname in wanted]
    results: list[ImportResult] = []
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="relais-usage-") as tmp:
        dest = Path(tmp)
        for outcome in fetch_files(chosen, dest, RECORD + "*", RECORD_FILES):
            if not outcome.ok:
                failed[outcome.hostname] = outcome.message
                continue
            folder = dest / outcome.hostname
            folder.mkdir(exist_ok=True)
            results.append(import_dir(store, site, outcome.hostname, folder, now))
    return CollectResult(site.id, tuple(results), failed)


# ---------------------------------------------------------------------------- reading ----


@dataclass(frozen=True, slots=True)
class UsageRow:
    device: str
    day: date
    sessions: int
    session_seconds: int
    lengths: Mapping[str, int]
    wipes: int
    wipe_failures: int


def usage_rows(store: Store, site_ids: Sequence[str], first: date, last: date) -> list[UsageRow]:
    """Stored counts of these sites for local days ``first`` .. ``last`` (inclusive)."""
    with store.read() as s:
        rows = s.scalars(
            select(UsageDay)
            .where(
                UsageDay.site_id.in_(site_ids),
                UsageDay.day >= first.isoformat(),
                UsageDay.day <= last.isoformat(),
            )
            .order_by(UsageDay.device, UsageDay.day)
        ).all()
        return [
            UsageRow(
                r.device,
                date.fromisoformat(r.day),
                r.sessions,
                r.session_seconds,
                {k: int(v) for k, v in (r.lengths or {}).items()},
                r.wipes,
                r.wipe_failures,
            )
            for r in rows
        ]


def median_minutes(rows: Iterable[UsageRow]) -> float | None:
    """Median session length in minutes, from the per-minute histograms (whole minutes)."""
    values: list[int] = []
    for r in rows:
        for minute, n in r.lengths.items():
            values.extend([int(minute)] * int(n))
    return float(statistics.median(values)) if values else None
