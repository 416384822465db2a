"""`fleet snmp test HOST`: a technician's one-command SNMP credential and reachability check."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from fleet.cli.common import console, print_json
from fleet.cli.exits import ExitCode
from fleet.cli.options import InventoryOpt, JsonOpt
from fleet.errors import ConfigError, SnmpError
from fleet.i18n import N_
from fleet.inventory import load_inventory
from fleet.monitor.snmp import probe

app = typer.Typer(help=N_("SNMP checks against inventory devices."), no_args_is_help=True)


@app.command("test", help=N_("Ask the device for sysDescr/sysName/sysUpTime with its inventory "
                             "credentials and say precisely why it fails: timeout, port closed, "
                             "unknown user, wrong auth or priv key, time window."))
def test(
    host: Annotated[str, typer.Argument(help=N_("Device hostname, as in the inventory."))],
    inventory: InventoryOpt = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=30, help=N_("Seconds per try."))] = 2.0,
    retries: Annotated[int, typer.Option(min=0, max=5, help=N_("Tries after a timeout."))] = 1,
    json: JsonOpt = False,
) -> None:
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
        if json:  # the JSON above says why; one document on stdout
            raise typer.Exit(ExitCode.FAILED)
        # FleetError: the CLI boundary prints one line and exits 1
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
