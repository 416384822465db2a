"""Unattended security upgrades.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.kinds("public_pc", "borne")


@pytest.mark.ref("ANSSI-BP-028 R61", "CIS 1.9")
def test_unattended_security_upgrades(host: Any) -> None:
    assert host.package("unattended-upgrades").is_installed
    out = host.run("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1"' in out.stdout
    assert 'APT::Periodic::Update-Package-Lists "1"' in out.stdout
    origins = host.run("apt-config dump Unattended-Upgrade::Origins-Pattern").stdout
    assert "Debian-Security" in origins
    assert host.service("apt-daily-upgrade.timer").is_enabled
