"""The audit's canary wipe (issue 10): ``audit_site`` makes the verification's precondition true
rather than skip it — one canary wipe per station, then the checks — and a canary the wipe did
not remove is a failed finding of the report, never a pass or a skip.

Stand-ins for the canary (:func:`fleet.deploy.wipe_hosts` needs relais-wipe on real hosts: the
lab audit, ``tests/audit/test_lab_audit.py``, runs it) and for the checks (SSH), injected
through ``audit_site``'s ``canary_runner`` and ``checks_runner``, as the deploy's test does
(``tests/deploy/test_deploy_local.py``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleet.audit.period import parse_month
from fleet.audit.run import AuditOptions, audit_site
from fleet.audit.signing import Signer, vault_key
from fleet.checks.model import CheckReport, CheckResult, HostExpect
from fleet.deploy import WipeResult
from fleet.inventory.models import Device, Inventory, Site
from fleet.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]
NOV = parse_month("2026-11")
CLOCK = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
STATIONS = ["florac-fs-borne1", "florac-fs-pc1", "florac-fs-pc2"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    yield opened
    opened.dispose()


class StandInCanary:
    """Stand-in for the canary wipe: the stations in ``left`` keep their canary file."""

    def __init__(self, events: list[str], left: dict[str, str]) -> None:
        self.events, self.left = events, left
        self.hosts: list[str] = []

    def __call__(self, _inv: Inventory, _site: Site, devices: Sequence[Device]) -> list[WipeResult]:
        self.events.append("canary")
        self.hosts = sorted(d.hostname for d in devices)
        return [WipeResult(d.hostname, d.hostname not in self.left,
                           {"canary": "kept" if d.hostname in self.left else "removed"},
                           self.left.get(d.hostname, "")) for d in devices]


class StandInChecks:
    """Stand-in for the checks over SSH: one passing check per host, and when it ran."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def __call__(self, targets: Sequence[HostExpect], **_: Any) -> CheckReport:
        self.events.append("checks")
        return CheckReport(tuple(CheckResult(t.hostname, "ssh", "root_login_refused", "passed",
                                             ("ANSSI-BP-028 R21",)) for t in targets))


def test_the_canary_runs_before_the_checks_and_a_failed_one_is_a_failure(
    store: Store, inventory: Inventory, tmp_path: Path
) -> None:
    events: list[str] = []
    why = "the canary was not found by the wipe"
    canary = StandInCanary(events, {"florac-fs-pc1": why})
    done = audit_site(
        inventory, inventory.site("florac-fs"), NOV, store=store,
        options=AuditOptions(repo=REPO, out_dir=tmp_path / "out", collect_usage=False),
        signer=Signer(vault_key(REPO / "inventory"), "auditrice-test"),
        checks_runner=StandInChecks(events), canary_runner=canary, clock=lambda: CLOCK,
    )
    assert events == ["canary", "checks"]
    assert canary.hosts == STATIONS  # one canary per station, none on the gateway or printer
    findings = {(f.target, f.item): f for f in done.report.findings}
    # positive control: a canary the wipe removed is a pass
    assert findings[("florac-fs-pc2", "canary")].status == "ok"
    assert findings[("florac-fs-borne1", "canary")].status == "ok"
    failed = findings[("florac-fs-pc1", "canary")]
    assert failed.status == "ko" and failed.message == why
    assert failed in done.report.failures and failed not in done.report.skipped
    assert done.report.verdict == "red"
    assert "florac-fs-pc1" in done.files["csv"].read_text("utf-8")


def test_a_station_the_canary_did_not_report_is_a_failure(
    store: Store, inventory: Inventory, tmp_path: Path
) -> None:
    events: list[str] = []

    def silent(inv: Inventory, site: Site, devices: Sequence[Device]) -> list[WipeResult]:
        return [r for r in StandInCanary(events, {})(inv, site, devices)
                if r.hostname != "florac-fs-borne1"]

    done = audit_site(
        inventory, inventory.site("florac-fs"), NOV, store=store,
        options=AuditOptions(repo=REPO, out_dir=tmp_path / "out", collect_usage=False),
        signer=Signer(vault_key(REPO / "inventory"), "auditrice-test"),
        checks_runner=StandInChecks(events), canary_runner=silent, clock=lambda: CLOCK,
    )
    findings = {(f.target, f.item): f for f in done.report.findings}
    assert findings[("florac-fs-pc1", "canary")].status == "ok"
    missing = findings[("florac-fs-borne1", "canary")]
    assert missing.status == "ko" and missing in done.report.failures
