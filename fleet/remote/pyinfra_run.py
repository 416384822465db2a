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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.inventory import Inventory
from pyinfra.api.operations import run_ops
from pyinfra.api.state import State

from fleet.errors import RemoteError


@dataclass(frozen=True, slots=True)
class Target:
    hostname: str
    address: str
    user: str = "relais"
    ssh_key: Path | None = None
    ssh_config: Path | None = None
    known_hosts: Path | None = None


@dataclass(frozen=True, slots=True)
class HostOutcome:
    hostname: str
    ok: bool
    message: str = ""


def _inventory(targets: Sequence[Target]) -> Inventory:
    hosts: list[tuple[str, dict[str, Any]]] = []
    for t in targets:
        data: dict[str, Any] = {"ssh_hostname": t.address, "ssh_user": t.user,
                                "ssh_strict_host_key_checking": "yes"}
        if t.known_hosts is not None:
            data["ssh_known_hosts_file"] = str(t.known_hosts)
        if t.ssh_key is not None:
            data["ssh_key"] = str(t.ssh_key)
        if t.ssh_config is not None:
            data["ssh_config_file"] = str(t.ssh_config)
        hosts.append((t.hostname, data))
    return Inventory((hosts, {}))  # type: ignore[no-untyped-call]


def run(targets: Sequence[Target], queue: Callable[[State], None],
        after: Callable[[State], dict[str, str]] | None = None) -> list[HostOutcome]:
    """Connect to ``targets``, let ``queue`` add operations, run them; ``after`` may read
    from the still-connected hosts (e.g. fetch files) and return per-host messages."""
    if not targets:
        return []
    config = Config(SUDO=True, CONNECT_TIMEOUT=15)  # type: ignore[no-untyped-call]
    state = State(_inventory(targets), config)
    try:
        connect_all(state)
        queue(state)
        run_ops(state)
        messages = after(state) if after is not None else {}
    except PyinfraError as exc:
        raise RemoteError(f"pyinfra: {exc}") from exc
    failed = {h.name for h in state.failed_hosts}
    active = {h.name for h in state.activated_hosts}
    out = []
    for t in targets:
        if t.hostname not in active:
            out.append(HostOutcome(t.hostname, False, "unreachable"))
        elif t.hostname in failed:
            out.append(HostOutcome(t.hostname, False, "operation failed"))
        else:
            out.append(HostOutcome(t.hostname, True, messages.get(t.hostname, "")))
    return out
