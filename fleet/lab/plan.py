"""What a lab site is made of, computed from the inventory's :class:`Site` (no side effects).

Network layout of one site (every address exists only inside lab namespaces)::

    relais-ctl ──┐                      (controller: one address per up site's management LAN)
                 │  relais-<site>  (bridges brm = management LAN, brg = guest LAN)
    hosts ───────┤ brm
    gateway eth0 ┘     gateway eth1 ── brg ── guest client (DHCP from the gateway)
                       gateway eth2 ── fake internet eth0 (198.18.0.1: DNS for every name, HTTP,
                                                            the local apt repository)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from types import MappingProxyType

from fleet.errors import LabError
from fleet.inventory.models import Device, DeviceKind, Site
from fleet.lab.paths import CTL_NETNS, host_netns, short_hash, site_netns

WAN_NETWORK = IPv4Network("198.18.0.0/24")
"""Between a site's gateway and its fake internet (RFC 2544 benchmark range: never routed)."""
FAKENET_IP = IPv4Address("198.18.0.1")
GATEWAY_WAN_IP = IPv4Address("198.18.0.2")

DEFAULT_RECORDINGS: Mapping[DeviceKind, str] = MappingProxyType({
    DeviceKind.PRINTER: "printers/brother",
    DeviceKind.UPS: "ups/eatonupsm2_9px",
    DeviceKind.AP: "aps/unifi_nanohd",
    DeviceKind.SWITCH: "switches/ios_nac",
})


class NodeKind(StrEnum):
    HOST = "host"  # booted Debian host (systemd-nspawn), managed over SSH
    SNMPSIM = "snmpsim"  # appliance answering SNMP from a recording
    SWITCH = "switch"  # IOS simulator (SSH CLI) + optional SNMP recording
    CLIENT = "client"  # guest-network client (booted, DHCP)
    FAKENET = "fakenet"  # fake internet (booted: dnsmasq wildcard DNS, HTTP, apt repository)


@dataclass(frozen=True, slots=True)
class Link:
    ifname: str  # name inside the node
    peer: str  # name of the other end in the site namespace ('' for a direct link)
    bridge: str  # 'brm', 'brg', or '' for the gateway-fake internet link
    address: IPv4Interface | None


@dataclass(frozen=True, slots=True)
class Node:
    name: str  # hostname
    kind: NodeKind
    netns: str
    layer: str | None  # image layer for booted nodes
    links: tuple[Link, ...]
    default_via: IPv4Address | None
    device: Device | None = None
    recording: str | None = None

    @property
    def ip(self) -> IPv4Address | None:
        for link in self.links:
            if link.address is not None:
                return link.address.ip
        return None

    @property
    def booted(self) -> bool:
        return self.layer is not None


@dataclass(frozen=True, slots=True)
class SitePlan:
    site_id: str
    netns: str
    management: IPv4Network
    guest: IPv4Network | None
    ctl_ip: IPv4Interface
    ctl_ifname: str  # in relais-ctl
    ctl_peer: str  # in the site namespace, on brm
    nodes: tuple[Node, ...]
    gateway_ip: IPv4Address | None
    guest_gateway_ip: IPv4Address | None
    wan_peer: tuple[str, str] = field(default=("", ""))

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def namespaces(self) -> list[str]:
        return [self.netns, *(n.netns for n in self.nodes)]

    @property
    def client_name(self) -> str:
        return f"{self.site_id}-guest"

    @property
    def fakenet_name(self) -> str:
        return f"{self.site_id}-inet"

    def dhcp_range(self) -> tuple[IPv4Address, IPv4Address] | None:
        if self.guest is None:
            return None
        hosts = list(self.guest.hosts())
        if len(hosts) < 4:
            return None
        start = hosts[min(99, len(hosts) // 2)]
        return start, hosts[-2]


def _ifnames(hostname: str) -> tuple[str, str]:
    h = short_hash(hostname, 8)
    return f"m{h}", f"g{h}"


def plan_site(site: Site) -> SitePlan:
    """Lay out a site's lab: one node per device, plus a guest client and a fake internet."""
    mgmt = site.management
    used = {d.ip for d in site.devices}
    for d in site.devices:
        if d.ip not in mgmt:
            raise LabError(f"{d.source}: device '{d.hostname}': ip {d.ip} is outside the site's "
                           f"management network {mgmt}")
    free = [ip for ip in reversed(list(mgmt.hosts())) if ip not in used]
    if not free:
        raise LabError(f"{site.source}: site '{site.id}': no free address in {mgmt} "
                       "for the lab controller")
    ctl_ip = IPv4Interface(f"{free[0]}/{mgmt.prefixlen}")
    gw = site.gateway
    gw_ip = gw.ip if gw is not None else None
    nodes: list[Node] = []
    for d in site.devices:
        mname, gname = _ifnames(d.hostname)
        mlink = Link("eth0", mname, "brm", IPv4Interface(f"{d.ip}/{mgmt.prefixlen}"))
        if d.kind is DeviceKind.GATEWAY:
            links = [mlink]
            if site.guest is not None and site.guest_gateway_ip is not None:
                links.append(Link("eth1", gname, "brg",
                                  IPv4Interface(f"{site.guest_gateway_ip}/{site.guest.prefixlen}")))
            links.append(Link("eth2", "", "", IPv4Interface(f"{GATEWAY_WAN_IP}/24")))
            nodes.append(Node(d.hostname, NodeKind.HOST, host_netns(d.hostname), "gateway",
                              tuple(links), FAKENET_IP, device=d))
        elif d.kind.is_host:
            nodes.append(Node(d.hostname, NodeKind.HOST, host_netns(d.hostname), "base",
                              (mlink,), gw_ip, device=d))
        else:
            recording = d.lab_recording or DEFAULT_RECORDINGS.get(d.kind)
            kind = NodeKind.SWITCH if d.kind is DeviceKind.SWITCH else NodeKind.SNMPSIM
            nodes.append(Node(d.hostname, kind, host_netns(d.hostname), None, (mlink,), gw_ip,
                              device=d, recording=recording))
    if gw is not None:
        client = f"{site.id}-guest"
        if site.guest is not None:
            _, gname = _ifnames(client)
            nodes.append(Node(client, NodeKind.CLIENT, host_netns(client), "client",
                              (Link("eth0", gname, "brg", None),), None))
        inet = f"{site.id}-inet"
        nodes.append(Node(inet, NodeKind.FAKENET, host_netns(inet), "fakenet",
                          (Link("eth0", "", "", IPv4Interface(f"{FAKENET_IP}/24")),), None))
    sh = short_hash(site.id, 8)
    return SitePlan(
        site_id=site.id,
        netns=site_netns(site.id),
        management=mgmt,
        guest=site.guest,
        ctl_ip=ctl_ip,
        ctl_ifname=f"k{sh}",
        ctl_peer=f"c{sh}",
        nodes=tuple(nodes),
        gateway_ip=gw_ip,
        guest_gateway_ip=site.guest_gateway_ip,
        wan_peer=(f"w{sh}", f"x{sh}"),
    )


def check_conflicts(plan: SitePlan, others: list[SitePlan]) -> None:
    """Two sites up at once must not share a management subnet (the controller routes both)."""
    for other in others:
        if other.site_id != plan.site_id and other.management.overlaps(plan.management):
            raise LabError(f"site '{plan.site_id}': management network {plan.management} "
                           f"overlaps site '{other.site_id}' ({other.management}), which is up: "
                           f"run 'fleet lab down {other.site_id}' first")


__all__ = ["CTL_NETNS", "Link", "Node", "NodeKind", "SitePlan", "check_conflicts", "plan_site"]
