"""`fleet maintenance add | list | end`: windows during which failures on a site or a device are
expected (technicians on site).

``--until``/``--start`` are the site's wall clock (``'2026-11-24 12:00'``) or carry their own
offset; a window is at most 31 days unless ``--force`` (a forgotten window would hide a real
failure for months).
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from fleet.cli.common import console, opened_store, print_json
from fleet.cli.lookup import inventory_for_reading
from fleet.cli.options import ByOpt, ClockOpt, DbOpt, InventoryOpt, JsonOpt
from fleet.cli.render import Cell, Column, table, terminal_width
from fleet.cli.timefmt import days, operator, parse_instant, parse_site_time, site_time
from fleet.cli.timefmt import now as _now
from fleet.errors import ConfigError
from fleet.i18n import N_
from fleet.i18n import gettext as _

if TYPE_CHECKING:
    from fleet.inventory.models import Site

app = typer.Typer(help=N_("Maintenance windows: failures on a site or device are expected "
                          "meanwhile."), no_args_is_help=True)

MAX_WINDOW = timedelta(days=31)
_DURATION = re.compile(r"^\s*(?:(\d+)\s*[dj])?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")


def parse_duration(text: str) -> timedelta:
    """``2h``, ``90m``, ``1d`` (or ``1j``), ``1h30m``."""
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        raise ConfigError(_("--for {text!r}: expected a duration like 2h, 90m, 1d or 1h30m").format(
            text=text))
    d, h, mins = (int(g or 0) for g in m.groups())
    value = timedelta(days=d, hours=h, minutes=mins)
    if value <= timedelta(0):
        raise ConfigError(_("--for {text!r}: must be longer than zero").format(text=text))
    return value


@app.command("add", help=N_("Declare a maintenance window on a site or one device (2 hours from "
                            "now by default)."))
def maintenance_add(
    target: Annotated[str, typer.Argument(help=N_("A site id or a device hostname (or words of a "
                                                  "site's name or commune)."))],
    why: Annotated[str, typer.Option("--why", help=N_("What is being done (shown to the hotline)."))],
    duration: Annotated[str | None, typer.Option(
        "--for", help=N_("Duration: 2h, 90m, 1h30m, 3d (default 2h; at most 31 days)."))] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help=N_("End: the site's local time ('2026-11-24 12:00') or with its offset "
                           "(2026-11-24T12:00+01:00)."))] = None,
    start: Annotated[str | None, typer.Option(
        "--start", help=N_("Start, like --until (default: now)."))] = None,
    force: Annotated[bool, typer.Option(
        "--force", help=N_("Allow a window longer than 31 days."))] = False,
    by: ByOpt = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    from fleet.incidents import add_window
    from fleet.incidents.status import resolve_target
    from fleet.inventory import load_inventory
    from fleet.inventory.models import Site

    if duration and until:
        raise ConfigError(_("--for and --until exclude each other"))
    if not why.strip():
        raise ConfigError(_("--why '': say what is being done (the hotline reads it)"))
    who = operator(by)
    inv = load_inventory(inventory, check_secrets=False)
    found = resolve_target(inv, target)
    site = found if isinstance(found, Site) else found[0]
    where = _("{site} ({zone})").format(site=site.id, zone=site.timezone)
    now = _now()
    begin = parse_site_time(start, "--start", site.tz, where) if start else now
    end = parse_site_time(until, "--until", site.tz, where) if until \
        else begin + parse_duration(duration or "2h")
    if end <= begin:
        raise ConfigError(_("the window ends ({end}) before it starts ({start})").format(
            end=site_time(end, site.tz), start=site_time(begin, site.tz)))
    if end - begin > MAX_WINDOW and not force:
        raise ConfigError(_("a window of {length} is longer than 31 days: a forgotten window hides "
                            "real failures; shorten it or add --force").format(
            length=days((end - begin).days)))
    with opened_store(db) as store:
        if isinstance(found, Site):
            window = add_window(store, site_id=found.id, start=begin, end=end, who=who, why=why,
                                now=now)
        else:
            window = add_window(store, device=found[1].hostname, start=begin, end=end, who=who,
                                why=why, now=now)
    if json:
        print_json(window.to_json())
        return
    console().print(_("maintenance #{id} on {target}: {start} → {end}").format(
        id=window.id, target=window.device or window.site_id,
        start=site_time(window.start, site.tz), end=site_time(window.end, site.tz)))


def _site_of(sites: dict[str, Site], site_id: str | None, device: str | None) -> Site | None:
    if site_id in sites:
        return sites[site_id]
    return next((s for s in sites.values() if any(d.hostname == device for d in s.devices)), None)


@app.command("list", help=N_("Current and future maintenance windows (--all: past ones too)."))
def maintenance_list(
    all_: Annotated[bool, typer.Option("--all", help=N_("Include past windows."))] = False,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
    clock: ClockOpt = None,
) -> None:
    from fleet.incidents import list_windows

    with opened_store(db) as store:
        windows = list_windows(store, at=parse_instant(clock, "--clock") if clock else _now(),
                               include_past=all_)
    if json:
        print_json([w.to_json() for w in windows])
        return
    if not windows:
        console().print(_("no maintenance windows"))
        return
    inv = inventory_for_reading(inventory)
    sites = {s.id: s for s in inv.sites} if inv is not None else {}
    rows: list[list[Cell]] = []
    for w in windows:
        site = _site_of(sites, w.site_id, w.device)
        tz = site.tz if site is not None else UTC
        end = w.ended_at if w.ended_at and w.ended_at < w.end else w.end
        rows.append([str(w.id), w.device or w.site_id or "", site_time(w.start, tz), site_time(end, tz),
                     w.who, Text(w.why)])
    columns = [Column("#", "id"), Column(_("on"), "id"), Column(_("start"), "short"),
               Column(_("end"), "short"), Column(_("by"), "short"), Column(_("why"), "text")]
    table(console(), columns, rows, width=terminal_width())


@app.command("end", help=N_("End a maintenance window now (done early)."))
def maintenance_end(
    window_id: Annotated[int, typer.Argument(help=N_("Window number (see 'fleet maintenance list')."))],
    db: DbOpt = None,
) -> None:
    from fleet.incidents import end_window

    with opened_store(db) as store:
        end_window(store, window_id, at=_now())
    console().print(_("maintenance #{id} ended").format(id=window_id))

