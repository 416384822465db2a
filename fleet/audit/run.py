"""``fleet audit run``: one site's (or the network's) monthly audit, from the live hosts and
the store, into a signed report.

For a site, at the same time:

- the stations' wipe records are collected into the usage counts (:mod:`fleet.audit.usage`);
- the verification's precondition is made true rather than skipped: one canary wipe per
  station (the deploy's mechanism, :mod:`fleet.deploy`), then the same pytest-testinfra checks
  as after a deploy (:func:`fleet.checks.run_checks`, hosts in parallel).  A host that cannot
  be reached is a finding of the report, never a crash;

then the store's figures of the month are read (availability during opening hours, incidents,
deploys, usage, wipe failures), with the auditor's checklist and counting grid, compared with
the previous month's audit, and written as HTML, PDF and CSV, each signed (SHA-256 + Ed25519)
and recorded in the store.  Everything that reaches a device or the clock is injectable.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from fleet.audit import availability, figures, report
from fleet.audit.entries import answers_of, checklist, grid_weeks
from fleet.audit.report import Finding, NetworkReport, SiteInfo, SiteReport, Translate, french
from fleet.audit.signing import Signature, Signer, sign_file
from fleet.audit.usage import CollectResult, collect, stations
from fleet.checks import CheckReport, expectations_for, run_checks
from fleet.deploy import WipeResult, deployed_devices
from fleet.deploy.service import wipe_hosts
from fleet.errors import ConfigError
from fleet.inventory.models import Device, Inventory, Site
from fleet.remote.pyinfra_run import Target
from fleet.store.audit import Audit, AuditFile
from fleet.store.db import Store

Clock = Callable[[], datetime]
ChecksRunner = Callable[..., CheckReport]
CanaryRunner = Callable[[Inventory, Site, Sequence[Device]], Sequence[WipeResult]]
Collector = Callable[[Store, Site, datetime], CollectResult]
OUTCOME_STATUS = MappingProxyType({"passed": "ok", "failed": "ko", "error": "error", "skipped": "skipped",
                  "not_applicable": "na"})  # fmt: skip


def utcnow() -> datetime:
    return datetime.now(UTC)


def current_user(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("FLEET_USER") or env.get("SUDO_USER") or getpass.getuser()


@dataclass(frozen=True, slots=True)
class AuditOptions:
    repo: Path
    """The checkout holding roles/ and playbooks/ (expectations, canary wipe)."""
    out_dir: Path
    lab: bool = False
    ssh_config: Path | None = None
    extra_inventories: tuple[Path, ...] = ()
    checks: bool = True
    canary: bool = True
    collect_usage: bool = True
    check_modules: tuple[str, ...] = ()
    user: str = ""
    translate: Translate = french


@dataclass(frozen=True, slots=True)
class SiteAudit:
    report: SiteReport
    audit_id: int
    files: Mapping[str, Path]
    signatures: Mapping[str, Signature]
    collected: CollectResult | None = None
    seconds: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "site": r.site.id, "month": str(r.month), "verdict": r.verdict, "audit_id": self.audit_id,
            "failures": [{"area": f.area, "target": f.target, "item": f.item, "label": f.label,
                          "refs": list(f.refs), "message": f.message} for f in r.failures],
            "skipped": [{"target": f.target, "item": f.item, "message": f.message} for f in r.skipped],
            "availability": [a.to_json() for a in r.availability],
            "incidents": r.incidents.to_json(),
            "usage": r.usage.to_json(),
            "deploys": [d.to_json() for d in r.deploys],
            "files": {k: str(v) for k, v in self.files.items()},
            "sha256": {k: s.sha256 for k, s in self.signatures.items()},
            "key_id": next(iter(self.signatures.values())).key_id if self.signatures else None,
            "collected": self.collected.to_json() if self.collected else None,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }  # fmt: skip


# -------------------------------------------------------------------------- findings ----


def check_findings(checks: CheckReport) -> list[Finding]:
    """The verification's results as findings; a host that could not be checked is one."""
    out: list[Finding] = []
    for host in checks.hosts:
        error = checks.host_errors.get(host)
        out.append(
            Finding(
                "acces",
                host,
                "ssh",
                "Joignable pour les vérifications",
                "ko" if error else "ok",
                (),
                error or "",
            )
        )
        for r in checks.for_host(host):
            status = OUTCOME_STATUS.get(r.outcome, "error")
            out.append(
                Finding(
                    "verification",
                    host,
                    f"{r.module}/{r.check}",
                    f"{r.module} : {r.check.replace('_', ' ')}",
                    status,
                    tuple(r.refs),
                    r.message,
                )
            )
    return out


