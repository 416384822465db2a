"""Bring a lab site up: every device of the site as a real host.

Networks first (namespaces, bridges, veths), then the hosts' filesystems (overlays on the cached
images, factory configuration from :mod:`fleet.lab.hostconf`), then the processes (booted hosts,
snmpsim appliances, the switch simulator from :mod:`fleet.lab.programs`), then a wait until each
answers on its ports.  The state file is written before anything is created
(:mod:`fleet.lab.state`), and a failed or interrupted ``up`` is undone by :func:`fleet.lab.down.down`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from fleet.errors import LabError
from fleet.inventory.models import Site
from fleet.lab import cgroups, snapshot, wol
from fleet.lab import netns as ns
from fleet.lab.build import tool_bin
from fleet.lab.creds import device_var
from fleet.lab.down import down
from fleet.lab.hostconf import host_key, prepare_host, prepare_snmpsim, ssh_host_key
from fleet.lab.paths import CTL_NETNS
from fleet.lab.plan import GATEWAY_WAN_IP, Node, NodeKind, SitePlan, check_conflicts, plan_site
from fleet.lab.proc import require_root, require_tools, run
from fleet.lab.programs import program
from fleet.lab.sshconf import ensure_keypair, write_site_files
from fleet.lab.state import (
    Lab,
    Progress,
    UpResult,
    plan_state,
    quiet,
    read_state,
    recorded_plan,
    recorded_sites,
    write_state,
)


def up(
    lab: Lab, site: Site, *, keep_state: bool = False, progress: Progress = quiet
) -> UpResult:
    """Create every device of the site as a real host; safe to call when it is already up."""
    t0 = time.monotonic()
    require_root()
    require_tools("ip", "systemd-nspawn", "nc", "ssh-keygen", "nsenter", "unshare")
    lab.images.check_built()
    plan = plan_site(site)
    others = []
    for other in recorded_sites(lab):
        st = read_state(lab, other)
        if other != site.id and st is not None:
            others.append(recorded_plan(other, st["management"]))
    check_conflicts(plan, others)
    if is_healthy(lab, plan):
        return UpResult(site.id, False, time.monotonic() - t0, tuple(n.name for n in plan.nodes))
    if read_state(lab, site.id) is not None or any(ns.netns_exists(n) for n in plan.namespaces):
        progress(f"{site.id}: cleaning leftovers of an earlier run")
        down(lab, site.id, plan=plan, keep_state=True)
    state = plan_state(plan)
    write_state(lab, site.id, state)
    try:
        pubkey = ensure_keypair(lab.paths)
        progress(f"{site.id}: networks")
        _create_networks(plan)
        progress(f"{site.id}: filesystems")
        host_keys = _prepare_roots(lab, plan, pubkey, keep_state)
        progress(f"{site.id}: starting {len(plan.nodes)} hosts")
        pids = _start_nodes(lab, plan)
        for key, pid in pids.items():
            name = key.split(":")[0]
            state["nodes"][name].setdefault("pids", []).append(pid)
            if ":" not in key:
                state["nodes"][name]["pid"] = pid
        write_state(lab, site.id, state)
        _wait_ready(lab, plan, pids, progress)
        write_site_files(lab.paths, plan, lab.secrets, host_keys)
        state["status"] = "up"
        state["up_seconds"] = round(time.monotonic() - t0, 2)
        write_state(lab, site.id, state)
    except BaseException:
        # nothing half-made survives a failed or interrupted up
        down(lab, site.id, plan=plan, keep_state=True)
        raise
    return UpResult(site.id, True, time.monotonic() - t0, tuple(n.name for n in plan.nodes))


def _create_networks(plan: SitePlan) -> None:
    ns.add_netns(CTL_NETNS)
    ns.add_netns(plan.netns)
    for node in plan.nodes:
        ns.add_netns(node.netns)
    site_cmds = ["link add brm type bridge", "link set brm up"]
    if plan.guest is not None:
        site_cmds += ["link add brg type bridge", "link set brg up"]
    node_cmds: dict[str, list[str]] = {n.netns: [] for n in plan.nodes}
    for node in plan.nodes:
        for link in node.links:
            if not link.bridge:
                continue
            tmp = "t" + link.peer
            site_cmds += [
                f"link add {link.peer} type veth peer name {tmp}",
                f"link set {tmp} netns {node.netns}",
                f"link set {link.peer} master {link.bridge} up",
            ]
            node_cmds[node.netns] += [f"link set {tmp} name {link.ifname}"]
    # controller: one leg on this site's management bridge
    site_cmds += [
        f"link add {plan.ctl_peer} type veth peer name {plan.ctl_ifname}",
        f"link set {plan.ctl_ifname} netns {CTL_NETNS}",
        f"link set {plan.ctl_peer} master brm up",
    ]
    # gateway <-> fake internet: a direct link
    gw = next((n for n in plan.nodes if n.layer == "gateway"), None)
    inet = next((n for n in plan.nodes if n.kind is NodeKind.FAKENET), None)
    if gw is not None and inet is not None:
        w, x = plan.wan_peer
        site_cmds += [
            f"link add {w} type veth peer name {x}",
            f"link set {w} netns {gw.netns}",
            f"link set {x} netns {inet.netns}",
        ]
        node_cmds[gw.netns] += [f"link set {w} name eth2"]
        node_cmds[inet.netns] += [f"link set {x} name eth0"]
    ns.batch(plan.netns, site_cmds)
    for node in plan.nodes:
        cmds = node_cmds[node.netns]
        for link in node.links:
            if link.address is not None:
                cmds.append(f"addr add {link.address} dev {link.ifname}")
            cmds.append(f"link set {link.ifname} up")
        if node.default_via is not None:
            cmds.append(f"route add default via {node.default_via}")
        if node.kind is NodeKind.FAKENET:
            routes = [plan.management] + ([plan.guest] if plan.guest else [])
            cmds += [f"route add {net} via {GATEWAY_WAN_IP}" for net in routes]
        ns.batch(node.netns, cmds)
    ns.batch(CTL_NETNS, [f"addr add {plan.ctl_ip} dev {plan.ctl_ifname}",
                         f"link set {plan.ctl_ifname} up"])
    if gw is not None:
        run(["ip", "netns", "exec", gw.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
            what=f"{gw.name}: enable forwarding")
    for node in plan.nodes:
        if node.kind in (NodeKind.SNMPSIM, NodeKind.SWITCH):
            # snmpsim binds port 161 after dropping to nobody: allow it in this namespace only
            run(["ip", "netns", "exec", node.netns, "sysctl", "-qw",
                 "net.ipv4.ip_unprivileged_port_start=0"], what=f"{node.name}: sysctl")


def _prepare_roots(lab: Lab, plan: SitePlan, pubkey: str, keep_state: bool) -> dict[str, str]:
    """Mount and configure every host's root; returns the SSH host key of each host and switch
    (for the site's known_hosts)."""
    images = lab.images
    keys: dict[str, str] = {}
    for node in plan.nodes:
        if node.booted and node.layer is not None:
            state = lab.paths.host_state(plan.site_id, node.name)
            upper, work = state / "upper", state / "work"
            fresh = not (keep_state and upper.is_dir())
            if fresh and state.exists():
                shutil.rmtree(state)
            if work.exists():
                shutil.rmtree(work)
            upper.mkdir(parents=True, exist_ok=True)
            work.mkdir(parents=True)
            root = lab.paths.host_root(plan.site_id, node.name)
            root.mkdir(parents=True, exist_ok=True)
            lower = ":".join(str(p) for p in [*snapshot.layers(lab, plan.site_id, node.name),
                                                  *images.lowerdirs(node.layer)])
            run(["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={lower},upperdir={upper},workdir={work}", root],
                what=f"{node.name}: mount overlay")
            if fresh:
                prepare_host(root, node, plan, pubkey)
            if node.kind is NodeKind.HOST:
                keys[node.name] = host_key(root, node.name)
        elif node.kind in (NodeKind.SNMPSIM, NodeKind.SWITCH):
            data = lab.paths.site_run(plan.site_id) / "snmp" / node.name
            prepare_snmpsim(data, lab.recordings, node)
            cache = lab.paths.site_run(plan.site_id) / "snmp-cache" / node.name
            cache.mkdir(parents=True, exist_ok=True)
            os.chown(cache, 65534, 65534)
            if node.kind is NodeKind.SWITCH:
                keys[node.name] = ssh_host_key(lab.paths.switch_host_key(plan.site_id, node.name),
                                               node.name)
    for d in (lab.paths.root, lab.paths.run, lab.paths.site_run(plan.site_id)):
        d.chmod(0o755)
    return keys


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, env=env)
    return proc.pid


