"""`fleet status [SITE|DEVICE]`: is it up?  Every site at a glance, one site's devices, or one
device's checks — the same functions as the dashboard (:mod:`fleet.incidents.status`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Annotated

import typer
from rich.table import Table

from fleet.cli.common import console, escape, opened_store, print_json
from fleet.cli.options import DbOpt, InventoryOpt, JsonOpt
from fleet.cli.timefmt import local, parse_instant, soon
from fleet.incidents.status import device_detail, resolve_target, site_status
from fleet.inventory import Inventory, load_inventory
from fleet.inventory.models import Device, Site
from fleet.monitor.cycle import system_clock
from fleet.store import Store

_STATE_STYLE = MappingProxyType({"up": "green", "down": "red", "degraded": "yellow", "unknown": "dim"})
_SUMMARY_STYLE = MappingProxyType(
    {"ok": "green", "incident": "red", "watch": "yellow", "expected": "cyan", "unknown": "dim"}
)


def status(
    target: Annotated[
        str | None, typer.Argument(help="A site id or a device hostname (or a piece of one).")
    ] = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
    clock: Annotated[
        str | None, typer.Option("--clock", help="Judge opening hours at this instant (ISO, with zone).")
    ] = None,
) -> None:
    """Is it up?  Every site at a glance, one site's devices, or one device's checks."""
    now = parse_instant(clock, "--clock") if clock else system_clock()
    inv = load_inventory(inventory)
    with opened_store(db) as store:
        if target is None:
            _status_sites(store, inv, inv.sites, now, json)
            return
        found = resolve_target(inv, target)
        if isinstance(found, Site):
            _status_site(store, found, now, json)
        else:
            _status_device(store, *found, now, json)


def _status_sites(store: Store, inv: Inventory, sites: Sequence[Site], now: datetime, as_json: bool) -> None:
    result = site_status(store, sites, now)
    if as_json:
        print_json([{k: v for k, v in s.to_json().items() if k != "devices"} for s in result])
        return
    table = Table(title=f"Relais sites — {local(now)}", title_justify="left")
    for col in ("site", "status", "hours", "up", "down", "degr.", "unkn.", "inc."):
        table.add_column(col)
    for s in result:
        style = _SUMMARY_STYLE.get(s.summary, "")
        hours = "open" if s.open else f"opens {soon(s.next_opening, inv.site(s.id), now)}"
        table.add_row(s.id, f"[{style}]{s.summary}[/]", hours, str(s.count("up")), str(s.count("down")),
                      str(s.count("degraded")), str(s.count("unknown")), str(len(s.incidents)))  # fmt: skip
    console().print(table)


def _status_site(store: Store, site: Site, now: datetime, as_json: bool) -> None:
    [s] = site_status(store, [site], now)
    if as_json:
        print_json(s.to_json())
        return
    out = console()
    hours = "open" if s.open else f"closed (opens {soon(s.next_opening, site, now)})"
    out.print(
        f"[bold]{escape(site.name)}[/] ({site.id}) — {hours} — "
        f"[{_SUMMARY_STYLE.get(s.summary, '')}]{s.summary}[/]"
    )
    if s.maintenance:
        out.print(f"[cyan]{escape(s.maintenance)}[/]")
    table = Table()
    for col in ("device", "kind", "state", "since", "why", "incidents"):
        table.add_column(col)
    for d in s.devices:
        style = _STATE_STYLE.get(d.state, "")
        why = d.reason or ""
        if d.explanation:
            why = f"{why} — {d.explanation}" if why else d.explanation
        incs = ", ".join(f"#{i.id} {i.check} ({i.status})" for i in d.incidents)
        table.add_row(
            d.hostname, d.kind, f"[{style}]{d.state}[/]", local(d.since, site), escape(why), escape(incs)
        )
    out.print(table)


def _status_device(store: Store, site: Site, device: Device, now: datetime, as_json: bool) -> None:
    d = device_detail(store, site, device, now)
    if as_json:
        print_json(d.to_json())
        return
    out = console()
    style = _STATE_STYLE.get(d.state, "")
    out.print(f"[bold]{d.hostname}[/] ({d.kind}) at {escape(site.name)}: [{style}]{d.state}[/]"
              + (f" ({escape(d.reason)})" if d.reason else "")
              + (f" since {local(d.since, site)}" if d.since else "")
              + (f" — {escape(d.explanation)}" if d.explanation else ""))  # fmt: skip
    out.print(f"last polled: {local(d.last_seen, site)}")
    if d.checks:
        table = Table()
        for col in ("check", "status", "value", "reason", "since"):
            table.add_column(col)
        for c in d.checks:
            table.add_row(escape(c.check), f"[{_STATE_STYLE.get(c.status, '')}]{c.status}[/]",
                          escape(c.value or ""), escape(c.reason or ""), local(c.since, site))  # fmt: skip
        out.print(table)
    for i in d.incidents:
        out.print(
            f"[red]incident #{i.id}[/] {i.status}: {escape(i.title)} (since {local(i.opened_at, site)})"
        )
    for at, kind, detail in d.events:
        out.print(f"event {local(at, site)} {kind}: {escape(detail)}")
