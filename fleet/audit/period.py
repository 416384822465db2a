"""The audited month, in a site's own timezone, and small interval arithmetic.

A month is ``YYYY-MM``; for a site it runs from local midnight of its first day to local
midnight of the next month's first day, converted to UTC with the site's timezone (so a
Nouméa month starts 11 hours before a UTC one, and a Paris month in March is one hour shorter
than 31 days).  Intervals are half-open ``[start, end)`` pairs of aware UTC datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fleet.errors import ConfigError

Interval = tuple[datetime, datetime]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def days(self) -> list[date]:
        out, day, stop = [], self.first_day, self.next().first_day
        while day < stop:
            out.append(day)
            day += timedelta(days=1)
        return out

    def bounds(self, tz: ZoneInfo) -> Interval:
        """The month as UTC instants, from local midnight to local midnight in ``tz``."""
        return local_midnight(self.first_day, tz), local_midnight(self.next().first_day, tz)


def parse_month(text: str, flag: str = "--month") -> Month:
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"{flag} {text!r}: expected YYYY-MM, e.g. 2026-11")
    return Month(int(m.group(1)), int(m.group(2)))


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Midnight starting ``day`` in ``tz`` as a UTC instant (no zone skips midnight here;
    were it skipped, the first instant after the jump is taken)."""
    local = datetime(day.year, day.month, day.day, tzinfo=tz)
    return local.astimezone(UTC)


def week_start(day: date) -> date:
    """Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


# ----------------------------------------------------------------- interval arithmetic ----


def normalise(spans: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-empty, merged where they meet or overlap."""
    out: list[Interval] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    a, b = normalise(left), normalise(right)
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    cuts = normalise(right)
    for a, b in normalise(left):
        cur = a
        for c, d in cuts:
            if d <= cur or c >= b:
                continue
            if c > cur:
                out.append((cur, c))
            cur = max(cur, d)
            if cur >= b:
                break
        if cur < b:
            out.append((cur, b))
    return out


def total(spans: Iterable[Interval]) -> timedelta:
    return sum((b - a for a, b in normalise(spans)), timedelta())
