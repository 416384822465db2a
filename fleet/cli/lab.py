"""`fleet lab build | up | status | shell | exec | down`: rehearse a site with real hosts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet.cli.common import console, print_json
from fleet.cli.options import InventoryOpt, JsonOpt
from fleet.errors import FleetError, LabError
from fleet.i18n import N_
from fleet.inventory import load_inventory
from fleet.lab import build, down, down_all, exec_argv, find_site, make_lab, plan_site, status, up

app = typer.Typer(help=N_("Rehearse a site on this machine with real hosts (needs root)."),
                  no_args_is_help=True)

LabRootOpt = Annotated[
    Path | None,
    typer.Option("--lab-root",
                 help=N_("Lab images and state (default: FLEET_LAB_ROOT or /var/lib/relais-lab).")),
]


def _progress(msg: str) -> None:
    console(stderr=True).print(f"[dim]…[/] {msg}")


@app.command("build",
             help=N_("Build and cache the images (only what changed since the last build)."))
def build_cmd(
    lab_root: LabRootOpt = None,
    force: Annotated[list[str] | None, typer.Option(
        "--force", help=N_("Rebuild this layer even if cached (base, gateway, client, fakenet, "
        "apt-repo, fake-switches, snmpsim); repeatable."))] = None,
    mirror: Annotated[str | None, typer.Option(
        help=N_("Debian mirror (default: the URI in /etc/apt/sources.list.d/debian.sources)."))] = None,
) -> None:
    lab = make_lab(lab_root=lab_root, with_secrets=False)
    built = build(lab.paths, mirror=mirror, force=tuple(force or ()), progress=_progress)
    out = console()
    if built:
        out.print(f"[green]built[/]: {', '.join(built)} (in {lab.paths.images})")
    else:
        out.print(f"images up to date (no change) in {lab.paths.images}")


@app.command("up",
             help=N_("Create every device of SITE as a real host (idempotent: up twice is safe)."))
def up_cmd(
    site: Annotated[str, typer.Argument(help=N_("Site id from the inventory, e.g. florac-fs."))],
    inventory: InventoryOpt = None,
    lab_root: LabRootOpt = None,
    keep_state: Annotated[bool, typer.Option(
        "--keep-state", help=N_("Reuse the hosts' disks from the last run (kept by "
        "'fleet lab down --keep-state') instead of fresh ones."))] = False,
    recordings: Annotated[Path | None, typer.Option(
        help=N_("Directory of .snmprec recordings (default: tests/fixtures/snmprec)."))] = None,
    json: JsonOpt = False,
) -> None:
    inv = load_inventory(inventory)
    lab = make_lab(inventory, lab_root=lab_root, recordings=recordings)
    result = up(lab, find_site(inv, site), keep_state=keep_state, progress=_progress)
    if json:
        print_json({"site": result.site_id, "changed": result.changed,
                    "seconds": round(result.seconds, 2), "nodes": result.nodes,
                    "ssh_config": str(lab.paths.ssh_config),
                    "inventory": str(lab.paths.site_inventory(site))})
        return
    out = console()
    if result.changed:
        out.print(f"[green]{site} is up[/]: {len(result.nodes)} hosts in {result.seconds:.1f} s")
    else:
        out.print(f"{site} was already up (no change)")
    out.print(f"  ssh -F {lab.paths.ssh_config} {result.nodes[0]}")
    out.print(f"  ansible-playbook -i {inv.root} -i {lab.paths.site_inventory(site)} …")


@app.command("down",
             help=N_("Remove every namespace, mount and process of the site (also after a crash)."))
def down_cmd(
    site: Annotated[str | None, typer.Argument(help=N_("Site id (or use --all)."))] = None,
    all_sites: Annotated[bool, typer.Option("--all", help=N_("Every lab site and leftover."))] = False,
    inventory: InventoryOpt = None,
    lab_root: LabRootOpt = None,
    keep_state: Annotated[bool, typer.Option(
        "--keep-state", help=N_("Keep the hosts' disks for 'fleet lab up --keep-state'."))] = False,
    json: JsonOpt = False,
) -> None:
    if (site is None) == (not all_sites):
        raise LabError("name one site or use --all")
    lab = make_lab(inventory, lab_root=lab_root, with_secrets=False)
    if all_sites:
        result = down_all(lab, keep_state=keep_state)
    else:
        assert site is not None
        plan = None
        try:
            plan = plan_site(find_site(load_inventory(inventory, check_secrets=False), site))
        except FleetError:
            plan = None  # a broken inventory must not stop a clean-up: down() scans for leftovers
        result = down(lab, site, plan=plan, keep_state=keep_state)
    if json:
        print_json({"sites": result.site_ids, "killed": result.killed,
                    "unmounted": result.unmounted, "namespaces": result.namespaces,
                    "seconds": round(result.seconds, 2)})
        return
    what = ", ".join(result.site_ids) or "nothing recorded"
    console().print(f"down: {what} — {result.namespaces} namespaces, {result.unmounted} mounts, "
                    f"{result.killed} processes removed in {result.seconds:.1f} s")


@app.command("status", help=N_("Which sites are up, and the state of each of their hosts."))
def status_cmd(lab_root: LabRootOpt = None, json: JsonOpt = False) -> None:
    lab = make_lab(lab_root=lab_root, with_secrets=False)
    sites = status(lab)
    if json:
        print_json({"sites": [s.as_dict() for s in sites]})
        return
    out = console()
    if not sites:
        out.print("no lab site is up")
        return
    for s in sites:
        table = Table(title=f"{s.site_id} ({s.status}) — management {s.management}")
        for col in ("host", "kind", "address", "namespace", "running"):
            table.add_column(col)
        for n in s.nodes:
            table.add_row(n.name, n.kind, n.ip or "dhcp", n.netns,
                          "[green]yes[/]" if n.running else "[red]no[/]")
        out.print(table)
        out.print(f"ssh config: {s.ssh_config}\nansible overlay: {s.inventory}")


@app.command("shell",
             help=N_("An interactive root shell on a lab host (or in the controller namespace)."))
def shell_cmd(
    host: Annotated[str, typer.Argument(help=N_("Lab host name, or 'ctl' for the controller."))],
    lab_root: LabRootOpt = None,
) -> None:
    lab = make_lab(lab_root=lab_root, with_secrets=False)
    shell = ["/bin/bash", "-l"] if host not in ("ctl", "relais-ctl") else \
        [os.environ.get("SHELL", "/bin/bash")]
    argv = exec_argv(lab, host, shell)
    os.execvp(argv[0], argv)  # noqa: S606 - hand the terminal to the shell


@app.command("exec", context_settings={"ignore_unknown_options": True},
             help=N_("Run COMMAND on a lab host as root: fleet lab exec florac-fs-pc1 -- "
                     "systemctl status."))
def exec_cmd(
    host: Annotated[str, typer.Argument(help=N_("Lab host name, or 'ctl' for the controller."))],
    command: Annotated[list[str], typer.Argument(help=N_("Command (after --)."))],
    lab_root: LabRootOpt = None,
) -> None:
    lab = make_lab(lab_root=lab_root, with_secrets=False)
    argv = exec_argv(lab, host, command)
    rc = subprocess.run(argv, check=False).returncode
    raise typer.Exit(rc)
