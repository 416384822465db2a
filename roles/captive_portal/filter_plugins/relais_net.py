"""Address helpers for the gateway roles (no dependency on ansible.utils / netaddr)."""

from __future__ import annotations

import ipaddress
from typing import Any


def relais_nthhost(network: str, n: int) -> str:
    """The n-th address of ``network`` (1 = first host; negative counts from the broadcast:
    -2 = the last host but one)."""
    net = ipaddress.ip_network(str(network), strict=False)
    base = int(net.broadcast_address) if n < 0 else int(net.network_address)
    addr = ipaddress.ip_address(base + int(n))
    if addr not in net:
        raise ValueError(f"{network}: address {n} is outside the network")
    return str(addr)


def relais_iface_with_ip(facts: dict[str, Any], address: str, fallback: str = "") -> str:
    """The name of the interface holding ``address`` in the gathered facts (fallback if none)."""
    for name in facts.get("interfaces", []):
        info = facts.get(name.replace("-", "_")) or {}
        v4 = info.get("ipv4") or {}
        secondary = info.get("ipv4_secondaries") or []
        addrs = [v4.get("address")] + [s.get("address") for s in secondary]
        if address in addrs:
            return str(info.get("device", name))
    return fallback


def relais_netmask(network: str) -> str:
    return str(ipaddress.ip_network(str(network), strict=False).netmask)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "relais_nthhost": relais_nthhost,
            "relais_iface_with_ip": relais_iface_with_ip,
            "relais_netmask": relais_netmask,
        }
