"""deploy_site end to end with real ansible-runner and a real store, on the demo inventory's
florac-fs hosts reached with Ansible's local connection (no lab needed).  The playbook is a
small stand-in where one PC fails; the checks runner is a stand-in (named so) because the real
checks need SSH to lab hosts: tests/roles/test_lab_deploy.py runs them for real."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.checks.model import CheckReport, CheckResult, HostExpect
from fleet.deploy import DeployOptions, HostState, StoreRecorder, WipeResult, deploy_site, wipe
from fleet.errors import ConfigError
from fleet.inventory import load_inventory
from fleet.inventory.models import Device
from fleet.store.db import open_store
from fleet.store.deploys import get_deploy, inventory_snapshot

REPO = Path(__file__).resolve().parents[2]

SITE_YML = [{
    "name": "Stand-in site playbook",
    "hosts": "public_pc:borne:gateway:screen",
    "gather_facts": False,
    "tasks": [
        {"name": "Configure", "ansible.builtin.command": "true",
         "changed_when": "inventory_hostname == 'florac-fs-borne1'"},
        {"name": "Printer queue", "ansible.builtin.fail": {"msg": "lpadmin: printer unreachable"},
         "when": "inventory_hostname == 'florac-fs-pc2'"},
        {"name": "After the failure", "ansible.builtin.debug": {"msg": "still running"}},
    ],
}]


@pytest.fixture
def stand_in_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "playbooks").mkdir(parents=True)
    (repo / "roles").symlink_to(REPO / "roles")  # role defaults feed the expectations
    (repo / "playbooks" / "site.yml").write_text(yaml.safe_dump(SITE_YML))
    (repo / "ansible.cfg").write_text(
        "[defaults]\n"
        f"vault_password_file = {REPO / 'vault-password'}\n"
        "host_key_checking = False\nretry_files_enabled = False\n"
    )
    overlay = {"all": {"vars": {"ansible_connection": "local", "ansible_become": False,
                                "ansible_python_interpreter": "/usr/bin/python3"}}}
    (repo / "local.yml").write_text(yaml.safe_dump(overlay))
    return repo


class StandInChecks:
    """Stand-in for fleet.checks.run_checks (which needs SSH to real hosts)."""

    def __init__(self, events: list[str] | None = None) -> None:
        self.targets: list[HostExpect] = []
        self.events = events if events is not None else []

    def __call__(self, targets: Sequence[HostExpect], **_: Any) -> CheckReport:
        self.targets = list(targets)
        self.events.append("checks")
        return CheckReport(tuple(CheckResult(t.hostname, "firewall", "inbound_default_drop",
                                             "passed", ("CIS 4.3.x",)) for t in targets))


class StandInCanary:
    """Stand-in for fleet.deploy.wipe_hosts (the real canary wipe needs relais-wipe on real
    hosts: tests/roles/test_lab_deploy.py runs it)."""

    def __init__(self, events: list[str]) -> None:
        self.calls: list[dict[str, Any]] = []
        self.events = events

    def __call__(self, _inv: Any, devices: Sequence[Device], **kw: Any) -> list[WipeResult]:
        self.calls.append({"hosts": sorted(d.hostname for d in devices), **kw})
        self.events.append("canary")
        return [WipeResult(d.hostname, True, {"canary": "removed"}) for d in devices]


def _clock() -> Any:
    times = iter(datetime(2026, 11, 23, 7, 0, tzinfo=UTC) + timedelta(minutes=i)
                 for i in range(10))
    return lambda: next(times)


@pytest.mark.slow
def test_one_failing_host_does_not_stop_the_others(stand_in_repo: Path, tmp_path: Path) -> None:
    inv = load_inventory(REPO / "inventory")
    store = open_store(f"sqlite:///{tmp_path / 'fleet.sqlite'}")
    seen: list[HostState] = []
    events: list[str] = []
    checks, canary = StandInChecks(events), StandInCanary(events)
    out = deploy_site(
        inv, "florac-fs", repo=stand_in_repo,
        options=DeployOptions(extra_inventories=(stand_in_repo / "local.yml",), lab=True),
        recorder=StoreRecorder(store), user="technicien", clock=_clock(),
        on_host=seen.append, checks_runner=checks, canary_runner=canary,
    )
    assert out.outcome == "partial"
    assert out.failed_hosts() == {"florac-fs-pc2": "Printer queue: lpadmin: printer unreachable"}
    pc1 = out.hosts["florac-fs-pc1"]
    assert (pc1.ok, pc1.skipped) == (2, 1) and out.hosts["florac-fs-borne1"].changed == 1
    assert {s.hostname for s in seen} == {"florac-fs-pc1", "florac-fs-pc2", "florac-fs-borne1",
                                          "florac-fs-gw", "florac-fs-screen1"}
    assert any(s.status == "running" for s in seen)  # the live display saw progress
    # the record in the store
    rec = get_deploy(store, out.deploy_id or 0)
    assert (rec.user, rec.outcome, rec.check_mode) == ("technicien", "partial", False)
    assert rec.started_at.replace(tzinfo=UTC) == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    by_host = {h.hostname: h for h in rec.hosts}
    assert by_host["florac-fs-pc2"].failed == 1
    assert by_host["florac-fs-pc2"].message == "Printer queue: lpadmin: printer unreachable"
    assert by_host["florac-fs-pc1"].ok == 2 and by_host["florac-fs-borne1"].changed == 1
    snap = inventory_snapshot(store, rec.id)
    assert snap is not None and snap["id"] == "florac-fs"
    dumped = str(snap)
    assert "'vault_" not in dumped  # no vault_* key (references like "{{ vault_x }}" are fine)
    secrets = {
        key.get_secret_value()
        for d in inv.site("florac-fs").devices if d.snmp is not None
        for key in (d.snmp.auth_key, d.snmp.priv_key, d.snmp.community) if key is not None
    }
    assert secrets and not [s for s in secrets if s in dumped]
    # verification ran on every reachable deployed host, with inventory expectations
    assert sorted(t.hostname for t in checks.targets) == [
        "florac-fs-borne1", "florac-fs-gw", "florac-fs-pc1", "florac-fs-pc2", "florac-fs-screen1"]
    expect = next(t for t in checks.targets if t.hostname == "florac-fs-pc1")
    assert expect.pmr and expect.management == "10.48.12.0/24"
    assert expect.printer_queue == "florac-fs-prn1"
    assert "service-public.fr" in next(t for t in checks.targets if t.kind == "borne").allowlist
    assert next(t for t in checks.targets if t.kind == "gateway").child_area is False
    # issue 10: verification makes its precondition true first: one canary wipe per station
    # reachable over SSH (PCs and borne, not the gateway), before the checks
    assert events == ["canary", "checks"]
    assert canary.calls == [{"hosts": ["florac-fs-borne1", "florac-fs-pc1", "florac-fs-pc2"],
                             "repo": stand_in_repo, "trigger": "deploy", "canary": True,
                             "extra_inventories": (stand_in_repo / "local.yml",)}]
    assert "canary wipe (trigger deploy) on 3 of 3 station(s)" in out.notes


@pytest.mark.slow
def test_limit_and_check_mode(stand_in_repo: Path, tmp_path: Path) -> None:
    inv = load_inventory(REPO / "inventory")
    store = open_store(f"sqlite:///{tmp_path / 'fleet.sqlite'}")
    checks = StandInChecks()
    out = deploy_site(
        inv, "florac-fs", repo=stand_in_repo,
        options=DeployOptions(check=True, limit="florac-fs-pc1", lab=True,
                              extra_inventories=(stand_in_repo / "local.yml",)),
        recorder=StoreRecorder(store), user="t", checks_runner=checks,
    )
    assert list(out.hosts) == ["florac-fs-pc1"] and out.outcome == "ok"
    assert out.checks is None and checks.targets == []
    rec = get_deploy(store, out.deploy_id or 0)
    assert rec.check_mode and rec.limit == "florac-fs-pc1"


def test_unknown_site_and_limit_are_clear_errors(tmp_path: Path) -> None:
    inv = load_inventory(REPO / "inventory")
    store = open_store(f"sqlite:///{tmp_path / 'fleet.sqlite'}")
    with pytest.raises(ConfigError, match="no site 'nowhere'"):
        deploy_site(inv, "nowhere", repo=REPO, options=DeployOptions(),
                    recorder=StoreRecorder(store))
    with pytest.raises(ConfigError, match=r"florac-fs\.yml.*matching --limit 'florac-fs-prn1'"):
        deploy_site(inv, "florac-fs", repo=REPO, options=DeployOptions(limit="florac-fs-prn1"),
                    recorder=StoreRecorder(store))
    with pytest.raises(ConfigError, match="is a printer"):
        wipe(inv, "florac-fs-prn1", repo=REPO)
    assert not list(store.engine.connect().exec_driver_sql("select * from deploys"))