def wipe_findings(
    site: Site, usage: figures.UsageFigures, canary: Sequence[WipeResult] | None
) -> list[Finding]:
    out = []
    by_host = {w.hostname: w for w in canary or ()}
    for d in stations(site):
        n = usage.failures_per_station.get(d.hostname, 0)
        out.append(
            Finding(
                "effacement",
                d.hostname,
                "wipes",
                "Effacements du mois sans échec",
                "ko" if n else "ok",
                ("RGPD art. 5.1.e",),
                f"{n} effacement(s) en échec ce mois-ci" if n else "",
            )
        )
        if canary is None:  # no canary this run (--no-canary, or no checks)
            continue
        # a station the canary did not report on proved nothing: a failure, like a failed one
        w = by_host.get(d.hostname)
        out.append(
            Finding(
                "effacement",
                d.hostname,
                "canary",
                "Effacement témoin de l'audit",
                "ok" if w is not None and w.ok else "ko",
                ("RGPD art. 5.1.e",),
                w.message if w is not None else "aucun résultat de l'effacement témoin",
            )
        )
    return out


def premises_findings(store: Store, site: Site, month: Any) -> list[Finding]:
    answers = answers_of(store, site.id, month)
    out = []
    for item in checklist().items:
        a = answers.get(item.id)
        if a is None:
            continue
        out.append(Finding("locaux", site.id, item.id, item.label, a.status, (), a.comment))
    return out


def previous_summary(store: Store, site_id: str | None, month: Any, lab: bool) -> dict[str, Any] | None:
    with store.read() as s:
        row = s.scalars(
            select(Audit)
            .where(
                Audit.site_id == site_id if site_id is not None else Audit.site_id.is_(None),
                Audit.month == str(month.previous()),
                Audit.lab == lab,
            )
            .order_by(Audit.id.desc())
        ).first()
        return dict(row.summary) if row is not None else None


# ----------------------------------------------------------------------------- run ----


def default_canary(repo: Path, extra_inventories: Sequence[Path]) -> CanaryRunner:
    """One canary wipe per station before the checks (the deploy's: a file of the guest is
    planted where no wipe item looks, and the wipe's own scan must find and remove it)."""

    def run(inventory: Inventory, site: Site, devices: Sequence[Device]) -> Sequence[WipeResult]:
        if not devices:
            return []
        return wipe_hosts(inventory, devices, repo=repo, trigger="deploy", canary=True,
                          extra_inventories=extra_inventories)

    return run


