"""Bring a lab site down, whatever state it was left in.

``down`` reads the site's state file and also scans for leftovers it has no record of
(``ip netns list``, /proc/mounts, processes living in lab namespaces or lab roots), so it
cleans after a crash or a killed ``up`` as well; :func:`leftovers` says what of the lab exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from fleet.lab import cgroups
from fleet.lab import netns as ns
from fleet.lab.paths import CTL_NETNS, NETNS_PREFIX
from fleet.lab.plan import SitePlan
from fleet.lab.proc import require_root, run
from fleet.lab.sshconf import close_masters, write_main_config
from fleet.lab.state import DownResult, Lab, read_state, recorded_sites


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


def _cleanup(names: list[str], run_dir: Path) -> tuple[int, int, int]:
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
    killed, unmounted, deleted = _cleanup(sorted(names), lab.paths.site_run(site_id))
    cgroups.remove(names)
    _keep_logs(lab, site_id)
    shutil.rmtree(lab.paths.site_run(site_id), ignore_errors=True)
    if not keep_state:
        shutil.rmtree(lab.paths.host_state(site_id, "x").parent, ignore_errors=True)
    if not recorded_sites(lab):
        killed += _cleanup([CTL_NETNS], lab.paths.run)[0]
        if ns.netns_exists(CTL_NETNS):
            ns.delete_netns(CTL_NETNS)
            deleted += 1
    write_main_config(lab.paths)
    return DownResult((site_id,), killed, unmounted, deleted, time.monotonic() - t0)


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
    killed, unmounted, deleted = _cleanup(names, lab.paths.run)
    cgroups.remove(names)
    for site_id in sites:
        _keep_logs(lab, site_id)
        shutil.rmtree(lab.paths.site_run(site_id), ignore_errors=True)
    if not keep_state:
        shutil.rmtree(lab.paths.root / "hosts", ignore_errors=True)
    write_main_config(lab.paths)
    return DownResult(tuple(sites), killed, unmounted, deleted, time.monotonic() - t0)


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
