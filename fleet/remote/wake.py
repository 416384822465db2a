"""``wake`` (public PC, borne): Wake-on-LAN.  The controller is not on the site's LAN, so the
magic packet (six ``ff`` bytes, then the device's MAC from the inventory sixteen times, UDP
port 9, to the management network's broadcast address) is sent *from the site's gateway*;
then the action waits until the device answers (unless ``wait`` is off: the daemon's scheduled
wakes send and leave the check to the monitor's "not back at opening").

A device that already answers is left alone: "no change".  In the lab, a stand-in for the
network card (:mod:`fleet.lab.wol`) starts the host's container when the packet reaches it."""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence

from pyinfra.api.operation import add_op
from pyinfra.api.state import State
from pyinfra.operations import server

from fleet.inventory.models import Device, DeviceKind
from fleet.remote.base import ActionSpec, Request, Result, probe, wait_until
from fleet.remote.pyinfra_run import run

PORT = 9
REPEAT = 3
_SEND = (
    "import socket, sys\n"
    "bcast, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)\n"
    "for mac in sys.argv[4:]:\n"
    "    payload = b'\\xff' * 6 + bytes.fromhex(mac.replace(':', '')) * 16\n"
    "    for _ in range(n):\n"
    "        s.sendto(payload, (bcast, port))\n"
    "print('sent', len(sys.argv[4:]))\n"
)

SPEC = ActionSpec(
    "wake", frozenset({DeviceKind.PUBLIC_PC, DeviceKind.BORNE}),
    "Wake a powered-off PC or borne (Wake-on-LAN from the site's gateway); wait until it answers",
    confirm=False, idempotent="already answering: no change",
)


def send_command(broadcast: str, macs: Sequence[str]) -> str:
    """The shell command the gateway runs to send the magic packets (python3 is on every host)."""
    return " ".join(["python3", "-c", shlex.quote(_SEND), shlex.quote(broadcast), str(PORT),
                     str(REPEAT), *(shlex.quote(m) for m in macs)])


def perform(req: Request) -> list[Result]:
    results: dict[str, Result] = {}
    gateway = req.site.gateway
    candidates: list[Device] = []
    for d in req.devices:
        if not d.mac:
            results[d.hostname] = Result(d.hostname, "refused",
                                         f"no device_mac in the inventory ({d.source}): cannot wake it")
        elif gateway is None:
            results[d.hostname] = Result(d.hostname, "refused",
                                         f"site {req.site.id} has no gateway to send the magic packet from")
        else:
            candidates.append(d)
    if candidates and gateway is not None:
        # a short look (an asleep host makes a probe wait its whole timeout): a host up but
        # slower than that gets a magic packet it ignores, then answers the wait below
        seen = probe([req.target(d) for d in candidates], timeout=min(3.0, req.timeout))
        asleep = []
        for d in candidates:
            if seen.get(d.hostname) is not None:
                results[d.hostname] = Result(d.hostname, "no_change", "already answering",
                                             {"boot_id": seen[d.hostname]})
            else:
                asleep.append(d)
        if asleep:
            results.update(_wake(req, gateway, asleep))
    return [results[d.hostname] for d in req.devices]


def _wake(req: Request, gateway: Device, asleep: Sequence[Device]) -> dict[str, Result]:
    broadcast = str(req.site.management.broadcast_address)
    command = send_command(broadcast, [str(d.mac) for d in asleep])

    def queue(state: State) -> None:
        for host in state.inventory.get_active_hosts():
            add_op(state, server.shell, name="Send the magic packets", commands=[command],
                   host=host, _timeout=req.op_timeout)

    started = time.monotonic()
    [sent] = run([req.target(gateway)], queue, timeout=req.timeout)
    if not sent.ok:
        return {d.hostname: Result(d.hostname, "failed", f"cannot send the magic packet from "
                                   f"{gateway.hostname}: {sent.message}") for d in asleep}
    data = {"gateway": gateway.hostname, "broadcast": broadcast, "mac": ""}
    if not req.wait:
        return {d.hostname: Result(d.hostname, "changed", f"magic packet sent from {gateway.hostname}",
                                   {**data, "mac": str(d.mac)}) for d in asleep}
    last = wait_until([req.target(d) for d in asleep], lambda _h, b: b is not None,
                      deadline=started + req.boot_timeout)
    took = time.monotonic() - started
    out = {}
    for d in asleep:
        if last.get(d.hostname) is not None:
            out[d.hostname] = Result(d.hostname, "changed",
                                     f"woken from {gateway.hostname}: answers after {took:.0f} s",
                                     {**data, "mac": str(d.mac), "seconds": round(took, 1)})
        else:
            out[d.hostname] = Result(d.hostname, "failed",
                                     f"magic packet sent from {gateway.hostname}, no answer within "
                                     f"{req.boot_timeout:.0f} s", {**data, "mac": str(d.mac)})
    return out
