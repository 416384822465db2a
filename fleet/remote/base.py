"""What every remote action shares: its description (:class:`ActionSpec`), what it is asked
(:class:`Request`), what it answers per device (:class:`Result`), how a device is reached
(:func:`target_for`), and the read-only probes several actions use (does the host answer,
which boot is it in, who is logged in).

An action module (``restart_kiosk.py``, ``wipe_now.py``...) holds one ``SPEC`` and one
``perform(request) -> list[Result]``; :mod:`fleet.remote.actions` lists them and
:mod:`fleet.remote.act` checks, runs and records them.  Read apart from write: the probes here
never change a device; each action's operations do, and say so ("no change" when none).
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from paramiko import SSHException
from pyinfra.api.state import State
from pyinfra.facts.server import Command

from fleet import settings
from fleet.errors import ConfigError
from fleet.inventory.models import Device, DeviceKind, Site
from fleet.lab.paths import LabPaths
from fleet.remote.pyinfra_run import HostOutcome, HostReport, Target, close_connection, run

Outcome = Literal["changed", "no_change", "failed", "refused", "unreachable"]
BOOT_ID = "cat /proc/sys/kernel/random/boot_id"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One remote action, as ``fleet act list`` shows it."""

    name: str
    kinds: frozenset[DeviceKind]
    summary: str
    confirm: bool = True
    """It disrupts what a guest is doing: asks for confirmation (``--yes`` skips it)."""
    argument: str | None = None
    """Name of its one argument (``restart-service NAME``), None when it takes none."""
    idempotent: str = ""
    """What a second run reports, for the docs and ``fleet act list``."""

    @property
    def permission(self) -> str:
        return f"act.{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"action": self.name, "kinds": sorted(k.value for k in self.kinds),
                "summary": self.summary, "argument": self.argument, "confirm": self.confirm,
                "second_run": self.idempotent}


@dataclass(frozen=True, slots=True)
class Request:
    """One action on one site's devices (all of the same action's kinds)."""

    action: str
    site: Site
    devices: tuple[Device, ...]
    now: datetime
    lab: bool = False
    argument: str | None = None
    force: bool = False
    wait: bool = True
    timeout: float = 120.0
    boot_timeout: float = 300.0
    state_dir: Path = Path("var")
    options: Mapping[str, Any] = field(default_factory=dict)
    """Extra inputs an action needs from its caller (e.g. the store for collect-connlog)."""

    def target(self, device: Device) -> Target:
        return target_for(device, self.lab)

    @property
    def op_timeout(self) -> int:
        """pyinfra's ``_timeout`` for each command (whole seconds)."""
        return max(1, int(self.timeout))


@dataclass(frozen=True, slots=True)
class Result:
    """What an action did on one device."""

    device: str
    outcome: Outcome
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in ("changed", "no_change")

    @property
    def changed(self) -> bool:
        return self.outcome == "changed"

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "outcome": self.outcome, "ok": self.ok,
                "message": self.message, "data": dict(self.data)}


# ------------------------------------------------------------------------------ reaching --


def lab_paths() -> LabPaths:
    return LabPaths(Path(settings.get("lab_root")))


def target_for(device: Device, lab: bool) -> Target:
    """How to reach a device over SSH; ``lab``: its copy in the lab (the lab's SSH config)."""
    user = device.admin_user
    if lab:
        paths = lab_paths()
        if not paths.site_ssh_config(device.site_id).is_file():
            raise ConfigError(f"--lab: the lab is not up for {device.site_id} "
                              f"({paths.site_ssh_config(device.site_id)} missing): run "
                              f"'fleet lab up {device.site_id}'")
        # the site's own config, not the lab's main one: that one only Includes the sites'
        # files, and paramiko (fabric, the diagnostics) does not follow Include
        return Target(device.hostname, str(device.ip), user, paths.ssh_key,
                      paths.site_ssh_config(device.site_id))
    return Target(device.hostname, str(device.ip), user)


