"""What of the lab is up, and how to run a command on one of its hosts (``fleet lab status``,
``fleet lab exec``, ``fleet lab shell``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from fleet.errors import LabError
from fleet.lab import netns as ns
from fleet.lab.paths import CTL_NETNS
from fleet.lab.proc import require_root
from fleet.lab.state import Lab, read_state, recorded_sites


@dataclass(frozen=True, slots=True)
class NodeStatus:
    name: str
    kind: str
    ip: str | None
    netns: str
    running: bool


@dataclass(frozen=True, slots=True)
class SiteStatus:
    site_id: str
    status: str
    management: str
    nodes: tuple[NodeStatus, ...]
    ssh_config: str
    inventory: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site_id, "status": self.status, "management": self.management,
            "ssh_config": self.ssh_config, "inventory": self.inventory,
            "nodes": [{"name": n.name, "kind": n.kind, "ip": n.ip, "netns": n.netns,
                       "running": n.running} for n in self.nodes],
        }


def status(lab: Lab) -> list[SiteStatus]:
    alive = {p.pid for p in ns.processes()}
    out = []
    for site_id in recorded_sites(lab):
        st = read_state(lab, site_id)
        if st is None:
            continue
        nodes = []
        for name, n in sorted(st["nodes"].items()):
            pids = n.get("pids", [])
            running = bool(pids) and all(p in alive for p in pids) and ns.netns_exists(n["netns"])
            nodes.append(NodeStatus(name, n["kind"], n.get("ip"), n["netns"], running))
        overall = st.get("status", "?")
        if overall == "up" and not all(n.running for n in nodes):
            overall = "degraded"
        out.append(SiteStatus(site_id, overall, st.get("management", ""), tuple(nodes),
                              str(lab.paths.ssh_config), str(lab.paths.site_inventory(site_id))))
    return out


def exec_argv(lab: Lab, host: str, command: list[str]) -> list[str]:
    """The argv running ``command`` on a lab host (or ``ctl``: the controller namespace)."""
    require_root()
    if host in ("ctl", CTL_NETNS):
        if not ns.netns_exists(CTL_NETNS):
            raise LabError("the lab controller namespace does not exist: no site is up")
        return ["ip", "netns", "exec", CTL_NETNS, *command]
    for site_id in recorded_sites(lab):
        st = read_state(lab, site_id)
        if st is None or host not in st["nodes"]:
            continue
        node = st["nodes"][host]
        if not ns.netns_exists(node["netns"]):
            raise LabError(f"lab host '{host}' is not running: run 'fleet lab up {site_id}'")
        if not node.get("booted"):
            return ["ip", "netns", "exec", node["netns"], *command]
        init = ns.container_init(node["netns"], ns.processes())
        if init is None:
            raise LabError(f"lab host '{host}' is not running: run 'fleet lab up {site_id}'")
        env = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME=/root", f"TERM={os.environ.get('TERM', 'xterm')}", "LANG=C.UTF-8"]
        return ["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
                *env, *command]
    raise LabError(f"no lab host named '{host}' in any site that is up (see 'fleet lab status')")
