"""A host that goes away under an SSH connection ends the wait (fleet.sshproxy,
fleet.remote.base.read_command).

Found in the CI runs of 2026-12-01: a reboot's "does it answer again" probe connected through
the lab's ``ProxyCommand`` while the host went down, then waited for ever for its command to
start, and paramiko's reader spun on the ended proxy, one core per connection.  Here a real
SSH server (paramiko's, on loopback) and a real proxy (``nc``) play the host that goes away.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from paramiko.proxy import ProxyCommand

from fleet import sshproxy
from fleet.remote.base import probe
from fleet.remote.pyinfra_run import Target
from tests.listeners import stop

# --------------------------------------------------------------------------- the proxy's end --


def test_an_ended_proxy_reads_as_a_closed_connection() -> None:
    sshproxy.install()
    proxy = ProxyCommand("printf 'SSH-2.0-gone\\r\\n'")
    proxy.settimeout(5)
    assert proxy.recv(64) == b"SSH-2.0-gone\r\n"  # what it wrote, then it ended
    assert proxy.recv(64) == b""  # the end: paramiko's packetizer reads it as EOFError
    proxy.close()


def test_paramikos_own_read_never_sees_the_end() -> None:
    """The control: paramiko's read, as shipped, spins on the ended proxy until its timeout
    (without one, for ever)."""
    sshproxy.install()
    shipped = sshproxy.shipped_recv()
    assert shipped is not ProxyCommand.recv
    proxy = ProxyCommand("printf 'x'")
    proxy.settimeout(1)
    assert shipped(proxy, 1) == b"x"
    with pytest.raises(socket.timeout):  # the proxy had ended long before
        shipped(proxy, 64)
    proxy.close()


def test_install_twice_changes_nothing() -> None:
    sshproxy.install()
    first = ProxyCommand.recv
    sshproxy.install()
    assert ProxyCommand.recv is first


# ------------------------------------------------------------ a command that never starts --


@dataclass
class Server:
    port: int
    mode: str  # "answer", "stuck" (never replies to the command), "gone" (drops the connection)
    key: paramiko.Ed25519Key
    release: threading.Event
    transports: list[paramiko.Transport]


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        self.commands: list[bytes] = []

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if self.server.mode == "stuck":
            self.server.release.wait(60)  # the reply never comes while the test waits
            return False
        if self.server.mode == "gone":
            self.sock.shutdown(socket.SHUT_RDWR)  # the host went away: its end of the connection
            return False

        def answer() -> None:
            channel.sendall(b"boot-1\n")
            channel.send_exit_status(0)
            channel.close()

        threading.Timer(0.05, answer).start()
        return True


def _serve(server: Server, listener: socket.socket) -> None:
    while True:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        transport = paramiko.Transport(sock)
        server.transports.append(transport)
        transport.add_server_key(server.key)
        transport.start_server(server=_Interface(server, sock))


@pytest.fixture
def ssh_files(tmp_path: Path) -> Iterator[tuple[Path, Path, paramiko.Ed25519Key]]:
    if shutil.which("nc") is None:
        pytest.fail("nc missing: apt-get install netcat-openbsd (ci/apt-packages.txt)")
    client_key = tmp_path / "id_ed25519"
    host_key = paramiko.Ed25519Key.from_private_key_file(_keygen(tmp_path / "host"))
    Path(_keygen(client_key)).chmod(0o600)
    yield client_key, tmp_path, host_key


def _keygen(path: Path) -> str:
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def _start(mode: str, files: tuple[Path, Path, paramiko.Ed25519Key]
           ) -> tuple[Server, Target, tuple[socket.socket, threading.Thread]]:
    client_key, tmp, host_key = files
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    server = Server(listener.getsockname()[1], mode, host_key, threading.Event(), [])
    thread = threading.Thread(target=_serve, args=(server, listener), daemon=True)
    thread.start()
    known = tmp / "known_hosts"
    known.write_text(f"127.0.0.1 {host_key.get_name()} {host_key.get_base64()}\n")
    config = tmp / f"ssh_config_{mode}"
    # as the lab's SSH config: the host's address, reached through a proxy
    config.write_text("Host 127.0.0.1\n  User relais\n"
                      f"  ProxyCommand nc 127.0.0.1 {server.port}\n"
                      f"  UserKnownHostsFile {known}\n  IdentityFile {client_key}\n")
    return (server, Target(f"{mode}-host", "127.0.0.1", "relais", client_key, config, known),
            (listener, thread))


def _probe_in_thread(target: Target, timeout: float) -> dict[str, str | None]:
    """probe() in a thread, so that a regression hangs this test for a bounded time only."""
    found: dict[str, str | None] = {}
    worker = threading.Thread(target=lambda: found.update(probe([target], timeout=timeout)), daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "the probe still waits"
    return found


@pytest.mark.parametrize("mode", ["stuck", "gone"])
def test_a_probe_ends_when_the_host_goes_away(mode: str, ssh_files) -> None:  # type: ignore[no-untyped-def]
    # positive control: the same server, answering, is read through the same proxy and config
    control, target, listener = _start("answer", ssh_files)
    try:
        assert _probe_in_thread(target, 3) == {"answer-host": "boot-1"}
    finally:
        stop(*listener)
    # and the probe closed its connection (pyinfra's disconnect leaves it open)
    for transport in control.transports:
        transport.join(30)
        assert not transport.is_active()
    server, target, listener = _start(mode, ssh_files)
    try:
        assert _probe_in_thread(target, 3) == {f"{mode}-host": None}  # no answer, and no hang
    finally:
        server.release.set()
        stop(*listener)


def test_the_diagnostics_fabric_runner_gets_the_fix_by_its_import() -> None:
    """Installed once, when fleet.remote.pyinfra_run is imported: the diagnostics (fabric)
    import it too, in a fresh interpreter where nothing else installed it."""
    import subprocess
    import sys

    code = ("import fleet.remote.diag; from paramiko.proxy import ProxyCommand; "
            "print(getattr(ProxyCommand.recv, '_relais_eof_aware', False))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "True"
