"""USB sticks: mounted nosuid,nodev,noexec by udisks2, exec cannot be asked for.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.kinds("public_pc", "borne")

FORCED = frozenset({"nosuid", "nodev", "noexec"})


@pytest.mark.ref("ANSSI-BP-028 R28", "CIS 1.1.x")
def test_udisks_forces_nosuid_nodev_noexec(host: Any) -> None:
    assert host.package("udisks2").is_installed
    conf = host.file("/etc/udisks2/mount_options.conf").content_string
    entries = dict(
        line.split("=", 1) for line in conf.splitlines() if "=" in line and not line.startswith("#")
    )
    defaults = [k for k in entries if k == "defaults" or k.endswith("_defaults")]
    assert defaults
    for key in defaults:
        assert set(entries[key].split(",")) >= FORCED, f"{key}={entries[key]}"
    for key in (k for k in entries if k == "allow" or k.endswith("_allow")):
        opts = set(entries[key].split(","))
        assert not {"exec", "suid", "dev"} & opts, f"{key} lets users ask for exec/suid/dev"
