"""Opening hours (the site's semainier), in one place.

A site's week is a list of local ranges per weekday; a range may cross midnight
(``20:00-01:00+1``).  Everything else derives from :func:`intervals`, which turns the week
into absolute UTC intervals: a range opens at the first instant the site's wall clock shows
its start and closes at the first instant it shows its end.  That one rule handles DST:
on the spring-forward night a range starting at 02:30 opens at 03:00 (the wall clock jumps
over 02:30); on the fall-back night a range is open once, from the first 01:00 to the first
02:30, not twice.  ``is_open``, ``next_opening`` and ``next_closing`` all read the same
intervals, so they can never disagree.

"Is the site open now?" is answered here once, by :func:`open_now` (open or not, since when,
until when, next opening, and the site's wall-clock time with its zone label); the monitor,
the incident status, the CLI and the web read it rather than computing it again.  Times shown
for a site are site-local with their zone label (:func:`format_site_time`: ``2026-03-02 09:15
CET``, ``… 07:30 UTC+11`` in Nouméa); a site-local time typed by a user becomes an instant with
:func:`site_instant`.  Parsing and checking a semainier written in the inventory is the
inventory contract's job (:class:`fleet.inventory.variables.WeekVars`, from
:func:`parse_range`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fleet.inventory.models import WEEKDAYS, Closure, OpeningHours, OpeningRange, Site

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})(\+1)?\s*$")
DAY_NAMES_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


# --------------------------------------------------------------------------- parsing ----


def parse_range(text: object) -> OpeningRange:
    """Parse ``HH:MM-HH:MM`` (end ``24:00`` allowed) or ``HH:MM-HH:MM+1`` (crosses midnight).

    Raises ValueError with a message a technician can act on."""
    if not isinstance(text, str):
        raise ValueError(
            f"opening range must be a quoted string like '09:00-12:00', got {text!r}"
            + (" (unquoted times are read as numbers by YAML)" if isinstance(text, int) else "")
        )
    m = _RANGE.match(text)
    if not m:
        raise ValueError(f"opening range {text!r} is not of the form 'HH:MM-HH:MM'")
    h1, m1, h2, m2, plus = m.groups()
    start_h, start_m, end_h, end_m = int(h1), int(m1), int(h2), int(m2)
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise ValueError(f"opening range {text!r} has an impossible time")
    start = start_h * 60 + start_m
    end = end_h * 60 + end_m
    if plus:
        if end_h == 24:
            raise ValueError(f"opening range {text!r}: write '24:00' without '+1'")
        if end >= start:
            raise ValueError(f"opening range {text!r} would last 24 hours or more")
        return OpeningRange(start=start, end=end + 1440)
    if end <= start:
        raise ValueError(
            f"opening range {text!r} is reversed (ends before it starts); "
            f"write '{text.strip()}+1' if it really crosses midnight"
        )
    return OpeningRange(start=start, end=end)


# --------------------------------------------------------------------------- logic ------


def _hours(obj: Site | OpeningHours) -> OpeningHours:
    return obj.hours if isinstance(obj, Site) else obj


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("opening-hours functions need an aware datetime (with a timezone)")
    return instant.astimezone(UTC)


def wall_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """First UTC instant at which the wall clock in ``tz`` shows ``local`` or later.

    Ordinary times map one-to-one; an ambiguous time (fall back) maps to its first
    occurrence; a time skipped by a DST jump maps to the instant of the jump."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # In a gap: fold=1 reads it with the offset after the jump (an instant before the jump),
    # fold=0 with the offset before (after the jump).  Search between them, by seconds.
    lo = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = first
    if lo > hi:
        lo, hi = hi, lo
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= local:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond == 0 else hi


def _closed_dates(closures: Iterable[Closure]) -> list[tuple[date, date]]:
    return [(date.fromisoformat(c.start), date.fromisoformat(c.end)) for c in closures]


