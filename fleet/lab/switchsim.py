"""The IOS switch simulator of the lab: fake-switches, plus what it lacks to play a Catalyst
access switch for ``fleet netdev``.

fake-switches (its own virtualenv, see :mod:`fleet.lab.build`) models VLANs and interfaces
(description, access/trunk VLANs, shutdown) and prints a running configuration in IOS's format.
Relais adds, in :mod:`fleet.lab.programs.fake_switch` (a *stand-in extension*, not IOS itself):

* ``end`` from any configuration level (fake-switches only knows ``exit``);
* ``hostname``, ``vtp mode``, ``ip default-gateway``, ``ntp server``, ``logging host``,
  ``snmp-server community|group|user`` and their ``no`` forms: stored and shown back verbatim,
  not interpreted — except ``snmp-server user``, which IOS never shows in its running
  configuration, and so neither does the simulator;
* IOS's volatile header lines (``! Last configuration change at ...`` with the real time of
  the last change, ``ntp clock-period ...`` while an NTP server is configured), so that the
  normalisation that drops them is proven on a live device.

:func:`start_simulators` runs several simulators on the loopback, one free port each (for the
netdev contract tests and ``bench/netdev.py``: no lab site needed), with the SSH host key it is
given (:meth:`Simulators.known_hosts` lists it for their addresses: netdev checks host keys);
the lab site's switch uses the same program (started by :mod:`fleet.lab.up`, with the lab's SSH
host key for that switch, written in the site's known_hosts).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from fleet.errors import LabError
from fleet.lab.hostconf import ssh_host_key
from fleet.lab.paths import LabPaths
from fleet.lab.programs import program


def launcher_argv(paths: LabPaths, name: str, ip: IPv4Address | str, port: int = 22,
                  netns: str | None = None) -> list[str]:
    """The command running one simulator (``port`` 0: any free port, announced on stdout)."""
    python = paths.fake_switches_venv / "bin" / "python"
    argv = [str(python), "-I", str(program("fake_switch")), name, str(ip), str(port)]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def launcher_env(username: str, password: str, host_key: Path | None = None) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RELAIS_SWITCH_USERNAME": username,
           "RELAIS_SWITCH_PASSWORD": password}
    if host_key is not None:
        env["RELAIS_SWITCH_HOST_KEY"] = str(host_key)
    return env


@dataclass
class Simulators:
    """Several IOS simulators on this machine's loopback (``127.0.0.1``, one free port each):
    no namespace, no lab site, no root needed — only the fake-switches virtualenv."""

    host: str
    ports: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    public_key: str = ""
    """Their SSH host key's public half (``ssh-ed25519 AAAA...``), the same for all."""

    def known_hosts(self, addresses: Sequence[str] | None = None) -> str:
        """known_hosts lines giving their host key: for ``addresses`` (port 22: what a client
        whose connector maps addresses to the simulators looks up), else for each simulator's
        own ``[host]:port``."""
        keys = addresses if addresses is not None else [f"[{self.host}]:{p}" for p in self.ports]
        return "".join(f"{k} {self.public_key}\n" for k in keys)

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> Simulators:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


ANNOUNCE = re.compile(rb"relais-switchsim listening on ([0-9.]+):(\d+)")


def start_simulators(
    paths: LabPaths,
    count: int,
    *,
    username: str,
    password: str,
    host: str = "127.0.0.1",
    timeout: float = 60.0,
    prefix: str = "sim-sw",
    names: list[str] | None = None,
    host_key: Path,
) -> Simulators:
    """Start ``count`` simulators (hostnames ``names``, else ``sim-sw1``...) on ``host``, with
    the SSH host key ``host_key`` (an ed25519 private key file, made when missing; never the one
    the simulator ships with, the same for every copy of it); returns when every one listens
    (each announces its port)."""
    python = paths.fake_switches_venv / "bin" / "python"
    if not python.exists():
        raise LabError(f"{python} missing: run 'fleet lab build' (it builds fake-switches)")
    sims = Simulators(host, public_key=ssh_host_key(host_key, "relais-switchsim"))
    try:
        for i in range(1, count + 1):
            name = names[i - 1] if names else f"{prefix}{i}"
            proc = subprocess.Popen(launcher_argv(paths, name, host, 0), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    start_new_session=True,
                                    env=launcher_env(username, password, host_key))
            sims.procs.append(proc)
            sims.names.append(name)
        deadline = time.monotonic() + timeout
        for proc in sims.procs:
            assert proc.stdout is not None
            buf = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabError(f"IOS simulator not listening after {timeout:.0f} s")
                ready, _, _ = select.select([proc.stdout], [], [], left)
                chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
                if ready and not chunk:
                    raise LabError(f"IOS simulator exited while starting (status {proc.poll()})")
                buf += chunk
                m = ANNOUNCE.search(buf)
                if m:
                    sims.ports.append(int(m.group(2)))
                    break
    except BaseException:
        sims.stop()
        raise
    return sims
