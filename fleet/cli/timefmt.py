"""One time rule for the CLI, in and out.

Out: an instant that concerns a site is shown on the site's wall clock with its zone label
(``2026-11-23 10:47 CET``; ``UTC+11`` where the zone database has no abbreviation, as in
Nouméa); an instant that concerns no single site (a poll cycle) on this machine's clock with
its label.  Weekdays are in the active language (``lun. 09:00 CET`` / ``Mon 09:00 CET``).

In: ``--until``/``--start`` of a maintenance window take the site's wall clock
(``2026-11-24 12:00``) or an explicit offset (``2026-11-24T12:00+01:00``, ``...Z``); a wall
time that does not exist or happens twice on the site (DST changes) is refused with the two
offsets to choose from.  ``--clock`` (a test instant for a command about many sites) needs its
offset.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime, timedelta, tzinfo

from fleet.errors import ConfigError
from fleet.i18n import active, ngettext
from fleet.i18n import gettext as _

DATE_TIME = "%Y-%m-%d %H:%M"


def now() -> datetime:
    """The clock of the commands (read here, at the edge, and handed down)."""
    return datetime.now(UTC)


def operator(by: str | None) -> str:
    """Who acts: ``--by``, else the login (``SUDO_USER``, ``USER``); never empty."""
    if by is not None:
        if not by.strip():
            raise ConfigError(_("--by '': give a name (or leave --by out to use your login)"))
        return by.strip()
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or getpass.getuser()


def zone_label(at: datetime, tz: tzinfo) -> str:
    """``CET``/``CEST`` in Paris, ``UTC+11`` in Nouméa (no abbreviation in the zone database)."""
    name = at.astimezone(tz).tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" else name


def site_time(at: datetime | None, tz: tzinfo) -> str:
    """``2026-11-23 10:47 CET``: the instant on the site's wall clock, with its zone label."""
    if at is None:
        return "-"
    return f"{at.astimezone(tz).strftime(DATE_TIME)} {zone_label(at, tz)}"


def _weekday(local: datetime) -> str:
    from babel.dates import format_datetime

    return str(format_datetime(local, "EEE", locale=active().code))


def near_time(at: datetime | None, tz: tzinfo, now: datetime) -> str:
    """A near instant, short, on the site's wall clock: ``14:00 CET`` today, ``mar. 09:00 CET``
    within a week, else the full date."""
    if at is None:
        return "-"
    loc, today = at.astimezone(tz), now.astimezone(tz)
    label = zone_label(at, tz)
    if loc.date() == today.date():
        return f"{loc:%H:%M} {label}"
    if 0 < (loc.date() - today.date()).days < 7:
        return f"{_weekday(loc)} {loc:%H:%M} {label}"
    return f"{loc.strftime(DATE_TIME)} {label}"


def machine_time(at: datetime | None) -> str:
    """An instant about no single site, on this machine's clock (``TZ``) with its label."""
    if at is None:
        return "-"
    local = at.astimezone()
    return site_time(local, local.tzinfo or UTC)


def duration(delta: timedelta) -> str:
    """``45 s``, ``12 min``, ``3 h``, ``2 d`` (``2 j`` in French): the largest unit."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return _("{n} s").format(n=seconds)
    if seconds < 3600:
        return _("{n} min").format(n=seconds // 60)
    if seconds < 86400 * 2:
        return _("{n} h").format(n=seconds // 3600)
    return _("{n} d").format(n=seconds // 86400)


def ago(at: datetime | None, now: datetime) -> str:
    """``3 min ago`` / ``il y a 3 min``; ``never``."""
    if at is None:
        return _("never")
    return _("{duration} ago").format(duration=duration(now - at))


def days(n: int) -> str:
    return ngettext("{n} day", "{n} days", n).format(n=n)


def parse_instant(text: str, option: str) -> datetime:
    """An instant with its offset (``2026-11-23T23:00+01:00``, ``...Z``)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(_("{option} {text!r}: not a date and time like 2026-11-23T23:00+01:00").format(
            option=option, text=text)) from exc
    if value.utcoffset() is None:
        raise ConfigError(_("{option} {text!r}: give its offset (e.g. +01:00 or Z)").format(
            option=option, text=text))
    return value


def parse_site_time(text: str, option: str, tz: tzinfo, where: str) -> datetime:
    """A date and time typed for a site: on the site's wall clock (``where`` names the site and
    its zone in messages), or with an explicit offset."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(_("{option} {text!r}: not a date and time like '2026-11-24 12:00' "
                            "({where}) or 2026-11-24T12:00+01:00").format(
            option=option, text=text, where=where)) from exc
    if value.utcoffset() is not None:
        return value
    first, second = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        roundtrip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        what = _("happens twice") if roundtrip == value else _("does not exist")
        raise ConfigError(_("{option} {text!r}: this time {what} on the clock of {where} (a "
                            "daylight-saving change): give the offset, e.g. {example}").format(
            option=option, text=text, what=what, where=where,
            example=f"{value:%Y-%m-%dT%H:%M}{_offset(first)}"))
    return first


def _offset(at: datetime) -> str:
    off = at.utcoffset() or timedelta(0)
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
