"""``clear-print-queue`` (public PC): cancel every CUPS job (and purge its files), report how
many.  An empty queue is left alone: "no change"."""

from __future__ import annotations

from collections.abc import Mapping

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import server

from fleet.inventory.models import DeviceKind
from fleet.remote.base import ActionSpec, Request, Result, fact, outcome_of, read_command
from fleet.remote.pyinfra_run import HostReport, run

COUNT = "lpstat -o 2>/dev/null | wc -l"

SPEC = ActionSpec(
    "clear-print-queue", frozenset({DeviceKind.PUBLIC_PC}),
    "Cancel every print job waiting in the PC's CUPS queue; say how many",
    idempotent="empty queue: no change",
)


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def perform(req: Request) -> list[Result]:
    jobs: dict[str, int | None] = {}

    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            if not fact(host, "command -v lpstat || true"):
                jobs[host.name] = None
                continue
            jobs[host.name] = n = _int(fact(host, COUNT)) or 0
            if n:
                add_op(state, server.shell, name="Cancel every print job",
                       commands=["cancel -a -x"], host=host, _timeout=req.op_timeout)

    def after(state: State) -> Mapping[str, str | HostReport]:
        out: dict[str, str | HostReport] = {}
        for host in state.inventory.get_active_hosts():
            n = jobs.get(host.name)
            if n is None:
                out[host.name] = HostReport("CUPS is not installed on this PC", ok=False, changed=False)
                continue
            left = _int(read_command(host, COUNT, req.timeout))
            if left:
                out[host.name] = HostReport(f"{left} job(s) still in the queue after cancelling {n}",
                                            ok=False, changed=bool(n), data={"cancelled": n, "left": left})
            elif n:
                out[host.name] = HostReport(f"{n} job(s) cancelled, the queue is empty", changed=True,
                                            data={"cancelled": n, "left": 0})
            else:
                out[host.name] = HostReport("the queue was already empty", changed=False,
                                            data={"cancelled": 0, "left": 0})
        return out

    outcomes = run([req.target(d) for d in req.devices], queue, after, timeout=req.timeout)
    return [outcome_of(o, "queue cleared", "queue already empty") for o in outcomes]
