"""`fleet demo`: the main job on the embedded default, saying exactly what it does.

1. validate the demo inventory and summarise the network;
2. (as root) rehearse the demo site in the lab: build the images if needed, bring the site up
   with real hosts;
3. poll it over SNMP into the embedded store (SQLite) and show the hotline's status;
4. simulate a failure (the SNMP agent of a public PC stops) during opening hours, poll three
   cycles, and show the incident the hotline would see;
5. bring the lab down (unless --keep).

It deploys nothing (that is `fleet deploy`, a few minutes per site; see docs/deploy.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet import settings
from fleet.cli.common import console
from fleet.errors import FleetError, LabError
from fleet.i18n import N_
from fleet.inventory import DeviceKind, Inventory, is_open, load_inventory, next_opening
from fleet.lab import build, down, exec_argv, make_lab, up

DEMO_SITE = "florac-fs"

app = typer.Typer()


def _summary(inv: Inventory, now: datetime) -> None:
    out = console()
    out.print(
        f"[green]inventory OK[/]: {len(inv.sites)} sites, {len(inv.devices)} devices "
        f"({'demo vault' if inv.demo_vault else 'own vault'})"
    )
    table = Table("kind", "sites", "open now", "public PCs", "PMR", "bornes", "gateways", box=None)
    for k in sorted({s.kind.value for s in inv.sites}):
        sites = [s for s in inv.sites if s.kind.value == k]
        devs = [d for s in sites for d in s.devices]
        table.add_row(
            k,
            str(len(sites)),
            str(sum(is_open(s, now) for s in sites)),
            str(sum(d.kind is DeviceKind.PUBLIC_PC for d in devs)),
            str(sum(d.pmr for d in devs)),
            str(sum(d.kind is DeviceKind.BORNE for d in devs)),
            str(sum(d.kind is DeviceKind.GATEWAY for d in devs)),
        )
    out.print(table)


def _fleet(*args: str) -> list[str]:
    return [sys.executable, "-m", "fleet.cli.main", *args]


def _run(argv: list[str], cwd: Path, check: bool = True) -> int:
    done = subprocess.run(argv, cwd=cwd, check=False)
    if check and done.returncode != 0:
        raise LabError(f"demo step failed ({done.returncode}): {' '.join(argv[-6:])}")
    return done.returncode


@app.command("demo", help=N_("Validate the demo network, rehearse one site in the lab, poll it "
                             "into SQLite, simulate a failure and show what the hotline sees."))
def demo(
    inventory: Annotated[Path | None, typer.Option(
        "--inventory", "-i", help=N_("Inventory directory (default: FLEET_INVENTORY or ./inventory)."))
    ] = None,
    site_id: Annotated[str, typer.Option("--site", help=N_("The site to rehearse."))] = DEMO_SITE,
    db: Annotated[str | None, typer.Option(
        "--db", help=N_("Store URL (default: a fresh demo.sqlite in the state directory)."))] = None,
    no_lab: Annotated[bool, typer.Option("--no-lab", help=N_("Only validate and summarise."))] = False,
    keep: Annotated[bool, typer.Option("--keep", help=N_("Leave the lab site up at the end."))] = False,
) -> None:
    out = console()
    inv = load_inventory(inventory)
    root = Path(inv.root).resolve()
    repo = root.parent
    now = datetime.now(UTC)
    out.print("[bold]1. inventory[/] — validate and summarise")
    _summary(inv, now)
    site = inv.site(site_id)
    if no_lab:
        out.print("[dim]--no-lab: lab, polling and incidents skipped.[/]")
        return
    if os.geteuid() != 0:
        out.print("[yellow]the lab needs root (network namespaces, systemd-nspawn): "
                  "steps 2–5 skipped; run as root for the whole demo.[/]")
        return
    state = Path(settings.get("state_dir")).resolve()
    state.mkdir(parents=True, exist_ok=True)
    if db is None:
        # the demo tells one story from the start: a fresh embedded store each run
        demo_db = state / "demo.sqlite"
        for f in (demo_db, demo_db.with_name("demo.sqlite-wal"), demo_db.with_name("demo.sqlite-shm")):
            f.unlink(missing_ok=True)
    url = db or f"sqlite:///{state / 'demo.sqlite'}"
    lab = make_lab(root)

    out.print(f"[bold]2. lab[/] — {site.name}: {len(site.devices)} devices as real hosts")
    built = build(lab.paths, progress=lambda m: out.print(f"   {m}"))
    if built:
        out.print(f"   built images: {', '.join(built)}")
    result = up(lab, site, progress=lambda m: out.print(f"   {m}"))
    out.print(f"   up in {result.seconds:.1f} s: {', '.join(result.nodes)}")
    try:
        common = ["--site", site.id, "--db", url, "--inventory", str(root), "--timeout", "1",
                  "--retries", "0"]
        out.print("[bold]3. poll[/] — one SNMP cycle from the controller namespace into " + url)
        _run(exec_argv(lab, "ctl", _fleet("poll", "--once", *common)), repo)
        _run(_fleet("status", site.id, "--db", url, "--inventory", str(root)), repo)

        victim = next((d for d in site.devices if d.kind is DeviceKind.PUBLIC_PC), None)
        if victim is not None:
            opening = next_opening(site, now) if not is_open(site, now) else now
            during = (opening or now) + timedelta(minutes=30)
            out.print(f"[bold]4. failure[/] — the SNMP agent of {victim.hostname} stops; three "
                      f"cycles during opening hours ({during:%Y-%m-%d %H:%M} UTC, injected clock)")
            _run(exec_argv(lab, victim.hostname, ["systemctl", "stop", "snmpd"]), repo)
            _run(exec_argv(lab, "ctl", _fleet("poll", "--daemon", "--cycles", "3", "--interval", "1",
                                               "--clock", during.isoformat(), *common)), repo)
            _run(_fleet("status", site.id, "--db", url, "--inventory", str(root),
                        "--clock", during.isoformat()), repo)
            _run(_fleet("incidents", "list", "--site", site.id, "--db", url), repo)
            out.print("   The lab site is bare (nothing deployed yet): no kiosk browser and no "
                      "session-wipe watcher run on it, and the monitoring says so as well.")
            _run(exec_argv(lab, victim.hostname, ["systemctl", "start", "snmpd"]), repo, check=False)
    except FleetError:
        if not keep:
            down(lab, site.id)
        raise
    if keep:
        out.print(f"[bold]5. lab[/] — left up (--keep): fleet lab down {site.id}")
    else:
        res = down(lab, site.id)
        out.print(f"[bold]5. lab[/] — down in {res.seconds:.1f} s: {res.killed} processes stopped, "
                  f"{res.unmounted} mounts and {res.namespaces} namespaces removed")
    out.print("[dim]Not done by the demo: deploying the roles (fleet deploy " + site.id + "), the "
              "captive portal and the monthly audit.[/]")
