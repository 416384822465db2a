"""`fleet inventory check | show | search | new-site`."""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fleet import settings
from fleet.cli.common import console, print_json
from fleet.errors import ConfigError, InventoryError, Problem
from fleet.inventory import Inventory, Site, format_site_time, load_inventory, open_now
from fleet.inventory.hours import describe_week, next_closing
from fleet.inventory.scaffold import SiteSpec, problems_as_flags, render_site

app = typer.Typer(help="Describe sites: validate, show, search and scaffold the inventory.",
                  no_args_is_help=True)
NARROW = 100
"""Below this many columns, listings drop the columns one can do without (never an id)."""

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Inventory directory (default: FLEET_INVENTORY or ./inventory)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _now() -> datetime:
    return datetime.now(UTC)


def _problem_json(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "line": p.line, "field": p.field,
            "value": p.value, "message": p.message, "text": str(p)}


@app.command("check")
def check(inventory: InventoryOpt = None, json: JsonOpt = False) -> None:
    """Validate the whole inventory; report every problem with file:line (exit 2)."""
    try:
        inv = load_inventory(inventory)
    except InventoryError as exc:
        if not json:
            raise
        print_json({"ok": False, "problems": [_problem_json(p) for p in exc.problems]})
        raise typer.Exit(exc.exit_code) from None
    summary = {
        "ok": True,
        "sites": len(inv.sites),
        "devices": len(inv.devices),
        "demo_vault": inv.demo_vault,
    }
    if json:
        print_json(summary)
        return
    out = console()
    out.print(f"[green]inventory OK[/]: {len(inv.sites)} sites, {len(inv.devices)} devices")
    if inv.demo_vault:
        console(stderr=True).print(
            "[yellow]warning:[/] the vault is opened with the public demo password "
            "(lab/demo only; set FLEET_VAULT_PASSWORD for a real network)"
        )


def _site_dict(site: Site, now: datetime) -> dict[str, Any]:
    state = open_now(site, now)
    nxt_close = next_closing(site, now)
    return {
        "id": site.id,
        "name": site.name,
        "kind": site.kind.value,
        "commune": site.commune,
        "postcode": site.postcode,
        "address": site.address,
        "coordinates": {"lat": site.coordinates.lat, "lon": site.coordinates.lon},
        "timezone": site.timezone,
        "pmi": site.pmi,
        "networks": {
            "management": str(site.management),
            "guest": str(site.guest) if site.guest else None,
        },
        "opening_hours": describe_week(site),
        "closures": [c.model_dump() for c in site.hours.closures],
        "open_now": state.open,
        "local_time": format_site_time(site, now),
        "next_opening": state.next_opening.isoformat() if state.next_opening else None,
        "next_closing": nxt_close.isoformat() if nxt_close else None,
        "referent": site.referent.model_dump(),
        "sav": site.sav.model_dump(),
        "portal_url": site.portal_url,
        "kiosk_allowlist": list(site.kiosk_allowlist) if site.kiosk_allowlist else None,
        "ntp_servers": list(site.ntp_servers) if site.ntp_servers else None,
        "notes": site.notes,
        "source": str(site.source),
        "devices": [
            {
                "hostname": d.hostname,
                "kind": d.kind.value,
                "ip": str(d.ip),
                "pmr": d.pmr,
                "model": d.model,
                "serial": d.serial,
                "location": d.location,
                "snmp_version": d.snmp.version if d.snmp else None,
                "source": str(d.source),
            }
            for d in site.devices
        ],
    }


