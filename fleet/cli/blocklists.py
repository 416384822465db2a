"""`fleet blocklists update --from ARCHIVE [--site SITE]... | show`: load a UT1 list archive (a
local file) into the controller's list store, report the entries per category and the lists'
age, push them to the gateways; show what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fleet.cli.common import console, print_json
from fleet.cli.portal import target_for
from fleet.errors import ConfigError
from fleet.gateway import lists as store_lists
from fleet.gateway import ut1
from fleet.inventory import load_inventory
from fleet.remote.blocklists import GatewayPush, push_blocklists
from fleet.remote.pyinfra_run import HostOutcome

app = typer.Typer(help="Public wifi: DNS blocklists in the UT1 format.", no_args_is_help=True)


def _age(meta: store_lists.Meta, now: datetime) -> dict[str, Any]:
    dated = meta.dated
    return {"source": meta.source, "sample": meta.sample,
            "loaded_at": meta.to_json()["loaded_at"], "lists_date": meta.to_json()["lists_date"],
            "age_days": None if dated is None else (now - dated).days}


@app.command("update")
def update(
    source: Annotated[Path, typer.Option(
        "--from", help="UT1 archive (blacklists.tar.gz) or directory, on this machine.")],
    site: Annotated[list[str] | None, typer.Option(
        "--site", help="Push to this site's gateway only (repeatable; default: every gateway).")
    ] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push to the gateways.")] = True,
    lab: Annotated[bool, typer.Option("--lab", help="Reach the lab copies of the sites.")] = False,
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Load the lists into the controller's list store (what every deploy pushes), report
    counts per category, push them to the gateways."""
    if not source.exists():
        raise ConfigError(f"--from {str(source)!r}: no such file or directory")
    inv = load_inventory(inventory)
    sites = list(inv.sites)
    if site:
        sites = []
        for wanted in site:
            try:
                sites.append(inv.site(wanted))
            except KeyError:
                raise ConfigError(f"--site {wanted!r}: no such site in {inv.root}") from None
    now = datetime.now(UTC)
    store = store_lists.store_dir()
    lists, meta = store_lists.update_store(source, store, now)
    counts = lists.counts()
    pushes: list[GatewayPush] = []
    refused: list[HostOutcome] = []
    for s in sites:
        gw = s.gateway
        if gw is None:
            continue
        fs = store_lists.filter_settings(s, gw)
        src = store_lists.deploy_source(fs.profile, lab, store=store)
        if src.problem:
            refused.append(HostOutcome(gw.hostname, False, src.problem))
            continue
        pushes.append(GatewayPush(target_for(gw, lab), fs, src))
    outcomes = [*refused, *push_blocklists(pushes, lists)] if push else []
    missing = {p: [c for c in cats if c not in lists.categories]
               for p, cats in ut1.PROFILES.items()}
    data = {
        "source": str(source), "stored": str(store), **_age(meta, now),
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
        out.print(f"{len(counts)} categories, {sum(counts.values())} entries, kept in {store}"
                  + (" (SAMPLE lists)" if meta.sample else ""))
        if data["age_days"] is not None:
            out.print(f"lists dated {data['lists_date'] or data['loaded_at']} "
                      f"({data['age_days']} days old)")
        for profile, absent in missing.items():
            if absent:
                out.print(f"[yellow]profile {profile}: not in this set: {', '.join(absent)}[/]")
        for o in outcomes:
            style = "green" if o.ok else "red"
            out.print(f"[{style}]{o.hostname}: {'pushed' if o.ok else 'FAILED'}[/] {o.message}")
    if any(not o.ok for o in outcomes):
        raise typer.Exit(1)


@app.command("show")
def show(json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
         ) -> None:
    """What the controller's list store holds: origin, age, entries per category."""
    store = store_lists.store_dir()
    meta = store_lists.read_meta(store)
    if meta is None:
        raise ConfigError(f"{store}: no lists loaded yet (deploys use the sample lists "
                          f"{store_lists.REPO_SAMPLE}): fleet blocklists update --from ARCHIVE")
    data = {"stored": str(store), **_age(meta, datetime.now(UTC)), "counts": dict(meta.counts)}
    if json:
        print_json(data)
        return
    out = console()
    out.print(f"{store}: from {meta.source}" + (" (SAMPLE lists)" if meta.sample else ""))
    out.print(f"loaded {data['loaded_at']}, lists dated {data['lists_date'] or '?'}"
              + (f" ({data['age_days']} days old)" if data["age_days"] is not None else ""))
    out.print(f"{len(meta.counts)} categories, {sum(meta.counts.values())} entries")
