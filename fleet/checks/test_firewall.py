"""nftables: inbound default drop, SSH from management, SNMP from the poller.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.checks.model import HostExpect

pytestmark = pytest.mark.kinds("public_pc", "borne")


def _input_chain(host: Any) -> str:
    out = host.run("nft list chain inet relais_filter input")
    assert out.rc == 0, f"no relais input chain: {out.stderr.strip()}"
    return str(out.stdout)


@pytest.mark.ref("CIS 4.3.x")
def test_inbound_default_drop(host: Any) -> None:
    assert "policy drop" in _input_chain(host)
    assert host.service("nftables").is_enabled


@pytest.mark.ref("CIS 4.3.x", "CIS 5.1.x")
def test_ssh_only_from_management(host: Any, expect: HostExpect) -> None:
    rules = [ln.strip() for ln in _input_chain(host).splitlines() if "dport 22" in ln]
    assert rules, "no SSH rule"
    assert all("saddr" in r for r in rules), f"SSH open to any source: {rules}"
    assert any(expect.management in r for r in rules), f"management network missing: {rules}"


@pytest.mark.ref("CIS 4.3.x")
def test_snmp_only_from_poller(host: Any, expect: HostExpect) -> None:
    rules = [ln.strip() for ln in _input_chain(host).splitlines() if "dport 161" in ln]
    assert rules, "no SNMP rule"
    assert all("saddr" in r for r in rules), f"SNMP open to any source: {rules}"
