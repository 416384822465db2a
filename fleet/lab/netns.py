"""Network namespaces: create, list, enter (per thread), and find what lives in them.

``in_netns(name)`` moves the *current thread* into a lab namespace and back, so tests and the
monitoring code can poll lab SNMP agents in-process from a worker thread::

    with in_netns("relais-ctl"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # lives in relais-ctl
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import NetnsError
from fleet.lab.proc import run

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


def _setns(fd: int, nstype: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"setns failed: {os.strerror(err)}")


@contextmanager
def in_netns(name: str, netns_dir: Path = NETNS_DIR) -> Iterator[None]:
    """Run the body with the current thread inside network namespace ``name``.

    Network namespaces are per thread: other threads are unaffected.  Sockets created inside
    stay in that namespace after the block; the thread returns to its namespace on exit."""
    path = netns_dir / name
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise NetnsError(f"network namespace '{name}' does not exist (is the lab up?)") from exc
    origin = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, CLONE_NEWNET)
        try:
            yield
        finally:
            _setns(origin, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(origin)


def list_netns() -> list[str]:
    proc = run(["ip", "netns", "list"], what="ip netns list")
    return [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def add_netns(name: str) -> bool:
    """Create the namespace (loopback up); False when it already existed."""
    if netns_exists(name):
        return False
    run(["ip", "netns", "add", name], what=f"ip netns add {name}")
    run(["ip", "-n", name, "link", "set", "lo", "up"], what=f"{name}: lo up")
    return True


def delete_netns(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "delete", name], check=False)


def batch(netns: str | None, commands: list[str]) -> None:
    """Run many `ip` commands in one process (`ip -batch`), optionally in a namespace."""
    if not commands:
        return
    argv = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(argv, input="\n".join(commands) + "\n", what=f"ip ({netns or 'root'})")


def netns_inode(name: str) -> int | None:
    try:
        return (NETNS_DIR / name).stat().st_ino
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class ProcInfo:
    pid: int
    netns_inode: int
    ns_pid: int
    """The process's pid in its innermost pid namespace (1 = a container's init)."""
    cmdline: tuple[str, ...]


_NSPID = re.compile(r"^NSpid:\s+(.*)$", re.M)


def processes() -> list[ProcInfo]:
    """Every process of the machine with its network namespace and innermost pid."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            link = str((entry / "ns" / "net").readlink())
            status = (entry / "status").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        m = _NSPID.search(status)
        ns_pid = int(m.group(1).split()[-1]) if m else int(entry.name)
        inode = int(link.split("[", 1)[1].rstrip("]"))
        out.append(ProcInfo(int(entry.name), inode, ns_pid,
                            tuple(c.decode(errors="replace") for c in cmd if c)))
    return out


def processes_in(names: list[str], procs: list[ProcInfo] | None = None) -> list[ProcInfo]:
    """Processes living in any of these network namespaces."""
    inodes = {i for i in (netns_inode(n) for n in names) if i is not None}
    if not inodes:
        return []
    return [p for p in (procs if procs is not None else processes()) if p.netns_inode in inodes]


def container_init(netns_name: str, procs: list[ProcInfo]) -> int | None:
    """The pid (in this machine's pid namespace) of the init of the container living in a
    network namespace: the process that is pid 1 of its own pid namespace."""
    for p in processes_in([netns_name], procs):
        if p.ns_pid == 1 and p.pid != 1:
            return p.pid
    return None


def listening(pid: int, proto: str, port: int) -> bool:
    """Whether the network namespace of ``pid`` has a socket bound to ``port`` (tcp: LISTEN)."""
    for table in (proto, proto + "6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if int(local.rsplit(":", 1)[1], 16) == port and (proto == "udp" or state == "0A"):
                return True
    return False
