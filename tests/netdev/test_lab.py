"""fleet netdev on the lab copy of florac-fs: the switch is the IOS simulator (fake-switches,
fleet/lab/switchsim.py).  Everything goes through the CLI with --lab, as a technician would,
except the dropped connection, which needs a hook in the push (the engine's observer)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.cli.main import main
from fleet.cli.netdev import StoreIncidentLog
from fleet.incidents import get_incident, list_incidents
from fleet.lab.paths import CTL_NETNS
from fleet.lab.pytest_plugin import LabSite
from fleet.netdev.drivers import Session, driver_for
from fleet.netdev.engine import Context, Target, apply_device, endpoint_of, intended_of
from fleet.netdev.transport import HostKeys, Timeouts, in_namespace
from fleet.store import open_store

pytestmark = pytest.mark.lab
SITE = "florac-fs"
SWITCH = "florac-fs-sw1"


def fleet_json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == code, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def target(lab_site: LabSite) -> Target:
    net = lab_site.site.network
    assert net is not None
    return Target(net, net.gear_named(SWITCH))


@pytest.fixture
def by_hand(lab_site: LabSite, target: Target) -> Iterator[Any]:
    """A technician's own CLI session on the lab switch (lines typed in configuration mode)."""
    sessions: list[Session] = []

    def type_lines(*lines: str) -> None:
        s = driver_for(target.gear.platform).open(endpoint_of(target.gear), in_namespace(CTL_NETNS),
                                                  Timeouts(), HostKeys(ssh_config=lab_site.ssh_config))
        sessions.append(s)
        s.push(list(lines))

    yield type_lines
    for s in sessions:
        s.close()


def test_plan_apply_backup_drift_on_the_ios_simulator(
    lab_site: LabSite, by_hand: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path}/fleet.sqlite"
    # a known difference, whatever earlier tests left on the shared switch
    by_hand("no vlan 40", "interface FastEthernet0/5", "description fait a la main", "exit")

    plan = fleet_json(capsys, "netdev", "plan", SITE, "--lab", "--json")
    (sw,) = [p for p in plan if p["device"] == SWITCH]
    assert sw["ok"] and sw["changes"] > 0
    assert "+ vlan 40" in sw["diff"] and "+   description Poste public" in sw["diff"]

    applied = fleet_json(capsys, "netdev", "apply", SITE, "--yes", "--lab", "--db", db, "--json")
    (first,) = applied
    assert first["status"] == "applied" and first["pushed"] > 0, first

    again = fleet_json(capsys, "netdev", "apply", SITE, "--yes", "--lab", "--db", db, "--json")
    assert (again[0]["status"], again[0]["pushed"]) == ("unchanged", 0), again
    plan = fleet_json(capsys, "netdev", "plan", SITE, "--lab", "--json")
    assert plan[0]["changes"] == 0 and plan[0]["diff"] == []

    # backups: twice with no change in between keeps one version
    b1 = fleet_json(capsys, "netdev", "backup", SITE, "--lab", "--db", db, "--json")
    versions = fleet_json(capsys, "netdev", "history", SWITCH, "--lab", "--db", db, "--json")
    b2 = fleet_json(capsys, "netdev", "backup", SITE, "--lab", "--db", db, "--json")
    assert b2[0]["status"] == "unchanged" and b2[0]["version"] == b1[0]["version"]
    assert fleet_json(capsys, "netdev", "history", SWITCH, "--lab", "--db", db, "--json") == versions
    stored = fleet_json(capsys, "netdev", "history", SWITCH, "--show", str(b2[0]["version"]),
                        "--lab", "--db", db, "--json")
    assert "snmp-server community <secret> RO" in stored["config"]
    community = lab_site.lab.secrets.get("vault_snmp_community", "")
    assert community and community not in stored["config"]

    # no drift yet; then a port moved to another VLAN by hand shows up, and only that
    clean = fleet_json(capsys, "netdev", "drift", "--site", SITE, "--lab", "--db", db, "--json")
    assert [d["drift"] for d in clean] == [False]
    by_hand("interface FastEthernet0/6", "switchport access vlan 20", "exit")
    drift = fleet_json(capsys, "netdev", "drift", "--site", SITE, "--lab", "--db", db, "--json")
    (d,) = drift
    expected = ["  interface FastEthernet0/6", "-   switchport access vlan 30",
                "+   switchport access vlan 20"]
    assert d["drift"] and d["intent"] == expected and d["backup"] == expected, d

    # apply puts it back
    fixed = fleet_json(capsys, "netdev", "apply", SITE, "--yes", "--lab", "--db", db, "--json")
    assert fixed[0]["status"] == "applied" and fixed[0]["pushed"] == 3, fixed


def test_a_push_cut_in_the_middle_leaves_the_switch_as_it_was_and_says_so(
    lab_site: LabSite, target: Target, by_hand: Any, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    by_hand("no vlan 999", "interface FastEthernet0/7", "description imprimante", "shutdown", "exit")
    driver = driver_for(target.gear.platform)
    scope = driver.scope(intended_of(driver, target))

    def read() -> Any:
        with driver.open(endpoint_of(target.gear), in_namespace(CTL_NETNS), Timeouts(),
                         HostKeys(ssh_config=lab_site.ssh_config)) as s:
            return driver.normalise(s.read_running())

    before = read()
    sockets: list[socket.socket] = []
    lab = in_namespace(CTL_NETNS)

    def connect(host: str, port: int, timeout: float) -> socket.socket:
        sock = lab(host, port, timeout)
        sockets.append(sock)
        return sock

    def cut_after_three(done: int, _total: int, _command: str) -> None:
        if done == 3:
            sockets[-1].shutdown(socket.SHUT_RDWR)

    ctx = Context(store=store, connector=connect, incidents=StoreIncidentLog(store),
                  host_keys=HostKeys(ssh_config=lab_site.ssh_config))
    result = apply_device(target, ctx, cut_after_three)
    assert result.status == "rolled_back", result.message
    assert result.pushed == 3 and result.total > 3
    after = read()
    assert driver.diff(before, after, scope) == (), "the switch is not on its previous configuration"
    assert driver.diff(intended_of(driver, target), after, scope), "control: the push did not complete"

    incidents = list_incidents(store)
    (incident,) = [i for i in incidents if i.device == SWITCH and i.check == "netdev.apply"]
    assert incident.is_open and incident.reason == "rolled_back"
    text = " ".join(e.text for e in get_incident(store, incident.id).events)
    assert "connection lost" in text and "previous configuration" in text

    # the technician fixes it with a normal apply, which resolves the incident
    ok = apply_device(target, ctx)
    assert ok.status == "applied", ok.message
    assert get_incident(store, incident.id).status == "resolved"
    store.dispose()
