"""`fleet incidents list | show | ack | assign | note | resolve | close`: the incident log.

Thin: parse, call :mod:`fleet.incidents`, print.  Every action records who (``--by``) and when.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fleet.cli.common import console, escape, opened_store, print_json
from fleet.cli.options import ByOpt, DbOpt, InventoryOpt, JsonOpt
from fleet.cli.timefmt import local, operator
from fleet.incidents import (
    IncidentError,
    acknowledge,
    assign,
    close,
    get_incident,
    list_incidents,
    note,
    resolve,
)
from fleet.inventory import load_inventory
from fleet.inventory.models import Supplier
from fleet.monitor.cycle import system_clock

app = typer.Typer(
    help="The incident log: list, show, acknowledge, assign, annotate, resolve, close.", no_args_is_help=True
)


@app.command("list")
def incidents_list(
    all_: Annotated[bool, typer.Option("--all", help="Include resolved and closed incidents.")] = False,
    site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 200,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Open incidents (most recent first)."""
    with opened_store(db) as store:
        rows = list_incidents(
            store,
            site_id=site,
            device=device,
            statuses=None if all_ else ("open", "acknowledged", "in_progress"),
            limit=limit,
        )
    if json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        console().print("no open incidents" if not all_ else "no incidents")
        return
    table = Table()
    for col in ("id", "opened", "site", "device", "check", "severity", "status", "title", "assigned"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.id), local(r.opened_at), r.site_id, r.device, escape(r.check), r.severity,
                      r.status, escape(r.title), escape(r.assigned_to or ""))  # fmt: skip
    console().print(table)


@app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """One incident and its whole history."""
    with opened_store(db) as store:
        inc = get_incident(store, incident_id)
    if json:
        print_json(inc.to_json(with_events=True))
        return
    out = console()
    out.print(f"[bold]incident #{inc.id}[/] \\[{inc.severity}] {escape(inc.title)}")
    root = ", root cause of the site" if inc.root_cause else ""
    out.print(
        f"{inc.device} at {inc.site_id}, check {escape(inc.check)}, reason {inc.reason}, "
        f"status {inc.status}{root}"
    )
    if inc.assigned_to:
        out.print(f"assigned to {escape(inc.assigned_to)}")
    for e in inc.events:
        out.print(f"  {local(e.at)}  {e.kind:<15} {escape(e.actor):<16} {escape(e.text)}")


@app.command("ack")
def incidents_ack(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Option("--text", "-m", help="Optional note.")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Acknowledge: the hotline has seen it."""
    with opened_store(db) as store:
        acknowledge(store, incident_id, who=operator(by), at=system_clock(), text=text)
    console().print(f"incident #{incident_id} acknowledged")


@app.command("assign")
def incidents_assign(
    incident_id: Annotated[int, typer.Argument()],
    to: Annotated[
        str | None, typer.Option("--to", help="Assignee (default: the site's SAV supplier).")
    ] = None,
    text: Annotated[str, typer.Option("--text", "-m")] = "",
    by: ByOpt = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
) -> None:
    """Hand over (by default to the site's SAV supplier, with its contact): in progress."""
    with opened_store(db) as store:
        target: str | Supplier = to or ""
        if to is None:
            inc = get_incident(store, incident_id)
            inv = load_inventory(inventory)
            try:
                target = inv.site(inc.site_id).sav
            except KeyError:
                raise IncidentError(
                    f"incident #{incident_id}: site {inc.site_id!r} is not in the inventory; use --to NAME"
                ) from None
        assign(store, incident_id, to=target, who=operator(by), at=system_clock(), text=text)
        name = target if isinstance(target, str) else target.name
    console().print(f"incident #{incident_id} assigned to {escape(str(name))} (in progress)")


@app.command("note")
def incidents_note(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Argument(help="The note.")],
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Add a note."""
    with opened_store(db) as store:
        note(store, incident_id, who=operator(by), text=text, at=system_clock())
    console().print(f"note added to incident #{incident_id}")


@app.command("resolve")
def incidents_resolve(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Option("--text", "-m")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Resolve by hand (the monitor also resolves by itself after a stable recovery)."""
    with opened_store(db) as store:
        resolve(store, incident_id, who=operator(by), at=system_clock(), text=text)
    console().print(f"incident #{incident_id} resolved")


@app.command("close")
def incidents_close(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Option("--text", "-m")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Close a resolved incident."""
    with opened_store(db) as store:
        close(store, incident_id, who=operator(by), at=system_clock(), text=text)
    console().print(f"incident #{incident_id} closed")
