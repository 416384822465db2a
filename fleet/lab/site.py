"""Bring a lab site up and down, report its status, find its hosts.

``up`` writes a state file (``run/<site>/state.json``) *before* creating anything, so a crash or a
killed ``up`` leaves a record; ``down`` also scans for leftovers it has no record of
(``ip netns list``, /proc/mounts, processes living in lab namespaces or lab roots), so it cleans
a site whatever state it was left in.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from fleet.errors import LabError
from fleet.inventory.models import Site
from fleet.lab import netns as ns
from fleet.lab.build import Images, tool_bin
from fleet.lab.creds import device_var
from fleet.lab.hostconf import prepare_host, prepare_snmpsim
from fleet.lab.paths import CTL_NETNS, NETNS_PREFIX, LabPaths
from fleet.lab.plan import Node, NodeKind, SitePlan, check_conflicts, plan_site
from fleet.lab.proc import require_root, require_tools, run
from fleet.lab.sshconf import close_masters, ensure_keypair, write_main_config, write_site_files
from fleet.lab.switchsim import FAKE_SWITCH_LAUNCHER

Progress = Callable[[str], None]



def _quiet(_msg: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Lab:
    """The lab's injected environment: where it lives and where recordings are read from."""

    paths: LabPaths
    recordings: Path
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Vault variables (see :func:`fleet.lab.creds.load_vault`): the switch's CLI login."""
    boot_timeout: float = 90.0

    @property
    def images(self) -> Images:
        return Images(self.paths)


@dataclass(slots=True)
class UpResult:
    site_id: str
    changed: bool
    seconds: float
    nodes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DownResult:
    site_ids: list[str]
    killed: int
    unmounted: int
    namespaces: int
    seconds: float


# ----------------------------------------------------------------------------- state


def read_state(lab: Lab, site_id: str) -> dict[str, Any] | None:
    path = lab.paths.state_file(site_id)
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data


def _write_state(lab: Lab, site_id: str, state: dict[str, Any]) -> None:
    path = lab.paths.state_file(site_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), "utf-8")
    tmp.replace(path)


def recorded_sites(lab: Lab) -> list[str]:
    if not lab.paths.run.is_dir():
        return []
    return sorted(p.parent.name for p in lab.paths.run.glob("*/state.json"))


def _plan_state(plan: SitePlan) -> dict[str, Any]:
    return {
        "site_id": plan.site_id,
        "management": str(plan.management),
        "namespaces": plan.namespaces,
        "status": "starting",
        "started": time.time(),
        "nodes": {
            n.name: {"kind": str(n.kind), "netns": n.netns, "ip": str(n.ip) if n.ip else None,
                     "booted": n.booted, "pid": None}
            for n in plan.nodes
        },
    }


# ----------------------------------------------------------------------------- up