@app.command("show")
def show(
    site: Annotated[str | None, typer.Argument(help="Site id (default: every site).")] = None,
    inventory: InventoryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the network, or one site with its devices and opening hours."""
    inv = load_inventory(inventory)
    now = _now()
    if site is None:
        _show_all(inv, now, json)
        return
    s = inv.site(site)  # NotFoundError: "unknown site 'x' (did you mean …)", exit 2
    data = _site_dict(s, now)
    if json:
        print_json(data)
        return
    out = console()
    state = "[green]open[/]" if data["open_now"] else "[dim]closed[/]"
    out.print(f"[bold]{s.name}[/] ({s.id}, {s.kind.value}) — {s.commune} {s.postcode} — {state}"
              f" ({data['local_time']})")
    out.print(f"  {s.address}; {s.timezone}; PMI: {'yes' if s.pmi else 'no'}; {s.source}")
    out.print(f"  management {s.management}  guest {s.guest or '-'}")
    out.print(f"  référent: {s.referent.name} {s.referent.phone}   SAV: {s.sav.name} {s.sav.phone}")
    for day, ranges in data["opening_hours"].items():
        out.print(f"  {day}: {', '.join(ranges) if ranges else 'closed'}")
    for c in s.hours.closures:
        out.print(f"  closed {c.start}..{c.end} {c.reason}")
    if s.notes:
        out.print(f"  notes: {s.notes}")
    table = Table(box=None)
    table.add_column("hostname", no_wrap=True, min_width=max(len(d.hostname) for d in s.devices)
                     if s.devices else 8)
    for name in ("kind", "ip", "pmr", "snmp"):
        table.add_column(name, no_wrap=name == "ip")
    for d in s.devices:
        table.add_row(d.hostname, d.kind.value, str(d.ip), "yes" if d.pmr else "",
                      d.snmp.version if d.snmp else "-")
    out.print(table)


def _show_all(inv: Inventory, now: datetime, json: bool) -> None:
    rows: list[dict[str, Any]] = [
        {
            "id": s.id,
            "name": s.name,
            "kind": s.kind.value,
            "commune": s.commune,
            "timezone": s.timezone,
            "pmi": s.pmi,
            "devices": len(s.devices),
            "open_now": open_now(s, now).open,
        }
        for s in inv.sites
    ]
    if json:
        print_json({"sites": rows})
        return
    _site_table(rows)


def _site_table(rows: list[dict[str, Any]]) -> None:
    """Sites as a table: ids are never cut; below NARROW columns, kind, tz and PMI go."""
    out = console()
    wide = out.width >= NARROW
    table = Table(box=None)
    table.add_column("site", no_wrap=True, min_width=max((len(r["id"]) for r in rows), default=4))
    columns = ["kind", "commune", "tz", "pmi", "devices", "now"] if wide else [
        "commune", "devices", "now"]
    for name in columns:
        table.add_column(name, no_wrap=name != "commune", overflow="fold")
    for r in rows:
        values = {"kind": r["kind"], "commune": r["commune"], "tz": r["timezone"],
                  "pmi": "PMI" if r["pmi"] else "", "devices": str(r["devices"]),
                  "now": "open" if r["open_now"] else "closed"}
        table.add_row(r["id"], *(values[c] for c in columns))
    out.print(table)


@app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="Words to find: site id, name, commune or "
                                        "postcode; hostname, serial or MAC.")],
    inventory: InventoryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Find sites and devices; accents, case and punctuation do not matter (Noumea: Nouméa)."""
    inv = load_inventory(inventory)
    found = inv.search(text)
    now = _now()
    sites = [{"id": s.id, "name": s.name, "kind": s.kind.value, "commune": s.commune,
              "timezone": s.timezone, "pmi": s.pmi, "devices": len(s.devices),
              "open_now": open_now(s, now).open} for s in found.sites]
    devices = [{"hostname": d.hostname, "site": d.site_id, "kind": d.kind.value,
                "ip": str(d.ip), "serial": d.serial} for d in found.devices]
    if json:
        print_json({"sites": sites, "devices": devices})
        return
    if not found:
        console(stderr=True).print(f"nothing matches {text!r}")
        raise typer.Exit(1)
    if sites:
        _site_table(sites)
    if devices:
        table = Table(box=None)
        table.add_column("hostname", no_wrap=True,
                         min_width=max(len(str(d["hostname"])) for d in devices))
        table.add_column("site", no_wrap=True)
        for name in ("kind", "ip", "serial"):
            table.add_column(name, no_wrap=True)
        for d in devices:
            table.add_row(d["hostname"], d["site"], d["kind"], d["ip"], d["serial"] or "")
        console().print(table)


@app.command("new-site")
def new_site(
    site_id: Annotated[str, typer.Option("--id", help="Site id, e.g. florac-fs (lowercase, '-').")],
    name: Annotated[str, typer.Option(help="Site name as the public knows it.")],
    kind: Annotated[str, typer.Option(help="prefecture, sous_prefecture, france_services, mairie, "
                                      "cyber_base, centre_social, mediatheque.")],
    commune: Annotated[str, typer.Option(help="Commune, as written locally (accents welcome).")],
    postcode: Annotated[str, typer.Option(help="Postcode, 5 digits.")],
    lat: Annotated[float, typer.Option(help="Latitude (WGS84).")],
    lon: Annotated[float, typer.Option(help="Longitude (WGS84).")],
    management: Annotated[str, typer.Option(help="Management network, CIDR (private).")],
    referent_name: Annotated[str, typer.Option(help="Site référent (person or desk).")],
    sav_name: Annotated[str, typer.Option(help="After-sales (SAV) supplier.")],
    address: Annotated[str, typer.Option(help="Street address.")] = "",
    guest: Annotated[str | None, typer.Option(help="Guest wifi network, CIDR.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA timezone (Pacific/Noumea...).")] = "Europe/Paris",
    hours: Annotated[str, typer.Option(help="e.g. 'mon-fri=09:00-12:00,13:30-17:00;sat=09:00-12:00'.")
                     ] = "mon-fri=09:00-12:00,13:30-17:00",
    pmi: Annotated[bool, typer.Option("--pmi", help="Child area: strict filtering.")] = False,
    pcs: Annotated[int, typer.Option(min=0, max=9, help="How many public PCs.")] = 2,
    pmr_pcs: Annotated[int, typer.Option(min=0, max=9, help="How many PCs are accessible stations.")] = 1,
    bornes: Annotated[int, typer.Option(min=0, max=9, help="How many bornes (kiosks).")] = 1,
    gateway: Annotated[bool, typer.Option("--gateway/--no-gateway", help="A wifi gateway.")] = True,
    switch: Annotated[bool, typer.Option("--switch/--no-switch", help="A switch.")] = True,
    ap: Annotated[bool, typer.Option("--ap/--no-ap", help="A wifi access point.")] = True,
    printer: Annotated[bool, typer.Option("--printer/--no-printer", help="A printer.")] = True,
    ups: Annotated[bool, typer.Option("--ups/--no-ups", help="A UPS.")] = False,
    referent_phone: Annotated[str, typer.Option(help="Référent's phone.")] = "",
    referent_email: Annotated[str, typer.Option(help="Référent's e-mail.")] = "",
    sav_phone: Annotated[str, typer.Option(help="SAV supplier's phone.")] = "",
    sav_email: Annotated[str, typer.Option(help="SAV supplier's e-mail.")] = "",
    sav_contract: Annotated[str, typer.Option(help="SAV contract reference.")] = "",
    inventory: InventoryOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the file, write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing site file.")] = False,
) -> None:
    """Scaffold a valid site file from flags, then validate the whole inventory with it."""
    if pmr_pcs > pcs:
        raise ConfigError(f"--pmr-pcs {pmr_pcs} is more than --pcs {pcs}")
    for flag, value in (("--management", management), ("--guest", guest)):
        if value is not None:
            try:
                ipaddress.IPv4Network(value)
            except ValueError as exc:
                raise ConfigError(f"{flag} {value!r}: {exc}") from exc
    spec = SiteSpec(
        id=site_id, name=name, kind=kind, address=address or f"{name}, {commune}",
        commune=commune, postcode=postcode, lat=lat, lon=lon, management=management,
        guest=guest, timezone=timezone, hours=hours, pmi=pmi, pcs=pcs, pmr_pcs=pmr_pcs,
        bornes=bornes, gateway=gateway, switch=switch, ap=ap, printer=printer, ups=ups,
        referent={"name": referent_name, "phone": referent_phone, "email": referent_email},
        sav={"name": sav_name, "phone": sav_phone, "email": sav_email, "contract": sav_contract},
    )
    text = render_site(spec)
    if dry_run:
        typer.echo(text, nl=False)
        return
    root = Path(settings.get("inventory", inventory))
    target = root / "sites" / f"{site_id}.yml"
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists (use --force to overwrite)")
    previous = target.read_bytes() if target.exists() else None
    if previous is None:
        load_inventory(root)  # valid before: every problem afterwards comes from the flags
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    try:
        inv = load_inventory(root)
    except InventoryError as exc:
        # Never leave the inventory worse than we found it.
        if previous is None:
            target.unlink()
        else:
            target.write_bytes(previous)
        flags = {"--id": site_id, "--name": name, "--kind": kind, "--address": spec.address,
                 "--commune": commune, "--postcode": postcode, "--lat": lat, "--lon": lon,
                 "--lat/--lon": f"{lat},{lon}", "--timezone": timezone, "--hours": hours,
                 "--pmi": pmi, "--management": management, "--guest": guest,
                 "--referent-name": referent_name, "--referent-phone": referent_phone,
                 "--referent-email": referent_email, "--sav-name": sav_name,
                 "--sav-phone": sav_phone, "--sav-email": sav_email,
                 "--sav-contract": sav_contract}
        display = os.path.relpath(target)  # as the loader names files
        raise InventoryError(problems_as_flags(list(exc.problems), display, site_id,
                                               flags)) from None
    site = inv.site(site_id)
    console().print(
        f"[green]created[/] {target}: {len(site.devices)} devices; inventory OK "
        f"({len(inv.sites)} sites)"
    )
