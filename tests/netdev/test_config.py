"""Normalisation and comparison: volatile lines, secrets, order, canonical spellings.

The IOS fixtures (tests/netdev/fixtures/ios-*.cfg) are written in the format of a Catalyst
running configuration (IOS 15.2), composed for these tests — not captured from a switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.inventory.network import Platform
from fleet.netdev.config import MASK, Scope, diff, diff_text, invert, mask_text, vlan_ranges, vlan_set
from fleet.netdev.drivers import driver_for
from tests.netdev.replay import Transcript

FIXTURES = Path(__file__).resolve().parent / "fixtures"
IOS = driver_for(Platform.CISCO_IOS)
SECRETS_IN_FIXTURE = ("$1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "$1$Ab3d$q8s9dL0kXh2mNcVbT6yW1.",
                      "Fl0rac-RO-2027", "0822455D0A16", "045802150C2E")


def _ios(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_ios_volatile_lines_are_dropped() -> None:
    raw = _ios("ios-running.cfg")
    assert "Current configuration" in raw and "ntp clock-period" in raw  # control
    text = IOS.normalise(raw).text()
    for volatile in ("Building configuration", "Current configuration", "Last configuration change",
                     "NVRAM config last updated", "ntp clock-period"):
        assert volatile not in text
    assert "hostname florac-fs-sw1" in text and "ntp server 10.48.12.1" in text


def test_ios_secrets_are_masked_in_what_is_compared_and_stored() -> None:
    raw = _ios("ios-running.cfg")
    for secret in SECRETS_IN_FIXTURE:
        assert secret in raw  # control: the fixture holds them
    normalised = IOS.normalise(raw)
    stored = mask_text(raw, IOS.dialect)
    for secret in SECRETS_IN_FIXTURE:
        assert secret not in normalised.text()
        assert secret not in stored
    assert f"snmp-server community {MASK} RO" in normalised.text()
    assert f"enable secret 5 {MASK}" in stored
    # the clear value stays beside the masked one, for the commands a push needs
    line = normalised.sections[f"snmp-server community {MASK} RO"].header
    assert line.real == "snmp-server community Fl0rac-RO-2027 RO"


def test_ios_order_and_split_vlan_lists_make_no_difference() -> None:
    a = IOS.normalise(_ios("ios-running.cfg"))
    b = IOS.normalise(_ios("ios-running-reordered.cfg"))
    assert a.digest() == b.digest(), diff_text(diff(a, b, Scope.everything()))
    assert "switchport trunk allowed vlan 10,20,30,40" in a.text()


def test_a_changed_enable_secret_hash_is_not_a_difference_but_a_moved_port_is() -> None:
    raw = _ios("ios-running.cfg")
    assert "$1$mERr$" in raw and "$1$Zz9q$" in _ios("ios-running-reordered.cfg")
    moved = raw.replace(" switchport access vlan 30", " switchport access vlan 20")
    changes = diff(IOS.normalise(raw), IOS.normalise(moved), Scope.everything())
    assert len(changes) == 1
    (only,) = changes
    assert only.header.text == "interface FastEthernet0/3"
    assert [c.text for c in only.added] == ["switchport access vlan 30"]
    assert [c.text for c in only.removed] == ["switchport access vlan 20"]
    shown = invert(changes)[0]
    assert [c.text for c in shown.added] == ["switchport access vlan 20"]


def test_within_the_intent_scope_unmanaged_lines_are_ignored() -> None:
    raw = _ios("ios-running.cfg")
    extra = raw.replace(" spanning-tree portfast\n",
                        " spanning-tree portfast\n storm-control broadcast level 5\n")
    target = IOS.normalise(raw)
    running = IOS.normalise(extra)
    assert diff(target, running, Scope.everything())  # control: it is a difference
    assert not diff(target, running, IOS.scope(target))


def test_procurve_port_ranges_compare_port_by_port() -> None:
    t = Transcript.load("hp_procurve")
    driver = driver_for(Platform.HP_PROCURVE)
    after = driver.normalise(t.file("running-after.cfg"))
    vlan30 = [c.text for c in after.sections["vlan 30"].children]
    assert {"untagged 3", "untagged 7", "tagged 1"} <= set(vlan30) and "untagged 3-7" not in vlan30
    assert "Configuration Editor" not in after.text() and "Running configuration" not in after.text()
    assert 'snmpv3 user "relais-poller"' in after.text()
    assert "before-community-9" not in driver.normalise(t.file("running-before.cfg")).text()


def test_routeros_continuations_attribute_order_and_quotes() -> None:
    driver = driver_for(Platform.MIKROTIK_ROUTEROS)
    t = Transcript.load("mikrotik_routeros")
    raw = t.file("running-after.cfg")
    assert "\\\n" in raw and "golden-priv-key-2" in raw  # control: a continued line, a secret
    normalised = driver.normalise(raw)
    text = normalised.text()
    assert "2027-01-05" not in text and "serial number" not in text
    assert "golden-priv-key-2" not in text and "golden-community-3" not in text
    assert "name=relais-poller" not in text  # the v3 user line was continued mid-value: joined
    stored = mask_text(raw, driver.dialect)
    assert "golden-priv-key-2" not in stored and "golden-community-3" not in stored
    same = raw.replace('add bridge=bridge comment="Poste agent" interface=ether8 pvid=20',
                       'add interface=ether8 pvid=20 bridge=bridge comment="Poste agent"')
    same = same.replace("tagged=ether2,ether1", "tagged=ether1,ether2")
    same = same.replace("comment=Borne ", 'comment="Borne" ')
    assert same != raw
    assert driver.normalise(same).digest() == normalised.digest()


def test_aruba_instant_passphrases_and_keys_are_masked() -> None:
    driver = driver_for(Platform.ARUBA_INSTANT)
    raw = Transcript.load("aruba_instant").file("running-after.cfg")
    secret = "5e3a1c9f7b2d4e6a8c0f1b3d5e7a9c2b4d6f8e0a1c3b"
    assert secret in raw
    assert secret not in driver.normalise(raw).text()
    assert secret not in mask_text(raw, driver.dialect)
    assert "3f5d2a9c81b7e0461c2f9d8a7b6e5c4d3a2b1c0d9e8f7a6b5c" not in mask_text(raw, driver.dialect)


@pytest.mark.parametrize(("text", "values"), [
    ("10,20,30-32", [10, 20, 30, 31, 32]), ("none", []), ("1-3,2", [1, 2, 3]),
])
def test_vlan_lists(text: str, values: list[int]) -> None:
    assert vlan_set(text) == values
    assert vlan_set(vlan_ranges(values)) == values


def test_order_matters_where_the_vendor_evaluates_in_order() -> None:
    driver = driver_for(Platform.MIKROTIK_ROUTEROS)
    rules = ("/ip firewall filter\n"
             "add action=accept chain=input connection-state=established,related\n"
             "add action=drop chain=input in-interface=ether1\n")
    ports = "/interface bridge port\nadd bridge=bridge interface=ether1\nadd bridge=bridge interface=ether2\n"
    swapped_rules = rules.split("\n")
    swapped_rules[1], swapped_rules[2] = swapped_rules[2], swapped_rules[1]
    swapped_ports = ports.split("\n")
    swapped_ports[1], swapped_ports[2] = swapped_ports[2], swapped_ports[1]
    a = driver.normalise(rules + ports)
    assert driver.normalise("\n".join(swapped_rules) + ports).digest() != a.digest()
    assert driver.normalise(rules + "\n".join(swapped_ports)).digest() == a.digest()
    acl = "ip access-list extended GUEST\n permit udp any any eq 53\n deny ip any any\n"
    reordered = "ip access-list extended GUEST\n deny ip any any\n permit udp any any eq 53\n"
    assert IOS.normalise(acl).digest() != IOS.normalise(reordered).digest()