def up(
    lab: Lab, site: Site, *, keep_state: bool = False, progress: Progress = _quiet
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
            others.append(_fake_plan(other, st["management"]))
    check_conflicts(plan, others)
    if is_healthy(lab, plan):
        return UpResult(site.id, False, time.monotonic() - t0, [n.name for n in plan.nodes])
    if read_state(lab, site.id) is not None or any(ns.netns_exists(n) for n in plan.namespaces):
        progress(f"{site.id}: cleaning leftovers of an earlier run")
        down(lab, site.id, plan=plan, keep_state=True)
    state = _plan_state(plan)
    _write_state(lab, site.id, state)
    try:
        pubkey = ensure_keypair(lab.paths)
        progress(f"{site.id}: networks")
        _create_networks(plan)
        progress(f"{site.id}: filesystems")
        _prepare_roots(lab, plan, pubkey, keep_state)
        progress(f"{site.id}: starting {len(plan.nodes)} hosts")
        pids = _start_nodes(lab, plan)
        for key, pid in pids.items():
            name = key.split(":")[0]
            state["nodes"][name].setdefault("pids", []).append(pid)
            if ":" not in key:
                state["nodes"][name]["pid"] = pid
        _write_state(lab, site.id, state)
        _wait_ready(lab, plan, pids, progress)
        write_site_files(lab.paths, plan, lab.secrets)
        state["status"] = "up"
        state["up_seconds"] = round(time.monotonic() - t0, 2)
        _write_state(lab, site.id, state)
    except BaseException:
        # nothing half-made survives a failed or interrupted up
        down(lab, site.id, plan=plan, keep_state=True)
        raise
    return UpResult(site.id, True, time.monotonic() - t0, [n.name for n in plan.nodes])


def _fake_plan(site_id: str, management: str) -> SitePlan:
    from ipaddress import IPv4Interface

    net = IPv4Network(management)
    return SitePlan(site_id, "", net, None, IPv4Interface(f"{net.network_address}/32"), "", "",
                    (), None, None)


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
            cmds += [f"route add {net} via {_gw_wan(plan)}" for net in routes]
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


def _gw_wan(plan: SitePlan) -> str:
    from fleet.lab.plan import GATEWAY_WAN_IP

    return str(GATEWAY_WAN_IP)


def _prepare_roots(lab: Lab, plan: SitePlan, pubkey: str, keep_state: bool) -> None:
    images = lab.images
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
            lower = ":".join(str(p) for p in images.lowerdirs(node.layer))
            run(["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={lower},upperdir={upper},workdir={work}", root],
                what=f"{node.name}: mount overlay")
            if fresh:
                prepare_host(root, node, plan, pubkey)
        elif node.kind in (NodeKind.SNMPSIM, NodeKind.SWITCH):
            data = lab.paths.site_run(plan.site_id) / "snmp" / node.name
            prepare_snmpsim(data, lab.recordings, node)
            cache = lab.paths.site_run(plan.site_id) / "snmp-cache" / node.name
            cache.mkdir(parents=True, exist_ok=True)
            os.chown(cache, 65534, 65534)
    for d in (lab.paths.root, lab.paths.run, lab.paths.site_run(plan.site_id)):
        d.chmod(0o755)


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, env=env)
    return proc.pid


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
            pids[node.name] = _spawn(argv, log)
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
                                                            lab.secrets, "admin")}
                python = lab.paths.tools / "fake-switches" / "bin" / "python"
                argv = ["ip", "netns", "exec", node.netns, str(python), "-c",
                        FAKE_SWITCH_LAUNCHER, node.name, str(node.ip)]
                pids[node.name] = _spawn(argv, log, env)
    return pids


def _container_init(netns_name: str, procs: list[ns.ProcInfo]) -> int | None:
    for p in ns.processes_in([netns_name], procs):
        if p.ns_pid == 1 and p.pid != 1:
            return p.pid
    return None


def _ready_checks(node: Node) -> list[tuple[str, int]]:
    if node.kind is NodeKind.HOST:
        checks = [("tcp", 22), ("udp", 161)]
        if node.layer == "gateway":
            checks.append(("udp", 67))
        return checks
    if node.kind is NodeKind.FAKENET:
        return [("tcp", 80), ("udp", 53)]
    if node.kind is NodeKind.CLIENT:
        return []
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
                init = _container_init(node.netns, procs)
                if init is None:
                    continue
                if all(ns.listening(init, proto, port) for proto, port in _ready_checks(node)):
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


# ----------------------------------------------------------------------------- down


def _proc_root(pid: int) -> str:
    try:
        return str(Path(f"/proc/{pid}/root").readlink())
    except OSError:
        return ""


def _kill_all(pids: Iterable[int], timeout: float = 10.0) -> int:
    targets = set(pids)
    for pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in targets if Path(f"/proc/{p}").exists() and not _is_zombie(p)]
        if not left:
            break
        time.sleep(0.05)
    return len(targets)


def _is_zombie(pid: int) -> bool:
    try:
        return ") Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def lab_mounts(under: Path) -> list[str]:
    """Mount points below ``under`` (deepest first), from /proc/mounts."""
    out = []
    prefix = str(under).rstrip("/") + "/"
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(prefix):
            out.append(point)
    return sorted(set(out), key=lambda p: p.count("/"), reverse=True)


def _cleanup(lab: Lab, names: list[str], run_dir: Path) -> tuple[int, int, int]:
    procs = ns.processes()
    me = os.getpid()
    victims = {p.pid for p in ns.processes_in(names, procs)}
    run_prefix = str(run_dir).rstrip("/") + "/"
    for p in procs:
        cmd = " ".join(p.cmdline)
        if p.pid == me:
            continue
        if (p.cmdline and p.cmdline[0].endswith("systemd-nspawn") and (
            any(f"/run/netns/{n}" in cmd for n in names) or run_prefix in cmd
        )) or _proc_root(p.pid).startswith(run_prefix):
            victims.add(p.pid)
    victims.discard(me)
    killed = _kill_all(victims)
    mounts = lab_mounts(run_dir)
    for point in mounts:
        run(["umount", "-l", point], check=False)
    deleted = 0
    for name in names:
        if ns.netns_exists(name):
            ns.delete_netns(name)
            deleted += 1
    return killed, len(mounts), deleted


