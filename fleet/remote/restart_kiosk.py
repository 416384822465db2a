"""``restart-kiosk`` (borne): restart the kiosk browser unit and check that it runs again, as
the deploy's check judges it (:mod:`fleet.checks.kiosk`: the unit active, a ``chromium``
descending from its main process), with a new main process.  Always a change (a restart is
the point)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import systemd

from fleet.checks.kiosk import QUERY, UNIT, KioskState, parse
from fleet.inventory.models import DeviceKind
from fleet.remote.base import ActionSpec, Request, Result, fact, outcome_of, read_command
from fleet.remote.pyinfra_run import HostReport, run

SPEC = ActionSpec(
    "restart-kiosk", frozenset({DeviceKind.BORNE}),
    "Restart the kiosk browser (relais-kiosk.service); check it runs again with a new process",
    idempotent="always restarts (changed)",
)


def _main(host: object, timeout: float, guest: str) -> KioskState:
    return parse(read_command(host, QUERY, timeout) or "", user=guest)


def perform(req: Request) -> list[Result]:
    before: dict[str, str] = {}
    guests = {d.hostname: d.guest_user for d in req.devices}

    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            before[host.name] = fact(host, f"systemctl show -p MainPID --value {UNIT}")
            add_op(state, systemd.service, name="Restart the kiosk", service=UNIT, running=True,
                   restarted=True, host=host, _timeout=req.op_timeout)

    def after(state: State) -> Mapping[str, str | HostReport]:
        out: dict[str, str | HostReport] = {}
        for host in state.inventory.get_active_hosts():
            old = before.get(host.name, "0")
            deadline = time.monotonic() + req.timeout
            seen = KioskState("", "0", "", "")
            while time.monotonic() < deadline:
                seen = _main(host, req.timeout, guests[host.name])
                pid = seen.main_pid
                if seen.running() and pid != old:
                    out[host.name] = HostReport(
                        f"kiosk restarted: PID {old} -> {pid} ({seen.main_name or '?'}), "
                        f"browser running (PID {seen.browser_pid})", changed=True,
                        data={"pid_before": old, "pid_after": pid, "process": seen.main_name,
                              "browser_pid": seen.browser_pid})
                    break
                time.sleep(0.5)
            else:
                new = seen.active == "active" and seen.main_pid not in ("0", "", old)
                why = ", no browser" if new else ""
                out[host.name] = HostReport(
                    f"the kiosk did not come back within {req.timeout:.0f} s "
                    f"(state {seen.active or '?'}, PID {seen.main_pid}{why})", ok=False,
                    changed=True, data={"pid_before": old, "pid_after": seen.main_pid})
        return out

    outcomes = run([req.target(d) for d in req.devices], queue, after, timeout=req.timeout)
    return [outcome_of(o, "kiosk restarted", "kiosk restarted") for o in outcomes]
