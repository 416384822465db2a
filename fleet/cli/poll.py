"""`fleet poll`: SNMP health polling, rules, state changes and incidents.

Thin: parse, call the engine (:mod:`fleet.monitor.cycle`), print.  The clock is read here, at
the edge, and handed down (``--clock`` replaces it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from fleet.cli.common import console, escape, opened_store, print_json
from fleet.cli.options import DbOpt, InventoryOpt, JsonOpt
from fleet.cli.timefmt import local, parse_instant
from fleet.errors import ConfigError
from fleet.inventory import load_inventory
from fleet.inventory.models import Device
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
from fleet.store import Store
from fleet.store.models import Observation


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
        f"cycle {local(report.started_at)}: {report.devices} devices, {report.answered} answered, "
        f"{report.state_changes} state changes; opened: {escape(opened)}; "
        f"resolved: {escape(resolved)} (poll {report.poll_s:.2f} s, store {report.apply_s:.2f} s)"
    )
    for host, error in report.failures:
        console(stderr=True).print(f"[red]store update failed for {host}:[/] {escape(error)}")


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
    the_clock: Clock = offset_clock(parse_instant(clock, "--clock")) if clock else system_clock
    inv = load_inventory(inventory)
    rules = load_rules(rules_file)
    profiles = load_profiles(profiles_dir)
    sites = sites_of_shard(inv.sites, shard_spec)
    if site:
        unknown = sorted(set(site) - {s.id for s in inv.sites})
        if unknown:
            raise ConfigError(f"--site: unknown site {unknown[0]!r}")
        sites = [s for s in sites if s.id in set(site)]
    deadline = min(default_deadline(timeout, retries), max(0.5, interval * 0.6))
    retention = timedelta(days=retention_days)
    hostnames = [d.hostname for s in sites for d in s.devices]
    with opened_store(db, create=True) as store:
        poller = Poller(profiles, timeout=timeout, retries=retries, concurrency=concurrency,
                        deadline=deadline, clock=the_clock)  # fmt: skip

        async def poll_fn(devices: Sequence[Device]) -> list[Sample]:
            return await poller.cycle(devices, down=_down_devices(store, hostnames))

        async def loop() -> None:
            n = 0
            while True:
                started = time.monotonic()
                report = await run_cycle(store, sites, poll_fn, rules, the_clock, retention=retention)
                _print_report(report, json)
                n += 1
                if not daemon or (cycles and n >= cycles):
                    return
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

        try:
            asyncio.run(loop())
        finally:
            poller.close()
