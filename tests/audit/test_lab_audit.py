"""Lab proof of issue 16 on a real florac-fs site (systemd-nspawn hosts, real SSH):

the audit of a freshly deployed site is green (the deploy's checks on every host, the
stations' wipe records collected over SSH into the usage counts, a canary wipe first, the
checklist entered); then one thing of each kind is broken — sshd weakened on a PC, the DNS
filter stopped on the gateway, a PC's SNMP agent stopped during opening hours (the real
``fleet poll`` runs in the controller namespace with an injected clock, so the store's history
holds the outage) — and the next report shows each failure with its reference ids, the PC's
availability during opening hours drops, and nothing else turns red.  Everything broken is repaired
afterwards (the lab site is shared with other lab tests of the session).

Not here yet, and why: "leave a canary unwiped" needs the canary wipe of issue 9/10
(``relais-wipe --canary``, ``fleet.deploy.wipe_hosts``) and "let the blocklists age" needs the
blocklist list store and its age check (issue 9.7); both are other branches' work.

Run as root: ``pytest -m lab tests/audit`` (pytest takes the lab lock itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fleet.audit.entries import checklist, parse_file, store_entries
from fleet.audit.period import parse_month
from fleet.audit.run import AuditOptions, SiteAudit, audit_site
from fleet.audit.signing import Signer, vault_key, verify
from fleet.lab.paths import CTL_NETNS
from fleet.lab.pytest_plugin import LabSite
from fleet.remote.pyinfra_run import Target
from fleet.store.db import open_store
from tests.deployed import DeployedSite

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PC1, PC2, GW = "florac-fs-pc1", "florac-fs-pc2", "florac-fs-gw"
MONTH = parse_month("2026-11")
WEAK_SSHD = "/etc/ssh/sshd_config.d/00-audit-test.conf"
MONDAY_9H = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))  # Florac opens at 09:00


def _poll(url: str, at: datetime) -> None:
    """One real ``fleet poll`` cycle of the site from the controller namespace, at ``at``."""
    done = subprocess.run(
        ["ip", "netns", "exec", CTL_NETNS, sys.executable, "-m", "fleet.cli.main", "poll", "--once",
         "--site", "florac-fs", "--clock", at.isoformat(), "--db", url, "--json", "--timeout", "1",
         "--retries", "1", "--inventory", str(REPO / "inventory")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["failures"] == [], report


@pytest.fixture(scope="module")
def deployed(deployed_site: DeployedSite, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[LabSite, str, Path]]:
    """The session's deployed site (tests/deployed.py), with a store of this module's own that
    holds the deploy's record and the month's checklist."""
    tmp = tmp_path_factory.mktemp("audit")
    url = deployed_site.store_copy(tmp)
    lab_site, out = deployed_site.site, deployed_site.outcome
    assert out.outcome in ("ok", "changed"), out.failed_hosts()
    fill = tmp / "checklist.yml"
    fill.write_text("items:\n" + "".join(f"  {i.id}: ok\n" for i in checklist().items
                                         if i.applies(lab_site.site)), encoding="utf-8")
    store_entries(open_store(url), lab_site.site, MONTH, parse_file(fill, lab_site.site, MONTH),
                  by="lab-test", now=out.finished_at)
    yield lab_site, url, tmp


def _reachability(url: str, device: str) -> str | None:
    from fleet.store.models import Observation

    with open_store(url).read() as s:
        row = s.get(Observation, (device, "reachability"))
        return None if row is None else row.status


def _audit(site: LabSite, url: str, out_dir: Path) -> SiteAudit:
    options = AuditOptions(repo=REPO, out_dir=out_dir, lab=True, ssh_config=site.ssh_config,
                           extra_inventories=(site.ansible_overlay,))
    targets = [Target(d.hostname, str(d.ip), "relais", site.lab.paths.ssh_key, site.ssh_config)
               for d in site.site.devices if d.kind.is_host]
    return audit_site(site.inventory, site.site, MONTH, store=open_store(url), options=options,
                      signer=Signer(vault_key(REPO / "inventory"), "lab-test"), targets=targets)


def _explain(done: SiteAudit) -> str:
    return "\n".join(f"{f.target} {f.item} [{f.status}] {f.message}" for f in done.report.findings
                     if f.status not in ("ok", "na"))


def test_fresh_site_is_green_then_each_breakage_is_reported(
    deployed: tuple[LabSite, str, Path],
) -> None:
    site, url, tmp = deployed
    first = _audit(site, url, tmp / "first")
    r = first.report
    assert r.verdict == "green", _explain(first)
    hosts = {f.target for f in r.findings if f.area == "verification"}
    assert hosts == {d.hostname for d in site.site.devices if d.kind.is_host}
    assert sum(1 for f in r.findings if f.area == "verification" and f.status == "ok") >= 60
    # the stations' wipe records came over SSH into the usage counts (the deploy's wipes at
    # least), and the canary wipe of this audit succeeded on each station
    assert first.collected is not None and not first.collected.unreachable
    assert {i.device for i in first.collected.imported} == {PC1, PC2, "florac-fs-borne1"}
    assert all(f.status == "ok" for f in r.findings if f.area == "effacement"), _explain(first)
    assert verify(first.files["pdf"], store=open_store(url), trusted=None).intact

    # positive control: the probes that must change are first shown to read the healthy state
    assert site.exec(PC2, "sshd", "-T").stdout.count("passwordauthentication no") == 1
    try:
        # Monday 23 November, Florac open: polled healthy at 09:00, the agent of PC1 stopped
        # from 10:00 (polled every minute), started again at 11:00 (polled until it is up)
        at = MONDAY_9H
        for _ in range(3):
            _poll(url, at)
            at += timedelta(minutes=1)
        assert site.exec(PC1, "systemctl", "stop", "snmpd").returncode == 0
        at = MONDAY_9H + timedelta(hours=1)
        for _ in range(5):
            _poll(url, at)
            at += timedelta(minutes=1)
        assert site.exec(PC1, "systemctl", "start", "snmpd").returncode == 0
        at = MONDAY_9H + timedelta(hours=2)
        for _ in range(30):
            _poll(url, at)
            at += timedelta(minutes=1)
            if _reachability(url, PC1) == "up":
                break
        assert _reachability(url, PC1) == "up"
        assert site.exec(PC1, "systemctl", "stop", "snmpd").returncode == 0
        assert site.exec(PC2, "sh", "-c", f"echo 'PasswordAuthentication yes' > {WEAK_SSHD}").returncode == 0
        assert site.exec(GW, "systemctl", "stop", "dnsmasq").returncode == 0
        second = _audit(site, url, tmp / "second")
    finally:
        site.exec(PC2, "rm", "-f", WEAK_SSHD)
        site.exec(GW, "systemctl", "start", "dnsmasq")
        site.exec(PC1, "systemctl", "start", "snmpd")
    r2 = second.report
    assert r2.verdict == "red"
    broken = {(f.target, f.item) for f in r2.failures}
    assert broken >= {(PC2, "ssh/sshd_setting"), (GW, "gateway/dns_filter_running"),
                      (PC1, "snmp_agent/snmpd_running")}, _explain(second)
    # nothing else: every failure belongs to one of the three things broken
    assert {(t, item.split("/")[0]) for t, item in broken} <= {(PC2, "ssh"), (GW, "gateway"),
                                                               (PC1, "snmp_agent")}, _explain(second)
    assert all(f.refs for f in r2.failures), _explain(second)
    avail = {a.device: a for a in r2.availability}
    assert avail[PC1].down_s >= 55 * 60 and avail[PC1].percent is not None and avail[PC1].percent < 100
    assert avail[PC2].down_s == 0 and avail[PC2].percent == 100.0
    text = subprocess.run(["pdftotext", str(second.files["pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = " ".join(text.split())
    for ref in ("CIS 5.1.x", "Relais content_filter: the guests' only resolver, queries not logged",
                "ANSSI SNMP: v3 authPriv"):
        assert ref in flat, ref
