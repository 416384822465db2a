"""The lab's plan and generated files, computed from the real demo inventory (no root needed)."""

from __future__ import annotations

import gzip
import hashlib
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from fleet.errors import LabError
from fleet.inventory import Inventory, load_inventory
from fleet.lab.build import layer_hash, write_flat_repo_index
from fleet.lab.hostconf import snmpd_config
from fleet.lab.paths import LabPaths
from fleet.lab.plan import NodeKind, check_conflicts, plan_site
from fleet.lab.sshconf import write_site_files


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(Path(__file__).resolve().parents[2] / "inventory")


def test_florac_plan_has_every_device_plus_client_and_fake_internet(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    plan = plan_site(site)
    names = {n.name for n in plan.nodes}
    assert {d.hostname for d in site.devices} | {"florac-fs-guest", "florac-fs-inet"} == names
    assert all(ns.startswith("relais-") and "florac-fs" in ns for ns in plan.namespaces)
    assert plan.ctl_ip.ip == IPv4Address("10.48.12.254")
    kinds = {n.name: n.kind for n in plan.nodes}
    assert kinds["florac-fs-pc1"] is NodeKind.HOST and kinds["florac-fs-sw1"] is NodeKind.SWITCH
    assert kinds["florac-fs-prn1"] is NodeKind.SNMPSIM
    assert plan.node("florac-fs-prn1").recording == "printers/brother"
    gw = plan.node("florac-fs-gw")
    assert [(link.ifname, str(link.address)) for link in gw.links] == [
        ("eth0", "10.48.12.1/24"), ("eth1", "172.16.12.1/24"), ("eth2", "198.18.0.2/24")]
    assert plan.node("florac-fs-pc1").default_via == IPv4Address("10.48.12.1")


def test_interface_names_fit_the_kernel_limit_and_never_collide(inventory: Inventory) -> None:
    seen: set[str] = set()
    for site in inventory.sites:
        plan = plan_site(site)
        in_site_ns = [plan.ctl_peer, *plan.wan_peer]
        in_site_ns += [link.peer for n in plan.nodes for link in n.links if link.peer]
        in_site_ns += ["t" + link.peer for n in plan.nodes for link in n.links if link.peer]
        assert all(len(name) <= 15 for name in in_site_ns)
        assert len(set(in_site_ns)) == len(in_site_ns)
        assert plan.ctl_ifname not in seen  # one leg per site in relais-ctl
        seen.add(plan.ctl_ifname)


def test_dhcp_range_is_inside_the_guest_network_and_spares_the_gateway(inventory: Inventory) -> None:
    plan = plan_site(inventory.site("florac-fs"))
    rng = plan.dhcp_range()
    assert rng is not None and plan.guest is not None
    assert rng[0] in plan.guest and rng[1] in plan.guest and rng[0] < rng[1]
    assert plan.guest_gateway_ip is not None and not rng[0] <= plan.guest_gateway_ip <= rng[1]


def test_two_sites_with_overlapping_management_networks_conflict(inventory: Inventory) -> None:
    florac = inventory.site("florac-fs")
    chanac = plan_site(inventory.site("mairie-chanac"))
    check_conflicts(plan_site(florac), [chanac])  # different subnets: fine
    clone = florac.model_copy(update={"id": "florac-copy"})
    with pytest.raises(LabError, match=r"overlaps site 'florac-fs'.*fleet lab down florac-fs"):
        check_conflicts(plan_site(clone), [plan_site(florac)])


def test_a_device_outside_its_management_network_is_named(inventory: Inventory) -> None:
    site = inventory.site("florac-fs")
    bad = site.model_copy(update={"management": IPv4Network("10.99.0.0/24")})
    with pytest.raises(LabError, match=r"florac-fs\.yml.*device 'florac-fs-gw'.*outside"):
        plan_site(bad)


def test_snmpd_gets_an_authpriv_v3_user_from_the_inventory(inventory: Inventory) -> None:
    device = inventory.device("florac-fs-pc1")
    assert device.snmp is not None and device.snmp.auth_key is not None
    main, persist = snmpd_config(device.snmp)
    assert "agentAddress udp:161" in main
    assert f"rouser {device.snmp.user} priv" in main
    assert persist.startswith(f"createUser {device.snmp.user} SHA ")
    assert device.snmp.auth_key.get_secret_value() in persist and " AES " in persist
    assert "createUser" not in main  # the secret stays in the 0600 persistent file only


def test_the_factory_agent_watches_what_each_profile_expects_in_prtable() -> None:
    """A bare lab site's agents answer the profiles' prTable rows (the hall screen's browser
    was once read from hrSWRun, outside the deployed view: a kiosk incident on every poll)."""
    import yaml

    from fleet.inventory.models import DeviceKind
    from fleet.lab.hostconf import WATCHED_PROCESSES

    profiles = Path(__file__).resolve().parents[2] / "monitoring/profiles"
    for path in sorted(profiles.glob("*.yml")):
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        expect = tuple(profile["read"].get("process_checks", {}).get("expect", ()))
        assert WATCHED_PROCESSES.get(DeviceKind(profile["kind"]), ()) == expect, path.name
        assert "processes" not in profile["read"], f"{path.name}: hrSWRun is outside the view"
    main, _persist = snmpd_config(None, WATCHED_PROCESSES[DeviceKind.SCREEN])
    assert "proc chromium" in main.splitlines()


def test_generated_ssh_config_and_ansible_overlay(inventory: Inventory, tmp_path: Path) -> None:
    import yaml

    paths = LabPaths(tmp_path)
    plan = plan_site(inventory.site("florac-fs"))
    paths.site_run(plan.site_id).mkdir(parents=True)
    write_site_files(paths, plan, {}, {"florac-fs-pc1": "ssh-ed25519 AAAAkey1",
                                       "florac-fs-sw1": "ssh-ed25519 AAAAkey2"})
    config = paths.site_ssh_config(plan.site_id).read_text()
    assert "Host florac-fs-pc1 10.48.12.11" in config
    # host keys are checked, against the site's own known_hosts (never /dev/null)
    assert "StrictHostKeyChecking no" not in config and "/dev/null" not in config
    assert config.count("StrictHostKeyChecking yes") == config.count("Host ")
    assert f"UserKnownHostsFile {paths.site_known_hosts(plan.site_id)}" in config
    assert sorted(paths.site_known_hosts(plan.site_id).read_text().splitlines()) == [
        "florac-fs-pc1,10.48.12.11 ssh-ed25519 AAAAkey1", "florac-fs-sw1,10.48.12.2 ssh-ed25519 AAAAkey2"]
    assert "ProxyCommand ip netns exec relais-ctl nc %h %p" in config
    assert "ControlMaster auto" in config and "ControlPersist" in config
    assert f"Include {paths.run}/*/ssh_config" in paths.ssh_config.read_text()
    overlay = yaml.safe_load(paths.site_inventory(plan.site_id).read_text())
    pc1 = overlay["all"]["hosts"]["florac-fs-pc1"]
    assert pc1["ansible_user"] == "relais" and pc1["ansible_host"] == "10.48.12.11"
    assert str(paths.ssh_config) in pc1["ansible_ssh_common_args"]
    assert "florac-fs-prn1" in overlay["all"]["hosts"]  # appliances too (lab_netns)


def test_flat_repository_index_has_matching_hashes(tmp_path: Path) -> None:
    write_flat_repo_index(tmp_path, "Package: htop\nVersion: 3\n\n")
    release = (tmp_path / "Release").read_text()
    assert "Date: " in release
    for name in ("Packages", "Packages.gz"):
        data = (tmp_path / name).read_bytes()
        assert f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}" in release
    assert gzip.decompress((tmp_path / "Packages.gz").read_bytes()).startswith(b"Package: htop")


def test_layer_hashes_are_stable_and_chained() -> None:
    assert layer_hash("base") == layer_hash("base")
    assert len({layer_hash(n) for n in ("base", "gateway", "client", "fakenet")}) == 4