def _keep_logs(lab: Lab, site_id: str) -> None:
    """The last run's logs survive ``down`` in <lab_root>/logs/<site>/ (to read after a failure)."""
    logs = lab.paths.site_run(site_id) / "logs"
    if logs.is_dir():
        dest = lab.paths.root / "logs" / site_id
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(logs), dest)


def down(
    lab: Lab, site_id: str, *, plan: SitePlan | None = None, keep_state: bool = False
) -> DownResult:
    """Remove every namespace, mount and process of one site (also leftovers of a killed up)."""
    t0 = time.monotonic()
    require_root()
    state = read_state(lab, site_id)
    names: set[str] = set()
    if state is not None:
        names.update(state.get("namespaces", []))
    if plan is not None:
        names.update(plan.namespaces)
    # without a record or an inventory (crash + broken inventory): the site's own namespace and
    # those named after it, except ones another recorded site owns (site ids may share prefixes)
    others: set[str] = set()
    for other in recorded_sites(lab):
        if other != site_id:
            others.update((read_state(lab, other) or {}).get("namespaces", []))
    names.update(n for n in ns.list_netns()
                  if (n == f"{NETNS_PREFIX}{site_id}" or n.startswith(f"{NETNS_PREFIX}{site_id}-"))
                  and n not in others)
    close_masters(lab.paths, site_id)
    killed, unmounted, deleted = _cleanup(lab, sorted(names), lab.paths.site_run(site_id))
    _keep_logs(lab, site_id)
    shutil.rmtree(lab.paths.site_run(site_id), ignore_errors=True)
    if not keep_state:
        shutil.rmtree(lab.paths.host_state(site_id, "x").parent, ignore_errors=True)
    if not recorded_sites(lab):
        killed += _cleanup(lab, [CTL_NETNS], lab.paths.run)[0]
        if ns.netns_exists(CTL_NETNS):
            ns.delete_netns(CTL_NETNS)
            deleted += 1
    write_main_config(lab.paths)
    return DownResult([site_id], killed, unmounted, deleted, time.monotonic() - t0)


def down_all(lab: Lab, *, keep_state: bool = False) -> DownResult:
    """Remove everything of every lab site: every relais-* namespace, lab mount and process."""
    t0 = time.monotonic()
    require_root()
    sites = recorded_sites(lab)
    for site_id in sites:
        close_masters(lab.paths, site_id)
    names = [n for n in ns.list_netns() if n.startswith(NETNS_PREFIX)]
    for site_id in sites:
        st = read_state(lab, site_id) or {}
        names += [n for n in st.get("namespaces", []) if n not in names]
    killed, unmounted, deleted = _cleanup(lab, names, lab.paths.run)
    for site_id in sites:
        _keep_logs(lab, site_id)
        shutil.rmtree(lab.paths.site_run(site_id), ignore_errors=True)
    if not keep_state:
        shutil.rmtree(lab.paths.root / "hosts", ignore_errors=True)
    write_main_config(lab.paths)
    return DownResult(sites, killed, unmounted, deleted, time.monotonic() - t0)


def leftovers(lab: Lab) -> dict[str, list[str]]:
    """What of the lab exists right now (namespaces, mounts, processes): empty when all down."""
    names = [n for n in ns.list_netns() if n.startswith(NETNS_PREFIX)]
    procs = ns.processes()
    run_prefix = str(lab.paths.run).rstrip("/") + "/"
    pids = {p.pid for p in ns.processes_in(names, procs)}
    for p in procs:
        cmd = " ".join(p.cmdline)
        if "/run/netns/relais-" in cmd or _proc_root(p.pid).startswith(run_prefix):
            pids.add(p.pid)
    pids.discard(os.getpid())
    return {
        "namespaces": sorted(names),
        "mounts": lab_mounts(lab.paths.run),
        "processes": [f"{p.pid} {' '.join(p.cmdline)[:80]}" for p in procs if p.pid in pids],
    }


# ----------------------------------------------------------------------------- status / exec


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
        init = _container_init(node["netns"], ns.processes())
        if init is None:
            raise LabError(f"lab host '{host}' is not running: run 'fleet lab up {site_id}'")
        env = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME=/root", f"TERM={os.environ.get('TERM', 'xterm')}", "LANG=C.UTF-8"]
        return ["nsenter", "-t", str(init), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
                *env, *command]
    raise LabError(f"no lab host named '{host}' in any site that is up (see 'fleet lab status')")


def parallel(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return list(pool.map(fn, items))
