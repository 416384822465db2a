"""`fleet snmp test HOST`: a technician's one-command SNMP credential and reachability check."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from fleet.cli.common import console, print_json
from fleet.errors import ConfigError, SnmpError
from fleet.inventory import load_inventory
from fleet.monitor.snmp import probe

app = typer.Typer(help="SNMP checks against inventory devices.", no_args_is_help=True)

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Inventory directory (default: FLEET_INVENTORY or ./inventory)."),
]


@app.command("test")
def test(
    host: Annotated[str, typer.Argument(help="Device hostname, as in the inventory.")],
    inventory: InventoryOpt = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=30, help="Seconds per try.")] = 2.0,
    retries: Annotated[int, typer.Option(min=0, max=5)] = 1,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Ask the device for sysDescr/sysName/sysUpTime with its inventory credentials and say
    precisely why it fails: timeout, port closed, unknown user, wrong auth or priv key, time
    window."""
    inv = load_inventory(inventory)
    try:
        device = inv.device(host)
    except KeyError:
        raise ConfigError(f"{inv.root}: no device {host!r} in the inventory") from None
    if device.snmp is None:
        raise ConfigError(f"{device.source}: device {host!r} has no SNMP credentials (snmp:)")
    address = (str(device.ip), device.snmp.port)
    result = asyncio.run(probe(device.snmp, address, timeout=timeout, retries=retries))
    where = f"{host} ({address[0]}:{address[1]}, SNMPv{device.snmp.version})"
    if json:
        print_json({
            "device": host,
            "address": f"{address[0]}:{address[1]}",
            "version": device.snmp.version,
            "ok": result.ok,
            "reason": result.reason,
            "message": result.message,
            "elapsed_ms": result.elapsed_ms,
            "sys_descr": result.sys_descr,
            "sys_name": result.sys_name,
            "uptime_s": result.uptime_s,
        })
    if not result.ok:
        # FleetError: the CLI boundary prints one line and exits 1 (after the JSON, if any)
        raise SnmpError(f"{where}: {result.reason}: {result.message}", result.reason or "error")
    if json:
        return
    out = console()
    out.print(f"[green]OK[/] {where} answered in {result.elapsed_ms:.0f} ms")
    if result.sys_name:
        out.print(f"  sysName   {result.sys_name}")
    if result.sys_descr:
        out.print(f"  sysDescr  {result.sys_descr}")
    if result.uptime_s is not None:
        out.print(f"  uptime    {result.uptime_s} s")
