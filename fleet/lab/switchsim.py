"""The IOS switch simulator of the lab: fake-switches, plus what it lacks to play a Catalyst
access switch for ``fleet netdev``.

fake-switches (its own virtualenv, see :mod:`fleet.lab.build`) models VLANs and interfaces
(description, access/trunk VLANs, shutdown) and prints a running configuration in IOS's format.
Relais adds, in the launcher below (a *stand-in extension*, not IOS itself):

* ``end`` from any configuration level (fake-switches only knows ``exit``);
* ``hostname``, ``vtp mode``, ``ip default-gateway``, ``ntp server``, ``logging host``,
  ``snmp-server community|group|user`` and their ``no`` forms: stored and shown back verbatim,
  not interpreted — except ``snmp-server user``, which IOS never shows in its running
  configuration, and so neither does the simulator;
* IOS's volatile header lines (``! Last configuration change at ...`` with the real time of
  the last change, ``ntp clock-period ...`` while an NTP server is configured), so that the
  normalisation that drops them is proven on a live device.

:func:`start_simulators` runs several simulators on the loopback, one free port each (for the
netdev contract tests and ``bench/netdev.py``: no lab site needed); the lab site's switch uses
the same launcher (:data:`FAKE_SWITCH_LAUNCHER`, started by :mod:`fleet.lab.site`).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from fleet.errors import LabError
from fleet.lab.paths import LabPaths

FAKE_SWITCH_LAUNCHER = r'''
import os, sys, time, random
from fake_switches import switch_factory
from fake_switches.cisco.cisco_core import Cisco2960SwitchCore
from fake_switches.cisco.command_processor.config import ConfigCommandProcessor
from fake_switches.cisco.command_processor.config_interface import ConfigInterfaceCommandProcessor
from fake_switches.cisco.command_processor.config_vlan import ConfigVlanCommandProcessor
from fake_switches.cisco.command_processor.config_vrf import ConfigVRFCommandProcessor
from fake_switches.cisco.command_processor.enabled import EnabledCommandProcessor
from fake_switches.transports.ssh_service import SwitchSshService
from twisted.internet import reactor

# Relais additions (see fleet/lab/switchsim.py): global lines stored verbatim.
GLOBAL = ("vtp mode ", "ip default-gateway ", "ntp server ", "logging host ",
          "snmp-server community ", "snmp-server group ", "snmp-server user ")
HIDDEN = ("snmp-server user ",)  # IOS never shows SNMPv3 users


def _state(conf):
    if not hasattr(conf, "relais_globals"):
        conf.relais_globals = []
        conf.relais_changed = None
        conf.relais_clock = random.randint(17179000, 17179999)
    return conf


def _touch(conf):
    _state(conf).relais_changed = time.strftime("%H:%M:%S UTC %a %b %d %Y", time.gmtime())


class Config(ConfigCommandProcessor):
    def _store(self, line):
        conf = _state(self.switch_configuration)
        for prefix in GLOBAL:
            if line.startswith(prefix):
                single = prefix in ("vtp mode ", "ip default-gateway ")
                key = line if not prefix.startswith("snmp-server user") else " ".join(line.split()[:3])
                conf.relais_globals = [g for g in conf.relais_globals
                                       if not (g.startswith(prefix) if single else
                                               g == line or g.startswith(key + " "))]
                conf.relais_globals.append(line)
                _touch(conf)
                return True
        return False

    def _remove(self, line):
        conf = _state(self.switch_configuration)
        before = len(conf.relais_globals)
        conf.relais_globals = [g for g in conf.relais_globals if not (g == line or g.startswith(line + " "))]
        if len(conf.relais_globals) != before:
            _touch(conf)
        return any((line + " ").startswith(p) for p in GLOBAL)

    def parse_and_execute_command(self, line):
        words = line.strip()
        if words == "end":
            self.is_done = True
            return True
        if words.startswith("hostname "):
            self.switch_configuration.name = words.split()[1]
            _touch(_state(self.switch_configuration))
            return True
        if self._store(words):
            return True
        if words.startswith("no ") and self._remove(words[3:]):
            return True
        handled = super().parse_and_execute_command(line)
        if handled and words:
            _touch(_state(self.switch_configuration))
        return handled


class Enabled(EnabledCommandProcessor):
    def show_run(self):
        conf = _state(self.switch_configuration)
        shown = [g for g in conf.relais_globals if not g.startswith(HIDDEN)]
        lines = []
        real = self.write_line
        self.write_line = lines.append
        try:
            super().show_run()
        finally:
            self.write_line = real
        out = []
        for ln in lines:
            if ln.startswith("Current configuration"):
                out.append(ln)
                if conf.relais_changed:
                    out.append("! Last configuration change at %s by relais" % conf.relais_changed)
                continue
            if ln == "end":
                out += shown
                if any(g.startswith("ntp server ") for g in shown):
                    out.append("ntp clock-period %d" % conf.relais_clock)
                out.append("!")
            out.append(ln)
        for ln in out:
            real(ln)


class Core(Cisco2960SwitchCore):
    def new_command_processor(self):
        return Enabled(config=Config(config_vlan=ConfigVlanCommandProcessor(),
                                     config_vrf=ConfigVRFCommandProcessor(),
                                     config_interface=ConfigInterfaceCommandProcessor()))


pw = os.environ.pop("RELAIS_SWITCH_PASSWORD").encode()
user = os.environ.pop("RELAIS_SWITCH_USERNAME")
factory = switch_factory.SwitchFactory(mapping={"relais_ios": Core})
# the enable password is compared with the typed line (str); the SSH login takes bytes
core = factory.get("relais_ios", sys.argv[1], pw.decode())
_listen = reactor.listenTCP


def _announce(*args, **kwargs):
    port = _listen(*args, **kwargs)
    addr = port.getHost()
    print("relais-switchsim listening on %s:%d" % (addr.host, addr.port), flush=True)
    return port


reactor.listenTCP = _announce
SwitchSshService(ip=sys.argv[2], port=int(sys.argv[3]) if len(sys.argv) > 3 else 22,
                 switch_core=core, users={user: pw}).hook_to_reactor(reactor)
reactor.run()
'''


def launcher_argv(paths: LabPaths, name: str, ip: IPv4Address | str, port: int = 22,
                  netns: str | None = None) -> list[str]:
    """The command running one simulator (``port`` 0: any free port, announced on stdout)."""
    python = paths.fake_switches_venv / "bin" / "python"
    argv = [str(python), "-c", FAKE_SWITCH_LAUNCHER, name, str(ip), str(port)]
    return ["ip", "netns", "exec", netns, *argv] if netns else argv


def launcher_env(username: str, password: str) -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RELAIS_SWITCH_USERNAME": username,
            "RELAIS_SWITCH_PASSWORD": password}


@dataclass
class Simulators:
    """Several IOS simulators on this machine's loopback (``127.0.0.1``, one free port each):
    no namespace, no lab site, no root needed — only the fake-switches virtualenv."""

    host: str
    ports: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

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
) -> Simulators:
    """Start ``count`` simulators (hostnames ``names``, else ``sim-sw1``...) on ``host``;
    returns when every one listens (each announces its port)."""
    python = paths.fake_switches_venv / "bin" / "python"
    if not python.exists():
        raise LabError(f"{python} missing: run 'fleet lab build' (it builds fake-switches)")
    sims = Simulators(host)
    try:
        for i in range(1, count + 1):
            name = names[i - 1] if names else f"{prefix}{i}"
            proc = subprocess.Popen(launcher_argv(paths, name, host, 0), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    start_new_session=True, env=launcher_env(username, password))
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
