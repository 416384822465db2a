"""`fleet netdev plan | apply | backup | history | drift`: the site's switches and access
points, configured from the intended network in the inventory (:mod:`fleet.netdev`).

Thin: parse, call :mod:`fleet.netdev.engine`, print.  ``--lab`` reaches the lab copy of the site
(connections from the lab controller's namespace) and keeps its backups and incidents in the
lab's own store (``<lab_root>/netdev-lab.sqlite``) unless ``--db`` is given: a rehearsal never
mixes with the real network's history.  A device's SSH host key must already be known (with
``--lab``: the site's known_hosts the lab wrote; else ``~/.ssh/known_hosts``): an unknown or
changed key is one line for that device, and nothing is sent to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import typer
from rich.table import Table

from fleet import settings
from fleet.cli.common import console, opened_store, print_json
from fleet.errors import ConfigError
from fleet.incidents import note, open_incident
from fleet.incidents.lifecycle import open_incidents_of, resolve_in
from fleet.inventory import Inventory, load_inventory
from fleet.inventory.models import Site
from fleet.lab.paths import CTL_NETNS, LabPaths
from fleet.netdev.config import diff_text
from fleet.netdev.engine import (
    ApplyResult,
    Context,
    Target,
    apply,
    backup,
    drift,
    plan,
    targets_of,
)
from fleet.netdev.transport import HostKeys, direct, in_namespace
from fleet.store import Store
from fleet.store.netdev import backup_history, get_backup

app = typer.Typer(help="Network gear (switches, access points): plan, apply, back up, find drift.",
                  no_args_is_help=True)

SiteArg = Annotated[str, typer.Argument(help="Site id, as in inventory/sites/<site>.yml.")]
LabOpt = Annotated[bool, typer.Option("--lab", help="Reach the lab copy of the site.")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", help="Store URL (default: setting db_url; with --lab, the lab's own store).")]
InvOpt = Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

CHECK = "netdev.apply"


class StoreIncidentLog:
    """A failed push becomes an incident (device, ``netdev.apply``) of the incident log; when
    one is already open, the new failure is added to it as a note; a later apply that succeeds
    resolves it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def push_failed(self, *, device: str, site_id: str, at: datetime, title: str, detail: str,
                    data: Mapping[str, Any]) -> None:
        with self.store.write(lock=f"incident:{device}") as s:
            row = open_incident(s, device=device, site_id=site_id, check=CHECK,
                                reason=str(data.get("status", "push_failed")),
                                severity="critical" if data.get("status") == "failed" else "major",
                                title=title, at=at, actor="netdev", detail=detail)
            existing = None if row is not None else open_incidents_of(s, device).get(CHECK)
        if existing is not None:
            note(self.store, existing.id, who="netdev", text=detail, at=at)

    def push_ok(self, *, device: str, site_id: str, at: datetime, detail: str) -> None:
        with self.store.write(lock=f"incident:{device}") as s:
            row = open_incidents_of(s, device).get(CHECK)
            if row is not None:
                resolve_in(s, row, at=at, by="netdev", text=detail, auto=True)


def _lab_paths() -> LabPaths:
    return LabPaths(Path(settings.get("lab_root")))


def _lab_sites_up() -> list[str]:
    return sorted(p.parent.name for p in _lab_paths().run.glob("*/state.json"))


def _require_lab(site_id: str) -> None:
    if site_id not in _lab_sites_up():
        raise ConfigError(f"--lab: the lab is not up for {site_id}: run 'fleet lab up {site_id}'")


@contextlib.contextmanager
def _store(db: str | None, lab: bool) -> Iterator[Store]:
    """The store of the backups (with ``--lab`` and no ``--db``: the lab's own, under the lab
    root), opened for one command and always disposed."""
    url = f"sqlite:///{_lab_paths().root / 'netdev-lab.sqlite'}" if db is None and lab else db
    with opened_store(url, create=True) as store:
        yield store


