"""What "the borne's kiosk browser runs" means, once, for the deploy's and the audit's check
(``test_kiosk.py::test_kiosk_running``) and for the hotline's ``restart-kiosk``
(:mod:`fleet.remote.restart_kiosk`): the unit ``relais-kiosk.service`` is active, and a
``chromium`` process of the guest descends from its main process.

The main process is ``xinit`` on a borne with a screen (active alone, it does not say the
browser came up), the browser itself when headless.  The browser is searched among the main
process's descendants, not in the unit's control group: with ``PAMName=login`` the unit's
processes move to the guest's logind session scope (seen on the lab borne), so neither the
control group nor ``ps``'s unit column holds them.  A ``chromium`` of another tree (the hall
screen's, a guest's desktop) is not the kiosk's.

:data:`QUERY` is the shell command both ask; :func:`parse` reads its answer."""

from __future__ import annotations

from dataclasses import dataclass

UNIT = "relais-kiosk.service"
BROWSER = "chromium"

QUERY = (f"systemctl show -p ActiveState -p MainPID {UNIT}; "
         "ps -e -o pid=,ppid=,user:64=,comm= | awk '{print \"proc\", $1, $2, $3, $4}'")
"""The unit's state and main process, then every process as ``proc PID PPID USER COMM``."""


@dataclass(frozen=True, slots=True)
class KioskState:
    active: str
    """The unit's ActiveState ("" when unknown)."""
    main_pid: str
    """The unit's MainPID ("0": none)."""
    main_name: str
    """The main process's command name ("" when it is not in the process table)."""
    browser_pid: str
    """The first :data:`BROWSER` process of ``user`` descending from the main process, or ""."""

    def running(self) -> bool:
        return self.active == "active" and self.main_pid not in ("", "0") and bool(self.browser_pid)


def parse(text: str, user: str | None = None) -> KioskState:
    """The answer to :data:`QUERY` read; ``user``: the browser must run as this account (the
    site's guest), any account when ``None``."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    props = dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.startswith("proc "))
    procs = [p[1:] for p in (ln.split() for ln in lines if ln.startswith("proc ")) if len(p) == 5]
    main = props.get("MainPID", "0") or "0"
    name = next((comm for pid, _, _, comm in procs if pid == main), "")
    family = {main} if main != "0" else set()
    grown = True
    while grown:  # the main process's descendants, whatever the order ps lists them in
        grown = False
        for pid, ppid, _, _ in procs:
            if ppid in family and pid not in family:
                family.add(pid)
                grown = True
    browser = next((pid for pid, _, owner, comm in sorted(procs, key=lambda p: int(p[0]))
                    if pid in family and comm == BROWSER and user in (None, owner)), "")
    return KioskState(props.get("ActiveState", ""), main, name, browser)
