"""sshd: key only, no root, administrators from the management network.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.checks.model import HostExpect

pytestmark = pytest.mark.kinds("public_pc", "borne")


def _effective(host: Any) -> dict[str, str]:
    out = host.run("sshd -T -C user=nobody,host=localhost,addr=127.0.0.1")
    assert out.rc == 0, out.stderr
    conf: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        key = key.lower()
        conf[key] = f"{conf[key]} {value}" if key in conf else value  # repeated: AllowUsers
    return conf


@pytest.mark.ref("CIS 5.1.x")
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("permitrootlogin", "no"),
        ("permitemptypasswords", "no"),
        ("authenticationmethods", "publickey"),
        ("x11forwarding", "no"),
        ("allowtcpforwarding", "no"),
        ("maxauthtries", "3"),
    ],
)
def test_sshd_setting(host: Any, key: str, value: str) -> None:
    assert _effective(host).get(key) == value


@pytest.mark.ref("CIS 5.1.4")
def test_admins_from_management_only(host: Any, expect: HostExpect) -> None:
    allow = _effective(host).get("allowusers", "")
    assert f"{expect.admin_user}@{expect.management}" in allow.split(), allow
    assert all("@" in entry for entry in allow.split()), f"unrestricted entry: {allow}"
    assert expect.guest_user not in {e.split("@")[0] for e in allow.split()}
