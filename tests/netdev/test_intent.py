"""The intended network in the inventory: resolution (defaults < site kind < site < switch) and
validation errors that name the file and line of the offending value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fleet.errors import InventoryError, Problem
from fleet.inventory import load_inventory
from fleet.inventory.network import Platform, PortRole, VlanRole

REPO = Path(__file__).resolve().parents[2]
NETDEV = "group_vars/all/netdev.yml"


@pytest.fixture
def inv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "inventory", tmp_path / "inventory")
    shutil.copy2(REPO / "vault-password", tmp_path / "vault-password")
    shutil.copytree(REPO / "roles", tmp_path / "roles")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "inventory"


def edit(inv: Path, rel: str, old: str, new: str) -> None:
    path = inv / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (rel, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(inv: Path, rel: str, needle: str) -> int:
    lines = (inv / rel).read_text(encoding="utf-8").splitlines()
    return next(i for i, ln in enumerate(lines, 1) if needle in ln)


def problems(inv: Path) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    return list(info.value.problems)


def test_the_demo_inventory_resolves_every_site_network(inv: Path) -> None:
    loaded = load_inventory(inv)
    florac = loaded.site("florac-fs").network
    assert florac is not None
    sw = florac.gear_named("florac-fs-sw1")
    assert sw.platform is Platform.CISCO_IOS and sw.username and sw.password.get_secret_value()
    ports = {p.name: p for p in sw.ports}
    # the site's own override of one port, the rest from the defaults
    assert ports["FastEthernet0/3"].description == "Poste public PMR"
    assert ports["FastEthernet0/4"].description == "Poste public"
    assert ports["FastEthernet0/12"].shutdown and ports["FastEthernet0/12"].access_vlan == 999
    assert ports["FastEthernet0/1"].trunk_vlans == (10, 20, 30, 40)
    assert florac.ntp == (loaded.site("florac-fs").gateway.ip,)  # type: ignore[union-attr]
    assert florac.snmp_user is not None and florac.snmp_user.user
    # the site kind's layout: a prefecture has four public PCs
    pref = loaded.site("mende-pref").network
    assert pref is not None
    roles = [p.role for p in pref.gear[0].ports]
    assert roles.count(PortRole.PUBLIC_PC) == 4 and roles.count(PortRole.STAFF) == 2
    # mairies have no switch: a network intent, no gear
    vialas = loaded.site("mairie-vialas").network
    assert vialas is not None and vialas.gear == () and vialas.vlan(VlanRole.GUEST).id == 40


def test_a_guest_vlan_on_an_access_port_is_refused_at_its_line(inv: Path) -> None:
    edit(inv, NETDEV, 'printer: {description: "Imprimante", vlan: public}',
         'printer: {description: "Imprimante", vlan: guest}')
    found = [p for p in problems(inv) if "guest VLAN is isolated" in p.message]
    assert found
    assert found[0].file.endswith(NETDEV)
    assert found[0].line == line_of(inv, NETDEV, "printer: {")
    assert found[0].field == "netdev_defaults.port_roles.printer.vlan"


def test_a_site_override_error_points_at_the_site_file(inv: Path) -> None:
    rel = "sites/florac-fs.yml"
    edit(inv, rel, 'FastEthernet0/3: {role: public_pc, description: "Poste public PMR"}',
         'FastEthernet0/3: {role: public_pc, description: "Poste public PMR"}\n'
         '          vlans: {guest: {id: 4095, name: invites}}')
    found = [p for p in problems(inv) if "VLAN id" in p.message]
    assert found and found[0].file.endswith(rel)
    assert found[0].line == line_of(inv, rel, "vlans: {guest")
    assert found[0].value == 4095
    assert "florac-fs" in found[0].file or found[0].field.startswith("netdev_site.vlans.guest")


def test_port_names_must_be_the_platforms(inv: Path) -> None:
    rel = "sites/florac-fs.yml"
    edit(inv, rel, "        florac-fs-sw1:\n          ansible_host: 10.48.12.2\n",
         "        florac-fs-sw1:\n          ansible_host: 10.48.12.2\n"
         "          netdev_platform: hp_procurve\n")
    found = [p for p in problems(inv) if "not a hp_procurve port name" in p.message]
    assert found and found[0].file.endswith(NETDEV), found[0]
    assert found[0].value == "FastEthernet0/1"


def test_a_passphrase_in_clear_is_refused(inv: Path) -> None:
    rel = "sites/florac-fs.yml"
    edit(inv, rel, 'FastEthernet0/3: {role: public_pc, description: "Poste public PMR"}',
         'FastEthernet0/3: {role: public_pc, description: "Poste public PMR"}\n'
         '          ssids:\n'
         '            - {name: Agents, vlan: staff, security: wpa2-psk, passphrase: "hunter2-in-clear"}')
    found = [p for p in problems(inv) if "secret in clear" in p.message]
    assert found and found[0].file.endswith(rel)
    assert found[0].line == line_of(inv, rel, "- {name: Agents")
    assert "hunter2" not in str(found[0])


def test_a_missing_vault_secret_is_named(inv: Path) -> None:
    rel = "sites/florac-fs.yml"
    edit(inv, rel, 'FastEthernet0/3: {role: public_pc, description: "Poste public PMR"}',
         'FastEthernet0/3: {role: public_pc, description: "Poste public PMR"}\n'
         '          ssids:\n'
         '            - {name: Agents, vlan: staff, security: wpa2-psk,'
         ' passphrase: "{{ vault_wifi_agents_psk }}"}')
    found = [p for p in problems(inv) if "vault variable is missing" in p.message]
    assert found and found[0].value == "{{ vault_wifi_agents_psk }}"


def test_unused_ports_must_be_shut_in_the_parking_vlan(inv: Path) -> None:
    edit(inv, NETDEV, 'unused: {description: "Inutilise", vlan: parking, shutdown: true}',
         'unused: {description: "Inutilise", vlan: parking, shutdown: false}')
    found = [p for p in problems(inv) if "unused ports are shut" in p.message]
    assert found and found[0].file.endswith(NETDEV)
    assert found[0].line == line_of(inv, NETDEV, "unused: {")


def test_unknown_keys_and_roles_are_named(inv: Path) -> None:
    edit(inv, NETDEV, "  ntp: [gateway]", "  ntp: [gateway]\n  ntpp: [gateway]")
    edit(inv, NETDEV, "FastEthernet0/8: staff", "FastEthernet0/8: staf")
    found = problems(inv)
    messages = [str(p) for p in found]
    assert any("netdev_defaults.ntpp" in m and "unknown key" in m for m in messages), messages
    assert any("netdev_defaults.ports.FastEthernet0/8" in m for m in messages), messages


def test_a_port_given_twice_in_one_layer_is_refused(inv: Path) -> None:
    edit(inv, NETDEV, "    FastEthernet0/8: staff\n",
         "    FastEthernet0/8: staff\n    FastEthernet0/7-8: borne\n")
    found = [p for p in problems(inv) if "given twice" in p.message]
    assert found and found[0].file.endswith(NETDEV)


def test_a_switch_port_list_error_points_at_the_host(inv: Path) -> None:
    rel = "sites/florac-fs.yml"
    edit(inv, rel, "        florac-fs-sw1:\n          ansible_host: 10.48.12.2\n",
         "        florac-fs-sw1:\n          ansible_host: 10.48.12.2\n"
         "          netdev_ports:\n"
         "            FastEthernet0/1: uplink\n"
         "            FastEthernet0/2: kiosk\n")
    found = [p for p in problems(inv) if "unknown port role" in p.message]
    assert found and found[0].file.endswith(rel)
    assert found[0].line == line_of(inv, rel, "FastEthernet0/2: kiosk")
    assert found[0].field == "florac-fs-sw1.netdev_ports.FastEthernet0/2"


def test_a_pydantic_error_names_its_line_in_the_validations_words(inv: Path) -> None:
    """Type and enum errors of the network intent are worded and located like every other
    file's (fleet.inventory.validate.errors_of): one problem per mistake, at its line."""
    assert load_inventory(inv).site("florac-fs").network is not None  # the control: it loads
    edit(inv, NETDEV, 'printer: {description: "Imprimante", vlan: public}',
         'printer: {description: 42, vlan: public}')
    edit(inv, NETDEV, "FastEthernet0/8: staff", "FastEthernet0/8: staf")
    found = problems(inv)
    shown = [f"{p.file.rsplit('/', 1)[-1]}:{p.line}: {p.field}: {p.message}" for p in found]
    assert shown == [
        f"netdev.yml:{line_of(inv, NETDEV, 'printer: {')}: netdev_defaults.port_roles.printer."
        "description: must be a text in quotes, not the number 42",
        f"netdev.yml:{line_of(inv, NETDEV, 'FastEthernet0/8: staf')}: netdev_defaults.ports."
        "FastEthernet0/8: 'staf' is not one of: uplink, public_pc, borne, printer, ap_trunk, "
        "staff, unused (did you mean 'staff'?)",
    ], shown
