"""`fleet handoff sync | status | retry`: the SAV hand-off to GLPI and the suppliers' e-mail.

Thin: parse, call :mod:`fleet.handoff` / :mod:`fleet.store.outbox`, print.  Settings (GLPI URL,
API version, tokens, SMTP) come from ``FLEET_*`` variables, ``fleet.toml`` or the vault and are
never printed (docs/operations.md).
"""

from __future__ import annotations

import getpass
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet.cli.common import console, opened_store, print_json
from fleet.errors import ConfigError
from fleet.handoff import RunReport, load_config, run_once
from fleet.incidents import IncidentError
from fleet.inventory import load_inventory
from fleet.store.outbox import EntryView, outbox_status, retry_incident, skip_failed

app = typer.Typer(
    help="SAV hand-off: incidents to GLPI and to the supplier's e-mail, exactly once.",
    no_args_is_help=True,
)

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Inventory directory (default: FLEET_INVENTORY or ./inventory)."),
]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: FLEET_DB_URL or sqlite:///var/fleet.sqlite).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _esc(text: str) -> str:
    return text.replace("[", r"\[")


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _print_report(report: RunReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_json())
        return
    out, err = console(), console(stderr=True)
    out.print(
        f"hand-off: {len(report.delivered)} delivered, {len(report.retried)} to retry later, "
        f"{len(report.failed)} refused"
    )
    for incident, channel, kind, error in report.failed:
        err.print(f"[red]#{incident} {channel} {kind} refused:[/] {_esc(error)}")
    for incident, channel, kind, error in report.retried:
        err.print(f"[yellow]#{incident} {channel} {kind} will be retried:[/] {_esc(error)}")
    for channel, error in report.channel_errors.items():
        err.print(f"[bold red]{channel} unusable for now:[/] {_esc(error)}")


@app.command("sync")
def sync(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (the default).")] = False,
    daemon: Annotated[
        bool, typer.Option("--daemon", help="A pass every --interval seconds until stopped.")
    ] = False,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between passes (--daemon).")] = 60.0,
    cycles: Annotated[
        int, typer.Option(min=0, help="With --daemon: stop after this many passes (0: never).")
    ] = 0,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Deliver the queued incident changes to GLPI and the SAV suppliers (in order, with retries)."""
    if once and daemon:
        raise ConfigError("--once and --daemon exclude each other")
    config = load_config(inventory_root=inventory)
    if not config.channels:
        raise ConfigError(
            "nothing to hand off to: set FLEET_GLPI_URL and/or FLEET_SMTP_HOST (see docs/operations.md)"
        )
    inv = load_inventory(inventory)
    with opened_store(db, create=True) as store:  # the sender owns the outbox's state
        failed_channel = False
        n = 0
        while True:
            started = time.monotonic()
            report = run_once(store, config, inv)
            _print_report(report, json)
            failed_channel = failed_channel or not report.ok
            n += 1
            if not daemon or (cycles and n >= cycles):
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        if failed_channel and not daemon:
            raise typer.Exit(1)


def _row(e: EntryView, ticket: str | None) -> list[str]:
    if e.status == "pending":
        state = f"pending, try {e.attempts + 1} at {_when(e.next_attempt_at)}"
    elif e.status == "failed":
        state = "[red]failed[/]"
    elif e.status == "skipped":
        state = f"skipped {_when(e.delivered_at)}"
    else:
        state = f"delivered {_when(e.delivered_at)}"
    return [f"#{e.incident_id}", e.channel, e.kind, state, ticket or "-", _esc(e.last_error or e.ref or "")]


@app.command("status")
def status(
    limit: Annotated[int, typer.Option(min=0, max=10000, help="How many recent deliveries to list.")] = 20,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """What waits (pending, with the next try), what was refused (with the reason), what left."""
    with opened_store(db) as store:
        st = outbox_status(store, delivered_limit=limit)

        def ticket(e: EntryView) -> str | None:
            return st.refs.get((e.incident_id, e.channel)) if e.channel == "glpi" else None

        if json:
            print_json({
                "channels": [{"channel": c, "enabled_at": a.isoformat(),
                              "last_run_at": r.isoformat() if r else None} for c, a, r in st.channels],
                "counts": st.counts,
                "waiting": [{**e.to_json(), "ticket": ticket(e)} for e in st.waiting],
                "delivered": [{**e.to_json(), "ticket": ticket(e)} for e in st.delivered],
            })  # fmt: skip
            return
        out = console()
        if not st.channels:
            out.print("no sender has run yet: nothing is queued (fleet handoff sync, docs/operations.md)")
            return
        for channel, enabled, last in st.channels:
            c = st.counts.get(channel, {})
            out.print(
                f"{channel}: queued since {_when(enabled)}, last pass {_when(last)} — "
                f"{c.get('pending', 0)} pending, {c.get('failed', 0)} failed, "
                f"{c.get('delivered', 0)} delivered"
            )
        for title, rows in (("waiting or refused", st.waiting), ("recently delivered", st.delivered)):
            if not rows:
                continue
            table = Table(title=title, title_justify="left")
            for col in ("incident", "channel", "event", "status", "ticket", "error / ref"):
                table.add_column(col)
            for e in rows:
                table.add_row(*_row(e, ticket(e)))
            out.print(table)


@app.command("retry")
def retry(
    incident_id: Annotated[int, typer.Argument(help="Incident number (as in `fleet incidents show N`).")],
    db: DbOpt = None,
) -> None:
    """Try the incident's refused or waiting deliveries again at the next pass."""
    with opened_store(db) as store:
        try:
            n = retry_incident(store, incident_id, datetime.now(UTC))
        except LookupError:
            raise IncidentError(f"incident #{incident_id} does not exist") from None
        if n == 0:
            console().print(f"incident #{incident_id}: nothing waits to be handed off")
        else:
            console().print(f"incident #{incident_id}: {n} deliveries will be tried at the next "
                            "hand-off pass")


@app.command("skip")
def skip(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    by: Annotated[
        str | None, typer.Option("--by", help="Operator name recorded on the incident (default: $USER).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Give up the incident's refused deliveries (e.g. its GLPI ticket was deleted): the ones
    after them go on.  Recorded on the incident with who and why."""
    who = by or os.environ.get("SUDO_USER") or os.environ.get("USER") or getpass.getuser()
    with opened_store(db) as store:
        try:
            n = skip_failed(store, incident_id, datetime.now(UTC), who)
        except LookupError:
            raise IncidentError(f"incident #{incident_id} does not exist") from None
        console().print(f"incident #{incident_id}: {n} refused deliveries given up")
