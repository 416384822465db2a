"""`fleet audit run | checklist | verify | collect | keygen`: the monthly audit (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

import typer
from rich.table import Table

import fleet
from fleet import settings
from fleet.audit import entries, signing, usage
from fleet.audit.period import parse_month
from fleet.audit.report import NetworkReport
from fleet.audit.run import AuditOptions, SiteAudit, audit_site, current_user, write_network
from fleet.cli.common import console, opened_store, print_json
from fleet.errors import ConfigError, FleetError
from fleet.inventory import Inventory, Site, load_inventory
from fleet.lab.paths import LabPaths
from fleet.remote.pyinfra_run import Target
from fleet.store.db import Store

app = typer.Typer(
    help="Monthly audit: checks, availability, checklist, usage -> signed report.", no_args_is_help=True
)

MonthOpt = Annotated[str, typer.Option("--month", help="Audited month, YYYY-MM (the site's local month).")]
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: setting db_url).")]
InvOpt = Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LabOpt = Annotated[bool, typer.Option("--lab", help="Target the lab copy of the site(s).")]
_VERDICT = MappingProxyType({
    "green": "[green]conforme[/]",
    "red": "[red]non conforme[/]",
    "incomplete": "[yellow]incomplet[/]",
})


def _now() -> datetime:
    return datetime.now(UTC)


def repo_root() -> Path:
    here = Path(fleet.__file__).resolve().parent.parent
    return here if (here / "playbooks").is_dir() else Path.cwd()


def _site(inv: Inventory, site_id: str) -> Site:
    try:
        return inv.site(site_id)
    except KeyError:
        raise ConfigError(f"SITE {site_id!r}: no such site in {inv.root}") from None


def _lab_paths() -> LabPaths:
    return LabPaths(Path(settings.get("lab_root")))


def _lab_sites(inv: Inventory) -> list[Site]:
    """The sites whose lab copy is up."""
    paths = _lab_paths()
    return [s for s in inv.sites if paths.site_inventory(s.id).is_file()]


def _targets(site: Site, lab: bool) -> list[Target]:
    out = []
    paths = _lab_paths() if lab else None
    for d in site.devices:
        if not d.kind.is_host:
            continue
        user = d.admin_user
        if paths is not None:
            out.append(Target(d.hostname, str(d.ip), user, paths.ssh_key, paths.ssh_config))
        else:
            out.append(Target(d.hostname, str(d.ip), user))
    return out


def _lab_check(site: Site) -> tuple[Path, Path]:
    paths = _lab_paths()
    overlay = paths.site_inventory(site.id)
    if not overlay.is_file() or not paths.ssh_config.is_file():
        raise ConfigError(f"{overlay}: the lab is not up for {site.id}: run 'fleet lab up {site.id}'")
    return overlay, paths.ssh_config


def _print_site(done: SiteAudit) -> None:
    out = console()
    r = done.report
    out.print(
        f"[bold]{r.site.id}[/] {r.month}: {_VERDICT[r.verdict]} — {len(r.failures)} point(s) en échec, "
        f"{len(r.skipped)} non vérifié(s)"
    )
    if r.failures:
        table = Table("domaine", "cible", "point", "références", "constat", box=None)
        for f in r.failures:
            table.add_row(f.area, f.target, f.item, ", ".join(f.refs), f.message[:80])
        out.print(table)
    avail = r.availability_percent
    out.print(
        f"  disponibilité (ouverture) : {'—' if avail is None else f'{avail:.2f} %'} · incidents : "
        f"{r.incidents.opened} (encore ouverts {r.incidents.still_open}) · sessions : {r.usage.sessions}"
    )
    for note in r.notes:
        out.print(f"  [dim]{note}[/]")
    for kind, path in done.files.items():
        out.print(f"  {kind}: {path}  sha256 {done.signatures[kind].sha256[:16]}…")


@app.command("run")
def run_cmd(
    month: MonthOpt,
    site: Annotated[str | None, typer.Argument(help="Site id; or --all.")] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site (with --lab: every site up).")] = False,
    lab: LabOpt = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory of the reports (default: <state_dir>/audits/<month>)."),
    ] = None,
    checks: Annotated[bool, typer.Option("--checks/--no-checks", help="Run the checks on the hosts.")] = True,
    canary: Annotated[
        bool, typer.Option("--canary/--no-canary", help="One canary wipe per station before the checks.")
    ] = True,
    collect_usage: Annotated[
        bool, typer.Option("--collect/--no-collect", help="Collect the wipe records first.")
    ] = True,
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Audit a site (or every site) for a month: the deploy's checks on the live hosts, the
    store's figures, the checklist and the grid -> signed HTML, PDF and CSV."""
    m = parse_month(month)
    if (site is None) == (not all_sites):
        raise ConfigError("give one SITE, or --all")
    inv = load_inventory(inventory)
    if all_sites:
        sites = _lab_sites(inv) if lab else list(inv.sites)
        if not sites:
            raise ConfigError("--all --lab: no site is up in the lab (fleet lab up SITE)")
    else:
        sites = [_site(inv, site or "")]
    signer = signing.Signer(signing.vault_key(Path(inv.root)), current_user())
    out_dir = out or Path(settings.get("state_dir")) / "audits" / str(m)
    with opened_store(db, create=True) as store:
        results, unreached = _run_sites(
            inv,
            sites,
            m,
            store,
            signer,
            out_dir,
            lab=lab,
            checks=checks,
            canary=canary,
            collect_usage=collect_usage,
        )
        network = None
        if all_sites and results:
            started = _now()
            net = NetworkReport(m, _now(), lab, tuple(r.report for r in results), unreached)
            network = write_network(
                net,
                store=store,
                options=AuditOptions(repo=repo_root(), out_dir=out_dir, lab=lab),
                signer=signer,
                started=started,
                clock=_now,
            )
        if json:
            print_json(
                {
                    "sites": [r.to_json() for r in results],
                    "unreached": unreached,
                    "network": None if network is None else {k: str(v) for k, v in network[1].items()},
                }
            )
        else:
            for r in results:
                _print_site(r)
            for s, why in unreached.items():
                console().print(f"[red]{s}[/]: not audited: {why}")
            if network is not None:
                console().print(f"network report: {network[1]['pdf']}")
        if any(r.report.verdict == "red" for r in results) or unreached:
            raise typer.Exit(1)


