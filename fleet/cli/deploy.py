"""`fleet deploy SITE` and `fleet wipe HOST|SITE`: parse, call fleet.deploy, print.

``fleet wipe SITE`` wipes every station of the site at once: it asks first (``--yes`` to skip
the question; without a terminal, ``--yes`` is required).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

import fleet
from fleet import settings
from fleet.cli.common import console, opened_store, print_json
from fleet.cli.exits import ExitCode
from fleet.deploy import (
    DeployOptions,
    DeployOutcome,
    HostState,
    NullRecorder,
    StoreRecorder,
    deploy_site,
    resolve_targets,
)
from fleet.deploy.record import DeployRecorder
from fleet.deploy.service import WIPED_KINDS
from fleet.errors import ConfigError, DeployError
from fleet.i18n import N_
from fleet.i18n import gettext as _
from fleet.inventory import Inventory, load_inventory
from fleet.lab.paths import LabPaths

_STYLE = MappingProxyType({"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "red",
          "running": "cyan"})

deploy_app = typer.Typer()
wipe_app = typer.Typer()


def repo_root() -> Path:
    """The repository holding playbooks/ and roles/ (the source checkout fleet runs from)."""
    here = Path(fleet.__file__).resolve().parent.parent
    return here if (here / "playbooks").is_dir() else Path.cwd()


def _lab_files(site_id: str | None, lab: bool) -> tuple[list[Path], Path | None]:
    if not lab:
        return [], None
    paths = LabPaths(Path(settings.get("lab_root")))
    if site_id is None:
        overlays = sorted(paths.run.glob("*/inventory.yml"))
    else:
        overlays = [paths.site_inventory(site_id)]
    missing = [p for p in overlays if not p.is_file()]
    if missing or not overlays:
        what = site_id or "any site"
        raise ConfigError(f"{missing[0] if missing else paths.run}: the lab is not up for "
                          f"{what}: run 'fleet lab up {site_id or 'SITE'}'")
    return overlays, paths.ssh_config


def _table(states: dict[str, HostState], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("host", "status", "ok", "changed", "failed", "task / reason"):
        table.add_column(col, justify="right" if col in ("ok", "changed", "failed") else "left")
    for name, st in sorted(states.items()):
        style = _STYLE.get(st.status, "")
        detail = st.message if st.status in ("failed", "unreachable") else st.task
        table.add_row(name, f"[{style}]{st.status}[/]", str(st.ok), str(st.changed),
                      str(st.failed + st.unreachable), detail)
    return table


def _acceptance(out: DeployOutcome) -> Table:
    table = Table(title="acceptance (fleet/checks)", title_justify="left")
    for col in ("host", "result", "passed", "failed", "skipped", "n/a", "first failure or skip (refs)"):
        table.add_column(col)
    assert out.checks is not None
    colour = {"green": "green", "red": "red", "incomplete": "yellow"}
    for host in out.checks.hosts:
        counts = out.checks.counts(host)
        status = out.checks.host_status(host)
        bad = out.checks.failures(host) or out.checks.skips(host)
        first = ""
        if host in out.checks.host_errors:
            first = out.checks.host_errors[host]
        elif bad:
            first = f"{bad[0].module}/{bad[0].check}: {bad[0].message} ({', '.join(bad[0].refs)})"
        table.add_row(host, f"[{colour[status]}]{status}[/]", str(counts["passed"]),
                      str(counts["failed"] + counts["error"]), str(counts["skipped"]),
                      str(counts["not_applicable"]), first)
    return table


@deploy_app.command("deploy", help=N_("Provision and harden a site's public PCs, bornes and gateway, "
                                      "record the deploy, verify it."))
def deploy(
    site: Annotated[str, typer.Argument(help=N_("Site id, as in inventory/sites/<site>.yml."))],
    check: Annotated[bool, typer.Option("--check", help=N_("Dry run: report what would change."))] = False,
    limit: Annotated[str | None, typer.Option(
        "--limit", help=N_("Only these hosts (Ansible pattern)."))] = None,
    tags: Annotated[list[str] | None, typer.Option(
        "--tags", help=N_("Only these tags (repeatable)."))] = None,
    verify: Annotated[bool, typer.Option(
        "--verify/--no-verify", help=N_("Run fleet/checks after."))] = True,
    lab: Annotated[bool, typer.Option("--lab", help=N_("Deploy to the lab copy of the site."))] = False,
    inventory: Annotated[Path | None, typer.Option(
        "--inventory", "-i", help=N_("Inventory directory."))] = None,
    ssh_config: Annotated[Path | None, typer.Option(
        "--ssh-config", help=N_("SSH config (checks)."))] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help=N_("Store URL (default: setting db_url)."))] = None,
    record: Annotated[bool, typer.Option(
        "--record/--no-record", help=N_("Write a deploy record."))] = True,
    json: Annotated[bool, typer.Option("--json", help=N_("Machine-readable output."))] = False,
) -> None:
    inv = load_inventory(inventory)
    resolve_targets(inv, site, limit)  # a bad site or limit fails before anything starts
    overlays, lab_ssh = _lab_files(site, lab)
    tag_list = tuple(t for item in (tags or []) for t in item.split(",") if t)
    options = DeployOptions(check=check, limit=limit, tags=tag_list, verify=verify,
                            extra_inventories=tuple(overlays), ssh_config=ssh_config or lab_ssh,
                            lab=lab)
    with contextlib.ExitStack() as stack:
        recorder: DeployRecorder = NullRecorder()
        if record:
            recorder = StoreRecorder(stack.enter_context(opened_store(db, create=True)))
        result = _run(inv, site, options, recorder, check, json)
    if json:
        print_json(result.to_json())
    else:
        _print_summary(result)
    if not result.ok:
        failed = result.failed_hosts()
        raise DeployError(f"{site}: deploy {result.outcome}"
                          + (f", {len(failed)} host(s) not accepted: {', '.join(failed)}"
                             if failed else ""))


def _run(inv: Inventory, site: str, options: DeployOptions, recorder: DeployRecorder, check: bool,
         as_json: bool) -> DeployOutcome:
    if as_json:
        return deploy_site(inv, site, repo=repo_root(), options=options, recorder=recorder)
    states: dict[str, HostState] = {}
    title = f"fleet deploy {site}" + (" --check" if check else "")
    with Live(_table(states, title), console=console(), refresh_per_second=4) as live:

        def on_host(state: HostState) -> None:
            states[state.hostname] = state
            live.update(_table(states, title))

        result = deploy_site(inv, site, repo=repo_root(), options=options,
                             recorder=recorder, on_host=on_host)
        live.update(_table(dict(result.hosts), title))
    return result


def _print_summary(result: DeployOutcome) -> None:
    out = console()
    if result.checks is not None:
        out.print(_acceptance(result))
    for note in result.notes:
        out.print(f"[dim]{note}[/]")
    n = len(result.hosts)
    failed = result.failed_hosts()
    rec = f"deploy #{result.deploy_id}" if result.deploy_id is not None else "deploy (not recorded)"
    head = f"{result.site_id}: {rec}, {n} host{'s' if n != 1 else ''}, outcome {result.outcome}"
    if result.checks is not None:
        statuses = {result.checks.host_status(h) for h in result.checks.hosts}
        head += ", verification " + ("green" if result.checks.ok else
                                     "red" if "red" in statuses or not statuses else "incomplete")
    out.print(("[green]" if result.ok else "[red]") + head + "[/]")
    for host, why in failed.items():
        out.print(f"  [red]{host}[/]: {why}")


def confirm_site_wipe(site_id: str, stations: int, yes: bool) -> None:
    """Every station of a site at once: asked first, unless ``--yes``."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(_("wipe {site}: every station of the site ({n}) at once; add --yes to "
                            "confirm (no terminal to ask)").format(site=site_id, n=stations))
    if not typer.confirm(_("Wipe the guest session of every station of {site} now ({n} stations, "
                           "the guests' open work is lost)?").format(site=site_id, n=stations),
                         default=False):
        console().print(_("nothing wiped"))
        raise typer.Exit(ExitCode.FAILED)


@wipe_app.command("wipe", help=N_("Wipe the guest session now (RGPD) on one station, or on every "
                                  "station of a site (asks first), and show each wipe record."))
def wipe(
    target: Annotated[str, typer.Argument(
        help=N_("A PC/borne hostname, or a site id (all of its stations)."))],
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help=N_("Do not ask before wiping every station of a site."))] = False,
    lab: Annotated[bool, typer.Option("--lab", help=N_("Target the lab copy of the site."))] = False,
    inventory: Annotated[Path | None, typer.Option(
        "--inventory", "-i", help=N_("Inventory directory."))] = None,
    json: Annotated[bool, typer.Option("--json", help=N_("Machine-readable output."))] = False,
) -> None:
    inv = load_inventory(inventory)
    if target in {s.id for s in inv.sites}:
        stations = [d for d in inv.site(target).devices if d.kind in WIPED_KINDS]
        confirm_site_wipe(target, len(stations), yes)
    # the remote action `fleet act wipe-now TARGET --yes` (recorded on the devices' events)
    from fleet.cli import act

    act.act("wipe-now", target, yes=True, lab=lab, inventory=inventory, json=json)
