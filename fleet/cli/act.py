"""`fleet act ACTION DEVICE|SITE [NAME]` and `fleet act list`: the hotline's remote actions.

Thin: parse, ask for confirmation when the action disrupts a guest, call
:func:`fleet.remote.act.act`, print.  The actor is ``--as`` > ``FLEET_USER`` > the OS account;
its role and the permission matrix are :mod:`fleet.permissions`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

import typer
from rich.table import Table

from fleet import permissions
from fleet.cli.common import console, opened_store, print_json
from fleet.errors import ConfigError
from fleet.inventory import load_inventory
from fleet.remote.act import ActReport, kinds_table, prepare
from fleet.remote.act import act as run_action

_STYLE = MappingProxyType({"changed": "green", "no_change": "cyan", "failed": "red", "refused": "yellow",
          "unreachable": "red"})

InventoryOpt = Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: setting db_url).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LabOpt = Annotated[bool, typer.Option("--lab", help="Act on the lab copy of the site.")]
AsOpt = Annotated[str | None, typer.Option("--as", help="Act on behalf of USER (default: FLEET_USER, "
                                                        "else your login).")]
ClockOpt = Annotated[str | None, typer.Option(
    "--clock", help="Judge opening hours at this instant (ISO, with zone): rehearsals, the lab.")]


def parse_instant(text: str | None, option: str = "--clock") -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: not an ISO date-time like 2026-11-23T23:00+01:00") from exc
    if value.utcoffset() is None:
        raise ConfigError(f"{option} {text!r}: give a timezone (e.g. +01:00 or Z)")
    return value


def _print_list(as_json: bool) -> None:
    rows = kinds_table()
    if as_json:
        print_json(list(rows))
        return
    table = Table("action", "device kinds", "roles", "a second run")
    table.columns[0].no_wrap = True
    for r in rows:
        name = r["action"] + (f" {r['argument']}" if r["argument"] else "")
        table.add_row(name, ", ".join(r["kinds"]), ", ".join(r["roles"]), r["second_run"])
    out = console()
    out.print(table)
    for r in rows:
        out.print(f"[bold]{r['action']}[/]: {r['summary']}")
    out.print("Confirmation asked (or --yes) for: " + ", ".join(r["action"] for r in rows if r["confirm"]))


def print_report(report: ActReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_json())
        return
    out = console()
    what = report.action + (f" {report.argument}" if report.argument else "")
    where = f" (incident #{report.incident_id})" if report.incident_id else ""
    out.print(f"[bold]{what}[/] on {report.target} by {report.actor} ({report.role}){where}")
    for r in report.results:
        style = _STYLE.get(r.outcome, "")
        out.print(f"  {r.device}: [{style}]{r.outcome.replace('_', ' ')}[/] — "
                  + r.message.replace("[", r"\["))
    recorded = f"incident #{report.incident_id}" if report.incident_id else "the device events"
    out.print(f"[dim]recorded on {recorded}[/]")


def act(
    action: Annotated[str, typer.Argument(help="An action (see 'fleet act list'), or 'list'.")],
    target: Annotated[str | None, typer.Argument(help="A device hostname or a site id.")] = None,
    argument: Annotated[str | None, typer.Argument(
        help="restart-service: the service NAME.", metavar="[NAME]")] = None,
    incident: Annotated[int | None, typer.Option("--incident", help="Record it on incident N.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="reboot: even while the site is open and a guest is on the device.")] = False,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="wake: wait until the device answers.")] = True,
    as_user: AsOpt = None,
    clock: ClockOpt = None,
    lab: LabOpt = False,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run a remote action on a device (or every device of a site it applies to), recorded
    with who, when and the outcome."""
    if action == "list":
        if target is not None:
            raise ConfigError("fleet act list takes no device")
        _print_list(json)
        return
    if target is None:
        raise ConfigError(f"fleet act {action}: give a DEVICE or a SITE")
    now = parse_instant(clock)
    who = permissions.actor(as_user)
    inv = load_inventory(inventory)
    ready = prepare(inv, action, target, actor=who, argument=argument, force=force)  # before the store
    if ready.action.spec.confirm and not yes:
        names = ", ".join(d.hostname for d in ready.devices)
        if not sys.stdin.isatty():
            raise ConfigError(f"{action} on {names}: add --yes to confirm (it interrupts "
                              "whoever is using it)")
        if not typer.confirm(f"{action} on {names}?", default=False):
            raise typer.Abort()
    with opened_store(db, create=True) as store:
        report = run_action(inv, action, target, store=store, actor=who, argument=argument,
                            incident_id=incident, lab=lab, force=force, wait=wait,
                            clock=clock_of(clock, now))
        print_report(report, json)
        if not report.ok:
            raise typer.Exit(1)


def clock_of(text: str | None, start: datetime) -> Callable[[], datetime]:
    """The system clock, or the instant given by ``--clock`` (the lab, rehearsals)."""
    if text is None:
        return lambda: datetime.now(UTC)
    return lambda: start


act_app = typer.Typer()
act_app.command("act", help=((act.__doc__ or "").split("\n\n")[0]))(act)
