"""`fleet poll`, `fleet status`, `fleet incidents ...`, `fleet maintenance ...`.

Thin: parse, call the engine (:mod:`fleet.monitor.cycle`, :mod:`fleet.incidents`), print.  The
clock is read here, at the edge, and handed down (``fleet poll --clock`` replaces it).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from fleet.cli.common import console, print_json
from fleet.errors import ConfigError
from fleet.incidents import (
    IncidentError,
    acknowledge,
    add_window,
    assign,
    close,
    end_window,
    get_incident,
    list_incidents,
    list_windows,
    note,
    resolve,
)
from fleet.incidents.status import device_detail, resolve_target, site_status
from fleet.inventory import Inventory, load_inventory
from fleet.inventory.models import Device, Site, Supplier
from fleet.monitor.cycle import (
    Clock,
    CycleReport,
    offset_clock,
    parse_shard,
    run_cycle,
    sites_of_shard,
    system_clock,
)
from fleet.monitor.poller import Poller, Sample, default_deadline, load_profiles
from fleet.monitor.rules import REACHABILITY, load_rules
from fleet.remote.power import wake_due
from fleet.store import Store, open_store
from fleet.store.models import Observation

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Inventory directory (default: FLEET_INVENTORY or ./inventory)."),
]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Store URL (default: FLEET_DB_URL or sqlite:///var/fleet.sqlite).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Operator name recorded on the event (default: $USER).")
]

incidents_app = typer.Typer(
    help="The incident log: list, show, acknowledge, assign, annotate, resolve, close.", no_args_is_help=True
)
maintenance_app = typer.Typer(
    help="Maintenance windows: failures on a site/device are expected meanwhile.", no_args_is_help=True
)


def _operator(by: str | None) -> str:
    return by or os.environ.get("SUDO_USER") or os.environ.get("USER") or getpass.getuser()


def _local(at: datetime | None, site: Site | None = None) -> str:
    if at is None:
        return "-"
    if site is not None:
        return at.astimezone(site.tz).strftime("%Y-%m-%d %H:%M")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _soon(at: datetime | None, site: Site, now: datetime) -> str:
    """A near instant in the site's time, short: ``14:00``, ``Tue 09:00`` or a full date."""
    if at is None:
        return "-"
    local, today = at.astimezone(site.tz), now.astimezone(site.tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if (local.date() - today.date()).days < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


# ------------------------------------------------------------------------------- poll ------


def _parse_instant(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: not an ISO date-time like 2026-11-23T23:00+01:00") from exc
    if value.utcoffset() is None:
        raise ConfigError(f"{option} {text!r}: give a timezone (e.g. +01:00 or Z)")
    return value


def _down_devices(store: Store, hostnames: Sequence[str]) -> set[str]:
    """Devices whose reachability is down: the poller gives them a slower queue."""
    with store.read() as session:
        rows = session.scalars(
            select(Observation.device).where(Observation.check == REACHABILITY, Observation.status == "down")
        )
        wanted = set(hostnames)
        return {h for h in rows if h in wanted}


def _print_report(report: CycleReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_json())
        return
    opened = ", ".join(f"{d}/{c}" for d, c in report.opened) or "none"
    resolved = ", ".join(f"{d}/{c}" for d, c in report.resolved) or "none"
    console().print(
        f"cycle {_local(report.started_at)}: {report.devices} devices, {report.answered} answered, "
        f"{report.state_changes} state changes; opened: {_escape(opened)}; "
        f"resolved: {_escape(resolved)} (poll {report.poll_s:.2f} s, store {report.apply_s:.2f} s)"
    )
    for host, error in report.failures:
        console(stderr=True).print(f"[red]store update failed for {host}:[/] {_escape(error)}")


def poll(
    once: Annotated[bool, typer.Option("--once", help="One cycle, then exit (the default).")] = False,
    daemon: Annotated[
        bool, typer.Option("--daemon", help="Poll every --interval seconds until stopped.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="I/N: poll only shard I (0..N-1) of the sites, by site-id hash."),
    ] = None,
    clock: Annotated[
        str | None,
        typer.Option(
            "--clock", help="Pretend it is this instant (ISO, with zone); time then runs on from it."
        ),
    ] = None,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between cycle starts (--daemon).")] = 60.0,
    cycles: Annotated[
        int, typer.Option(min=0, help="With --daemon: stop after this many cycles (0: never).")
    ] = 0,
    rules_file: Annotated[Path, typer.Option("--rules", help="Health rules.")] = Path("monitoring/rules.yml"),
    profiles_dir: Annotated[Path, typer.Option("--profiles", help="Polling profiles.")] = Path(
        "monitoring/profiles"
    ),
    timeout: Annotated[float, typer.Option(min=0.05, max=30, help="SNMP timeout per try, seconds.")] = 2.0,
    retries: Annotated[int, typer.Option(min=0, max=5)] = 1,
    concurrency: Annotated[int, typer.Option(min=1, max=5000)] = 200,
    retention_days: Annotated[float, typer.Option(min=0.01, help="Keep raw samples this many days.")] = 7.0,
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (repeatable).")] = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Poll the devices over SNMP, apply monitoring/rules.yml, record state changes and open or
    resolve incidents.  Several pollers may share one PostgreSQL store, each with its --shard."""
    if once and daemon:
        raise ConfigError("--once and --daemon exclude each other")
    shard_spec = parse_shard(shard) if shard else None
    the_clock: Clock = offset_clock(_parse_instant(clock, "--clock")) if clock else system_clock
    inv = load_inventory(inventory)
    rules = load_rules(rules_file)
    profiles = load_profiles(profiles_dir)
    sites = sites_of_shard(inv.sites, shard_spec)
    if site:
        unknown = sorted(set(site) - {s.id for s in inv.sites})
        if unknown:
            raise ConfigError(f"--site: unknown site {unknown[0]!r}")
        sites = [s for s in sites if s.id in set(site)]
    store = open_store(db)
    deadline = min(default_deadline(timeout, retries), max(0.5, interval * 0.6))
    poller = Poller(profiles, timeout=timeout, retries=retries, concurrency=concurrency,
                    deadline=deadline, clock=the_clock)  # fmt: skip
    retention = timedelta(days=retention_days)
    hostnames = [d.hostname for s in sites for d in s.devices]

    async def poll_fn(devices: Sequence[Device]) -> list[Sample]:
        return await poller.cycle(devices, down=_down_devices(store, hostnames))

    async def loop() -> None:
        n = 0
        while True:
            started = time.monotonic()
            report = await run_cycle(store, sites, poll_fn, rules, the_clock, retention=retention)
            _print_report(report, json)
            if daemon:  # power by opening hours (issue 12): send the wakes due, do not wait
                wake_due(store, sites, the_clock(), wait=False)
            n += 1
            if not daemon or (cycles and n >= cycles):
                return
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    try:
        asyncio.run(loop())
    finally:
        poller.close()
        store.dispose()


# ------------------------------------------------------------------------------ status -----

_STATE_STYLE = {"up": "green", "down": "red", "degraded": "yellow", "unknown": "dim"}
_SUMMARY_STYLE = {"ok": "green", "incident": "red", "watch": "yellow", "expected": "cyan", "unknown": "dim"}


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
    now = _parse_instant(clock, "--clock") if clock else system_clock()
    inv = load_inventory(inventory)
    store = open_store(db)
    try:
        if target is None:
            _status_sites(store, inv, inv.sites, now, json)
            return
        found = resolve_target(inv, target)
        if isinstance(found, Site):
            _status_site(store, found, now, json)
        else:
            _status_device(store, *found, now, json)
    finally:
        store.dispose()


def _status_sites(store: Store, inv: Inventory, sites: Sequence[Site], now: datetime, as_json: bool) -> None:
    result = site_status(store, sites, now)
    if as_json:
        print_json([{k: v for k, v in s.to_json().items() if k != "devices"} for s in result])
        return
    table = Table(title=f"Relais sites — {_local(now)}", title_justify="left")
    for col in ("site", "status", "hours", "up", "down", "degr.", "unkn.", "inc."):
        table.add_column(col)
    for s in result:
        style = _SUMMARY_STYLE.get(s.summary, "")
        hours = "open" if s.open else f"opens {_soon(s.next_opening, inv.site(s.id), now)}"
        table.add_row(s.id, f"[{style}]{s.summary}[/]", hours, str(s.count("up")), str(s.count("down")),
                      str(s.count("degraded")), str(s.count("unknown")), str(len(s.incidents)))  # fmt: skip
    console().print(table)


def _status_site(store: Store, site: Site, now: datetime, as_json: bool) -> None:
    [s] = site_status(store, [site], now)
    if as_json:
        print_json(s.to_json())
        return
    out = console()
    hours = "open" if s.open else f"closed (opens {_soon(s.next_opening, site, now)})"
    out.print(
        f"[bold]{_escape(site.name)}[/] ({site.id}) — {hours} — "
        f"[{_SUMMARY_STYLE.get(s.summary, '')}]{s.summary}[/]"
    )
    if s.maintenance:
        out.print(f"[cyan]{_escape(s.maintenance)}[/]")
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
            d.hostname, d.kind, f"[{style}]{d.state}[/]", _local(d.since, site), _escape(why), _escape(incs)
        )
    out.print(table)


def _status_device(store: Store, site: Site, device: Device, now: datetime, as_json: bool) -> None:
    d = device_detail(store, site, device, now)
    if as_json:
        print_json(d.to_json())
        return
    out = console()
    style = _STATE_STYLE.get(d.state, "")
    out.print(f"[bold]{d.hostname}[/] ({d.kind}) at {_escape(site.name)}: [{style}]{d.state}[/]"
              + (f" ({_escape(d.reason)})" if d.reason else "")
              + (f" since {_local(d.since, site)}" if d.since else "")
              + (f" — {_escape(d.explanation)}" if d.explanation else ""))  # fmt: skip
    out.print(f"last polled: {_local(d.last_seen, site)}")
    if d.checks:
        table = Table()
        for col in ("check", "status", "value", "reason", "since"):
            table.add_column(col)
        for c in d.checks:
            table.add_row(_escape(c.check), f"[{_STATE_STYLE.get(c.status, '')}]{c.status}[/]",
                          _escape(c.value or ""), _escape(c.reason or ""), _local(c.since, site))  # fmt: skip
        out.print(table)
    for i in d.incidents:
        out.print(
            f"[red]incident #{i.id}[/] {i.status}: {_escape(i.title)} (since {_local(i.opened_at, site)})"
        )
    for at, kind, detail in d.events:
        out.print(f"event {_local(at, site)} {kind}: {_escape(detail)}")


# --------------------------------------------------------------------------- incidents -----


@incidents_app.command("list")
def incidents_list(
    all_: Annotated[bool, typer.Option("--all", help="Include resolved and closed incidents.")] = False,
    site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 200,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Open incidents (most recent first)."""
    store = open_store(db)
    try:
        rows = list_incidents(
            store,
            site_id=site,
            device=device,
            statuses=None if all_ else ("open", "acknowledged", "in_progress"),
            limit=limit,
        )
    finally:
        store.dispose()
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
        table.add_row(str(r.id), _local(r.opened_at), r.site_id, r.device, _escape(r.check), r.severity,
                      r.status, _escape(r.title), _escape(r.assigned_to or ""))  # fmt: skip
    console().print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[int, typer.Argument(help="Incident number.")],
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """One incident and its whole history."""
    store = open_store(db)
    try:
        inc = get_incident(store, incident_id)
    finally:
        store.dispose()
    if json:
        print_json(inc.to_json(with_events=True))
        return
    out = console()
    out.print(f"[bold]incident #{inc.id}[/] \\[{inc.severity}] {_escape(inc.title)}")
    root = ", root cause of the site" if inc.root_cause else ""
    out.print(
        f"{inc.device} at {inc.site_id}, check {_escape(inc.check)}, reason {inc.reason}, "
        f"status {inc.status}{root}"
    )
    if inc.assigned_to:
        out.print(f"assigned to {_escape(inc.assigned_to)}")
    for e in inc.events:
        out.print(f"  {_local(e.at)}  {e.kind:<15} {_escape(e.actor):<16} {_escape(e.text)}")


def _with_store(db: str | None) -> Store:
    return open_store(db)


@incidents_app.command("ack")
def incidents_ack(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Option("--text", "-m", help="Optional note.")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Acknowledge: the hotline has seen it."""
    store = _with_store(db)
    try:
        acknowledge(store, incident_id, who=_operator(by), at=system_clock(), text=text)
    finally:
        store.dispose()
    console().print(f"incident #{incident_id} acknowledged")


@incidents_app.command("assign")
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
    store = _with_store(db)
    try:
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
        assign(store, incident_id, to=target, who=_operator(by), at=system_clock(), text=text)
        name = target if isinstance(target, str) else target.name
    finally:
        store.dispose()
    console().print(f"incident #{incident_id} assigned to {_escape(str(name))} (in progress)")


@incidents_app.command("note")
def incidents_note(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Argument(help="The note.")],
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Add a note."""
    store = _with_store(db)
    try:
        note(store, incident_id, who=_operator(by), text=text, at=system_clock())
    finally:
        store.dispose()
    console().print(f"note added to incident #{incident_id}")


@incidents_app.command("resolve")
def incidents_resolve(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Option("--text", "-m")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Resolve by hand (the monitor also resolves by itself after a stable recovery)."""
    store = _with_store(db)
    try:
        resolve(store, incident_id, who=_operator(by), at=system_clock(), text=text)
    finally:
        store.dispose()
    console().print(f"incident #{incident_id} resolved")


@incidents_app.command("close")
def incidents_close(
    incident_id: Annotated[int, typer.Argument()],
    text: Annotated[str, typer.Option("--text", "-m")] = "",
    by: ByOpt = None,
    db: DbOpt = None,
) -> None:
    """Close a resolved incident."""
    store = _with_store(db)
    try:
        close(store, incident_id, who=_operator(by), at=system_clock(), text=text)
    finally:
        store.dispose()
    console().print(f"incident #{incident_id} closed")


# ------------------------------------------------------------------------- maintenance -----

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


@maintenance_app.command("add")
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
    begin = _parse_instant(start, "--start") if start else now
    end = _parse_instant(until, "--until") if until else begin + parse_duration(duration or "2h")
    store = _with_store(db)
    try:
        if isinstance(found, Site):
            window = add_window(
                store, site_id=found.id, start=begin, end=end, who=_operator(by), why=why, now=now
            )
        else:
            window = add_window(
                store, device=found[1].hostname, start=begin, end=end, who=_operator(by), why=why, now=now
            )
    finally:
        store.dispose()
    if json:
        print_json(window.to_json())
        return
    console().print(
        f"maintenance #{window.id}: {_escape(window.label)}, {_local(window.start)} → {_local(window.end)}"
    )


@maintenance_app.command("list")
def maintenance_list(
    all_: Annotated[bool, typer.Option("--all", help="Include past windows.")] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Current and future maintenance windows."""
    store = _with_store(db)
    try:
        windows = list_windows(store, at=system_clock(), include_past=all_)
    finally:
        store.dispose()
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
            _local(w.start),
            _local(end),
            _escape(w.who),
            _escape(w.why),
        )
    console().print(table)


@maintenance_app.command("end")
def maintenance_end(
    window_id: Annotated[int, typer.Argument()],
    db: DbOpt = None,
) -> None:
    """End a maintenance window now."""
    store = _with_store(db)
    try:
        end_window(store, window_id, at=system_clock())
    finally:
        store.dispose()
    console().print(f"maintenance #{window_id} ended")
