"""Each booted lab host in a cgroup of its own.

PID 1 here is not systemd, so ``systemd-nspawn --keep-unit`` runs a container in the cgroup it
was started in — the root — and every container's systemd made its units' cgroups in the same
tree (``/payload/system.slice/ssh.service``, ``.../systemd-user-sessions.service``, ...).  Hosts
booting and powering off at the same moment (the power schedule, the demo's night and opening)
then created and removed each other's unit cgroups: a unit failed with 219/CGROUP at random,
``systemd-user-sessions`` among them, which left ``/run/nologin`` and refused the relais
account's logins on a host that answered SNMP (the demo's "unreachable" PC after its wake).

So every booted node is started by :func:`wrap`: a shell moves itself into
``<hierarchy>/relais-lab/<name>`` (the ``name=systemd`` v1 hierarchy and the unified v2 one on
a hybrid machine, or the one v2 tree), then execs the node's command; nspawn puts the
container's ``payload`` and ``supervisor`` under it.  ``fleet lab down`` removes them
(:func:`remove`).  A machine where the cgroups cannot be written keeps the old behaviour (one
line on the node's log).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "relais-lab"


def hierarchies(root: Path = ROOT) -> list[Path]:
    """The cgroup trees a container's systemd writes: the one v2 tree, or on a hybrid machine
    the ``name=systemd`` v1 hierarchy and the unified v2 one."""
    if (root / "cgroup.controllers").is_file():
        return [root]
    return [h for h in (root / "systemd", root / "unified") if (h / "cgroup.procs").is_file()]


def wrap(argv: Sequence[str], name: str, root: Path = ROOT) -> list[str]:
    """``argv`` started in the cgroup ``relais-lab/<name>`` of every hierarchy."""
    dirs = [str(h / PARENT / name) for h in hierarchies(root)]
    script = ('for d in "$@"; do [ "$d" = -- ] && break; '
              'mkdir -p "$d" && echo $$ > "$d/cgroup.procs" '
              '|| echo "relais-lab: cannot use the cgroup $d" >&2; done; '
              'while [ "$1" != -- ]; do shift; done; shift; exec "$@"')
    return ["sh", "-c", script, "relais-lab-cgroup", *dirs, "--", *argv]


def remove(names: Iterable[str], root: Path = ROOT) -> int:
    """Remove the (empty) cgroups of these nodes, deepest first; how many were removed."""
    removed = 0
    for h in hierarchies(root):
        for name in names:
            top = h / PARENT / name
            if not top.is_dir():
                continue
            dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                          reverse=True)
            for d in [*dirs, top]:
                try:
                    d.rmdir()
                    removed += 1
                except OSError:
                    pass  # still has a process (being killed): the next down removes it
    return removed


__all__ = ["hierarchies", "remove", "wrap"]
