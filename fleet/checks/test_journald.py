"""journald: persistent, bounded in size and age.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.kinds("public_pc", "borne")


@pytest.mark.ref("ANSSI-BP-028 R71", "CIS 6.1.x")
def test_journald_limits(host: Any) -> None:
    conf = host.file("/etc/systemd/journald.conf.d/50-relais.conf").content_string
    for key in ("Storage=persistent", "SystemMaxUse=", "SystemKeepFree=", "MaxRetentionSec="):
        assert key in conf, f"{key} missing"
    assert host.service("systemd-journald").is_running