def switch_argv(lab: Lab, node: Node) -> list[str]:
    """The lab switch: :mod:`fleet.lab.programs.fake_switch` run by path, in isolated mode, by
    the simulator's own interpreter, in the switch's namespace."""
    python = lab.paths.fake_switches_venv / "bin" / "python"
    return ["ip", "netns", "exec", node.netns, str(python), "-I", str(program("fake_switch")),
            node.name, str(node.ip)]


def _start_nodes(lab: Lab, plan: SitePlan) -> dict[str, int]:
    pids: dict[str, int] = {}
    for node in plan.nodes:
        log = lab.paths.log(plan.site_id, node.name)
        if node.booted:
            root = lab.paths.host_root(plan.site_id, node.name)
            argv = ["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--quiet",
                    f"--network-namespace-path=/run/netns/{node.netns}", "-D", str(root),
                    f"--machine={node.name}", "--console=passive", "--resolv-conf=off",
                    "--timezone=off", "--link-journal=no",
                    # the host's own namespace: it may configure its interfaces and firewall
                    "--capability=CAP_NET_ADMIN,CAP_NET_RAW"]
            if node.kind is NodeKind.FAKENET:
                argv.append(f"--bind-ro={lab.images.apt_repo}:/srv/www/debian")
            if node.kind is NodeKind.HOST:  # reboot and Wake-on-LAN stand-in (fleet/lab/wol.py)
                argv = wol.supply_argv(argv, host=node.name, netns=node.netns, site_netns=plan.netns,
                                       mac=node.device.mac if node.device else None,
                                       state_dir=lab.paths.site_run(plan.site_id) / "power")
            # a cgroup of its own: containers sharing one raced on their units' cgroups
            pids[node.name] = _spawn(cgroups.wrap(argv, node.netns), log)
        elif node.kind in (NodeKind.SNMPSIM, NodeKind.SWITCH):
            data = lab.paths.site_run(plan.site_id) / "snmp" / node.name
            if data.is_dir():
                cache = lab.paths.site_run(plan.site_id) / "snmp-cache" / node.name
                argv = ["ip", "netns", "exec", node.netns, str(tool_bin(lab.paths, "snmpsim")),
                        f"--data-dir={data}", f"--agent-udpv4-endpoint={node.ip}:161",
                        "--process-user=nobody", "--process-group=nogroup",
                        f"--cache-dir={cache}"]
                key = node.name if node.kind is NodeKind.SNMPSIM else node.name + ":snmp"
                pids[key] = _spawn(argv, lab.paths.log(plan.site_id, key.replace(":", "-")))
            if node.kind is NodeKind.SWITCH and node.device is not None:
                env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                       "RELAIS_SWITCH_USERNAME": device_var(node.device, "netdev_username",
                                                            lab.secrets, "admin"),
                       "RELAIS_SWITCH_PASSWORD": device_var(node.device, "netdev_password",
                                                            lab.secrets, "admin"),
                       "RELAIS_SWITCH_HOST_KEY": str(lab.paths.switch_host_key(plan.site_id,
                                                                               node.name))}
                pids[node.name] = _spawn(switch_argv(lab, node), log, env)
    return pids


