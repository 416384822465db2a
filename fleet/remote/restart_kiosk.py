"""``restart-kiosk`` (borne): restart the kiosk browser unit and check that it runs again: the
unit is active with a new main process, which exists.  Always a change (a restart is the
point)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import systemd

from fleet.inventory.models import DeviceKind
from fleet.remote.base import ActionSpec, Request, Result, fact, outcome_of, read_command
from fleet.remote.pyinfra_run import HostReport, run

UNIT = "relais-kiosk.service"

SPEC = ActionSpec(
    "restart-kiosk", frozenset({DeviceKind.BORNE}),
    "Restart the kiosk browser (relais-kiosk.service); check it runs again with a new process",
    idempotent="always restarts (changed)",
)


def _main(host: object, timeout: float) -> tuple[str, str, str]:
    """(ActiveState, MainPID, command name of MainPID) of the kiosk unit."""
    text = read_command(host, f"systemctl show -p ActiveState -p MainPID {UNIT}; "
                              f"ps -o comm= -p $(systemctl show -p MainPID --value {UNIT}) || true",
                        timeout) or ""
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    comm = next((ln.strip() for ln in text.splitlines() if "=" not in ln and ln.strip()), "")
    return props.get("ActiveState", ""), props.get("MainPID", "0"), comm


def perform(req: Request) -> list[Result]:
    before: dict[str, str] = {}

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
            seen = ("", "0", "")
            while time.monotonic() < deadline:
                seen = _main(host, req.timeout)
                active, pid, comm = seen
                if active == "active" and pid not in ("0", "", old) and comm:
                    out[host.name] = HostReport(
                        f"kiosk restarted: PID {old} -> {pid} ({comm}), running",
                        changed=True, data={"pid_before": old, "pid_after": pid, "process": comm})
                    break
                time.sleep(0.5)
            else:
                out[host.name] = HostReport(
                    f"the kiosk did not come back within {req.timeout:.0f} s "
                    f"(state {seen[0] or '?'}, PID {seen[1]})", ok=False, changed=True,
                    data={"pid_before": old, "pid_after": seen[1]})
        return out

    outcomes = run([req.target(d) for d in req.devices], queue, after, timeout=req.timeout)
    return [outcome_of(o, "kiosk restarted", "kiosk restarted") for o in outcomes]
