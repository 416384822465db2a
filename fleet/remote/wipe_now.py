"""``wipe-now`` (public PC, borne): the RGPD session wipe, now.

It runs the very ``relais-wipe`` the ``session_wipe`` role installs, through its command line
(``relais-wipe run --trigger remote``), and reads the record it prints (one JSON object: time,
host, trigger, outcome, items...; never a file name).  The record is read tolerantly: fields
may be added, only ``outcome`` is required.  ``fleet wipe`` is this action.  Always a change:
a wipe is done and recorded each time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import server

from fleet.inventory.models import DeviceKind
from fleet.remote.base import ActionSpec, Request, Result
from fleet.remote.pyinfra_run import HostOutcome, run

WIPE = "/usr/local/sbin/relais-wipe"
OP_NAME = "Wipe the guest session"

SPEC = ActionSpec(
    "wipe-now", frozenset({DeviceKind.PUBLIC_PC, DeviceKind.BORNE}),
    "Wipe the guest session now (relais-wipe, trigger remote) and show its wipe record",
    idempotent="always wipes and writes a record (changed)",
)


def parse_record(output: str) -> Mapping[str, Any] | None:
    """The last line of ``output`` that is a JSON object with an ``outcome``."""
    for raw in reversed(output.splitlines()):
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "outcome" in data:
            return data
    return None


def summary(record: Mapping[str, Any]) -> tuple[bool, str]:
    """(ok, one line) from a wipe record, whatever optional fields it has."""
    items = record.get("items") if isinstance(record.get("items"), dict) else {}
    assert isinstance(items, dict)
    bad = sorted(k for k, v in items.items() if isinstance(v, dict) and v.get("status") != "ok")
    removed = sum(int(v.get("removed", 0) or 0) for v in items.values()
                  if isinstance(v, dict) and str(v.get("removed", 0)).isdigit())
    ok = record.get("outcome") == "ok"
    text = (f"wiped: {len(items)} items, {removed} entries removed, record at "
            f"{record.get('time', '?')}")
    if bad:
        text += f"; items failed: {', '.join(bad)}"
    residue = record.get("residue")
    if isinstance(residue, dict) and residue.get("remaining"):
        text += f"; {residue.get('remaining')} files of the guest remain"
    return ok, text if ok else f"wipe outcome {record.get('outcome')}: {text}"


def _result(o: HostOutcome) -> Result:
    op = next((x for x in o.ops if x.name == OP_NAME), None)
    record = parse_record(op.output) if op is not None else None
    if record is None:
        if o.message == "unreachable":
            return Result(o.hostname, "unreachable", o.message)
        why = "no wipe record"
        if op is not None and ("not found" in op.output or "No such file" in op.output):
            why = f"{WIPE} is not installed (deploy the session_wipe role)"
        return Result(o.hostname, "failed", f"{why}: {o.message}" if not o.ok else why)
    ok, text = summary(record)
    keep = {k: record[k] for k in ("time", "trigger", "outcome", "duration_ms", "residue")
            if k in record}
    return Result(o.hostname, "changed" if ok else "failed", text, {"record": keep})


def perform(req: Request) -> list[Result]:
    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            add_op(state, server.shell, name=OP_NAME, commands=[f"{WIPE} run --trigger remote"],
                   host=host, _success_exit_codes=[0, 1], _timeout=req.op_timeout)

    return [_result(o) for o in run([req.target(d) for d in req.devices], queue, timeout=req.timeout)]