def intervals(
    hours: Site | OpeningHours, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Opening intervals (UTC, half-open, merged when they touch) that meet [start, end)."""
    h = _hours(hours)
    start, end = _aware(start), _aware(end)
    tz = h.tz
    closed = _closed_dates(h.closures)
    first_day = start.astimezone(tz).date() - timedelta(days=1)
    last_day = end.astimezone(tz).date() + timedelta(days=1)
    out: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        if not any(a <= day <= b for a, b in closed):
            midnight = datetime(day.year, day.month, day.day)
            for r in h.week.get(WEEKDAYS[day.weekday()], ()):
                o = wall_to_utc(midnight + timedelta(minutes=r.start), tz)
                c = wall_to_utc(midnight + timedelta(minutes=r.end), tz)
                if c > o and c > start and o < end:
                    out.append((o, c))
        day += timedelta(days=1)
    out.sort()
    merged: list[tuple[datetime, datetime]] = []
    for o, c in out:
        if merged and o <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(c, merged[-1][1]))
        else:
            merged.append((o, c))
    return merged


def is_open(hours: Site | OpeningHours, instant: datetime) -> bool:
    """Is the site open at this instant (aware datetime, any timezone)?"""
    t = _aware(instant)
    return any(o <= t < c for o, c in intervals(hours, t, t + timedelta(seconds=1)))


def _next_edge(hours: Site | OpeningHours, after: datetime, opening: bool) -> datetime | None:
    t = _aware(after)
    window = timedelta(days=8)
    horizon = t + timedelta(days=800)  # closed for more than two years: no "next" edge
    lo = t
    while lo < horizon:
        hi = lo + window
        for o, c in intervals(hours, lo, hi):
            if opening and o > t:
                return o
            # A closing edge at or past the window's end may be where intervals() stopped
            # merging, not where the site closes: look again from the next window.
            if not opening and t < c < hi:
                return c
        lo = hi
    return None


def next_opening(hours: Site | OpeningHours, after: datetime) -> datetime | None:
    """The next instant strictly after ``after`` at which the site opens (UTC), or None."""
    return _next_edge(hours, after, opening=True)


def next_closing(hours: Site | OpeningHours, after: datetime) -> datetime | None:
    """The next instant strictly after ``after`` at which the site closes (UTC), or None."""
    return _next_edge(hours, after, opening=False)


@dataclass(frozen=True, slots=True)
class OpenState:
    """Where a site stands at an instant: open, or closed (its devices expected off)."""

    open: bool
    since: datetime | None
    """Open: when the current opening began; closed: when the site last closed (UTC).
    None: longer ago than the horizon."""
    until: datetime | None
    """Open: when it closes (``next_closing``); closed: when it opens (``next_opening``).
    None: not within the horizon."""


HORIZON = timedelta(days=800)
"""How far :func:`open_state` looks by default, as ``next_opening``/``next_closing`` do."""


def open_state(
    hours: Site | OpeningHours, instant: datetime, *, horizon: timedelta = HORIZON
) -> OpenState:
    """Is the site open at this instant, since when and until when: the one answer the monitor,
    the status and the faces share (``open`` is :func:`is_open`; within the horizon ``until``
    is :func:`next_closing` or :func:`next_opening`; all read :func:`intervals`).  A caller
    that only needs to know whether an edge is recent passes a short ``horizon`` (cheaper for a
    site open day and night)."""
    t = _aware(instant)
    span = min(timedelta(days=2), horizon)
    while True:
        lo, hi = t - span, t + span
        found = intervals(hours, lo, hi)
        before = [iv for iv in found if iv[0] <= t]
        after = [iv for iv in found if iv[0] > t]
        is_open_now = bool(before) and t < before[-1][1]
        if is_open_now:
            start, end = before[-1]
            # intervals() builds ranges from the day before ``lo``: a start after ``lo`` is the
            # real one (nothing earlier can merge into it); same for an end before ``hi``.
            since, until = (start if start > lo else None), (end if end < hi else None)
        else:
            since = before[-1][1] if before else None
            until = after[0][0] if after else None
        if (since is not None and until is not None) or span >= horizon:
            return OpenState(is_open_now, since, until)
        span = min(span * 4, horizon)


def open_duration(hours: Site | OpeningHours, start: datetime, end: datetime) -> timedelta:
    """Total opening time within [start, end): the denominator of availability figures."""
    s, e = _aware(start), _aware(end)
    total = timedelta()
    for o, c in intervals(hours, s, e):
        total += min(c, e) - max(o, s)
    return total


def describe_week(hours: Site | OpeningHours) -> dict[str, list[str]]:
    h = _hours(hours)
    return {d: [str(r) for r in h.week.get(d, ())] for d in WEEKDAYS}


# ----------------------------------------------------------------- what a face shows ----


@dataclass(frozen=True, slots=True)
class OpenNow:
    """:func:`open_state` with what a status line shows.

    Instants are UTC.  ``since`` is the start of the current opening (None: longer ago than the
    horizon); ``until`` the next closing when open; ``next_opening`` is set only when closed.
    ``local`` is the instant on the site's wall clock and ``zone`` its zone label there (``CET``,
    ``CEST``, ``UTC+11``)."""

    open: bool
    since: datetime | None
    until: datetime | None
    next_opening: datetime | None
    local: datetime
    zone: str
    timezone: str

    def to_json(self) -> dict[str, object]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None

        return {"open": self.open, "since": iso(self.since), "until": iso(self.until),
                "next_opening": iso(self.next_opening), "local": self.local.isoformat(),
                "zone": self.zone, "timezone": self.timezone}


def open_now(hours: Site | OpeningHours, instant: datetime) -> OpenNow:
    """:func:`open_state` at ``instant`` (aware) dressed for a face: site-local time, zone label,
    next opening when closed.  ``open`` equals :func:`is_open`."""
    t = _aware(instant)
    state = open_state(hours, t)
    since = state.since if state.open else None
    return OpenNow(
        open=state.open,
        since=since,
        until=state.until if state.open else None,
        next_opening=None if state.open else state.until,
        local=site_time(hours, t),
        zone=zone_label(hours, t),
        timezone=_hours(hours).timezone,
    )


def site_time(hours: Site | OpeningHours, instant: datetime) -> datetime:
    """``instant`` (aware) on the site's wall clock (an aware datetime in the site's zone)."""
    return _aware(instant).astimezone(_hours(hours).tz)


def zone_label(hours: Site | OpeningHours, instant: datetime) -> str:
    """The site's zone label at ``instant``: ``CET``/``CEST`` in Paris, ``UTC+11`` in Nouméa
    (where the zone database has no abbreviation, the offset)."""
    name = site_time(hours, instant).tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" else name


def format_site_time(
    hours: Site | OpeningHours, instant: datetime, fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    """``instant`` as site-local time with its zone label: ``2026-03-02 09:15 CET``."""
    return f"{site_time(hours, instant).strftime(fmt)} {zone_label(hours, instant)}"


def site_instant(hours: Site | OpeningHours, local: datetime) -> datetime:
    """The UTC instant of a time typed for the site.  A naive ``local`` is the site's wall
    clock (a time skipped by a DST jump is the jump; a repeated one, its first occurrence —
    as the opening ranges read it); an aware one keeps its own zone."""
    if local.tzinfo is not None and local.utcoffset() is not None:
        return local.astimezone(UTC)
    return wall_to_utc(local, _hours(hours).tz)
