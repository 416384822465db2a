"""`fleet blocklists update --from ARCHIVE [--site SITE]`: load a UT1 list archive (a local
file), report the entries per category, keep the lists for the next deploys and push them to
the gateways."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet import settings
from fleet.cli.common import console, print_json
from fleet.cli.portal import target_for
from fleet.errors import ConfigError
from fleet.gateway import ut1
from fleet.inventory import load_inventory
from fleet.remote.blocklists import GatewayPush, push_blocklists

app = typer.Typer(help="Public wifi: DNS blocklists in the UT1 format.", no_args_is_help=True)


def _store_lists(source: Path, dest: Path) -> ut1.ListSet:
    """Parse ``source`` (archive or directory) and keep its categories in ``dest`` (replaced
    only once the new set parsed completely: a bad archive never clobbers good lists)."""
    with tempfile.TemporaryDirectory(prefix="relais-ut1-", dir=dest.parent) as tmp:
        root = source if source.is_dir() else ut1.extract_archive(source, Path(tmp) / "x")
        lists = ut1.load_dir(root)
        staged = Path(tmp) / "lists"
        staged.mkdir()
        for name in lists.categories:
            shutil.copytree(root / name, staged / name)
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            dest.rename(old)
        staged.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    return lists


@app.command("update")
def update(
    source: Annotated[Path, typer.Option(
        "--from", help="UT1 archive (blacklists.tar.gz) or directory, on this machine.")],
    site: Annotated[str | None, typer.Option(
        "--site", help="Push to this site's gateway only (default: every gateway).")] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push to the gateways.")] = True,
    lab: Annotated[bool, typer.Option("--lab", help="Reach the lab copies of the sites.")] = False,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Load the lists, report counts per category, push them to the gateways."""
    if not source.exists():
        raise ConfigError(f"--from {str(source)!r}: no such file or directory")
    inv = load_inventory(inventory)
    sites = list(inv.sites)
    if site is not None:
        try:
            sites = [inv.site(site)]
        except KeyError:
            raise ConfigError(f"--site {site!r}: no such site in {inv.root}") from None
    dest = Path(settings.get("state_dir")) / "blocklists"
    dest.parent.mkdir(parents=True, exist_ok=True)
    lists = _store_lists(source, dest)
    counts = lists.counts()
    pushes = []
    for s in sites:
        gw = s.gateway
        if gw is None:
            continue
        extra = tuple(str(c) for c in gw.vars.get("content_filter_extra_categories") or ())
        allow = tuple(str(a) for a in gw.vars.get("content_filter_allow") or ())
        pushes.append(GatewayPush(target_for(gw, lab), "pmi" if s.pmi else "standard",
                                  extra, allow))
    outcomes = push_blocklists(pushes, dest, lists) if push else []
    missing = {p: [c for c in cats if c not in lists.categories]
               for p, cats in ut1.PROFILES.items()}
    data = {
        "source": str(source), "stored": str(dest),
        "categories": {n: {"entries": counts[n], "usage": c.usage, "skipped": c.skipped}
                       for n, c in sorted(lists.categories.items())},
        "missing": missing,
        "gateways": [{"host": o.hostname, "ok": o.ok, "message": o.message} for o in outcomes],
    }  # fmt: skip
    if json:
        print_json(data)
    else:
        out = console()
        table = Table("category", "usage", "entries", box=None)
        for name, c in sorted(lists.categories.items()):
            table.add_row(name, c.usage, str(counts[name]))
        out.print(table)
        out.print(f"{len(counts)} categories, {sum(counts.values())} entries, kept in {dest}")
        for profile, absent in missing.items():
            if absent:
                out.print(f"[yellow]profile {profile}: not in this set: {', '.join(absent)}[/]")
        for o in outcomes:
            style = "green" if o.ok else "red"
            out.print(f"[{style}]{o.hostname}: {'pushed' if o.ok else 'FAILED'}[/] {o.message}")
    if any(not o.ok for o in outcomes):
        raise typer.Exit(1)
