"""Guest account: no privileges, restrictive umask; sudo defaults.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.checks.model import HostExpect

pytestmark = pytest.mark.kinds("public_pc", "borne")

ADMIN_GROUPS = frozenset({"sudo", "adm", "root", "wheel", "lpadmin", "disk", "shadow", "systemd-journal"})


@pytest.mark.ref("ANSSI-BP-028 R39", "ANSSI-BP-028 R42")
def test_guest_has_no_sudo(host: Any, expect: HostExpect) -> None:
    user = host.user(expect.guest_user)
    assert user.exists, f"guest account {expect.guest_user!r} missing"
    assert not ADMIN_GROUPS & set(user.groups), f"guest in {sorted(ADMIN_GROUPS & set(user.groups))}"
    out = host.run("sudo -l -U %s", expect.guest_user)
    assert "not allowed to run sudo" in out.stdout, out.stdout.strip()


@pytest.mark.ref("ANSSI-BP-028 R36", "CIS 5.4.2.x")
def test_guest_umask_077(host: Any, expect: HostExpect) -> None:
    out = host.run("su -s /bin/sh -c umask - %s", expect.guest_user)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "0077", f"guest umask is {out.stdout.strip()}"


@pytest.mark.ref("ANSSI-BP-028 R39", "CIS 5.2.2", "CIS 5.2.3")
def test_sudo_defaults(host: Any) -> None:
    conf = host.file("/etc/sudoers.d/10-relais-defaults")
    assert conf.exists and conf.mode == 0o440
    assert "Defaults use_pty" in conf.content_string
    assert "Defaults logfile=" in conf.content_string