def _run_sites(
    inv: Inventory,
    sites: list[Site],
    m: object,
    store: Store,
    signer: signing.Signer,
    out_dir: Path,
    *,
    lab: bool,
    checks: bool,
    canary: bool,
    collect_usage: bool,
) -> tuple[list[SiteAudit], dict[str, str]]:
    results: list[SiteAudit] = []
    unreached: dict[str, str] = {}
    for s in sites:
        overlays: tuple[Path, ...] = ()
        ssh_config = None
        try:
            if lab:
                overlay, ssh_config = _lab_check(s)
                overlays = (overlay,)
            options = AuditOptions(
                repo=repo_root(),
                out_dir=out_dir,
                lab=lab,
                ssh_config=ssh_config,
                extra_inventories=overlays,
                checks=checks,
                canary=canary,
                collect_usage=collect_usage,
                user=signer.who,
            )
            results.append(
                audit_site(inv, s, m, store=store, options=options, signer=signer, targets=_targets(s, lab))
            )
        except FleetError as exc:
            if len(sites) == 1:
                raise
            unreached[s.id] = str(exc)
    return results, unreached


@app.command("checklist")
def checklist_cmd(
    site: Annotated[str, typer.Argument(help="Site id.")],
    month: MonthOpt,
    from_file: Annotated[
        Path,
        typer.Option(
            "--from", help="The filled checklist and/or counting grid (.yml or .csv; see docs/auditor.md)."
        ),
    ],
    by: Annotated[
        str | None, typer.Option("--by", help="Who entered it (default: FLEET_USER or the OS account).")
    ] = None,
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Enter the premises checklist and/or the weekly counting grid of a site for a month."""
    m = parse_month(month)
    s = _site(load_inventory(inventory), site)
    parsed = entries.parse_file(from_file, s, m)
    with opened_store(db, create=True) as store:
        entries.store_entries(store, s, m, parsed, by=by or current_user(), now=_now())
        ko = [a.item for a in parsed.answers if a.status == "ko"]
        data = {
            "site": s.id,
            "month": str(m),
            "items": len(parsed.answers),
            "non_conformes": ko,
            "weeks": [w.week.isoformat() for w in parsed.weeks],
        }
        if json:
            print_json(data)
            return
        console().print(
            f"{s.id} {m}: {len(parsed.answers)} point(s) de la check-list"
            + (f" dont {len(ko)} non conforme(s) ({', '.join(ko)})" if ko else "")
            + f", {len(parsed.weeks)} semaine(s) de la grille de comptage enregistrés"
        )


@app.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="An archived report (PDF, HTML or CSV).")],
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Is an archived report intact, and who signed it?  Exit 0 when intact, 1 when not."""
    if not file.is_file():  # before the store: a mistyped path is the first thing to say
        raise ConfigError(f"{file}: no such file")
    trusted = None
    try:
        inv_root = Path(inventory or settings.get("inventory"))
        trusted = signing.vault_key(inv_root).public_key()
    except FleetError:
        trusted = None
    with opened_store(db) as store:
        verdict = signing.verify(file, store=store, trusted=trusted)
        if json:
            print_json(verdict.to_json())
        else:
            console().print(("[green]" if verdict.intact else "[red]") + verdict.message + "[/]")
        if not verdict.intact:
            raise typer.Exit(1)


@app.command("collect")
def collect_cmd(
    site: Annotated[str | None, typer.Argument(help="Site id; or --all.")] = None,
    all_sites: Annotated[bool, typer.Option("--all", help="Every site (with --lab: every site up).")] = False,
    from_dir: Annotated[
        Path | None,
        typer.Option("--from-dir", help="Import copies of wipe records instead: DIR/<hostname>/wipe.jsonl"),
    ] = None,
    lab: LabOpt = False,
    db: DbOpt = None,
    inventory: InvOpt = None,
    json: JsonOpt = False,
) -> None:
    """Count the stations' new wipe records into the usage figures (run daily; idempotent)."""
    if (site is None) == (not all_sites):
        raise ConfigError("give one SITE, or --all")
    inv = load_inventory(inventory)
    sites = (_lab_sites(inv) if lab else list(inv.sites)) if all_sites else [_site(inv, site or "")]
    if lab and not all_sites:
        _lab_check(sites[0])
    with opened_store(db, create=True) as store:
        now = _now()
        results: list[usage.CollectResult] = []
        for s in sites:
            if from_dir is not None:
                imported = tuple(
                    usage.import_dir(store, s, d.hostname, from_dir / d.hostname, now)
                    for d in usage.stations(s)
                    if (from_dir / d.hostname).is_dir()
                )
                results.append(usage.CollectResult(s.id, imported, {}))
            else:
                results.append(usage.collect(store, s, _targets(s, lab), now))
        if json:
            print_json([r.to_json() for r in results])
            return
        out = console()
        for r in results:
            for i in r.imported:
                out.print(
                    f"{i.device}: {i.records} records, {i.counted} new, {i.already} already counted"
                    + (f", {len(i.skipped)} unreadable (first: {i.skipped[0]})" if i.skipped else "")
                )
            for host, why in r.unreachable.items():
                out.print(f"[red]{host}[/]: {why}")
        if any(r.unreachable for r in results):
            raise typer.Exit(1)


@app.command("keygen")
def keygen_cmd() -> None:
    """Print a new Ed25519 signing key (PEM) to put in the vault as vault_audit_signing_key."""
    pem = signing.generate_pem()
    console(stderr=True).print("# add to the vault (ansible-vault edit inventory/group_vars/all/vault.yml):")
    print("vault_audit_signing_key: |")
    for line in pem.strip().splitlines():
        print("  " + line)
