"""Network stack hardening (live values) and kernel settings (configured).  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

NETWORK = {
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
}
KERNEL = ("kernel.kptr_restrict", "kernel.dmesg_restrict", "kernel.yama.ptrace_scope",
          "fs.protected_symlinks", "fs.protected_hardlinks", "fs.suid_dumpable")


@pytest.mark.ref("ANSSI-BP-028 R12", "CIS 3.3.x")
@pytest.mark.parametrize("key", sorted(NETWORK))
def test_network_sysctl(host: Any, key: str) -> None:
    assert host.sysctl(key) == NETWORK[key], f"{key} = {host.sysctl(key)}"


@pytest.mark.ref("ANSSI-BP-028 R9")
def test_kernel_sysctl_configured(host: Any) -> None:
    conf = host.file("/etc/sysctl.d/61-relais-kernel.conf").content_string
    missing = [k for k in KERNEL if f"{k} =" not in conf]
    assert not missing, f"not configured: {missing}"