def _context(lab: bool, store: Store | None, *, incidents: bool = False) -> Context:
    """With ``--lab``, host keys are checked against the site's own known_hosts (named by the
    lab's SSH config); else against ``~/.ssh/known_hosts`` of the user running fleet."""
    return Context(
        store=store,
        connector=in_namespace(CTL_NETNS) if lab else direct,
        host_keys=HostKeys(ssh_config=_lab_paths().ssh_config) if lab else HostKeys(),
        incidents=StoreIncidentLog(store) if incidents and store is not None else None,
    )


def _site(inv: Inventory, site_id: str) -> Site:
    try:
        site = inv.site(site_id)
    except KeyError:
        import difflib

        close = difflib.get_close_matches(site_id, [s.id for s in inv.sites], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"SITE {site_id!r}: no such site in {inv.root}{hint}") from None
    return site


def _targets(site: Site) -> list[Target]:
    found = targets_of(site.network)
    if not found:
        raise ConfigError(f"{site.id}: no network gear with a netdev_platform "
                          "(switches and access points configured over their CLI)")
    return found


def _sites_for(inv: Inventory, site_id: str | None, lab: bool) -> list[Site]:
    if site_id is not None:
        site = _site(inv, site_id)
        if lab:
            _require_lab(site.id)
        return [site]
    if lab:
        up = set(_lab_sites_up())
        if not up:
            raise ConfigError("--lab: no site is up in the lab: run 'fleet lab up SITE'")
        return [s for s in inv.sites if s.id in up]
    return list(inv.sites)


def _print_diff(lines: Sequence[str], indent: str = "  ") -> None:
    out = console()
    for ln in lines:
        style = "green" if ln.startswith("+") else "red" if ln.startswith("-") else "dim"
        out.print(f"{indent}[{style}]{ln.replace('[', chr(92) + '[')}[/]")


@app.command("plan")
def plan_cmd(site: SiteArg, lab: LabOpt = False, inventory: InvOpt = None,
             json: JsonOpt = False) -> None:
    """Intended against running configuration, per device; nothing is pushed."""
    s = _site(load_inventory(inventory), site)
    if lab:
        _require_lab(s.id)
    plans = plan(_targets(s), _context(lab, None))
    if json:
        print_json([p.to_json() for p in plans])
    else:
        out = console()
        for p in plans:
            if not p.ok:
                out.print(f"[red]{p.hostname}: {p.error}[/]")
            elif not p.changes:
                out.print(f"[green]{p.hostname}: no change[/]")
            else:
                out.print(f"[yellow]{p.hostname}: {p.commands} commands to push[/]")
                _print_diff(diff_text(p.changes).splitlines())
    if any(not p.ok for p in plans):
        raise typer.Exit(1)


_APPLY_STYLE = MappingProxyType({"unchanged": "green", "applied": "yellow", "rolled_back": "red",
                                 "failed": "red",
                "unreachable": "red"})