def outcome_of(o: HostOutcome, changed: str, unchanged: str) -> Result:
    """A plain outcome as a Result: unreachable, failed, changed or not."""
    if not o.ok:
        kind: Outcome = "unreachable" if o.message == "unreachable" else "failed"
        return Result(o.hostname, kind, o.message, dict(o.data))
    if o.changed:
        return Result(o.hostname, "changed", o.message or changed, dict(o.data))
    return Result(o.hostname, "no_change", o.message or unchanged, dict(o.data))


# ----------------------------------------------------------------------- read-only probes --


READ_GRACE = 5.0
"""Seconds a read-only command may overrun its own timeout before its connection is closed."""


def read_command(host: Any, command: str, timeout: float) -> str | None:
    """Output of a read-only command on a connected pyinfra host (None when it failed).

    Bounded: pyinfra bounds the reading of the output, not the wait for the command to start.
    A host that goes away without a word (a link cut, a reboot the proxy did not report) would
    keep that wait for ever; past ``timeout`` and :data:`READ_GRACE`, the connection is closed,
    which ends the wait, and the host did not answer."""
    seconds = max(1.0, timeout)
    guard = threading.Timer(seconds + READ_GRACE, close_connection, (host,))
    guard.daemon = True
    guard.start()
    try:
        ok, out = host.run_shell_command(command, _timeout=int(seconds))
    except (SSHException, EOFError, OSError):  # closed, cut, or the output's timeout
        return None
    finally:
        guard.cancel()
    return "\n".join(out.stdout_lines).strip() if ok else None


def fact(host: Any, command: str) -> str:
    """A pyinfra ``Command`` fact (read when the operations are defined)."""
    value = host.get_fact(Command, command=command)
    return "" if value is None else str(value).strip()


def probe(targets: Sequence[Target], command: str = BOOT_ID,
          timeout: float = 10.0) -> dict[str, str | None]:
    """Run one read-only command on each target; None for a host that does not answer."""

    def after(state: State) -> Mapping[str, str | HostReport]:
        out: dict[str, str | HostReport] = {}
        for host in state.inventory.get_active_hosts():
            value = read_command(host, command, timeout)
            out[host.name] = HostReport(value or "", ok=value is not None)
        return out

    found: dict[str, str | None] = {}
    for o in run(targets, lambda _s: None, after, timeout=timeout):
        found[o.hostname] = o.message if o.ok else None
    return found


def wait_until(targets: Sequence[Target], done: Callable[[str, str | None], bool], *,
               deadline: float, interval: float = 1.0, timeout: float = 8.0, quick: float = 3.0,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep,
               prober: Callable[..., dict[str, str | None]] | None = None) -> dict[str, str | None]:
    """Probe the hosts' boot id until ``done(host, boot_id)`` holds for each or the deadline
    (``clock()`` seconds) passes; the last boot id seen per host (None: never answered).

    A host that is not up yet costs a probe its whole timeout (no answer to the connection),
    so two probes in three wait ``quick`` seconds and the third the full ``timeout``: a host
    that has just booted is seen within seconds, and a slow link still gets its full time."""
    ask = prober or probe
    last: dict[str, str | None] = {t.hostname: None for t in targets}
    pending = list(targets)
    tries = 0
    while pending:
        wait = timeout if tries % 3 == 2 else min(quick, timeout)
        tries += 1
        seen = ask(pending, timeout=wait)
        for t in list(pending):
            value = seen.get(t.hostname)
            if value is not None:
                last[t.hostname] = value
            if done(t.hostname, value):
                pending.remove(t)
        if not pending or clock() >= deadline:
            break
        sleep(interval)
    return last


def guest_sessions(host: Any, user: str) -> int:
    """How many logind sessions the guest account has open (active or online)."""
    # the name is passed as an awk variable: quoted into the program, ``$3 == guest`` compared
    # the column with an (empty) awk variable named guest, and no session was ever counted
    text = fact(host, f"loginctl list-sessions --no-legend 2>/dev/null "
                      f"| awk -v u={shlex.quote(user)} '$3 == u' | wc -l")
    try:
        return int(text or 0)
    except ValueError:
        return 0
