"""`fleet deploy SITE` and `fleet wipe HOST|SITE`: parse, call fleet.deploy, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

import fleet
from fleet import settings
from fleet.cli.common import console, print_json
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
from fleet.errors import ConfigError, DeployError
from fleet.inventory import load_inventory
from fleet.lab.paths import LabPaths
from fleet.store.db import open_store

_STYLE = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "red",
          "running": "cyan"}


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
    for col in ("host", "result", "passed", "failed", "skipped", "first failure (refs)"):
        table.add_column(col)
    assert out.checks is not None
    for host in out.checks.hosts:
        counts = out.checks.counts(host)
        ok = out.checks.host_ok(host)
        bad = out.checks.failures(host)
        first = ""
        if host in out.checks.host_errors:
            first = out.checks.host_errors[host]
        elif bad:
            first = f"{bad[0].module}/{bad[0].check}: {bad[0].message} ({', '.join(bad[0].refs)})"
        table.add_row(host, "[green]green[/]" if ok else "[red]red[/]", str(counts["passed"]),
                      str(counts["failed"] + counts["error"]), str(counts["skipped"]), first)
    return table


def deploy(
    site: Annotated[str, typer.Argument(help="Site id, as in inventory/sites/<site>.yml.")],
    check: Annotated[bool, typer.Option("--check", help="Dry run: report what would change.")] = False,
    limit: Annotated[str | None, typer.Option("--limit", help="Only these hosts (Ansible pattern).")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tags", help="Only these tags (repeatable).")] = None,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Run fleet/checks after.")] = True,
    lab: Annotated[bool, typer.Option("--lab", help="Deploy to the lab copy of the site.")] = False,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")] = None,
    ssh_config: Annotated[Path | None, typer.Option("--ssh-config", help="SSH config (checks).")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Store URL (default: setting db_url).")] = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Write a deploy record.")] = True,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Provision and harden a site's public PCs and bornes, record the deploy, verify it."""
    inv = load_inventory(inventory)
    resolve_targets(inv, site, limit)  # a bad site or limit fails before anything starts
    overlays, lab_ssh = _lab_files(site, lab)
    tag_list = tuple(t for item in (tags or []) for t in item.split(",") if t)
    options = DeployOptions(check=check, limit=limit, tags=tag_list, verify=verify,
                            extra_inventories=tuple(overlays), ssh_config=ssh_config or lab_ssh)
    recorder: DeployRecorder = NullRecorder()
    if record:
        recorder = StoreRecorder(open_store(db))
    out = console()
    states: dict[str, HostState] = {}
    if json:
        result = deploy_site(inv, site, repo=repo_root(), options=options, recorder=recorder)
    else:
        title = f"fleet deploy {site}" + (" --check" if check else "")
        with Live(_table(states, title), console=out, refresh_per_second=4) as live:

            def on_host(state: HostState) -> None:
                states[state.hostname] = state
                live.update(_table(states, title))

            result = deploy_site(inv, site, repo=repo_root(), options=options,
                                 recorder=recorder, on_host=on_host)
            live.update(_table(dict(result.hosts), title))
    if json:
        print_json(result.to_json())
    else:
        _print_summary(result)
    if not result.ok:
        failed = result.failed_hosts()
        raise DeployError(f"{site}: deploy {result.outcome}"
                          + (f", {len(failed)} host(s) not accepted: {', '.join(failed)}"
                             if failed else ""))


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
        head += ", verification " + ("green" if result.checks.ok else "red")
    out.print(("[green]" if result.ok else "[red]") + head + "[/]")
    for host, why in failed.items():
        out.print(f"  [red]{host}[/]: {why}")


def wipe(
    target: Annotated[str, typer.Argument(help="A PC/borne hostname, or a site id (all of them).")],
    lab: Annotated[bool, typer.Option("--lab", help="Target the lab copy of the site.")] = False,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Wipe the guest session now (RGPD), and show each host's wipe record: the remote action
    `fleet act wipe-now TARGET --yes` (recorded on the devices' events)."""
    from fleet.cli import act

    act.act("wipe-now", target, yes=True, lab=lab, inventory=inventory, json=json)
