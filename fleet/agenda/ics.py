"""Reading a site's iCalendar (ICS) agenda: parse, check, expand over a window.

The staff write their semainier (permanences, workshops) in the calendar they already use and
publish it as an ICS feed or export a file (``site_agenda``).  What reaches the hall screen is
what a passer-by may read: the title, the time and the place of each event.  Never the
description, the attendees or the organiser, and never an event marked private or
confidential (``CLASS:PRIVATE``/``CONFIDENTIAL``, what calendars export for "private" events),
nor a cancelled one.

Recurring events are expanded by ``recurring-ical-events`` (RRULE, RDATE, EXDATE, moved
occurrences with RECURRENCE-ID); times are shown in the site's timezone; an event with a
floating time (no zone) is read in the calendar's ``X-WR-TIMEZONE`` if it names one, else in
the site's timezone; an all-day event is a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import recurring_ical_events  # type: ignore[import-untyped]  # no py.typed marker
from icalendar import Calendar

from fleet.errors import AgendaError

EventKind = Literal["permanence", "atelier", "autre"]
HIDDEN_CLASSES = frozenset({"PRIVATE", "CONFIDENTIAL"})
MAX_TEXT = 120
"""Longest title or place shown (a screen line, not a paragraph)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One occurrence, as the hall screen shows it."""

    title: str
    start: datetime | date
    """Site-local aware datetime, or a date for an all-day event."""
    end: datetime | date
    location: str
    kind: EventKind

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    def day(self) -> date:
        return self.start.date() if isinstance(self.start, datetime) else self.start

    def days(self) -> list[date]:
        """Every local day the event covers (an all-day event's end is exclusive)."""
        first = self.day()
        if isinstance(self.end, datetime):
            last = (self.end - timedelta(microseconds=1)).date() if self.end > self.start else first
        else:
            last = self.end - timedelta(days=1) if self.end > first else first
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def parse(data: str | bytes, source: str) -> Calendar:
    """An iCalendar, checked: one line naming ``source`` when it is not one (an HTML login
    page, a truncated download, an event without a usable start)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw.strip():
        raise AgendaError(f"{source}: empty agenda (no BEGIN:VCALENDAR)")
    head = raw.lstrip()[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml")):
        raise AgendaError(f"{source}: not an iCalendar file but a web page (is the address the "
                          "calendar's ICS link, and is it public?)")
    try:
        cal = Calendar.from_ical(raw)
    except (ValueError, IndexError, KeyError) as exc:
        raise AgendaError(f"{source}: not an iCalendar file ({_one_line(exc)})") from None
    if not isinstance(cal, Calendar) or cal.name != "VCALENDAR":
        raise AgendaError(f"{source}: not an iCalendar file (no VCALENDAR)")
    for ev in cal.walk("VEVENT"):
        start = ev.get("DTSTART")
        try:
            value = getattr(start, "dt", None)
        except ValueError:  # icalendar's BrokenCalendarProperty: a value it could not read
            value = None
        if not isinstance(value, date):
            summary = _text(ev.get("SUMMARY")) or _text(ev.get("UID")) or "?"
            shown = start.to_ical() if hasattr(start, "to_ical") else getattr(start, "value", start)
            raise AgendaError(f"{source}: event {summary!r}: DTSTART "
                              f"{_decode(shown)!r} is not a date or a time")
    try:  # the recurrence rules are checked by expanding a short window
        _occurrences(cal, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")),
                     datetime(2000, 1, 2, tzinfo=ZoneInfo("UTC")))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise AgendaError(f"{source}: a repeating event cannot be read ({_one_line(exc)})") from None
    return cal


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def _decode(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _occurrences(cal: Calendar, start: datetime, end: datetime) -> list[Any]:
    return list(recurring_ical_events.of(cal).between(start, end))


def _kind(component: Any) -> EventKind:
    words = " ".join([_text(component.get("CATEGORIES") and _categories(component)),
                      _text(component.get("SUMMARY"))]).lower()
    if re.search(r"\bpermanence", words):
        return "permanence"
    if re.search(r"\batelier", words):
        return "atelier"
    return "autre"


def _categories(component: Any) -> str:
    cats = component.get("CATEGORIES")
    items = cats if isinstance(cats, list) else [cats]
    names: list[str] = []
    for c in items:
        names += [str(x) for x in getattr(c, "cats", [c])]
    return " ".join(names)


def _local(value: date | datetime, tz: ZoneInfo, floating: ZoneInfo) -> datetime | date:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=floating)
        return aware.astimezone(tz)
    return value


def events_between(cal: Calendar, start: datetime, end: datetime, tz: ZoneInfo) -> list[Event]:
    """The public occurrences overlapping [start, end), in the site's timezone ``tz``, ordered
    by start (all-day events first on their day)."""
    floating = tz
    xwr = cal.get("X-WR-TIMEZONE")
    if xwr:
        try:
            floating = ZoneInfo(str(xwr))
        except (ValueError, KeyError):
            floating = tz
    out: list[Event] = []
    for occ in _occurrences(cal, start, end):
        if occ.name != "VEVENT":
            continue
        if str(occ.get("CLASS", "PUBLIC")).upper() in HIDDEN_CLASSES:
            continue
        if str(occ.get("STATUS", "")).upper() == "CANCELLED":
            continue
        dtstart = occ.get("DTSTART").dt
        dtend_prop = occ.get("DTEND")
        if dtend_prop is not None:
            dtend = dtend_prop.dt
        elif occ.get("DURATION") is not None:
            dtend = dtstart + occ.get("DURATION").dt
        else:
            dtend = dtstart + timedelta(days=1) if not isinstance(dtstart, datetime) else dtstart
        title = _text(occ.get("SUMMARY")) or "Événement"
        out.append(Event(title=title, start=_local(dtstart, tz, floating),
                         end=_local(dtend, tz, floating), location=_text(occ.get("LOCATION")),
                         kind=_kind(occ)))
    return sorted(out, key=_order)


def _order(e: Event) -> tuple[date, int, time, str]:
    if isinstance(e.start, datetime):
        return (e.start.date(), 1, e.start.timetz().replace(tzinfo=None), e.title)
    return (e.start, 0, time(0), e.title)


def by_day(events: Iterable[Event], days: Sequence[date]) -> dict[date, list[Event]]:
    """Events of each day (an event over several days appears on each)."""
    out: dict[date, list[Event]] = {d: [] for d in days}
    for e in events:
        for d in e.days():
            if d in out:
                out[d].append(e)
    return out


__all__ = ["Event", "EventKind", "by_day", "events_between", "parse"]
