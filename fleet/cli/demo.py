"""`fleet demo`: the main job on the embedded default, saying exactly what it does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet.cli.common import console
from fleet.inventory import DeviceKind, is_open, load_inventory, next_opening

DEMO_SITE = "florac-fs"


def demo(
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i")] = None,
) -> None:
    """Validate the demo network and summarise it (sites, devices, who is open now)."""
    out = console()
    inv = load_inventory(inventory)
    now = datetime.now(UTC)
    out.print("[bold]Relais demo[/] — what this step does: validate the inventory and summarise it.")
    out.print(
        f"[green]inventory OK[/]: {len(inv.sites)} sites, {len(inv.devices)} devices "
        f"({'demo vault' if inv.demo_vault else 'own vault'})"
    )
    table = Table("kind", "sites", "open now", "public PCs", "PMR", "bornes", "gateways", box=None)
    kinds = sorted({s.kind.value for s in inv.sites})
    for k in kinds:
        sites = [s for s in inv.sites if s.kind.value == k]
        devs = [d for s in sites for d in s.devices]
        table.add_row(
            k,
            str(len(sites)),
            str(sum(is_open(s, now) for s in sites)),
            str(sum(d.kind is DeviceKind.PUBLIC_PC for d in devs)),
            str(sum(d.pmr for d in devs)),
            str(sum(d.kind is DeviceKind.BORNE for d in devs)),
            str(sum(d.kind is DeviceKind.GATEWAY for d in devs)),
        )
    out.print(table)
    site = inv.site(DEMO_SITE)
    nxt = next_opening(site, now)
    state = "open" if is_open(site, now) else f"closed, opens {nxt:%Y-%m-%d %H:%M} UTC" if nxt else "closed"
    out.print(f"demo site [bold]{site.name}[/] ({site.id}): {len(site.devices)} devices, {state}")
    out.print("[dim]Not done by this step (yet): lab simulation, deploy, polling, incidents.[/]")
