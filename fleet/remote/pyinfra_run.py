"""Running pyinfra operations from Python against a few hosts (shared by the remote actions).

One :class:`Target` per host; :func:`run` connects, queues the operations a callback adds,
runs them and returns one :class:`HostOutcome` per host (results, not exceptions: a host that
fails or cannot be reached is marked, the others go on).

Host keys are always checked (``StrictHostKeyChecking yes``): a host whose key is not in the
known_hosts file — the target's own, else the one its SSH config names (the lab writes its own,
see :mod:`fleet.lab.sshconf`), else ``~/.ssh/known_hosts`` — is unreachable, never trusted on
first sight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.inventory import Inventory
from pyinfra.api.operations import run_ops
from pyinfra.api.state import State
from pyinfra.connectors.sshuserclient import client as ssh_client

from fleet import sshproxy
from fleet.errors import RemoteError

sshproxy.install()  # a proxy that ends is a closed connection (lab hosts that reboot)

# A host that does not answer (asleep, booting) makes paramiko log a traceback per refused
# connection and pyinfra an "SSH error" line on the terminal; the outcome says it once, in words
# (`fleet act wake` printed both while it waited for a boot).
for _noisy in ("paramiko", "pyinfra"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class Target:
    hostname: str
    address: str
    user: str = "relais"
    ssh_key: Path | None = None
    ssh_config: Path | None = None
    known_hosts: Path | None = None


@dataclass(frozen=True, slots=True)
class OpResult:
    """What one pyinfra operation did on one host."""

    name: str
    changed: bool
    ok: bool
    output: str = ""


@dataclass(frozen=True, slots=True)
class HostReport:
    """What an ``after`` callback says about one host (richer than a message)."""

    message: str = ""
    ok: bool = True
    changed: bool | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HostOutcome:
    hostname: str
    ok: bool
    message: str = ""
    changed: bool | None = None
    """Something changed on the host (None: the caller's ``after`` did not say and no
    operation ran)."""
    data: Mapping[str, Any] = field(default_factory=dict)
    ops: tuple[OpResult, ...] = ()


def _inventory(targets: Sequence[Target], retries: int = 0) -> Inventory:
    hosts: list[tuple[str, dict[str, Any]]] = []
    for t in targets:
        # a connection dropped before SSH's banner (a remote site's link, a busy sshd) is
        # tried again, 1-3 s later, before the host is reported unreachable
        data: dict[str, Any] = {"ssh_hostname": t.address, "ssh_user": t.user,
                                "ssh_strict_host_key_checking": "yes",
                                "ssh_connect_retries": retries,
                                "ssh_connect_retry_min_delay": 1.0,
                                "ssh_connect_retry_max_delay": 3.0}
        if t.known_hosts is not None:
            data["ssh_known_hosts_file"] = str(t.known_hosts)
        if t.ssh_key is not None:
            data["ssh_key"] = str(t.ssh_key)
        if t.ssh_config is not None:
            data["ssh_config_file"] = str(t.ssh_config)
        hosts.append((t.hostname, data))
    return Inventory((hosts, {}))  # type: ignore[no-untyped-call]


def _ops(state: State, host: Any) -> tuple[OpResult, ...]:
    out = []
    for op_hash in state.get_op_order():  # type: ignore[no-untyped-call]
        data = state.ops.get(host, {}).get(op_hash)
        if data is None or not data.operation_meta.is_complete():
            continue
        meta = data.operation_meta
        names = sorted(state.get_op_meta(op_hash).names)
        output = "\n".join(meta.stdout_lines + meta.stderr_lines)
        out.append(OpResult(names[0] if names else op_hash, meta.did_change(), meta.did_succeed(),
                            output[-8000:]))
    return tuple(out)


def _forget_ssh_files() -> None:
    """pyinfra reads an SSH config (with its ``Include`` globs) and a known_hosts file once per
    process and keeps them: a long-lived process (the dashboard, ``fleet poll --daemon``, a test
    session) would go on with a stale copy after a site's files change — a site added to an
    ``Include``d folder unknown (no ProxyCommand: the connection went nowhere), a host's new
    key refused.  They are read again for each run (small files)."""
    for cached in (ssh_client.get_ssh_config, ssh_client.get_host_keys):
        getattr(cached, "cache", {}).clear()


def close_connection(host: Any) -> None:
    """Close a pyinfra host's SSH connection.  pyinfra's ``disconnect`` (3.10) leaves paramiko's
    client open: its connection, its reader thread and its proxy process stayed for the life of
    the process (the dashboard, the poller, a test session), one more per run."""
    client = getattr(getattr(host, "connector", None), "client", None)
    if client is not None:
        client.close()


NO_HOSTS_LEFT = "No hosts remaining"
CONNECT_RETRIES = 1
"""Connection retries of a run without a ``timeout`` (a quick probe gives up at once)."""
AfterFn = Callable[[State], Mapping[str, "str | HostReport"]]


def run(targets: Sequence[Target], queue: Callable[[State], None],
        after: AfterFn | None = None, *, timeout: float | None = None) -> list[HostOutcome]:
    """Connect to ``targets``, let ``queue`` add operations, run them; ``after`` may read
    from the still-connected hosts (e.g. fetch files) and return per-host messages or
    :class:`HostReport`.

    Each outcome also carries what every operation did on its host (``ops``: name, changed,
    ok, output), so an action can say "no change" honestly.  Every connection is closed when
    this returns.  ``timeout`` (seconds) bounds the SSH connection; commands are bounded by
    the operations' own ``_timeout``."""
    if not targets:
        return []
    _forget_ssh_files()
    connect = 15 if timeout is None else max(1, min(15, int(timeout)))
    config = Config(SUDO=True, CONNECT_TIMEOUT=connect)  # type: ignore[no-untyped-call]
    state = State(_inventory(targets, CONNECT_RETRIES if timeout is None else 0), config)
    try:
        try:
            connect_all(state)
            queue(state)
            run_ops(state)
        except PyinfraError as exc:
            # pyinfra gives up when its last host fails (to connect or in an operation): that
            # is a result per host here, not an error of the run
            if NO_HOSTS_LEFT not in str(exc):
                raise
        messages = after(state) if after is not None else {}
        ops = {h.name: _ops(state, h) for h in state.inventory}
    except PyinfraError as exc:
        raise RemoteError(f"pyinfra: {exc}") from exc
    finally:
        disconnect_all(state)
        for host in state.inventory:
            close_connection(host)
    failed = {h.name for h in state.failed_hosts}
    active = {h.name for h in state.activated_hosts}
    out = []
    for t in targets:
        done = ops.get(t.hostname, ())
        changed = any(o.changed for o in done) if done else None
        if t.hostname not in active:
            out.append(HostOutcome(t.hostname, False, "unreachable", None))
            continue
        if t.hostname in failed:
            bad = next((o for o in done if not o.ok), None)
            why = f"operation failed: {bad.name}: {bad.output.strip()[-300:]}" if bad else "operation failed"
            out.append(HostOutcome(t.hostname, False, why, changed, {}, done))
            continue
        said = messages.get(t.hostname, "")
        if isinstance(said, HostReport):
            out.append(HostOutcome(t.hostname, said.ok, said.message,
                                   changed if said.changed is None else said.changed,
                                   dict(said.data), done))
        else:
            out.append(HostOutcome(t.hostname, True, said, changed, {}, done))
    return out
