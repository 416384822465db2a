"""``reboot`` (public PC, borne): reboot, then wait until the host answers again in a new
boot (its boot id changed).

Refused while the site is open (opening hours, at the request's instant) and a guest session
is open on the host, unless ``--force`` (a permission of its own).  A borne always runs its
kiosk session: rebooting one while the site is open needs ``--force``.  Always a change."""

from __future__ import annotations

import time
from collections.abc import Mapping

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import server

from fleet.inventory.hours import is_open
from fleet.inventory.models import DeviceKind
from fleet.remote.base import (
    BOOT_ID,
    ActionSpec,
    Request,
    Result,
    fact,
    guest_sessions,
    wait_until,
)
from fleet.remote.pyinfra_run import HostReport, run

#: Leaves a moment for the SSH command to return before systemd starts the reboot.
REBOOT = "systemd-run --quiet --on-active=2 --timer-property=AccuracySec=100ms /usr/bin/systemctl reboot"

SPEC = ActionSpec(
    "reboot", frozenset({DeviceKind.PUBLIC_PC, DeviceKind.BORNE}),
    "Reboot and wait until the host answers again (refused while the site is open and a guest "
    "is on it, unless --force)",
    idempotent="always reboots (changed)",
)


def perform(req: Request) -> list[Result]:
    site_open = is_open(req.site, req.now)
    boots: dict[str, str] = {}
    refused: dict[str, str] = {}

    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            device = next(d for d in req.devices if d.hostname == host.name)
            user = device.guest_user
            sessions = guest_sessions(host, user)
            if site_open and sessions and not req.force:
                refused[host.name] = (f"refused: the site is open and {sessions} guest session(s) "
                                      "are open on it (use --force)")
                continue
            boots[host.name] = fact(host, BOOT_ID)
            add_op(state, server.shell, name="Reboot", commands=[REBOOT], host=host,
                   _timeout=req.op_timeout)

    def after(state: State) -> Mapping[str, str | HostReport]:
        return {h: HostReport(why, ok=True, changed=False) for h, why in refused.items()}

    targets = {d.hostname: req.target(d) for d in req.devices}
    started = time.monotonic()
    outcomes = run(list(targets.values()), queue, after, timeout=req.timeout)
    results: dict[str, Result] = {}
    waiting = []
    for o in outcomes:
        if o.hostname in refused:
            results[o.hostname] = Result(o.hostname, "refused", refused[o.hostname],
                                         {"site_open": site_open})
        elif not o.ok:
            results[o.hostname] = Result(o.hostname, "unreachable" if o.message == "unreachable"
                                         else "failed", o.message)
        else:
            waiting.append(targets[o.hostname])
    if waiting:
        last = wait_until(waiting, lambda h, b: b is not None and b != boots.get(h),
                          deadline=started + req.boot_timeout)
        for t in waiting:
            new, old = last.get(t.hostname), boots.get(t.hostname)
            took = time.monotonic() - started
            if new is not None and new != old:
                results[t.hostname] = Result(t.hostname, "changed",
                                             f"rebooted, answers again after {took:.0f} s",
                                             {"boot_id_before": old, "boot_id_after": new,
                                              "seconds": round(took, 1)})
            else:
                results[t.hostname] = Result(t.hostname, "failed",
                                             f"reboot asked, no answer in a new boot within "
                                             f"{req.boot_timeout:.0f} s", {"boot_id_before": old})
    return [results[d.hostname] for d in req.devices if d.hostname in results]
