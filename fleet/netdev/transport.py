"""The netmiko boundary: open a CLI session, and turn netmiko's and paramiko's exceptions into
one :class:`~fleet.errors.NetdevError` with a one-line message and a short ``reason``.

What varies is injected: the :data:`Connector` makes the TCP connection (``direct`` for the real
network; :func:`in_namespace` opens it inside the lab controller's network namespace, so
``--lab`` reaches the lab copy of a site; tests connect to a local stand-in), and
:class:`Timeouts` bounds every wait.  Nothing here knows a vendor: drivers
(:mod:`fleet.netdev.drivers`) say which netmiko class to use and how to push.

Reasons: ``timeout`` (no TCP answer, no SSH banner, no answer to a command), ``refused``,
``unreachable``, ``auth`` (login or enable refused), ``prompt`` (the device never showed a
prompt netmiko recognises), ``connection_lost`` (dropped mid-session), ``rejected`` (the device
refused a configuration line), ``ssh`` (another SSH failure).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] if text else exc.__class__.__name__


@contextmanager
def translated(endpoint: Endpoint, action: str) -> Iterator[None]:
    """Run a block talking to the device; third-party exceptions become NetdevError."""
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
    except NetmikoTimeoutException as exc:
        raise NetdevError(f"{who}: timeout while {action} ({_first_line(exc)})",
                          reason="timeout") from exc
    except ConnectionRefusedError as exc:
        raise NetdevError(f"{who}: connection refused (no SSH server on port {endpoint.port})",
                          reason="refused") from exc
    except TimeoutError as exc:
        raise NetdevError(f"{who}: timeout while {action} (no answer)", reason="timeout") from exc
    except paramiko.SSHException as exc:
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


def open_netmiko(
    endpoint: Endpoint,
    device_type: str,
    connector: Connector,
    timeouts: Timeouts,
    **extra: Any,
) -> Any:
    """A connected netmiko session (``ConnectHandler``) over a socket from ``connector``."""
    from netmiko import ConnectHandler

    with translated(endpoint, "connecting"):
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
                read_timeout_override=timeouts.every_read,
                **extra,
            )
        except BaseException:
            sock.close()
            raise
