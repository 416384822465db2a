"""The lab switch: the fake-switches IOS simulator serving its CLI over SSH, with what it lacks
to play a Catalyst access switch for ``fleet netdev`` (see :mod:`fleet.lab.switchsim`).

Run by path with the interpreter of the simulator's own virtualenv, in isolated mode: by
``fleet lab up`` (:mod:`fleet.lab.up`) in the switch's network namespace, and by
:func:`fleet.lab.switchsim.start_simulators` on the loopback (tests, bench)::

    <lab_root>/tools/fake-switches/bin/python -I fake_switch.py NAME IP [PORT]

PORT 0 takes any free port; the port listened on is announced on stdout
(``relais-switchsim listening on IP:PORT``).  The login comes from the environment
(``RELAIS_SWITCH_USERNAME``, ``RELAIS_SWITCH_PASSWORD``), never from the command line, and is
removed from the environment once read.  With ``RELAIS_SWITCH_HOST_KEY`` (a private key file,
the lab's own for this switch, listed in the site's known_hosts) the SSH host key is that one,
not the one the simulator ships with (the same for every copy of it).
Imports only the simulator (fake_switches, Twisted): this file runs outside the ``fleet`` package.
"""
# mypy: ignore-errors
# ruff: noqa: S311, UP031
# (the simulator's classes are untyped; this program runs in the simulator's virtualenv)

import os
import random
import sys
import time

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




def _announce_ports(reactor):
    listen = reactor.listenTCP

    def announce(*args, **kwargs):
        port = listen(*args, **kwargs)
        addr = port.getHost()
        print("relais-switchsim listening on %s:%d" % (addr.host, addr.port), flush=True)
        return port

    reactor.listenTCP = announce


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: fake_switch.py HOSTNAME IP [PORT]\n")
        return 2
    hostname, ip = argv[0], argv[1]
    port = int(argv[2]) if len(argv) == 3 else 22
    password = os.environ.pop("RELAIS_SWITCH_PASSWORD")
    username = os.environ.pop("RELAIS_SWITCH_USERNAME")
    host_key_file = os.environ.pop("RELAIS_SWITCH_HOST_KEY", None)
    # the enable password is compared with the typed line (str); the SSH login takes bytes
    core = switch_factory.SwitchFactory(mapping={"relais_ios": Core}).get("relais_ios", hostname, password)
    _announce_ports(reactor)
    if host_key_file is None:
        SwitchSshService(ip=ip, port=port, switch_core=core,
                         users={username: password.encode()}).hook_to_reactor(reactor)
    else:
        from fake_switches.transports.ssh_service import SSHDemoRealm
        from twisted.conch.ssh import factory, keys
        from twisted.cred import checkers, portal

        host_key = keys.Key.fromFile(host_key_file)
        ssh = factory.SSHFactory()
        ssh.portal = portal.Portal(SSHDemoRealm(core))
        ssh.portal.registerChecker(
            checkers.InMemoryUsernamePasswordDatabaseDontUse(**{username: password.encode()}))
        ssh.publicKeys = {host_key.sshType(): host_key.public()}
        ssh.privateKeys = {host_key.sshType(): host_key}
        reactor.listenTCP(port=port, factory=ssh, interface=ip)
    reactor.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
