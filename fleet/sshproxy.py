"""paramiko's ``ProxyCommand``: a proxy that has ended is a closed connection.

The SSH of Relais through paramiko (pyinfra's remote actions, fabric's diagnostics) follows
the SSH config's ``ProxyCommand`` when it has one — the lab's
always does (``ip netns exec relais-ctl nc %h %p``), and so may a site reached through a
bastion.  paramiko (4.0 and 5.1 alike) reads the proxy's output in a loop that ends only when
it has all the bytes it asked for: when the proxy exits (the host rebooted, powered off, its
sshd closed the connection), ``os.read`` returns ``b""`` for ever and the loop spins.  Found
in the lab's CI runs of 2026-12-01:

* a reboot's "does it answer again" probe waited for ever for an answer to its command on a
  connection whose host had gone (``Channel.exec_command`` waits for an event that only the
  connection's end sets, and the end was never seen): the suite never finished;
* each such connection's reader thread took one whole core, on a machine that has two.

:func:`install` makes the read return what it has at the end of the proxy's output, as a
socket does; paramiko's packetizer takes an empty read as the connection closed
(``EOFError``), ends the transport and wakes whoever waits on its channels.  It is installed
once, when ``fleet.remote.pyinfra_run`` is imported: every paramiko user of ``fleet.remote``
imports it (the diagnostics' fabric runner too); netmiko's switches get a socket of Relais's
own (``fleet.netdev.transport``).  Installing it twice changes nothing.
"""

from __future__ import annotations

import os
import time
from select import select
from typing import Any

_MARK = "_relais_eof_aware"
_SHIPPED = "_relais_shipped_recv"


def _recv(self: Any, size: int) -> bytes:
    """``ProxyCommand.recv`` as paramiko has it, but an empty read (the proxy's output closed)
    returns what was read so far instead of reading again."""
    from paramiko.ssh_exception import ProxyCommandFailure

    buffer = b""
    start = time.time()
    try:
        while len(buffer) < size:
            select_timeout = None
            if self.timeout is not None:
                elapsed = time.time() - start
                if elapsed >= self.timeout:
                    raise TimeoutError()
                select_timeout = self.timeout - elapsed
            ready, _, _ = select([self.process.stdout], [], [], select_timeout)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), size - len(buffer))
                if not chunk:
                    return buffer  # the proxy ended: b"" is the packetizer's EOF
                buffer += chunk
        return buffer
    except TimeoutError:
        if buffer:
            return buffer
        raise
    except OSError as exc:
        raise ProxyCommandFailure(" ".join(self.cmd), exc.strerror or str(exc)) from exc


def install() -> None:
    """Make paramiko's ``ProxyCommand`` see its proxy's end (idempotent)."""
    from paramiko.proxy import ProxyCommand

    if not getattr(ProxyCommand.recv, _MARK, False):
        setattr(ProxyCommand, _SHIPPED, ProxyCommand.recv)
        setattr(_recv, _MARK, True)
        ProxyCommand.recv = _recv  # type: ignore[method-assign]


def shipped_recv() -> Any:
    """paramiko's own ``ProxyCommand.recv`` (the tests' control)."""
    from paramiko.proxy import ProxyCommand

    return getattr(ProxyCommand, _SHIPPED, ProxyCommand.recv)
