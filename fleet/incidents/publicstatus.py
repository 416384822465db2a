"""What the public sees on a site's hall screen: hours, closures, the week's agenda and what
works now, in plain French words.  Read-only; anonymous by design.

:func:`screen_page` builds the page's data for a site at an instant, from

* the inventory: opening hours and closures (:func:`fleet.inventory.hours.intervals` and
  :func:`~fleet.inventory.hours.open_now`, the one answer to "is it open");
* the site's agenda, as cached on the controller (:mod:`fleet.agenda`): permanences and
  workshops of the next seven days;
* the monitoring store (:func:`fleet.incidents.status.site_status`, the status the hotline
  reads): each public service is *disponible* or *hors service* — never which device, which
  check, an incident, a name or a number a visitor could misuse.  A service whose devices have
  not been seen recently is not mentioned at all (better silent than wrong).

The web page (:mod:`fleet.web.screen`) only renders this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Literal

from fleet.agenda import CachedAgenda, Event, by_day, events_between
from fleet.incidents.status import DeviceStatus, site_status
from fleet.inventory.hours import intervals, open_now, site_time
from fleet.inventory.models import Device, DeviceKind, Site
from fleet.store.db import Store

DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")
FRESH = timedelta(minutes=30)
"""A device seen longer ago than this says nothing about now."""
BLOCKING: Mapping[DeviceKind, frozenset[str]] = MappingProxyType({
    DeviceKind.PRINTER: frozenset({"printer_jam", "printer_paper", "printer_door", "toner_empty"}),
    DeviceKind.BORNE: frozenset({"kiosk"}),
    DeviceKind.PUBLIC_PC: frozenset(),
    DeviceKind.GATEWAY: frozenset(),
    DeviceKind.AP: frozenset(),
})
"""Checks that, failing, put the service out for the public (a low toner does not)."""


def day_label(d: date) -> str:
    """``lundi 21 septembre``."""
    return f"{DAYS_FR[d.weekday()]} {d.day}{'er' if d.day == 1 else ''} {MONTHS_FR[d.month - 1]}"


def hm(t: datetime) -> str:
    """``9 h 30``, ``14 h`` — how times are written in French for the public."""
    return f"{t.hour} h {t.minute:02d}" if t.minute else f"{t.hour} h"


@dataclass(frozen=True, slots=True)
class DayHours:
    day: date
    label: str
    ranges: tuple[str, ...]
    """``9 h – 12 h`` … (empty: closed that day)."""
    closure: str | None
    """Why the site is exceptionally closed that day (``Noël``), or ``fermeture
    exceptionnelle``; None on a normal day."""
    today: bool

    @property
    def short(self) -> str:
        """``Aujourd'hui``, ``Mercredi 23``: the week's rows need no month."""
        return "Aujourd'hui" if self.today else f"{DAYS_FR[self.day.weekday()].capitalize()} {self.day.day}"


@dataclass(frozen=True, slots=True)
class Service:
    key: str
    """``wifi``, ``imprimante``, ``ordinateurs``, ``borne``, ``visio``."""
    ok: bool
    text: str
    """``Wifi gratuit : disponible``, ``Imprimante hors service aujourd'hui``."""


@dataclass(frozen=True, slots=True)
class AgendaView:
    days: tuple[tuple[DayHours, tuple[Event, ...]], ...]
    note: str | None
    """Said under the agenda when it is not fresh: its age and that the calendar did not
    answer; or that the site has no agenda yet."""


