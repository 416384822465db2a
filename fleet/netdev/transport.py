"""The netmiko boundary: open a CLI session, and turn netmiko's and paramiko's exceptions into
one :class:`~fleet.errors.NetdevError` with a one-line message and a short ``reason``.

What varies is injected: the :data:`Connector` makes the TCP connection (``direct`` for the real
network; :func:`in_namespace` opens it inside the lab controller's network namespace, so
``--lab`` reaches the lab copy of a site; tests connect to a local stand-in), and
:class:`Timeouts` bounds every wait.  Nothing here knows a vendor: drivers
(:mod:`fleet.netdev.drivers`) say which netmiko class to use and how to push.

Host keys are always checked (:class:`HostKeys`), as every other SSH path of Relais does: a
device whose SSH host key is not in the known_hosts file — the one given, else the one the SSH
config names for the device (``UserKnownHostsFile``; the lab writes its own per site, see
:mod:`fleet.lab.sshconf`), else ``~/.ssh/known_hosts`` — is refused before logging in, never
trusted on first sight; a key that differs from the known one is refused too.  Nothing is sent
to such a device, not even the login.

Reasons: ``timeout`` (no TCP answer, no SSH banner, no answer to a command), ``refused``,
``unreachable``, ``host_key_unknown`` (the device's SSH host key is not in the known_hosts
file), ``host_key_changed`` (it differs from the one there), ``auth`` (login or enable refused),
``prompt`` (the device never showed a prompt netmiko recognises), ``connection_lost`` (dropped
mid-session), ``rejected`` (the device refused a configuration line), ``ssh`` (another SSH
failure).
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.errors import NetdevError

Connector = Callable[[str, int, float], socket.socket]
"""(host, port, timeout) → a connected TCP socket."""


def direct(host: str, port: int, timeout: float) -> socket.socket:
    """The real network: a plain TCP connection from this machine."""
    return socket.create_connection((host, port), timeout=timeout)


def in_namespace(netns: str) -> Connector:
    """Connections made inside a network namespace (the lab controller ``relais-ctl``): only
    the calling thread enters it, and only while the socket is created."""
    from fleet.lab.netns import in_netns

    def connect(host: str, port: int, timeout: float) -> socket.socket:
        with in_netns(netns):
            return socket.create_connection((host, port), timeout=timeout)

    return connect


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    banner: float = 15.0
    auth: float = 15.0
    read: float = 60.0
    """Longest wait for one command's answer (a long running configuration included)."""
    every_read: float | None = None
    """Caps *every* wait of netmiko for a prompt, its own internal ones included (netmiko's
    ``read_timeout_override``): a device that never shows a prompt then fails in seconds
    rather than netmiko's 20 s per attempt.  Unset by default."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and as whom: a device's CLI."""

    hostname: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    secret: str = field(repr=False, default="")

    @property
    def label(self) -> str:
        return f"{self.hostname} ({self.host}:{self.port})"


USER_KNOWN_HOSTS = "~/.ssh/known_hosts"


@dataclass(frozen=True, slots=True)
class HostKeys:
    """Where a device's SSH host key must already be: ``known_hosts`` when given; else the
    ``UserKnownHostsFile`` that ``ssh_config`` names for the device (looked up by its hostname,
    then its address; ``Include`` followed; the first file when several are named); else
    ``~/.ssh/known_hosts``.  An entry is keyed as OpenSSH writes it: the address, or
    ``[address]:port`` when the port is not 22; hashed entries are understood.  The check is
    strict whatever the SSH config says (``StrictHostKeyChecking no`` is not obeyed)."""

    known_hosts: Path | None = None
    ssh_config: Path | None = None

    def file_for(self, endpoint: Endpoint) -> Path:
        if self.known_hosts is not None:
            return self.known_hosts
        if self.ssh_config is not None:
            named = known_hosts_named(self.ssh_config, endpoint.hostname, endpoint.host)
            if named is not None:
                return named
        return Path(USER_KNOWN_HOSTS).expanduser()


