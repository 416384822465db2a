"""`fleet portal collect | sessions | export | purge`: the public wifi's legal connection log
(CPCE art. L34-1, décret n° 2021-1362)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fleet import settings
from fleet.cli.common import console, opened_store, print_json
from fleet.errors import ConfigError
from fleet.gateway import collect
from fleet.inventory import Site, load_inventory
from fleet.inventory.models import Device
from fleet.lab.paths import LabPaths
from fleet.remote.connlog import fetch_connlog
from fleet.remote.pyinfra_run import Target

app = typer.Typer(help="Public wifi: the legal connection log (collect, list, export).",
                  no_args_is_help=True)

SiteArg = Annotated[str, typer.Argument(help="Site id, as in inventory/sites/<site>.yml.")]
FromOpt = Annotated[str, typer.Option(
    "--from", help="Start: ISO date/time with an offset (…+01:00, …Z), or local to --tz.")]
ToOpt = Annotated[str, typer.Option("--to", help="End, excluded (same forms as --from).")]
TzHelp = ("Zone of --from/--to values written without an offset: 'site' (the site's timezone) "
          "or a name such as Europe/Paris or UTC.")
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: setting db_url).")]
InvOpt = Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LabOpt = Annotated[bool, typer.Option("--lab", help="Reach the lab copy of the site.")]


def _now() -> datetime:
    return datetime.now(UTC)


def _site(site_id: str, inventory: Path | None) -> Site:
    inv = load_inventory(inventory)
    try:
        return inv.site(site_id)
    except KeyError:
        raise ConfigError(f"SITE {site_id!r}: no such site in {inv.root}") from None


def _gateway(site: Site) -> Device:
    if site.gateway is None:
        raise ConfigError(f"SITE {site.id!r}: the site has no gateway")
    return site.gateway


def target_for(device: Device, lab: bool) -> Target:
    user = device.admin_user
    if lab:
        paths = LabPaths(Path(settings.get("lab_root")))
        if not paths.ssh_config.is_file():
            raise ConfigError(f"--lab: {paths.ssh_config} missing: run 'fleet lab up "
                              f"{device.site_id}'")
        return Target(device.hostname, str(device.ip), user, paths.ssh_key, paths.ssh_config)
    return Target(device.hostname, str(device.ip), user)


@app.command("collect")
def collect_cmd(
    site: SiteArg,
    from_dir: Annotated[Path | None, typer.Option(
        "--from-dir", help="Import a copy of the gateway's log directory instead of fetching.")
    ] = None,
    lab: LabOpt = False,
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Copy the gateway's connection log into the store (idempotent), then purge what is
    older than 365 days."""
    s = _site(site, inventory)
    gw = _gateway(s)
    now = _now()
    with opened_store(db, create=True) as store:
        if from_dir is not None:
            result = collect.import_dir(store, s.id, gw.hostname, from_dir, now)
            message = "imported"
        else:
            with tempfile.TemporaryDirectory(prefix="relais-connlog-") as tmp:
                outcome = fetch_connlog([target_for(gw, lab)], Path(tmp))[0]
                if not outcome.ok:
                    raise ConfigError(f"{gw.hostname}: cannot fetch the connection log: "
                                      f"{outcome.message}")
                result = collect.import_dir(store, s.id, gw.hostname, Path(tmp) / gw.hostname, now)
                message = outcome.message
        purged = collect.purge(store, now)
    data = {"site": s.id, "gateway": gw.hostname, "files": result.files,
            "records": result.records, "inserted": result.inserted, "updated": result.updated,
            "purged": purged, "message": message}
    if json:
        print_json(data)
        return
    console().print(f"{gw.hostname}: {result.files} files, {result.records} records "
                    f"({result.inserted} new, {result.updated} sessions ended); "
                    f"{purged} records older than 365 days purged")


@app.command("sessions")
def sessions_cmd(
    site: SiteArg,
    start: FromOpt,
    end: ToOpt,
    tz: Annotated[str, typer.Option("--tz", help=TzHelp + " Default: site.")] = "site",
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Guest sessions of a site over a period (start, end, MAC, IP), shown in --tz."""
    s = _site(site, inventory)
    zone = collect.parse_zone(tz, s.timezone)
    a, b = collect.parse_period(start, end, zone)
    with opened_store(db) as store:
        rows = collect.sessions(store, s.id, a, b)
    if json:
        print_json([collect.row_dict(r) for r in rows])
        return

    def local(t: datetime | None) -> str:
        return t.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if t is not None else "(ouverte)"

    table = Table(f"début ({zone.key})", f"fin ({zone.key})", "MAC", "IP", "passerelle",
                  box=None)
    for r in rows:
        table.add_row(local(r.started_at), local(r.ended_at), r.client_mac, r.client_ip,
                      r.gateway)
    out = console()
    out.print(table)
    out.print(f"{len(rows)} session{'s' if len(rows) != 1 else ''} à {s.id}")


@app.command("export")
def export_cmd(
    site: SiteArg,
    start: FromOpt,
    end: ToOpt,
    out: Annotated[Path, typer.Option("--out", help="File to write (never overwritten).")],
    tz: Annotated[str | None, typer.Option(
        "--tz", help=TzHelp + " No default: a requisition period without a zone is refused.")
    ] = None,
    db: DbOpt = None,
    inventory: InvOpt = None,
) -> None:
    """Every record of a site meeting a period, as the CSV file answering a legal requisition."""
    s = _site(site, inventory)
    zone = collect.parse_zone(tz, s.timezone) if tz is not None else None
    a, b = collect.parse_period(start, end, zone)
    with opened_store(db) as store:
        rows = collect.records(store, s.id, a, b)
    collect.write_export(out, collect.export_csv(rows, s.id, a, b, _now(), zone))
    console().print(f"{out}: {len(rows)} records of {s.id} (mode 0600: personal data)")


@app.command("purge")
def purge_cmd(db: DbOpt = None, json: JsonOpt = False) -> None:
    """Delete stored records older than 365 days (also done by every collect)."""
    with opened_store(db) as store:
        n = collect.purge(store, _now())
    if json:
        print_json({"purged": n})
        return
    console().print(f"{n} records older than 365 days purged")