@dataclass(frozen=True, slots=True)
class ScreenPage:
    site_id: str
    site_name: str
    commune: str
    local: datetime
    now_text: str
    """``lundi 21 septembre, 10 h 35``."""
    open: bool
    open_text: str
    """``Ouvert jusqu'à 11 h 30`` / ``Fermé — réouverture lundi 21 septembre à 7 h 30``."""
    week: tuple[DayHours, ...]
    agenda: AgendaView
    services: tuple[Service, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------------- hours ----


def _closure_reason(site: Site, d: date) -> str | None:
    for c in site.hours.closures:
        if date.fromisoformat(c.start) <= d <= date.fromisoformat(c.end):
            return c.reason or "fermeture exceptionnelle"
    return None


def week_hours(site: Site, now: datetime, days: int = 7) -> tuple[DayHours, ...]:
    """Today and the next days: the opening ranges as the site's clock reads them (from
    :func:`~fleet.inventory.hours.intervals`, closures applied), with closures named."""
    local_today = site_time(site, now).date()
    out: list[DayHours] = []
    for i in range(days):
        d = local_today + timedelta(days=i)
        start = datetime(d.year, d.month, d.day, tzinfo=site.tz)
        end = start + timedelta(days=1)
        ranges = []
        for o, c in intervals(site, start, end):
            lo, hi = max(o, start).astimezone(site.tz), min(c, end).astimezone(site.tz)
            if hi > lo:
                last = "24 h" if hi == end.astimezone(site.tz) else hm(hi)
                ranges.append(f"{hm(lo)} – {last}")
        closure = _closure_reason(site, d) if not ranges else None
        out.append(DayHours(d, day_label(d), tuple(ranges), closure, today=(i == 0)))
    return tuple(out)


def _open_text(site: Site, now: datetime) -> tuple[bool, str]:
    state = open_now(site, now)
    if state.open:
        if state.until is None:
            return True, "Ouvert"
        return True, f"Ouvert jusqu'à {hm(site_time(site, state.until))}"
    if state.next_opening is None:
        return False, "Fermé"
    nxt = site_time(site, state.next_opening)
    today = site_time(site, now).date()
    when = ("aujourd'hui" if nxt.date() == today
            else "demain" if nxt.date() == today + timedelta(days=1) else day_label(nxt.date()))
    return False, f"Fermé — réouverture {when} à {hm(nxt)}"


# -------------------------------------------------------------------------------- agenda ----


def _age_text(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} jours"


def agenda_view(site: Site, week: Sequence[DayHours], agenda: CachedAgenda | None,
                now: datetime) -> AgendaView:
    """The week's events by day; with a note when the agenda is old or missing."""
    empty = tuple((d, ()) for d in week)
    if agenda is None or agenda.source is None:
        return AgendaView(empty, None)
    if agenda.calendar is None:
        return AgendaView(empty, "Agenda momentanément indisponible.")
    first = week[0].day
    start = datetime(first.year, first.month, first.day, tzinfo=site.tz)
    events = events_between(agenda.calendar, start, start + timedelta(days=len(week)), site.tz)
    grouped = by_day(events, [d.day for d in week])
    note = None
    age = agenda.age(now)
    if agenda.stale and age is not None:
        note = f"Agenda mis à jour il y a {_age_text(age)} (le calendrier ne répond pas)."
    return AgendaView(tuple((d, tuple(grouped[d.day])) for d in week), note)


# ------------------------------------------------------------------------------ services ----


def _works(status: DeviceStatus) -> bool | None:
    """True: serves the public; False: out of service; None: not known now."""
    if status.state == "unknown":
        return None
    if status.state == "down":
        return False
    kind = DeviceKind(status.kind)
    failing = {c.check for c in status.checks if c.status == "down"}
    return not (failing & BLOCKING.get(kind, frozenset()))


def _fresh(status: DeviceStatus, now: datetime) -> bool:
    return status.last_seen is not None and now - status.last_seen <= FRESH


def _service(key: str, statuses: Iterable[DeviceStatus], now: datetime, ok_text: str,
             out_text: str) -> Service | None:
    known = [w for s in statuses if _fresh(s, now) and (w := _works(s)) is not None]
    if not known:
        return None
    working = any(known)
    return Service(key, working, ok_text if working else out_text)


def services(site: Site, statuses: Sequence[DeviceStatus], now: datetime) -> tuple[Service, ...]:
    """What works now, service by service, in words for the public."""
    by_host = {s.hostname: s for s in statuses}

    def of(pred: Callable[[Device], bool]) -> list[DeviceStatus]:
        return [by_host[d.hostname] for d in site.devices if d.hostname in by_host and pred(d)]

    def kind(k: DeviceKind) -> Callable[[Device], bool]:
        return lambda d: d.kind is k

    out: list[Service | None] = []
    gateways = of(kind(DeviceKind.GATEWAY))
    aps = of(kind(DeviceKind.AP))
    wifi = None
    if gateways:
        gw = _service("wifi", gateways, now, "", "")
        radio = _service("wifi", aps, now, "", "") if aps else Service("wifi", True, "")
        if gw is not None and radio is not None:
            ok = gw.ok and radio.ok
            wifi = Service("wifi", ok, "Wifi gratuit : disponible" if ok
                           else "Wifi gratuit : indisponible pour le moment")
    out.append(wifi)
    out.append(_service("imprimante", of(kind(DeviceKind.PRINTER)), now,
                        "Imprimante : disponible", "Imprimante hors service aujourd'hui"))
    pcs = of(kind(DeviceKind.PUBLIC_PC))
    working_pcs = [s for s in pcs if _fresh(s, now) and _works(s)]
    if any(_fresh(s, now) and _works(s) is not None for s in pcs):
        n = len(working_pcs)
        out.append(Service("ordinateurs", n > 0,
                           f"Ordinateurs en libre accès : {n} disponible{'s' if n > 1 else ''}"
                           if n else "Ordinateurs en libre accès : hors service aujourd'hui"))
    out.append(_service("borne", of(_borne("standard")), now,
                        "Borne de démarches : disponible",
                        "Borne de démarches hors service aujourd'hui"))
    out.append(_service("visio", of(_borne("visio")), now, "Visio-guichet : disponible",
                        "Visio-guichet hors service aujourd'hui"))
    return tuple(s for s in out if s is not None)


def _borne(profile: Literal["standard", "visio"]) -> Callable[[Device], bool]:
    return lambda d: d.kind is DeviceKind.BORNE and d.profile == profile


# ---------------------------------------------------------------------------------- page ----


def screen_page(site: Site, store: Store | None, now: datetime,
                agenda: CachedAgenda | None) -> ScreenPage:
    """Everything the hall screen of ``site`` shows at ``now`` (aware).  ``store`` None: no
    monitoring here (no service line)."""
    week = week_hours(site, now)
    is_open, text = _open_text(site, now)
    local = site_time(site, now)
    shown: tuple[Service, ...] = ()
    if store is not None and is_open:
        (status,) = site_status(store, [site], now)
        shown = services(site, status.devices, now)
    return ScreenPage(
        site_id=site.id,
        site_name=site.name,
        commune=site.commune,
        local=local,
        now_text=f"{day_label(local.date())}, {hm(local)}",
        open=is_open,
        open_text=text,
        week=week,
        agenda=agenda_view(site, week, agenda, now),
        services=shown,
    )


__all__ = ["AgendaView", "DayHours", "ScreenPage", "Service", "agenda_view", "day_label", "hm",
           "screen_page", "services", "week_hours"]