@app.command("apply")
def apply_cmd(
    site: SiteArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    lab: LabOpt = False,
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Push only the difference, verify it, roll back to the backup taken just before when the
    verification or the push fails (and say so in the incident log)."""
    s = _site(load_inventory(inventory), site)
    if lab:
        _require_lab(s.id)
    targets = _targets(s)
    if not yes:
        plans = plan(targets, _context(lab, None))
        pending = [p for p in plans if p.changes]
        for p in plans:
            if not p.ok:
                console().print(f"[red]{p.hostname}: {p.error}[/]")
        if not pending:
            console().print("nothing to push")
            raise typer.Exit(0 if all(p.ok for p in plans) else 1)
        for p in pending:
            console().print(f"[yellow]{p.hostname}: {p.commands} commands to push[/]")
            _print_diff(diff_text(p.changes).splitlines())
        if not typer.confirm("Push these changes?", default=False):
            raise typer.Exit(1)
        targets = [t for t in targets if t.hostname in {p.hostname for p in pending}]
    with _store(db, lab) as store:
        results = apply(targets, _context(lab, store, incidents=True))
        _report_apply(results, json)
        if any(not r.ok for r in results):
            raise typer.Exit(1)


def _report_apply(results: Sequence[ApplyResult], json: bool) -> None:
    if json:
        print_json([r.to_json() for r in results])
        return
    table = Table("device", "result", "pushed", "backup", "message", box=None)
    for r in results:
        style = _APPLY_STYLE.get(r.status, "")
        table.add_row(r.hostname, f"[{style}]{r.status}[/]", f"{r.pushed}/{r.total}",
                      str(r.backup_version or ""), r.message)
    console().print(table)


@app.command("backup")
def backup_cmd(
    site: Annotated[str | None, typer.Argument(help="Site id (default: every site).")] = None,
    lab: LabOpt = False,
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Running configurations into the store, secrets masked; a new version only when the
    normalised configuration changed."""
    inv = load_inventory(inventory)
    targets = [t for s in _sites_for(inv, site, lab) for t in targets_of(s.network)]
    if not targets:
        raise ConfigError("no network gear with a netdev_platform to back up")
    with _store(db, lab) as store:
        results = backup(targets, _context(lab, store))
    if json:
        print_json([r.to_json() for r in results])
    else:
        table = Table("device", "site", "result", "version", "lines", "message", box=None)
        for r in results:
            style = {"new": "yellow", "unchanged": "green"}.get(r.status, "red")
            table.add_row(r.hostname, r.site_id, f"[{style}]{r.status}[/]", str(r.version or ""),
                          str(r.lines or ""), r.message)
        console().print(table)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@app.command("history")
def history_cmd(
    device: Annotated[str, typer.Argument(help="Device hostname.")],
    show: Annotated[int | None, typer.Option("--show", help="Print this version's configuration.")]
    = None,
    lab: LabOpt = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """The stored versions of a device's configuration (secrets masked)."""
    with _store(db, lab) as store:
        if show is not None:
            found = get_backup(store, device, show)
            if found is None:
                raise ConfigError(f"{device}: no backup version {show} (see 'fleet netdev history {device}')")
            if json:
                print_json(found.to_json(with_config=True))
            else:
                console().print(found.config, markup=False, highlight=False, end="")
            return
        versions = backup_history(store, device)
        if json:
            print_json([v.to_json() for v in versions])
            return
        if not versions:
            console().print(f"{device}: no backup yet (fleet netdev backup SITE)")
            return
        table = Table("version", "taken (UTC)", "reason", "lines", "digest", box=None)
        for v in versions:
            table.add_row(str(v.version), v.taken_at.strftime("%Y-%m-%d %H:%M:%S"), v.reason, str(v.lines),
                          v.digest[:12])
        console().print(table)


@app.command("drift")
def drift_cmd(
    site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
    lab: LabOpt = False,
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every device whose running configuration differs from the intended one or from its last
    backup (read-only; the audit uses ``--json``)."""
    inv = load_inventory(inventory)
    targets = [t for s in _sites_for(inv, site, lab) for t in targets_of(s.network)]
    with _store(db, lab) as store:
        results = drift(targets, _context(lab, store))
    if json:
        print_json([r.to_json() for r in results])
    else:
        out = console()
        shown = 0
        for r in results:
            if r.error is not None:
                out.print(f"[red]{r.hostname}: {r.error}[/]")
                shown += 1
                continue
            if not r.drifted:
                continue
            shown += 1
            out.print(f"[yellow]{r.hostname}[/] ({r.site_id})")
            if r.intent:
                out.print("  against the intended configuration (- expected, + found):")
                _print_diff(diff_text(r.intent).splitlines(), "    ")
            if r.backup:
                out.print(f"  against backup version {r.backup_version} (- stored, + found):")
                _print_diff(diff_text(r.backup).splitlines(), "    ")
        drifted = sum(1 for r in results if r.drifted)
        out.print(f"{drifted} of {len(results)} devices drifted"
                  + (f", {sum(1 for r in results if r.error)} unreachable" if shown > drifted else ""))
    if any(r.error for r in results):
        raise typer.Exit(1)
