"""Power by opening hours (``site_power`` in a site's vars): PCs and bornes shut down a while
after the site closes and are woken a while before it opens (green IT).

One model and one set of answers, used by every face:

- :class:`SitePower`, parsed and checked at load time by :func:`parse_site_power` (the loader
  calls it; problems name file, line, field and value);
- :func:`off_windows`: the scheduled off periods of a site over a span, from the opening
  intervals of :mod:`fleet.inventory.hours` (closures included): what ``fleet power wake
  --due`` wakes and what ``fleet power report`` counts;
- :func:`shutdown_calendar`: the weekly shutdown instants as systemd ``OnCalendar`` lines, what
  the ``power_schedule`` role renders into each PC's timer (its filter plugin calls this
  function), so a PC shuts down by itself when the controller is unreachable.

Both follow the same rule: after a closing, a device goes off ``shutdown_after`` minutes
later and is woken ``wake_before`` minutes before the next opening, unless that off period
would last less than ``min_off`` minutes (a lunch break keeps the PCs on).

Example::

    site_power:
      shutdown_after: 30      # minutes after closing
      wake_before: 20         # minutes before opening
      min_off: 120            # shorter closed gaps keep the devices on
      kinds: {public_pc: true, borne: false}
      watts: {public_pc: 40}  # optional: this site's draw per device left on (report)

This module imports nothing from :mod:`fleet.inventory.models` at load time (the models
import it); the functions that need a ``Site`` import :mod:`fleet.inventory.hours` lazily.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleet.errors import FieldError, Problem

if TYPE_CHECKING:
    from fleet.inventory.models import OpeningHours, Site

#: Device kinds that may be powered by schedule: hosts with Wake-on-LAN that Relais manages.
#: Never the gateway (it sends the magic packets) nor network gear.
POWER_KINDS: tuple[str, ...] = ("public_pc", "borne")
WEEK_MINUTES = 7 * 1440
_DAYS_SYSTEMD = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WATTS_FILE = Path(__file__).with_name("power_watts.yml")


def default_watts(path: Path = WATTS_FILE) -> Mapping[str, float]:
    """Estimated draw (W) of a device of each kind left on while the site is closed: data, in
    ``fleet/inventory/power_watts.yml`` (a site may override it with ``site_power.watts``)."""
    raw = yaml.safe_load(path.read_text("utf-8")) or {}
    return MappingProxyType({str(k): float(v) for k, v in (raw.get("watts") or {}).items()})


def _default_kinds() -> dict[str, bool]:
    return {"public_pc": True, "borne": True}


class SitePower(BaseModel):
    """A site's power schedule (minutes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shutdown_after: int = Field(30, ge=0, le=720)
    """Minutes after closing at which devices shut down."""
    wake_before: int = Field(30, ge=0, le=720)
    """Minutes before opening at which devices are woken (Wake-on-LAN from the gateway)."""
    min_off: int = Field(120, ge=0, le=WEEK_MINUTES)
    """A closed gap whose off period would be shorter than this keeps the devices on."""
    kinds: Mapping[str, bool] = Field(default_factory=_default_kinds)
    """Which device kinds follow the schedule (public_pc, borne); unlisted kinds: on."""
    watts: Mapping[str, float] = Field(default_factory=dict)
    """This site's estimated draw per kind (W), over :func:`default_watts`."""

    @field_validator("kinds", "watts")
    @classmethod
    def _power_kinds(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        bad = [k for k in value if k not in POWER_KINDS]
        if bad:  # each at its own key's line
            raise FieldError.many(
                ((k,), f"only {', '.join(POWER_KINDS)} can be powered by schedule", k) for k in bad)
        return value

    def applies_to(self, kind: str) -> bool:
        return kind in POWER_KINDS and bool(self.kinds.get(kind, kind in _default_kinds()))

    def watts_of(self, kind: str, defaults: Mapping[str, float]) -> float:
        return float(self.watts.get(kind, defaults.get(kind, 0.0)))


def parse_site_power(
    raw: object, display: str, line: int | None, field: str, problems: list[Problem]
) -> SitePower | None:
    """``site_power`` alone (None when absent); every problem is appended to ``problems``,
    located by :func:`fleet.inventory.validate.problems_from` (at ``line`` when ``raw`` was not
    read by :mod:`fleet.inventory.yamlsrc`).  The loader validates ``site_power`` with the rest
    of the site's variables (:class:`fleet.inventory.variables.SiteVars`), the same model."""
    from fleet.inventory.validate import problems_from  # local: validate is the loader's

    if raw is None:
        return None
    try:
        return SitePower.model_validate(raw)
    except ValidationError as exc:
        found = problems_from(exc, raw, display, where=f"{field}.", model=SitePower)
    problems.extend(p if p.line else replace(p, line=line) for p in found)
    return None


# ---------------------------------------------------------------------------- schedule --


@dataclass(frozen=True, slots=True)
class OffWindow:
    """One scheduled off period (UTC instants)."""

    closed_at: datetime
    off_at: datetime
    wake_at: datetime
    opens_at: datetime

    @property
    def hours_off(self) -> float:
        return (self.wake_at - self.off_at).total_seconds() / 3600

    def to_json(self) -> dict[str, Any]:
        return {"closed_at": self.closed_at.isoformat(), "off_at": self.off_at.isoformat(),
                "wake_at": self.wake_at.isoformat(), "opens_at": self.opens_at.isoformat()}


def _window(power: SitePower, closed: datetime, opens: datetime) -> OffWindow | None:
    off = closed + timedelta(minutes=power.shutdown_after)
    wake = opens - timedelta(minutes=power.wake_before)
    if wake - off < timedelta(minutes=max(power.min_off, 1)):
        return None
    return OffWindow(closed, off, wake, opens)


def off_windows(site: Site, power: SitePower, start: datetime, end: datetime,
                lookback: timedelta = timedelta(days=35)) -> list[OffWindow]:
    """Scheduled off periods that meet [start, end), in order.  A period that began more than
    ``lookback`` before ``start`` (a long closure) is not seen."""
    from fleet.inventory.hours import intervals, next_opening

    out: list[OffWindow] = []
    spans = intervals(site, start - lookback, end)
    closings = [c for _, c in spans]
    for closed in closings:
        opens = next_opening(site, closed)
        if opens is None:
            continue
        w = _window(power, closed, opens)
        if w is not None and w.wake_at > start and w.off_at < end:
            out.append(w)
    return out


def window_at(site: Site, power: SitePower, instant: datetime) -> OffWindow | None:
    """The off period around ``instant`` (off_at <= instant < opens_at), if any."""
    for w in off_windows(site, power, instant - timedelta(days=1), instant + timedelta(seconds=1)):
        if w.off_at <= instant < w.opens_at:
            return w
    return None


def shutdown_calendar(hours: OpeningHours, power: SitePower) -> list[str]:
    """systemd ``OnCalendar`` values (``Mon *-*-* 17:30:00 Europe/Paris``) for the weekly
    shutdowns, from the week alone: exceptional closures need no timer (nobody wakes the PCs
    then).  Gaps crossing midnight and week ends are handled; empty when the site never
    closes long enough."""
    marks: list[tuple[int, int]] = []  # (start, end) in minutes of the week, Monday 00:00 = 0
    for i, day in enumerate(_DAYS):
        for r in hours.week.get(day, ()):
            marks.append((i * 1440 + r.start, i * 1440 + r.end))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(marks):  # touching ranges (20:00-24:00, then 00:00-02:00) are one
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    if len(merged) > 1 and merged[-1][1] >= merged[0][0] + WEEK_MINUTES:  # Sunday into Monday
        first = merged.pop(0)
        merged[-1] = (merged[-1][0], max(merged[-1][1], first[1] + WEEK_MINUTES))
    if not merged or merged[0][1] - merged[0][0] >= WEEK_MINUTES:
        return []  # never open, or never closed
    entries: set[int] = set()
    for i, (_, end) in enumerate(merged):
        nxt = merged[i + 1][0] if i + 1 < len(merged) else merged[0][0] + WEEK_MINUTES
        if nxt - end - power.shutdown_after - power.wake_before >= max(power.min_off, 1):
            entries.add((end + power.shutdown_after) % WEEK_MINUTES)
    return [f"{_DAYS_SYSTEMD[m // 1440]} *-*-* {(m % 1440) // 60:02d}:{m % 60:02d}:00 {hours.timezone}"
            for m in sorted(entries)]


def calendar_for_host(week: Mapping[str, Any], timezone: str, site_power: object,
                      groups: Sequence[str], display: str = "site_power") -> list[str]:
    """What the role's filter asks: the host's shutdown calendar from the raw Ansible
    variables (``site_opening_hours``, ``site_timezone``, ``site_power``, ``group_names``),
    parsed by the inventory's own parsers.  Empty when the host's kind is not scheduled.
    Raises ValueError naming the problem when a value is invalid."""
    from fleet.errors import InventoryError
    from fleet.inventory.models import OpeningHours
    from fleet.inventory.validate import validate_with_lines
    from fleet.inventory.variables import WeekVars

    try:  # the inventory's own models: the same checks, the same words as `fleet inventory check`
        parsed = validate_with_lines(WeekVars, dict(week), display, where="site_opening_hours.")
        power = (None if site_power is None else
                 validate_with_lines(SitePower, site_power, display, where="site_power."))
    except InventoryError as exc:
        raise ValueError(str(exc)) from exc
    if power is None or not any(power.applies_to(g) for g in groups):
        return []
    return shutdown_calendar(OpeningHours(timezone=timezone, week=parsed.week()), power)
