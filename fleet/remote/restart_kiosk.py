"""``restart-kiosk`` (borne): restart the kiosk browser unit and check that it runs again: the
unit is active with a new main process, and the browser (a ``chromium`` process) descends from
it (the main process is ``xinit`` on a borne with a screen: active alone, it does not say the
browser came up).  Always a change (a restart is the point)."""

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


BROWSER = "chromium"  # the process name the kiosk check looks for (fleet/checks/test_kiosk.py)


def _command() -> str:
    """What :func:`_main` asks: the unit's state and main process, then every process as
    ``proc PID PPID COMM`` (the main process's name is read there too).  The browser is found
    among the main process's descendants: with ``PAMName=login`` the unit's processes move to
    the guest's logind session scope, so neither the unit's control group nor ``ps``'s unit
    column holds them (seen on the lab borne)."""
    return (f"systemctl show -p ActiveState -p MainPID {UNIT}; "
            "ps -e -o pid=,ppid=,comm= | awk '{print \"proc\", $1, $2, $3}'")


def parse(text: str) -> tuple[str, str, str, str]:
    """(ActiveState, MainPID, command name of MainPID, PID of the browser or "") from the
    answer to :func:`_command`: the browser is the first :data:`BROWSER` process descending
    from the main process (the main process itself, headless)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    props = dict(line.split("=", 1) for line in lines if "=" in line)
    procs = [p[1:] for p in (ln.split() for ln in lines if ln.startswith("proc ")) if len(p) == 4]
    main = props.get("MainPID", "0")
    comm = next((name for pid, _, name in procs if pid == main), "")
    family = {main} if main not in ("", "0") else set()
    grown = True
    while grown:  # the main process's descendants, whatever the order ps lists them in
        grown = False
        for pid, ppid, _ in procs:
            if ppid in family and pid not in family:
                family.add(pid)
                grown = True
    browser = next((pid for pid, _, name in sorted(procs, key=lambda p: int(p[0]))
                    if pid in family and name == BROWSER), "")
    return props.get("ActiveState", ""), main, comm, browser


def _main(host: object, timeout: float) -> tuple[str, str, str, str]:
    return parse(read_command(host, _command(), timeout) or "")


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
            seen = ("", "0", "", "")
            while time.monotonic() < deadline:
                seen = _main(host, req.timeout)
                active, pid, comm, browser = seen
                if active == "active" and pid not in ("0", "", old) and comm and browser:
                    out[host.name] = HostReport(
                        f"kiosk restarted: PID {old} -> {pid} ({comm}), "
                        f"browser running (PID {browser})", changed=True,
                        data={"pid_before": old, "pid_after": pid, "process": comm,
                              "browser_pid": browser})
                    break
                time.sleep(0.5)
            else:
                why = "" if seen[0] != "active" or seen[1] in ("0", "", old) else ", no browser"
                out[host.name] = HostReport(
                    f"the kiosk did not come back within {req.timeout:.0f} s "
                    f"(state {seen[0] or '?'}, PID {seen[1]}{why})", ok=False, changed=True,
                    data={"pid_before": old, "pid_after": seen[1]})
        return out

    outcomes = run([req.target(d) for d in req.devices], queue, after, timeout=req.timeout)
    return [outcome_of(o, "kiosk restarted", "kiosk restarted") for o in outcomes]
