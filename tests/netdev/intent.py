"""The intended network the netdev tests use: the repository's own defaults
(``inventory/group_vars/all/netdev.yml``) resolved for a test site, with a staff SSID, and one
device per platform.  Secrets are throwaway test values, spelled so a test can look for them."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import yaml

from fleet.inventory.network import (
    GearInput,
    NetGear,
    Platform,
    SiteInput,
    SiteNetwork,
    build_site_network,
)

REPO = Path(__file__).resolve().parents[2]
SECRETS = {
    "{{ vault_switch_username }}": "relais",
    "{{ vault_switch_password }}": "replay-pass",
    "{{ vault_snmp_v3_user }}": "relais-poller",
    "{{ vault_snmp_v3_auth_pass }}": "golden-auth-key-1",
    "{{ vault_snmp_v3_priv_pass }}": "golden-priv-key-2",
    "{{ vault_snmp_community }}": "golden-community-3",
    "{{ vault_wifi_staff_psk }}": "golden-psk-4567",
}
SECRET_VALUES = tuple(v for k, v in SECRETS.items() if "pass" in k or "community" in k or "psk" in k)

PORT_NAMES = {
    Platform.CISCO_IOS: "FastEthernet0/{}",
    Platform.HP_PROCURVE: "{}",
    Platform.MIKROTIK_ROUTEROS: "ether{}",
}
HOSTS = {
    Platform.CISCO_IOS: ("test-sw1", "switch", "10.48.99.2"),
    Platform.HP_PROCURVE: ("test-sw2", "switch", "10.48.99.4"),
    Platform.MIKROTIK_ROUTEROS: ("test-sw3", "switch", "10.48.99.5"),
    Platform.ARUBA_INSTANT: ("test-ap1", "ap", "10.48.99.3"),
}


def defaults() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (REPO / "inventory/group_vars/all/netdev.yml").read_text(encoding="utf-8"))
    return data


def _ports(platform: Platform) -> dict[str, Any] | None:
    if platform not in PORT_NAMES:
        return None
    base = defaults()["netdev_defaults"]["ports"]
    out: dict[str, Any] = {}
    for key, role in base.items():
        first, _, last = key.rsplit("/", 1)[-1].partition("-")
        for i in range(int(first), int(last or first) + 1):
            out[PORT_NAMES[platform].format(i)] = role
    out[PORT_NAMES[platform].format(3)] = {"role": "public_pc", "description": "Poste public PMR"}
    return out


def site_network(platforms: tuple[Platform, ...] = tuple(Platform)) -> SiteNetwork:
    d = defaults()
    gear = []
    for p in platforms:
        name, kind, ip = HOSTS[p]
        gvars: dict[str, Any] = {
            "netdev_platform": p.value,
            "netdev_username": "{{ vault_switch_username }}",
            "netdev_password": "{{ vault_switch_password }}",
            "snmp_v3_user": "{{ vault_snmp_v3_user }}",
            "snmp_v3_auth_pass": "{{ vault_snmp_v3_auth_pass }}",
            "snmp_v3_priv_pass": "{{ vault_snmp_v3_priv_pass }}",
            "snmp_community": "{{ vault_snmp_community }}",
        }
        ports = _ports(p)
        if ports is not None:
            gvars["netdev_ports"] = ports
        gear.append(GearInput(name, kind, IPv4Address(ip), gvars, "tests/netdev/intent.py", 1,
                              snmp_version="2c"))
    site_vars = {"netdev_site": {"ssids": [
        {"name": "Relais-Public", "vlan": "guest", "security": "open"},
        {"name": "Relais-Agents", "vlan": "staff", "security": "wpa2-psk",
         "passphrase": "{{ vault_wifi_staff_psk }}"},
    ]}}
    site = SiteInput("test-site", "france_services", "tests/netdev/intent.py", 1,
                     IPv4Network("10.48.99.0/24"), IPv4Address("10.48.99.1"), site_vars, tuple(gear))
    network, problems = build_site_network(
        d, {}, site, lambda v: SECRETS.get(str(v), None if v is None else str(v)),
        lambda v: str(v) in SECRETS)
    assert not problems, problems
    assert network is not None
    return network


def gear(network: SiteNetwork, platform: Platform) -> NetGear:
    return next(g for g in network.gear if g.platform is platform)
