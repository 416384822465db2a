"""Network stack hardening (live values) and kernel settings (configured).  Read-only."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from fleet.checks.plugin import not_applicable

pytestmark = pytest.mark.kinds("public_pc", "borne")

NETWORK = MappingProxyType({
    "net.ipv4.ip_forward": 0,
    "net.ipv4.conf.all.accept_redirects": 0,
    "net.ipv4.conf.all.secure_redirects": 0,
    "net.ipv4.conf.all.send_redirects": 0,
    "net.ipv4.conf.all.accept_source_route": 0,
    "net.ipv4.conf.all.rp_filter": 1,
    "net.ipv4.conf.all.log_martians": 1,
    "net.ipv4.icmp_echo_ignore_broadcasts": 1,
    "net.ipv4.tcp_syncookies": 1,
    "net.ipv6.conf.all.accept_redirects": 0,
})
KERNEL = ("kernel.kptr_restrict", "kernel.dmesg_restrict", "kernel.yama.ptrace_scope",
          "fs.protected_symlinks", "fs.protected_hardlinks", "fs.suid_dumpable")


@pytest.mark.ref("ANSSI-BP-028 R12", "CIS 3.3.x")
@pytest.mark.parametrize("key", sorted(NETWORK))
def test_network_sysctl(host: Any, key: str) -> None:
    conf = host.file("/etc/sysctl.d/60-relais-network.conf").content_string
    assert f"{key} = {NETWORK[key]}" in conf, f"{key} not configured"
    value = host.sysctl(key)
    if value != NETWORK[key] and key.startswith(("net.ipv4.conf.all.", "net.ipv6.conf.all.")):
        container = host.run("systemd-detect-virt --container").stdout.strip()
        if container not in ("", "none"):
            # the kernel refuses these keys inside a container's network namespace; a real
            # PC applies them from the file above at boot (systemd-sysctl)
            not_applicable(f"{key} = {value}: not settable inside a container ({container})")
    assert value == NETWORK[key], f"{key} = {value}"


@pytest.mark.ref("ANSSI-BP-028 R9")
def test_kernel_sysctl_configured(host: Any) -> None:
    conf = host.file("/etc/sysctl.d/61-relais-kernel.conf").content_string
    missing = [k for k in KERNEL if f"{k} =" not in conf]
    assert not missing, f"not configured: {missing}"
