"""net-snmp 5.9 (Debian 12) answers genErr to a GETBULK of several columns whose repetitions
run past the end of the user's view — the snmp_agent role's narrow view on every public PC
and borne (found by ``fleet demo`` on the lab's deployed florac-fs, reproduced against the real
snmpd of this machine); each column asked alone is answered.  The poller then reads the device
column by column.  The agent here behaves that way over a small table of a deployed PC."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from fleet.monitor import ber
from fleet.monitor.poller import read_device
from fleet.monitor.profiles import load_profiles

REPO = Path(__file__).resolve().parents[2]
PROFILE = load_profiles(REPO / "monitoring" / "profiles")["public_pc"]
Oid = tuple[int, ...]
OCTETS, INTEGER, TICKS, OBJECT = 4, 2, 0x43, 6
HR = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1)
PR = (1, 3, 6, 1, 4, 1, 2021, 2, 1)
MIB: dict[Oid, tuple[int, object]] = {
    (1, 3, 6, 1, 2, 1, 1, 1, 0): (OCTETS, b"Linux florac-fs-pc1"),
    (1, 3, 6, 1, 2, 1, 1, 3, 0): (TICKS, 12345),
    (1, 3, 6, 1, 2, 1, 25, 1, 1, 0): (TICKS, 99999),
    (*HR, 2, 1): (OBJECT, (1, 3, 6, 1, 2, 1, 25, 2, 1, 4)),
    (*HR, 3, 1): (OCTETS, b"/"),
    (*HR, 5, 1): (INTEGER, 1000),
    (*HR, 6, 1): (INTEGER, 250),
    (*PR, 2, 1): (OCTETS, b"relais-wipe"),
    (*PR, 5, 1): (INTEGER, 1),
}


class NetSnmpLike:
    """GET and GETBULK over MIB (the view), with net-snmp 5.9's genErr on several columns."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []

    def _next(self, oid: Oid) -> tuple[Oid, int, object]:
        later = sorted(o for o in MIB if o > oid)
        if not later:
            return (oid, ber.END_OF_MIB_VIEW, None)
        return (later[0], *MIB[later[0]])

    async def get(self, address: object, oids: Sequence[Oid], *, timeout: float, retries: int) -> ber.Pdu:
        binds = tuple((o, *MIB[o]) for o in oids)
        return ber.Pdu(0xA2, 1, 0, 0, binds)  # type: ignore[arg-type]

    async def bulk(self, address: object, non_repeaters: int, max_repetitions: int,
                   oids: Sequence[Oid], *, timeout: float, retries: int) -> ber.Pdu:
        columns = len(oids) - non_repeaters
        status = 5 if columns > 1 and max_repetitions > 1 else 0
        self.calls.append((non_repeaters, columns, status))
        if status:
            return ber.Pdu(0xA2, 1, status, 0, tuple((o, 5, None) for o in oids))  # type: ignore[arg-type]
        binds = [self._next(o) for o in oids[:non_repeaters]]
        last = list(oids[non_repeaters:])
        for _ in range(max_repetitions):
            row = [self._next(o) for o in last]
            binds += row
            last = [b[0] for b in row]
        return ber.Pdu(0xA2, 1, 0, 0, tuple(binds))  # type: ignore[arg-type]


def test_a_device_that_refuses_several_columns_is_read_column_by_column() -> None:
    agent = NetSnmpLike()
    metrics = asyncio.run(read_device(agent, ("10.48.12.11", 161), PROFILE,  # type: ignore[arg-type]
                                      timeout=1, retries=0))
    # positive control: the first request, every column at once, was refused with genErr
    assert agent.calls[0][1] > 1 and agent.calls[0][2] == 5
    assert all(columns == 1 and status == 0 for _, columns, status in agent.calls[1:])
    assert metrics["proc_running:relais-wipe"] == 1
    assert metrics["disk_used_pct:/"] == 25.0
    assert metrics["uptime_s"] == 999  # hrSystemUptime, the host's
