"""Layer 1: the sites' agendas (semainier) for the hall screen (issue 17).

* :mod:`fleet.agenda.ics` — parse and check an iCalendar, expand its events over a window
  (recurrences, exceptions, all-day events, timezones), keep only what the public may read;
* :mod:`fleet.agenda.feed` — fetch each site's ``site_agenda`` (feed or file) on the
  controller, cache it, keep the last good copy when the feed is down.

The hall screen's page (:mod:`fleet.incidents.publicstatus`) reads the cached agenda.
"""

from __future__ import annotations

from fleet.agenda.feed import (
    CachedAgenda,
    RefreshResult,
    cache_dir,
    cached,
    current,
    http_fetch,
    refresh,
    refresh_all,
)
from fleet.agenda.ics import Event, by_day, events_between, parse

__all__ = [
    "CachedAgenda", "Event", "RefreshResult", "by_day", "cache_dir", "cached", "current",
    "events_between", "http_fetch", "parse", "refresh", "refresh_all",
]
