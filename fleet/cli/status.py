"""`fleet status [SITE|DEVICE]`: is it up?  Every site at a glance, one site's devices (with
their addresses and who to call), or one device's checks — the same functions as the dashboard
(:mod:`fleet.incidents.status`).

Stale or empty data never looks current: the age of the last poll is on every view, data older
than three poll intervals (setting ``poll_interval``) is flagged stale, and a store no poll has
written to says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from fleet.cli.common import console, opened_store, print_json
from fleet.cli.contacts import print_contacts
from fleet.cli.options import DbOpt, InventoryOpt, JsonOpt
from fleet.cli.render import Cell, Column, paragraph, table, terminal_width
from fleet.cli.timefmt import ago, duration, machine_time, near_time, parse_instant, site_time
from fleet.cli.timefmt import now as _now
from fleet.cli.words import STYLE
from fleet.i18n import N_, ngettext
from fleet.i18n import gettext as _
from fleet.words import word

if TYPE_CHECKING:
    from rich.console import Console

    from fleet.incidents.status import DeviceStatus, SiteStatus
    from fleet.inventory.models import Device, Inventory, Site
    from fleet.store import Store

app = typer.Typer()


def stale_after() -> timedelta:
    """Data older than three poll intervals is stale."""
    from fleet import settings

    return timedelta(seconds=3 * float(settings.get("poll_interval")))


@app.command("status", help=N_("Is it up? Every site at a glance, one site's devices (addresses, "
                               "who to call), or one device's checks."))
def status(
    target: Annotated[str | None, typer.Argument(
        help=N_("A site id or a device hostname, or words of a site's name or commune (accents "
                "and case do not matter: 'noumea').")
    )] = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
    clock: Annotated[str | None, typer.Option(
        "--clock", help=N_("Judge opening hours and ages at this instant (ISO, with its offset)."))
    ] = None,
) -> None:
    from fleet.incidents.status import resolve_target
    from fleet.inventory import load_inventory
    from fleet.inventory.models import Site

    now = parse_instant(clock, "--clock") if clock else _now()
    inv = load_inventory(inventory)
    found = resolve_target(inv, target) if target is not None else None
    with opened_store(db) as store:
        if found is None:
            _status_sites(store, inv, inv.sites, now, json)
        elif isinstance(found, Site):
            _status_site(store, found, now, json)
        else:
            _status_device(store, *found, now, json)


def _poll_line(out: Console, store: Store, last: datetime | None, now: datetime, width: int | None,
               what: str, tz: tzinfo | None = None) -> None:
    """The age of the last poll, or why there is none / why it is too old."""
    if last is None:
        paragraph(out, Text(_("No poll has written to this store yet ({url}): the states below are "
                              "unknown, not fine. Run 'fleet poll'.").format(url=store.safe_url),
                            style="bold yellow"), width=width)
        return
    age = now - last
    when = machine_time(last) if tz is None else site_time(last, tz)
    line = _("Last poll of {what}: {ago} ({when}).").format(what=what, ago=ago(last, now), when=when)
    if age > stale_after():
        paragraph(out, Text(line + " " + _("STALE: older than 3 poll intervals ({interval}); is the "
                                           "poller running?").format(
            interval=duration(stale_after() / 3)), style="bold magenta"), width=width)
    else:
        paragraph(out, line, width=width)


def _summary(s: SiteStatus) -> Text:
    text = Text(word("summary", s.summary), style=STYLE.get(s.summary, ""))
    if s.stale and s.summary != "stale":
        text.append(" (" + word("summary", "stale") + ")", style=STYLE["stale"])
    return text


def _hours(s: SiteStatus, site: Site, now: datetime) -> str:
    if s.open:
        return _("open")
    return _("opens {when}").format(when=near_time(s.next_opening, site.tz, now)) \
        if s.next_opening else _("closed")


def _devices_text(s: SiteStatus) -> str:
    counts = (
        ngettext("{n} up", "{n} up", s.count("up")),
        ngettext("{n} down", "{n} down", s.count("down")),
        ngettext("{n} degraded", "{n} degraded", s.count("degraded")),
        ngettext("{n} unknown", "{n} unknown", s.count("unknown")),
    )
    parts = [text.format(n=s.count(state)) for state, text in
             zip(("up", "down", "degraded", "unknown"), counts, strict=True) if s.count(state)]
    return ", ".join(parts) or "-"


def _status_sites(store: Store, inv: Inventory, sites: Sequence[Site], now: datetime,
                  as_json: bool) -> None:
    from fleet.incidents.status import last_poll, site_status

    result = site_status(store, sites, now, stale_after=stale_after())
    if as_json:
        print_json([{k: v for k, v in s.to_json().items() if k != "devices"} for s in result])
        return
    out, width = console(), terminal_width()
    out.print(Text(_("Relais sites — {now}").format(now=machine_time(now)), style="bold"))
    _poll_line(out, store, last_poll(store), now, width, _("this store"))
    columns = [Column(_("site"), "id"), Column(_("status"), "short"), Column(_("hours"), "short"),
               Column(_("devices"), "text"), Column(_("inc."), "num"), Column(_("polled"), "short")]
    rows: list[list[Cell]] = [
        [s.id, _summary(s), _hours(s, inv.site(s.id), now), _devices_text(s), str(len(s.incidents)),
         ago(s.last_poll, now)] for s in result]
    table(out, columns, rows, width=width)


def _state(d: DeviceStatus) -> Text:
    text = Text(word("state", d.state), style=STYLE.get(d.state, ""))
    if d.stale:
        text.append(" (" + word("state", "stale") + ")", style=STYLE["stale"])
    return text


def _why(d: DeviceStatus, site: Site) -> str:
    parts = [word("reason", d.reason)] if d.reason else []
    if d.window is not None:
        w = d.window
        parts.append(_("maintenance #{id} by {who} until {end}: {why}").format(
            id=w.id, who=w.who, end=site_time(w.end, site.tz), why=w.why))
    elif d.explanation:
        parts.append(_(d.explanation))
    return " — ".join(parts)


def _status_site(store: Store, site: Site, now: datetime, as_json: bool) -> None:
    from fleet.incidents.status import site_status

    [s] = site_status(store, [site], now, stale_after=stale_after())
    if as_json:
        from fleet.incidents.status import site_json

        print_json(site_json(s, site))
        return
    out, width = console(), terminal_width()
    head = Text.assemble((site.name, "bold"), f" ({site.id}) — ", _hours(s, site, now), " — ",
                         _summary(s))
    paragraph(out, head, width=width)
    _poll_line(out, store, s.last_poll, now, width, site.id, site.tz)
    print_contacts(out, site, width)
    if s.window is not None:
        w = s.window
        paragraph(out, Text(_("Maintenance #{id} on the whole site by {who} until {end}: {why}").format(
            id=w.id, who=w.who, end=site_time(w.end, site.tz), why=w.why), style="cyan"), width=width)
    columns = [Column(_("device"), "id"), Column(_("address"), "id"), Column(_("kind"), "short"),
               Column(_("state"), "short"), Column(_("since"), "short"), Column(_("why"), "text"),
               Column(_("incidents"), "text")]
    rows: list[list[Cell]] = [
        [d.hostname, d.address, word("kind", d.kind), _state(d), site_time(d.since, site.tz),
         _why(d, site), ", ".join(f"#{i.id} {i.check} ({word('status', i.status)})" for i in d.incidents)]
        for d in s.devices]
    table(out, columns, rows, width=width)


def _status_device(store: Store, site: Site, device: Device, now: datetime, as_json: bool) -> None:
    from fleet.incidents.status import device_detail

    d = device_detail(store, site, device, now, stale_after=stale_after())
    if as_json:
        print_json(d.to_json())
        return
    out, width = console(), terminal_width()
    head = Text.assemble((d.hostname, "bold"), f" ({word('kind', d.kind)}, {d.address}) — ",
                         (site.name, ""), f" ({site.id}) — ", _state(d))
    if d.since:
        head.append(" " + _("since {when}").format(when=site_time(d.since, site.tz)))
    why = _why(d, site)
    if why:
        head.append(f" — {why}")
    paragraph(out, head, width=width)
    if d.last_seen is None:
        paragraph(out, Text(_("Never polled: its state is unknown, not fine."), style="bold yellow"),
                  width=width)
    else:
        line = _("Last polled {ago} ({when}).").format(ago=ago(d.last_seen, now),
                                                       when=site_time(d.last_seen, site.tz))
        style = "bold magenta" if d.stale else ""
        if d.stale:
            line += " " + _("STALE: older than 3 poll intervals; is the poller running?")
        paragraph(out, Text(line, style=style), width=width)
    print_contacts(out, site, width)
    if d.checks:
        columns = [Column(_("check"), "id"), Column(_("status"), "short"), Column(_("reason"), "short"),
                   Column(_("since"), "short"), Column(_("value"), "text")]
        rows: list[list[Cell]] = [
            [c.check, Text(word("state", c.status), style=STYLE.get(c.status, "")), word("reason", c.reason),
             site_time(c.since, site.tz), c.value or ""] for c in d.checks]
        table(out, columns, rows, width=width)
    for i in d.incidents:
        paragraph(out, Text.assemble((_("incident #{id}").format(id=i.id), "red"),
                                     f" {word('status', i.status)} — {i.title} (",
                                     _("since {when}").format(when=site_time(i.opened_at, site.tz)),
                                     ")"), width=width)
    if d.events:
        out.print(Text(ngettext("Last event:", "Last events:", len(d.events)), style="bold"))
        for at, kind, detail in d.events:
            paragraph(out, f"{site_time(at, site.tz)}  {kind}: {detail}", width=width, indent=2)
