"""`fleet power wake --due`, `fleet power report SITE --month YYYY-MM`, `fleet power schedule
SITE`: power by opening hours (``site_power`` in the inventory)."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet import permissions
from fleet.cli.act import AsOpt, ClockOpt, DbOpt, InventoryOpt, JsonOpt, LabOpt, parse_instant
from fleet.cli.common import console, opened_store, print_json
from fleet.errors import ActionRefused, ConfigError
from fleet.inventory import load_inventory
from fleet.inventory.models import Site
from fleet.inventory.power import off_windows, shutdown_calendar
from fleet.remote import power

app = typer.Typer(help="Power by opening hours: wake PCs before opening, report hours off.",
                  no_args_is_help=True)


def _site(inventory: Path | None, site_id: str) -> Site:
    inv = load_inventory(inventory)
    try:
        return inv.site(site_id)
    except KeyError:
        raise ActionRefused(f"SITE {site_id!r}: no such site in {inv.root}") from None


@app.command("wake")
def wake_cmd(
    due: Annotated[bool, typer.Option("--due", help="Wake every scheduled device due now.")] = False,
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until each answers.")] = True,
    as_user: AsOpt = None,
    clock: ClockOpt = None,
    lab: LabOpt = False,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Wake the devices whose wake time (site_power.wake_before minutes before opening) has come
    and that were not woken yet for this opening.  `fleet poll --daemon` does it each cycle."""
    if not due:
        raise ConfigError("fleet power wake: give --due (one device: fleet act wake DEVICE)")
    who = permissions.actor(as_user)
    permissions.require(who, "power.wake")
    now = parse_instant(clock)
    inv = load_inventory(inventory)
    sites = list(inv.sites)
    if site:
        unknown = sorted(set(site) - {s.id for s in sites})
        if unknown:
            raise ConfigError(f"--site: unknown site {unknown[0]!r}")
        sites = [s for s in sites if s.id in set(site)]
    with opened_store(db, create=True) as store:
        results = power.wake_due(store, sites, now, actor=who, lab=lab, wait=wait)
        if json:
            print_json({"at": now.isoformat(), "results": [r.to_json() for r in results]})
        else:
            out = console()
            if not results:
                out.print("nothing to wake now")
            for r in results:
                out.print(f"{r.device}: {r.outcome.replace('_', ' ')} — {r.message}")
        if any(not r.ok for r in results):
            raise typer.Exit(1)


@app.command("report")
def report_cmd(
    site: Annotated[str, typer.Argument(help="Site id.")],
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (default: this month).")] = None,
    as_user: AsOpt = None,
    clock: ClockOpt = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Hours powered off by schedule and the estimated kWh saved over a month."""
    permissions.require(permissions.actor(as_user), "power.report")
    s = _site(inventory, site)
    now = parse_instant(clock)
    start, end = power.parse_month(month, now)
    if month is None:
        end = min(end, now.astimezone(UTC))
    with opened_store(db) as store:
        rep = power.report(store, s, start, end)
        if json:
            print_json(rep.to_json())
            return
        out = console()
        out.print(f"[bold]{s.name}[/] ({s.id}), {start:%Y-%m-%d} → {end:%Y-%m-%d %H:%M} UTC: "
                  f"{rep.windows} off periods")
        table = Table("kind", "devices", "hours off each", "device-hours", "W", "kWh saved")
        for line in rep.lines:
            table.add_row(line.kind, str(line.devices), f"{line.hours_off:.1f}", f"{line.device_hours:.1f}",
                          f"{line.watts:g}", f"{line.kwh:.1f}")
        out.print(table)
        out.print(f"total: [bold]{rep.kwh:.1f} kWh[/] saved (estimate); scheduled wakes: "
                  f"{rep.wakes_ok} ok, {rep.wakes_failed} failed")
        for note in rep.notes:
            out.print(f"[dim]{note}[/]")


@app.command("schedule")
def schedule_cmd(
    site: Annotated[str, typer.Argument(help="Site id.")],
    days: Annotated[int, typer.Option(min=1, max=62, help="How many days ahead.")] = 7,
    clock: ClockOpt = None,
    inventory: InventoryOpt = None,
    json: JsonOpt = False,
) -> None:
    """The site's next off periods and the PCs' weekly shutdown timer (as deployed)."""
    s = _site(inventory, site)
    if s.power is None:
        raise ConfigError(f"site {s.id}: no site_power in the inventory ({s.source.file})")
    now = parse_instant(clock)
    windows = off_windows(s, s.power, now, now + timedelta(days=days))
    calendar = shutdown_calendar(s.hours, s.power)
    kinds = sorted({d.kind.value for d in s.devices if s.power.applies_to(d.kind.value)})
    if json:
        print_json({"site": s.id, "kinds": kinds, "timer": calendar,
                    "windows": [w.to_json() for w in windows]})
        return
    out = console()
    out.print(f"[bold]{s.id}[/]: {', '.join(kinds) or 'no device kind'} powered by schedule "
              f"(off {s.power.shutdown_after} min after closing, woken {s.power.wake_before} min "
              "before opening)")
    table = Table("off", "woken", "opens")
    for w in windows:
        shown = (w.off_at, w.wake_at, w.opens_at)
        table.add_row(*(x.astimezone(s.tz).strftime("%a %d/%m %H:%M") for x in shown))
    out.print(table)
    out.print("timer on the PCs: " + ("; ".join(calendar) or "none"))
