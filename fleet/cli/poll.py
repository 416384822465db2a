"""`fleet poll`: SNMP health polling, rules, state changes and incidents.

Thin: parse, call the engine (:mod:`fleet.monitor.cycle`), print.  The clock is read here, at
the edge, and handed down (``--clock`` replaces it).  The poller is the store's writer: it
creates the store if there is none (every other command refuses a missing store).  The rules
and profiles are read beside the inventory (``<inventory>/../monitoring``) unless named.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fleet.cli.common import console, escape, opened_store, print_json
from fleet.cli.exits import ExitCode
from fleet.cli.lookup import known_site
from fleet.cli.options import DbOpt, InventoryOpt, JsonOpt
from fleet.cli.timefmt import machine_time, parse_instant
from fleet.errors import ConfigError, FleetError
from fleet.i18n import N_
from fleet.i18n import gettext as _

if TYPE_CHECKING:
    from fleet.handoff import HandoffConfig
    from fleet.inventory.models import Device, Inventory
    from fleet.monitor.cycle import Clock, CycleReport
    from fleet.monitor.poller import Sample
    from fleet.store import Store

app = typer.Typer()


def _down_devices(store: Store, hostnames: Sequence[str]) -> set[str]:
    """Devices whose reachability is down: the poller gives them a slower queue."""
    from sqlalchemy import select

    from fleet.monitor.rules import REACHABILITY
    from fleet.store.models import Observation

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
    none = _("none")
    opened = ", ".join(f"{d}/{c}" for d, c in report.opened) or none
    resolved = ", ".join(f"{d}/{c}" for d, c in report.resolved) or none
    console().print(escape(_(
        "cycle {when}: {devices} devices, {answered} answered, {changes} state changes; opened: "
        "{opened}; resolved: {resolved} (poll {poll:.2f} s, store {store:.2f} s)").format(
        when=machine_time(report.started_at), devices=report.devices, answered=report.answered,
        changes=report.state_changes, opened=opened, resolved=resolved, poll=report.poll_s,
        store=report.apply_s)))
    for host, error in report.failures:
        console(stderr=True).print("[red]" + escape(_("store update failed for {host}: {error}").format(
            host=host, error=error)) + "[/]")


@app.command("poll", help=N_("Poll the devices over SNMP, apply the health rules, record state "
                             "changes, open and resolve incidents. Several pollers may share one "
                             "PostgreSQL store, each with its --shard."))
def poll(
    once: Annotated[bool, typer.Option("--once", help=N_("One cycle, then exit (the default)."))] = False,
    daemon: Annotated[bool, typer.Option(
        "--daemon", help=N_("Poll every --interval seconds until stopped."))] = False,
    shard: Annotated[str | None, typer.Option(
        "--shard", help=N_("I/N: poll only shard I (0..N-1) of the sites, by site-id hash."))] = None,
    clock: Annotated[str | None, typer.Option(
        "--clock", help=N_("Pretend it is this instant (ISO, with its offset); time then runs on "
                           "from it."))] = None,
    interval: Annotated[float | None, typer.Option(
        min=1, help=N_("Seconds between cycle starts with --daemon (default: setting "
                       "poll_interval, 60)."))] = None,
    cycles: Annotated[int, typer.Option(
        min=0, help=N_("With --daemon: stop after this many cycles (0: never)."))] = 0,
    rules_file: Annotated[Path | None, typer.Option(
        "--rules", help=N_("Health rules (default: monitoring/rules.yml beside the inventory)."))] = None,
    profiles_dir: Annotated[Path | None, typer.Option(
        "--profiles", help=N_("Polling profiles (default: monitoring/profiles beside the "
                              "inventory)."))] = None,
    timeout: Annotated[float, typer.Option(
        min=0.05, max=30, help=N_("SNMP timeout per try, seconds."))] = 2.0,
    retries: Annotated[int, typer.Option(min=0, max=5, help=N_("SNMP retries after a timeout."))] = 1,
    concurrency: Annotated[int, typer.Option(
        min=1, max=5000, help=N_("Devices polled at the same time."))] = 200,
    retention_days: Annotated[float, typer.Option(
        min=0.01, help=N_("Keep raw samples this many days."))] = 7.0,
    site: Annotated[list[str] | None, typer.Option(
        "--site", help=N_("Only these sites (repeatable)."))] = None,
    inventory: InventoryOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    from fleet import settings
    from fleet.inventory import load_inventory
    from fleet.monitor.cycle import offset_clock, parse_shard, run_cycle, sites_of_shard, system_clock
    from fleet.monitor.poller import Poller, default_deadline, load_profiles
    from fleet.monitor.rules_file import load_rules

    if once and daemon:
        raise ConfigError(_("--once and --daemon exclude each other"))
    if shard is not None and not shard.strip():
        raise ConfigError(_("--shard '': expected I/N, e.g. 0/4"))
    shard_spec = parse_shard(shard) if shard is not None else None
    the_clock: Clock = offset_clock(parse_instant(clock, "--clock")) if clock else system_clock
    every = float(interval if interval is not None else settings.get("poll_interval"))
    inv = load_inventory(inventory)
    monitoring = Path(inv.root).parent / "monitoring"
    rules = load_rules(rules_file or monitoring / "rules.yml")
    profiles = load_profiles(profiles_dir or monitoring / "profiles")
    sites = sites_of_shard(inv.sites, shard_spec)
    if site:
        wanted = {known_site(inv, s).id for s in site}
        sites = [s for s in sites if s.id in wanted]
    deadline = min(default_deadline(timeout, retries), max(0.5, every * 0.6))
    retention = timedelta(days=retention_days)
    hostnames = [d.hostname for s in sites for d in s.devices]
    failed = False
    handoff = _handoff_config(inv) if daemon else None
    with opened_store(db, create=True) as store:
        poller = Poller(profiles, timeout=timeout, retries=retries, concurrency=concurrency,
                        deadline=deadline, clock=the_clock)  # fmt: skip

        async def poll_fn(devices: Sequence[Device]) -> list[Sample]:
            return await poller.cycle(devices, down=_down_devices(store, hostnames))

        async def loop() -> bool:
            n, failures = 0, False
            if handoff is not None:  # enables the channels before the first cycle's changes
                await asyncio.to_thread(_handoff_pass, store, handoff, inv, the_clock)
            while True:
                started = time.monotonic()
                report = await run_cycle(store, sites, poll_fn, rules, the_clock, retention=retention)
                _print_report(report, json)
                if daemon:  # power by opening hours (issue 12): send the wakes due, do not wait
                    from fleet.remote.power import wake_due

                    wake_due(store, sites, the_clock(), wait=False)
                if handoff is not None:  # the incidents' changes to GLPI and the SAV (issue 13)
                    await asyncio.to_thread(_handoff_pass, store, handoff, inv, the_clock)
                failures = failures or bool(report.failures)
                n += 1
                if not daemon or (cycles and n >= cycles):
                    return failures
                await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

        try:
            failed = asyncio.run(loop())
        finally:
            poller.close()
    if failed:
        raise typer.Exit(ExitCode.FAILED)


def _handoff_config(inv: Inventory) -> HandoffConfig | None:
    """The hand-off settings when a channel (GLPI, e-mail) is configured, else None: then the
    daemon also delivers the incidents' changes after each cycle (``fleet handoff sync`` is
    the same pass, for a sender of its own)."""
    from fleet.handoff import load_config

    config = load_config(inventory_root=Path(inv.root))
    return config if config.channels else None


def _handoff_pass(store: Store, config: HandoffConfig, inv: Inventory, clock: Clock) -> None:
    """One hand-off pass; a failure is one line on stderr, never the poller's end (the outbox
    keeps every change until it is delivered)."""
    from fleet.handoff import run_once

    try:
        run_once(store, config, inv, clock=clock)
    except FleetError as exc:
        console(stderr=True).print(f"[yellow]{_('hand-off:')}[/] {escape(str(exc))}")
