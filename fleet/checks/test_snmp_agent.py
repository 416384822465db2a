"""net-snmp: SNMPv3 authPriv only, limited view.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.kinds("public_pc", "borne")


def _conf(host: Any) -> list[str]:
    text = host.file("/etc/snmp/snmpd.conf").content_string
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]


@pytest.mark.ref("ANSSI SNMP: v3 authPriv", "CIS 2.2.x (snmp)")
def test_snmpd_running(host: Any) -> None:
    assert host.service("snmpd").is_running
    assert host.socket("udp://161").is_listening or host.socket("udp://0.0.0.0:161").is_listening


@pytest.mark.ref("ANSSI SNMP: v3 authPriv")
def test_no_community(host: Any) -> None:
    words = {ln.split()[0].lower() for ln in _conf(host)}
    assert not words & {"rocommunity", "rwcommunity", "com2sec", "rocommunity6", "rwcommunity6",
                        "rwuser"}, f"community/rw directives: {sorted(words)}"


@pytest.mark.ref("ANSSI SNMP: v3 authPriv")
def test_v3_user_authpriv_sha_aes(host: Any) -> None:
    lines = _conf(host)
    users = [ln.split() for ln in lines if ln.startswith("createUser")]
    assert users, "no SNMPv3 user"
    for u in users:
        assert u[2].startswith("SHA") and u[4].startswith("AES"), "auth/priv must be SHA/AES"
    rousers = [ln.split() for ln in lines if ln.startswith("rouser")]
    assert rousers and all("priv" in r and "-V" in r for r in rousers), rousers


@pytest.mark.ref("ANSSI SNMP: least privilege")
def test_view_is_limited(host: Any) -> None:
    views = [ln.split()[3] for ln in _conf(host) if ln.startswith("view ")]
    assert views, "no view"
    assert ".1" not in views and ".1.3.6.1" not in views, "the view exposes everything"
    assert host.file("/etc/snmp/snmpd.conf").mode & 0o007 == 0, "config readable by others"


@pytest.mark.ref("Relais snmp_agent: configuration applied")
def test_running_agent_uses_the_current_configuration(host: Any) -> None:
    """A configuration written but never applied (snmpd not restarted) is a silent drift."""
    pid = host.run("systemctl show -p MainPID --value snmpd").stdout.strip()
    assert pid not in ("", "0"), "snmpd not running"
    # testinfra %-formats a command only when it is given arguments: always give them
    started = int(host.run("stat -c %s /proc/%s", "%Y", pid).stdout.strip())
    written = int(host.run("stat -c %s %s", "%Y", "/etc/snmp/snmpd.conf").stdout.strip())
    assert started >= written, "snmpd runs an older configuration than /etc/snmp/snmpd.conf"
