"""`fleet inventory check | show | new-site`."""

from __future__ import annotations

import difflib
import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fleet import settings
from fleet.cli.common import console, print_json
from fleet.errors import ConfigError, InventoryError
from fleet.inventory import Inventory, Site, is_open, load_inventory, next_closing, next_opening
from fleet.inventory.hours import describe_week
from fleet.inventory.scaffold import SiteSpec, render_site

app = typer.Typer(help="Describe sites: validate, show and scaffold the inventory.",
                  no_args_is_help=True)

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Inventory directory (default: FLEET_INVENTORY or ./inventory)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _now() -> datetime:
    return datetime.now(UTC)


@app.command("check")
def check(inventory: InventoryOpt = None, json: JsonOpt = False) -> None:
    """Validate the whole inventory; report every problem with file:line."""
    inv = load_inventory(inventory)
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
    nxt_open = next_opening(site, now)
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
        "open_now": is_open(site, now),
        "next_opening": nxt_open.isoformat() if nxt_open else None,
        "next_closing": nxt_close.isoformat() if nxt_close else None,
        "referent": site.referent.model_dump(),
        "sav": site.sav.model_dump(),
        "source": str(site.source),
        "devices": [
            {
                "hostname": d.hostname,
                "kind": d.kind.value,
                "ip": str(d.ip),
                "pmr": d.pmr,
                "model": d.model,
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
    try:
        s = inv.site(site)
    except KeyError:
        ids = [x.id for x in inv.sites]
        m = difflib.get_close_matches(site, ids, n=1)
        hint = f" (did you mean {m[0]!r}?)" if m else ""
        raise ConfigError(f"unknown site {site!r}{hint}") from None
    data = _site_dict(s, now)
    if json:
        print_json(data)
        return
    out = console()
    state = "[green]open[/]" if data["open_now"] else "[dim]closed[/]"
    out.print(f"[bold]{s.name}[/] ({s.id}, {s.kind.value}) — {s.commune} {s.postcode} — {state}")
    out.print(f"  {s.address}; {s.timezone}; PMI: {'yes' if s.pmi else 'no'}; {s.source}")
    out.print(f"  management {s.management}  guest {s.guest or '-'}")
    out.print(f"  référent: {s.referent.name} {s.referent.phone}   SAV: {s.sav.name} {s.sav.phone}")
    for day, ranges in data["opening_hours"].items():
        out.print(f"  {day}: {', '.join(ranges) if ranges else 'closed'}")
    for c in s.hours.closures:
        out.print(f"  closed {c.start}..{c.end} {c.reason}")
    table = Table("hostname", "kind", "ip", "pmr", "snmp", box=None)
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
            "open_now": is_open(s, now),
        }
        for s in inv.sites
    ]
    if json:
        print_json({"sites": rows})
        return
    table = Table("site", "kind", "commune", "tz", "pmi", "devices", "now", box=None)
    for r in rows:
        table.add_row(r["id"], r["kind"], r["commune"], r["timezone"], "PMI" if r["pmi"] else "",
                      str(r["devices"]), "open" if r["open_now"] else "closed")
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
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    try:
        inv = load_inventory(root)
    except InventoryError:
        # Never leave the inventory worse than we found it.
        if previous is None:
            target.unlink()
        else:
            target.write_bytes(previous)
        raise
    site = inv.site(site_id)
    console().print(
        f"[green]created[/] {target}: {len(site.devices)} devices; inventory OK "
        f"({len(inv.sites)} sites)"
    )
