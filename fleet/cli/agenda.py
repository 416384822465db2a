"""`fleet agenda refresh [SITE...]` and `fleet agenda show SITE`: the sites' semainier (ICS)
as the hall screens show it.  Thin: the engine is :mod:`fleet.agenda`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet.agenda import by_day, cache_dir, cached, events_between, refresh_all
from fleet.agenda.feed import utcnow
from fleet.cli.common import console, print_json
from fleet.inventory import load_inventory
from fleet.inventory.hours import site_time

app = typer.Typer(help="The sites' agendas (semainier) for the hall screens.", no_args_is_help=True)
Inv = Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")]
Cache = Annotated[Path | None, typer.Option("--cache", help="Agenda cache (default: FLEET_AGENDA_CACHE).")]
Json = Annotated[bool, typer.Option("--json", help="JSON output.")]


@app.command("refresh")
def refresh(
    sites: Annotated[list[str] | None,
                     typer.Argument(help="Sites (default: every site with an agenda).")] = None,
    inventory: Inv = None,
    cache: Cache = None,
    as_json: Json = False,
) -> None:
    """Fetch the agendas now; a feed that fails keeps its last good copy (exit 1)."""
    inv = load_inventory(inventory)
    results = refresh_all(inv, cache_dir(cache), utcnow(), list(sites or []) or None)
    if as_json:
        print_json([r.to_json() for r in results])
    else:
        out = console()
        for r in results:
            mark = "[green]ok[/]" if r.ok else "[red]failed[/]"
            out.print(f"{r.site_id}: {mark} {r.message}", highlight=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("show")
def show(
    site_id: Annotated[str, typer.Argument(help="Site id.")],
    inventory: Inv = None,
    cache: Cache = None,
    as_json: Json = False,
) -> None:
    """The next seven days of the site's agenda, as cached (no network)."""
    inv = load_inventory(inventory)
    site = inv.site(site_id)
    have = cached(site, Path(inv.root), cache_dir(cache))
    now = utcnow()
    today = site_time(site, now).date()
    start = datetime(today.year, today.month, today.day, tzinfo=site.tz)
    days = [today + timedelta(days=i) for i in range(7)]
    events = events_between(have.calendar, start, start + timedelta(days=7), site.tz) if have.calendar else []
    if as_json:
        print_json({"site": site.id, "source": have.source,
                    "fetched_at": have.fetched_at.isoformat() if have.fetched_at else None,
                    "error": have.error,
                    "events": [{"title": e.title, "start": e.start.isoformat(), "end": e.end.isoformat(),
                                "all_day": e.all_day, "location": e.location, "kind": e.kind}
                               for e in events]})
        return
    out = console()
    if have.source is None:
        out.print(f"{site.id}: no agenda (site_agenda is not set)")
        return
    when = have.fetched_at.isoformat(timespec="minutes") if have.fetched_at else "never"
    error = f" — last error: {have.error}" if have.error else ""
    out.print(f"{site.id}: {have.source} — fetched {when}{error}", highlight=False)
    table = Table("day", "time", "event", "place")
    for d, evs in by_day(events, days).items():
        for e in evs:
            t = "all day" if e.all_day else e.start.strftime("%H:%M")
            table.add_row(d.isoformat(), t, e.title, e.location)
    out.print(table)