def _ready_checks(node: Node) -> list[tuple[str, int]]:
    if node.kind is NodeKind.HOST:
        checks = [("tcp", 22), ("udp", 161)]
        if node.layer == "gateway":
            checks.append(("udp", 67))
        return checks
    if node.kind is NodeKind.FAKENET:
        return [("tcp", 80), ("udp", 53)]
    return []


def _wait_ready(lab: Lab, plan: SitePlan, pids: dict[str, int], progress: Progress) -> None:
    deadline = time.monotonic() + lab.boot_timeout
    pending = dict(pids)
    while pending:
        procs = ns.processes()
        alive = {p.pid for p in procs}
        for key, pid in list(pending.items()):
            name = key.split(":")[0]
            node = plan.node(name)
            if pid not in alive:
                log = lab.paths.log(plan.site_id, key.replace(":", "-"))
                raise LabError(f"{name}: exited while starting ({_last_line(log)}); see {log}")
            if node.booted:
                init = ns.container_init(node.netns, procs)
                if init is None:
                    continue
                if all(ns.listening(init, proto, port) for proto, port in _ready_checks(node)):
                    if node.kind is NodeKind.HOST:
                        _permit_logins(init)
                    del pending[key]
            else:
                port = ("udp", 161) if key.endswith(":snmp") or node.kind is NodeKind.SNMPSIM \
                    else ("tcp", 22)
                if ns.listening(pid, *port):
                    del pending[key]
        if not pending:
            break
        if time.monotonic() > deadline:
            names = ", ".join(sorted(pending))
            raise LabError(f"site {plan.site_id}: not ready after {lab.boot_timeout:.0f} s: "
                           f"{names} (logs in {lab.paths.site_run(plan.site_id) / 'logs'})")
        time.sleep(0.1)
    progress(f"{plan.site_id}: all hosts ready")


# What systemd-user-sessions.service does at boot: remove /run/nologin, which refuses every
# login but root's (PAM "Access denied ... by PAM account configuration").  The unit failed with
# 219/CGROUP at random while every container shared one cgroup tree (the root cause, fixed by
# fleet/lab/cgroups.py); this stays as a safety net at `lab up`: started again, and the file
# removed if it still fails, so a host that listens on SSH also lets the relais account in.
_PERMIT_LOGINS = ("systemctl is-active -q systemd-user-sessions.service || "
                  "{ systemctl reset-failed systemd-user-sessions.service; "
                  "systemctl start systemd-user-sessions.service || rm -f /run/nologin; }")


def _permit_logins(init: int) -> None:
    subprocess.run(["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
                    "sh", "-c", _PERMIT_LOGINS], capture_output=True, text=True, timeout=60,
                   check=False)


def _last_line(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text("utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:200] if lines else "empty log"


def is_healthy(lab: Lab, plan: SitePlan) -> bool:
    state = read_state(lab, plan.site_id)
    if state is None or state.get("status") != "up":
        return False
    if not all(ns.netns_exists(n) for n in [*plan.namespaces, CTL_NETNS]):
        return False
    if set(state["nodes"]) != {n.name for n in plan.nodes}:
        return False
    alive = {p.pid for p in ns.processes()}
    recorded = [pid for v in state["nodes"].values() for pid in v.get("pids", [])]
    return all(pid in alive for pid in recorded)
