"""`fleet maintenance add | list | end`: windows during which failures on a site or a device are
expected (technicians on site)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from fleet.cli.common import console, escape, opened_store, print_json
from fleet.cli.options import ByOpt, DbOpt, InventoryOpt, JsonOpt
from fleet.cli.timefmt import local, operator, parse_instant
from fleet.errors import ConfigError
from fleet.incidents import add_window, end_window, list_windows
from fleet.incidents.status import resolve_target
from fleet.inventory import load_inventory
from fleet.inventory.models import Site
from fleet.monitor.cycle import system_clock

app = typer.Typer(
    help="Maintenance windows: failures on a site/device are expected meanwhile.", no_args_is_help=True
)

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")


def parse_duration(text: str) -> timedelta:
    """``2h``, ``90m``, ``1d``, ``1h30m``."""
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        raise ConfigError(f"--for {text!r}: expected a duration like 2h, 90m, 1d or 1h30m")
    days, hours, minutes = (int(g or 0) for g in m.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes)
    if value <= timedelta(0):
        raise ConfigError(f"--for {text!r}: must be longer than zero")
    return value


@app.command("add")
def maintenance_add(
    target: Annotated[str, typer.Argument(help="A site id or a device hostname.")],
    why: Annotated[str, typer.Option("--why", help="What is being done (shown to the hotline).")],
    duration: Annotated[
        str | None, typer.Option("--for", help="Duration: 2h, 90m, 1h30m (default 2h).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="End instant (ISO, with zone).")] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Start instant (ISO, with zone; default now).")
    ] = None,
    by: ByOpt = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Declare a maintenance window on a site or one device."""
    if duration and until:
        raise ConfigError("--for and --until exclude each other")
    inv = load_inventory(inventory)
    found = resolve_target(inv, target)
    now = system_clock()
    begin = parse_instant(start, "--start") if start else now
    end = parse_instant(until, "--until") if until else begin + parse_duration(duration or "2h")
    with opened_store(db) as store:
        if isinstance(found, Site):
            window = add_window(
                store, site_id=found.id, start=begin, end=end, who=operator(by), why=why, now=now
            )
        else:
            window = add_window(
                store, device=found[1].hostname, start=begin, end=end, who=operator(by), why=why, now=now
            )
    if json:
        print_json(window.to_json())
        return
    console().print(
        f"maintenance #{window.id}: {escape(window.label)}, {local(window.start)} → {local(window.end)}"
    )


@app.command("list")
def maintenance_list(
    all_: Annotated[bool, typer.Option("--all", help="Include past windows.")] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Current and future maintenance windows."""
    with opened_store(db) as store:
        windows = list_windows(store, at=system_clock(), include_past=all_)
    if json:
        print_json([w.to_json() for w in windows])
        return
    if not windows:
        console().print("no maintenance windows")
        return
    table = Table()
    for col in ("id", "target", "start", "end", "who", "why"):
        table.add_column(col)
    for w in windows:
        end = w.ended_at if w.ended_at and w.ended_at < w.end else w.end
        table.add_row(
            str(w.id),
            w.device or w.site_id or "",
            local(w.start),
            local(end),
            escape(w.who),
            escape(w.why),
        )
    console().print(table)


@app.command("end")
def maintenance_end(
    window_id: Annotated[int, typer.Argument()],
    db: DbOpt = None,
) -> None:
    """End a maintenance window now."""
    with opened_store(db) as store:
        end_window(store, window_id, at=system_clock())
    console().print(f"maintenance #{window_id} ended")
