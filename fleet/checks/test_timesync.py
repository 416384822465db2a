"""Time synchronisation configured.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.kinds("public_pc", "borne")


@pytest.mark.ref("CIS 2.3.x")
def test_timesyncd_configured(host: Any) -> None:
    assert host.package("systemd-timesyncd").is_installed
    assert host.service("systemd-timesyncd").is_enabled
    conf = host.file("/etc/systemd/timesyncd.conf.d/50-relais.conf").content_string
    assert "NTP=" in conf and conf.split("NTP=", 1)[1].strip()
