"""`fleet diag DEVICE [--incident N] [--json]`: a redacted, read-only diagnostics bundle of one
host (fabric), kept in the state directory; its path and SHA-256 go on the incident (or the
device's events)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet import permissions
from fleet.cli.act import AsOpt, DbOpt, InventoryOpt, JsonOpt, LabOpt
from fleet.cli.common import console, opened_store, print_json
from fleet.inventory import load_inventory
from fleet.remote.act import diagnose_device, prepare_diag


def diag(
    device: Annotated[str, typer.Argument(help="A PC, borne or gateway hostname.")],
    incident: Annotated[int | None, typer.Option("--incident", help="Record it on incident N.")] = None,
    as_user: AsOpt = None,
    lab: LabOpt = False,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Collect a diagnostics bundle (journal since boot, failed units, disk, memory, processes,
    wipe records, kiosk and browser logs, lpstat; on the gateway nft, ndsctl, dnsmasq):
    read-only, redacted, bounded in size and time."""
    who = permissions.actor(as_user)
    inv = load_inventory(inventory)
    prepare_diag(inv, device, actor=who)  # refused before the store is opened
    with opened_store(db, create=True) as store:
        bundle, _role = diagnose_device(inv, device, store=store, actor=who, incident_id=incident, lab=lab)
        if json:
            print_json(bundle.to_json())
            return
        out = console()
        out.print(f"[bold]{bundle.path}[/] ({bundle.size} bytes, {bundle.seconds:.1f} s)")
        out.print(f"sha256 {bundle.sha256}")
        for item in bundle.items:
            mark = "[green]ok[/]" if item.ok else "[red]failed[/]"
            extra = " (cut to the bound)" if item.truncated else ""
            err = f" — {item.error}".replace("[", r"\[") if item.error else ""
            out.print(f"  {item.name}: {mark} {item.bytes} bytes{extra}{err}")
        where = f"incident #{incident}" if incident else "the device events"
        out.print(f"[dim]recorded on {where}; the manifest (MANIFEST.json) lists every item[/]")
        if len(bundle.failures) == len(bundle.items):
            raise typer.Exit(1)


__all__ = ["Path", "diag"]


diag_app = typer.Typer()
diag_app.command("diag", help=((diag.__doc__ or "").split("\n\n")[0]))(diag)
