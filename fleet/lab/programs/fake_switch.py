"""The lab switch: the fake-switches IOS simulator serving its CLI over SSH on one address.

Run by ``fleet lab up`` (:mod:`fleet.lab.up`) in the switch's network namespace with the
interpreter of the simulator's own virtualenv, in isolated mode, by path::

    ip netns exec relais-<switch> <lab_root>/tools/fake-switches/bin/python -I fake_switch.py NAME IP

The login comes from the environment (``RELAIS_SWITCH_USERNAME``, ``RELAIS_SWITCH_PASSWORD``),
never from the command line, and is removed from the environment once read.  The SSH host key
is the lab's own for this switch (``RELAIS_SWITCH_HOST_KEY``, a private key file, listed in the
site's known_hosts), not the one the simulator ships with (the same for every copy of it).
Imports only the simulator (fake_switches, Twisted): this file runs outside the ``fleet`` package.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: fake_switch.py HOSTNAME IP\n")
        return 2
    hostname, ip = argv
    from fake_switches import switch_factory
    from fake_switches.transports.ssh_service import SSHDemoRealm
    from twisted.conch.ssh import factory, keys
    from twisted.cred import checkers, portal
    from twisted.internet import reactor

    password = os.environ.pop("RELAIS_SWITCH_PASSWORD")
    username = os.environ.pop("RELAIS_SWITCH_USERNAME")
    host_key = keys.Key.fromFile(os.environ.pop("RELAIS_SWITCH_HOST_KEY"))
    # the enable password is compared with the typed line (str); the SSH login takes bytes
    core = switch_factory.SwitchFactory().get("cisco_generic", hostname, password)
    ssh = factory.SSHFactory()
    ssh.portal = portal.Portal(SSHDemoRealm(core))
    ssh.portal.registerChecker(
        checkers.InMemoryUsernamePasswordDatabaseDontUse(**{username: password.encode()}))
    ssh.publicKeys = {host_key.sshType(): host_key.public()}
    ssh.privateKeys = {host_key.sshType(): host_key}
    reactor.listenTCP(port=22, factory=ssh, interface=ip)
    reactor.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
