"""Fetching and caching the sites' agendas on the controller.

Each site's ``site_agenda`` (an ``https://`` feed or an ``.ics`` file of the inventory) is
read by :func:`refresh`, checked (:func:`fleet.agenda.ics.parse`) and, when good, written to
the cache (``<agenda_cache>/<site>.ics``, atomically) with a small state file
(``<site>.json``: where from, when it was fetched, the last error).  When the feed is down or
gives something that is not an agenda, the last good copy stays and the error is recorded in
one line: :func:`cached` then returns that copy with its age, so the hall screen goes on
showing the semainier and says how old it is.

Only the controller reaches the feed; the screens read the page the controller serves.
Reading (:func:`cached`) never touches the network; :func:`current` refreshes first when the
copy is older than ``agenda_refresh_s`` (at most one attempt per period, even when it fails).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from icalendar import Calendar

from fleet import settings
from fleet.agenda.ics import parse
from fleet.errors import AgendaError
from fleet.inventory.models import Inventory, Site

MAX_BYTES = 5 * 1024 * 1024
"""A semainier is a few kilobytes; anything above this is not one."""
TIMEOUT_S = 10.0

Fetch = Callable[[str], bytes]
"""Reads a feed address (injected: tests use a real local server or a function)."""


def http_fetch(url: str) -> bytes:
    """GET the feed (redirects followed, bounded in time and size)."""
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=True,
                          headers={"User-Agent": "Relais agenda (hall screen)"}) as client, \
                client.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise AgendaError(f"{url}: the calendar server answered HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise AgendaError(f"{url}: more than {MAX_BYTES // 1024 // 1024} MB: not a "
                                      "semainier")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise AgendaError(f"{url}: cannot fetch the calendar ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:160]})") from exc


def cache_dir(arg: Path | None = None) -> Path:
    """``agenda_cache``, by default ``agenda/`` under the state directory."""
    chosen = settings.get("agenda_cache", arg)
    if chosen is not None:
        return Path(chosen)
    return Path(settings.get("state_dir")) / "agenda"


def source_of(site: Site, inventory_root: Path) -> str | None:
    """The site's feed address, or the absolute path of its agenda file; None: no agenda."""
    if site.agenda is None:
        return None
    if "://" in site.agenda:
        return site.agenda
    return str((inventory_root / site.agenda).resolve())


@dataclass(frozen=True, slots=True)
class CachedAgenda:
    """The last good agenda of a site, and what became of the last attempt."""

    site_id: str
    source: str | None
    calendar: Calendar | None
    fetched_at: datetime | None
    """When the good copy was read (None: never)."""
    attempted_at: datetime | None
    error: str | None
    """The last attempt's error, in one line (None: the last attempt succeeded)."""

    def age(self, now: datetime) -> timedelta | None:
        return None if self.fetched_at is None else now - self.fetched_at

    @property
    def stale(self) -> bool:
        """The feed failed since the copy was taken: show the copy with its age."""
        return self.error is not None


@dataclass(frozen=True, slots=True)
class RefreshResult:
    site_id: str
    source: str | None
    ok: bool
    message: str

    def to_json(self) -> dict[str, object]:
        return {"site": self.site_id, "source": self.source, "ok": self.ok,
                "message": self.message}


def _paths(cache: Path, site_id: str) -> tuple[Path, Path]:
    return cache / f"{site_id}.ics", cache / f"{site_id}.json"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _state(cache: Path, site_id: str) -> dict[str, object]:
    try:
        data = json.loads(_paths(cache, site_id)[1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def refresh(site: Site, inventory_root: Path, cache: Path, now: datetime,
            fetch: Fetch = http_fetch) -> RefreshResult:
    """Read the site's agenda now; keep it when it is good, else keep the last good copy and
    record the error.  Never raises for a bad feed: the result says what happened."""
    source = source_of(site, inventory_root)
    ics, state_file = _paths(cache, site.id)
    state = _state(cache, site.id)
    if source is None:
        return RefreshResult(site.id, None, True, "no agenda (site_agenda not set)")
    label = f"agenda of {site.id} ({site.agenda})"
    try:
        if "://" in source:
            data = fetch(source)
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise AgendaError(f"{source}: cannot read the agenda file ({exc.strerror})") from exc
        parse(data, label)
    except AgendaError as exc:
        message = str(exc)
        state.update({"source": source, "attempted_at": now.isoformat(), "error": message})
        _write_atomic(state_file, json.dumps(state, sort_keys=True).encode())
        kept = "the last good copy is kept" if ics.is_file() else "no earlier copy to show"
        return RefreshResult(site.id, source, False, f"{message}; {kept}")
    _write_atomic(ics, data)
    state = {"source": source, "fetched_at": now.isoformat(), "attempted_at": now.isoformat(),
             "error": None}
    _write_atomic(state_file, json.dumps(state, sort_keys=True).encode())
    return RefreshResult(site.id, source, True, f"{len(data)} bytes")


def cached(site: Site, inventory_root: Path, cache: Path) -> CachedAgenda:
    """The last good copy and the last attempt (no network, no write)."""
    ics, _state_file = _paths(cache, site.id)
    state = _state(cache, site.id)
    source = source_of(site, inventory_root)
    calendar = None
    fetched = _time(state.get("fetched_at"))
    if ics.is_file() and state.get("source") in (source, None):
        try:
            calendar = parse(ics.read_bytes(), f"cached agenda of {site.id}")
        except (OSError, AgendaError):
            calendar, fetched = None, None
    elif state.get("source") not in (source, None):
        fetched = None  # the inventory names another agenda now: the old copy is not it
    error = state.get("error")
    return CachedAgenda(site.id, source, calendar, fetched if calendar is not None else None,
                        _time(state.get("attempted_at")), error if isinstance(error, str) else None)


def current(site: Site, inventory_root: Path, cache: Path, now: datetime,
            max_age: timedelta | None = None, fetch: Fetch = http_fetch) -> CachedAgenda:
    """The cached agenda, refreshed first when the last attempt is older than ``max_age``
    (``agenda_refresh_s``) or the source changed."""
    period = max_age if max_age is not None else timedelta(seconds=settings.get("agenda_refresh_s"))
    have = cached(site, inventory_root, cache)
    due = (have.source is not None
           and (have.attempted_at is None or now - have.attempted_at >= period
                or (have.calendar is None and have.error is None)))
    if due:
        refresh(site, inventory_root, cache, now, fetch)
        have = cached(site, inventory_root, cache)
    return have


def refresh_all(inventory: Inventory, cache: Path, now: datetime, site_ids: list[str] | None = None,
                fetch: Fetch = http_fetch) -> list[RefreshResult]:
    """Refresh the agendas of these sites (default: every site that has one)."""
    root = Path(inventory.root)
    sites = ([inventory.site(s) for s in site_ids] if site_ids
             else [s for s in inventory.sites if s.agenda is not None])
    return [refresh(s, root, cache, now, fetch) for s in sites]


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["CachedAgenda", "Fetch", "RefreshResult", "cache_dir", "cached", "current",
           "http_fetch", "refresh", "refresh_all", "source_of", "utcnow"]