def _config_text(path: Path, depth: int = 0) -> str:
    """An OpenSSH client config with its ``Include`` lines replaced by the included files
    (globs, ``~``; a relative path is under ``~/.ssh``, as OpenSSH reads a user's config)."""
    lines: list[str] = []
    for line in path.read_text("utf-8").splitlines():
        words = line.replace("=", " ", 1).split(None, 1)
        if len(words) == 2 and words[0].lower() == "include" and depth < 16:
            for pattern in shlex.split(words[1]):
                full = Path(pattern).expanduser()
                if not full.is_absolute():
                    full = Path("~/.ssh").expanduser() / full
                root = Path(full.anchor)
                for found in sorted(root.glob(str(full.relative_to(root)))):
                    if found.is_file():
                        lines.append(_config_text(found, depth + 1))
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def known_hosts_named(ssh_config: Path, *names: str) -> Path | None:
    """The ``UserKnownHostsFile`` an OpenSSH client config gives the first of ``names`` that
    has one (None: none does, or the config does not exist)."""
    import paramiko

    if not ssh_config.is_file():
        return None
    config = paramiko.SSHConfig.from_text(_config_text(ssh_config))
    for name in names:
        value = config.lookup(name).get("userknownhostsfile")
        files = shlex.split(str(value)) if value else []
        if files and files[0].lower() != "none":
            return Path(files[0]).expanduser()
    return None


def _host_key_problem(exc: BaseException) -> str | None:
    """``changed``, ``unknown`` or None: what paramiko said of the device's host key, through
    netmiko's wrapping (netmiko re-raises paramiko's exception as its own timeout)."""
    import paramiko

    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, paramiko.BadHostKeyException):
            return "changed"
        text = str(seen)
        if isinstance(seen, paramiko.SSHException) and "not found in known_hosts" in text:
            return "unknown"
        if isinstance(seen, paramiko.SSHException) and "Host key for server" in text \
                and "does not match" in text:
            return "changed"
        seen = seen.__cause__ or seen.__context__
    return None


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else exc.__class__.__name__


def _host_key_error(who: str, problem: str, known_hosts: Path | None) -> NetdevError:
    where = str(known_hosts) if known_hosts is not None else "the known_hosts file"
    if problem == "changed":
        return NetdevError(f"{who}: SSH host key changed: the device's key differs from the one "
                           f"in {where} (device replaced, or someone in the middle); refused, "
                           "nothing was sent to it", reason="host_key_changed")
    missing = "" if known_hosts is None or known_hosts.is_file() else " (the file does not exist)"
    return NetdevError(f"{who}: SSH host key unknown: the device's key is not in {where}{missing}; "
                       "refused, never trusted on first sight, nothing was sent to it (check the "
                       "key, then add it to that file)", reason="host_key_unknown")


