"""Instants in and out of the CLI: parsing ``--clock``/``--start``/``--until``, printing times,
and who is acting (``--by``)."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime

from fleet.errors import ConfigError
from fleet.inventory.models import Site


def operator(by: str | None) -> str:
    return by or os.environ.get("SUDO_USER") or os.environ.get("USER") or getpass.getuser()


def local(at: datetime | None, site: Site | None = None) -> str:
    if at is None:
        return "-"
    if site is not None:
        return at.astimezone(site.tz).strftime("%Y-%m-%d %H:%M")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def soon(at: datetime | None, site: Site, now: datetime) -> str:
    """A near instant in the site's time, short: ``14:00``, ``Tue 09:00`` or a full date."""
    if at is None:
        return "-"
    loc, today = at.astimezone(site.tz), now.astimezone(site.tz)
    if loc.date() == today.date():
        return loc.strftime("%H:%M")
    if (loc.date() - today.date()).days < 7:
        return loc.strftime("%a %H:%M")
    return loc.strftime("%Y-%m-%d %H:%M")


def parse_instant(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: not an ISO date-time like 2026-11-23T23:00+01:00") from exc
    if value.utcoffset() is None:
        raise ConfigError(f"{option} {text!r}: give a timezone (e.g. +01:00 or Z)")
    return value