def audit_site(
    inventory: Inventory,
    site: Site,
    month: Any,
    *,
    store: Store,
    options: AuditOptions,
    signer: Signer,
    targets: Sequence[Target] = (),
    checks_runner: ChecksRunner = run_checks,
    canary_runner: CanaryRunner | None = None,
    collector: Collector | None = None,
    clock: Clock = utcnow,
) -> SiteAudit:
    import time

    started = clock()
    seconds: dict[str, float] = {}
    devices = deployed_devices(site, None)
    notes: list[str] = []

    def live() -> tuple[Sequence[WipeResult] | None, CheckReport | None]:
        if not options.checks:
            return None, None
        t0 = time.perf_counter()
        wiped: Sequence[WipeResult] | None = None
        if options.canary:
            runner = canary_runner or default_canary(options.repo, options.extra_inventories)
            wiped = runner(inventory, site, [d for d in devices if d in stations(site)])
        seconds["canary"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        expect = expectations_for(inventory, site, devices, options.repo / "roles")
        report_ = checks_runner(
            expect, ssh_config=options.ssh_config, modules=list(options.check_modules) or None
        )
        seconds["checks"] = time.perf_counter() - t1
        return wiped, report_

    def gather() -> CollectResult | None:
        if not options.collect_usage or not targets:
            return None
        t0 = time.perf_counter()
        coll = collector or (lambda st, si, now: collect(st, si, targets, now))
        result = coll(store, site, clock())
        seconds["collect"] = time.perf_counter() - t0
        return result

    with ThreadPoolExecutor(max_workers=2) as pool:
        live_f = pool.submit(live)
        gather_f = pool.submit(gather)
        collected = gather_f.result()
        wiped, checks = live_f.result()
    if collected is not None and collected.unreachable:
        notes.append(
            "Relevé d'usage impossible sur : "
            + ", ".join(f"{h} ({why})" for h, why in sorted(collected.unreachable.items()))
        )
    usage = figures.usage(store, site, month, [d.hostname for d in stations(site)])
    found = check_findings(checks) if checks is not None else []
    found += wipe_findings(site, usage, wiped)
    found += premises_findings(store, site, month)
    days = month.days()
    rep = SiteReport(
        site=SiteInfo(site.id, site.name, site.commune, site.timezone),
        month=month,
        generated_at=clock(),
        lab=options.lab,
        findings=tuple(found),
        availability=tuple(availability.from_store(store, site, list(site.devices), month)),
        incidents=figures.incidents(store, site, month),
        deploys=tuple(figures.deploys(store, site, month)),
        usage=usage,
        grid=tuple(grid_weeks(store, [site.id], days[0], days[-1])),
        checks_ran=checks is not None,
        previous=previous_summary(store, site.id, month, options.lab),
        notes=tuple(notes),
    )
    t0 = time.perf_counter()
    audit_id, files, sigs = write_site(
        rep, store=store, options=options, signer=signer, started=started, clock=clock
    )
    seconds["report"] = time.perf_counter() - t0
    return SiteAudit(rep, audit_id, files, sigs, collected, seconds)


def _stem(site_id: str | None, month: Any, lab: bool) -> str:
    return f"audit-{site_id or 'reseau'}-{month}" + ("-lab" if lab else "")


def _write_signed(
    store: Store,
    *,
    site_id: str | None,
    month: Any,
    html: str,
    csv_text: str | None,
    summary: Mapping[str, Any],
    verdict: str,
    options: AuditOptions,
    signer: Signer,
    started: datetime,
    clock: Clock,
) -> tuple[int, dict[str, Path], dict[str, Signature]]:
    out = options.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {str(out)!r}: cannot create: {exc.strerror}") from exc
    stem = _stem(site_id, month, options.lab)
    files = {"html": out / f"{stem}.html", "pdf": out / f"{stem}.pdf"}
    files["html"].write_text(html, encoding="utf-8")
    report.write_pdf(html, files["pdf"])
    if csv_text is not None:
        files["csv"] = out / f"{stem}.csv"
        files["csv"].write_text(csv_text, encoding="utf-8")
    now = clock()
    sigs = {
        k: sign_file(signer, p, kind=k, site=site_id, month=str(month), now=now) for k, p in files.items()
    }
    with store.write() as s:
        row = Audit(
            site_id=site_id,
            month=str(month),
            started_at=started,
            finished_at=now,
            user=signer.who,
            lab=options.lab,
            verdict=verdict,
            summary=dict(summary),
        )
        for kind, sig in sigs.items():
            row.files.append(
                AuditFile(
                    kind=kind,
                    name=files[kind].name,
                    size=sig.size,
                    sha256=sig.sha256,
                    signature=sig.signature,
                    key_id=sig.key_id,
                    public_key=sig.public_key,
                    signed_by=sig.signed_by,
                    signed_at=sig.signed_at,
                )
            )
        s.add(row)
        s.flush()
        audit_id = row.id
    return audit_id, files, sigs


def write_site(
    rep: SiteReport, *, store: Store, options: AuditOptions, signer: Signer, started: datetime, clock: Clock
) -> tuple[int, dict[str, Path], dict[str, Signature]]:
    _ = options.translate
    return _write_signed(
        store,
        site_id=rep.site.id,
        month=rep.month,
        html=report.render_site(rep, _),
        csv_text=report.findings_csv(rep, _),
        summary=rep.summary(),
        verdict=rep.verdict,
        options=options,
        signer=signer,
        started=started,
        clock=clock,
    )


def write_network(
    net: NetworkReport,
    *,
    store: Store,
    options: AuditOptions,
    signer: Signer,
    started: datetime,
    clock: Clock,
) -> tuple[int, dict[str, Path], dict[str, Signature]]:
    _ = options.translate
    return _write_signed(
        store,
        site_id=None,
        month=net.month,
        html=report.render_network(net, _),
        csv_text=None,
        summary=net.summary(),
        verdict=net.verdict,
        options=options,
        signer=signer,
        started=started,
        clock=clock,
    )