@contextmanager
def translated(endpoint: Endpoint, action: str, known_hosts: Path | None = None) -> Iterator[None]:
    """Run a block talking to the device; third-party exceptions become NetdevError
    (``known_hosts``: the file the host key was checked against, named in the message)."""
    import paramiko
    from netmiko.exceptions import (
        NetmikoAuthenticationException,
        NetmikoTimeoutException,
        ReadTimeout,
    )

    who = endpoint.label
    try:
        yield
    except NetdevError:
        raise
    except (NetmikoAuthenticationException, paramiko.AuthenticationException) as exc:
        raise NetdevError(f"{who}: authentication refused for user {endpoint.username!r} "
                          f"while {action}", reason="auth") from exc
    except ReadTimeout as exc:
        raise NetdevError(f"{who}: no prompt while {action}: the device did not answer with a "
                          "prompt the driver recognises (wrong platform, or device busy)",
                          reason="prompt") from exc
    except NetmikoTimeoutException as exc:  # netmiko's wrapping of paramiko's host key refusal too
        problem = _host_key_problem(exc)
        if problem is not None:
            raise _host_key_error(who, problem, known_hosts) from exc
        raise NetdevError(f"{who}: timeout while {action} ({_first_line(exc)})",
                          reason="timeout") from exc
    except ConnectionRefusedError as exc:
        raise NetdevError(f"{who}: connection refused (no SSH server on port {endpoint.port})",
                          reason="refused") from exc
    except TimeoutError as exc:
        raise NetdevError(f"{who}: timeout while {action} (no answer)", reason="timeout") from exc
    except paramiko.SSHException as exc:
        problem = _host_key_problem(exc)
        if problem is not None:
            raise _host_key_error(who, problem, known_hosts) from exc
        text = _first_line(exc)
        if "banner" in text.lower():
            raise NetdevError(f"{who}: timeout while {action}: no SSH banner from the device",
                              reason="timeout") from exc
        if any(w in text.lower() for w in ("not open", "closed", "eof", "not active", "reset")):
            raise NetdevError(f"{who}: connection lost while {action}",
                              reason="connection_lost") from exc
        raise NetdevError(f"{who}: SSH error while {action}: {text}", reason="ssh") from exc
    except ValueError as exc:
        text = _first_line(exc)
        low = text.lower()
        if "prompt" in low or "configuration mode" in low:
            raise NetdevError(f"{who}: no prompt while {action} ({text})", reason="prompt") from exc
        if "enable mode" in low:
            raise NetdevError(f"{who}: enable refused while {action}: check the enable secret "
                              "(netdev_secret)", reason="auth") from exc
        raise
    except (EOFError, BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
        raise NetdevError(f"{who}: connection lost while {action}",
                          reason="connection_lost") from exc
    except OSError as exc:
        if exc.errno is None or exc.errno in (9, 32, 104, 107):  # closed socket, EPIPE, ECONNRESET
            raise NetdevError(f"{who}: connection lost while {action}",
                              reason="connection_lost") from exc
        raise NetdevError(f"{who}: unreachable while {action} ({_first_line(exc)})",
                          reason="unreachable") from exc


def known_hosts_for(endpoint: Endpoint, host_keys: HostKeys) -> Path:
    """The known_hosts file ``endpoint``'s host key is checked against, read once to find a
    broken file before connecting (one line naming it, never a traceback)."""
    import paramiko

    try:
        path = host_keys.file_for(endpoint)
    except (OSError, UnicodeDecodeError, ValueError, paramiko.SSHException) as exc:
        raise NetdevError(f"{endpoint.label}: cannot read the SSH config {host_keys.ssh_config}: "
                          f"{_first_line(exc)}", reason="host_key_unknown") from exc
    if path.is_file():
        try:
            paramiko.HostKeys(str(path))
        except Exception as exc:  # third-party boundary: paramiko's InvalidHostKey, OSError...
            raise NetdevError(f"{endpoint.label}: cannot read the known_hosts file {path}: "
                              f"{_first_line(exc)}", reason="host_key_unknown") from exc
    return path


def open_netmiko(
    endpoint: Endpoint,
    device_type: str,
    connector: Connector,
    timeouts: Timeouts,
    host_keys: HostKeys,
    **extra: Any,
) -> Any:
    """A connected netmiko session (``ConnectHandler``) over a socket from ``connector``; the
    device's SSH host key must be in the known_hosts file ``host_keys`` gives for it, else
    :class:`~fleet.errors.NetdevError` (``host_key_unknown``, ``host_key_changed``) before the
    login is sent."""
    from netmiko import ConnectHandler

    known_hosts = known_hosts_for(endpoint, host_keys)
    with translated(endpoint, "connecting", known_hosts):
        sock = connector(endpoint.host, endpoint.port, timeouts.connect)
        try:
            sock.settimeout(None)
            return ConnectHandler(
                device_type=device_type,
                host=endpoint.host,
                port=endpoint.port,
                username=endpoint.username,
                password=endpoint.password,
                secret=endpoint.secret or endpoint.password,
                sock=sock,
                conn_timeout=timeouts.connect,
                banner_timeout=timeouts.banner,
                auth_timeout=timeouts.auth,
                allow_agent=False,
                use_keys=False,
                # paramiko's RejectPolicy: an unknown key is refused, a changed one too
                # (netmiko's default, ssh_strict=False, trusts any key: AutoAddPolicy)
                ssh_strict=True,
                system_host_keys=False,
                alt_host_keys=True,
                alt_key_file=str(known_hosts),
                read_timeout_override=timeouts.every_read,
                **extra,
            )
        except BaseException:
            sock.close()
            raise
