"""Running system commands for the lab, with errors a technician can act on."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from fleet.errors import LabError, MissingToolError, NotRootError

TOOLS_PACKAGES: Mapping[str, str] = MappingProxyType({
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "ip": "iproute2",
    "nc": "netcat-openbsd",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "dpkg-scanpackages": "dpkg-dev",
    "nsenter": "util-linux",
    "snmpget": "snmp",
    "apt-get": "apt",
})


def require_root() -> None:
    if os.geteuid() != 0:
        raise NotRootError("the lab needs root (network namespaces, mounts, systemd-nspawn): "
                           "run it with sudo")


def require_tools(*names: str) -> None:
    for name in names:
        if shutil.which(name) is None:
            pkg = TOOLS_PACKAGES.get(name, name)
            raise MissingToolError(f"'{name}' not found: install the Debian package '{pkg}'")


def run(
    cmd: Sequence[str | Path],
    *,
    input: str | None = None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600,
    what: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; on failure raise LabError with its last stderr line."""
    argv = [str(c) for c in cmd]
    try:
        proc = subprocess.run(
            argv, input=input, capture_output=True, text=True, check=False,
            env=dict(env) if env is not None else None, timeout=timeout, cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise MissingToolError(f"'{argv[0]}' not found: install it") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{what or argv[0]}: timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise LabError(f"{what or ' '.join(argv[:4])}: {last}")
    return proc
