"""One-device SNMP diagnosis (``fleet snmp test``): ask, and explain precisely what failed.

Built on the engines (:mod:`fleet.monitor.engine`), not one of them: after a timeout it asks
the extra questions that tell the causes of silence apart (is the port closed?  does the same
SNMPv3 user answer without privacy?).  The poller does not ask them on every cycle.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from fleet.errors import SnmpError, SnmpReason
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.engine import Engines
from fleet.monitor.transport import Address
from fleet.monitor.v3arch import V3Engine

SYS_DESCR: Final = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_UPTIME: Final = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME: Final = (1, 3, 6, 1, 2, 1, 1, 5, 0)

EXPLANATIONS: Final[MappingProxyType[SnmpReason, str]] = MappingProxyType({
    "timeout": "no answer: host down or filtered, wrong port, or (SNMPv2c) wrong community "
    "(agents stay silent on a wrong community)",
    "unreachable": "nothing listens on that port (ICMP port unreachable) or no route",
    "unknown_user": "the agent does not know this SNMPv3 user",
    "auth_error": "SNMPv3 authentication failed: wrong auth key (or protocol)",
    "priv_error": "SNMPv3 privacy failed: the auth key is right but the priv key "
    "(or protocol) is wrong",
    "not_in_time_window": "SNMPv3 message outside the agent's time window (clock/boots)",
    "decode_error": "the agent answered something that is not a valid SNMP reply",
    "error": "SNMP error",
})


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    reason: SnmpReason | None
    message: str
    elapsed_ms: float
    sys_descr: str | None = None
    sys_name: str | None = None
    uptime_s: int | None = None


def _port_closed(address: Address, packet: bytes, timeout: float) -> bool:
    """A connected UDP socket sees ICMP port-unreachable as ECONNREFUSED."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            sock.send(packet)
            sock.recv(65535)
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
    return False


async def probe(
    credentials: SnmpCredentials,
    address: Address,
    *,
    timeout: float = 2.0,
    retries: int = 1,
) -> ProbeResult:
    """GET sysDescr, sysName, sysUpTime once and explain precisely what went wrong, if anything."""
    started = time.perf_counter()
    oids = (SYS_DESCR, SYS_NAME, SYS_UPTIME)

    def result(ok: bool, reason: SnmpReason | None, message: str, **kw: Any) -> ProbeResult:
        elapsed = round((time.perf_counter() - started) * 1000.0, 1)
        return ProbeResult(ok, reason, message, elapsed, **kw)

    engines = Engines()
    try:
        engine = engines.for_credentials(credentials)
        try:
            pdu = await engine.get(address, oids, timeout=timeout, retries=retries)
        except SnmpError as exc:
            reason = exc.reason
            if reason == "timeout":
                reason = await _refine_timeout(credentials, address, timeout)
            return result(False, reason, EXPLANATIONS[reason])
    finally:
        engines.close()
    if pdu.error_status:
        return result(False, "error", f"agent answered error-status {pdu.error_status}")
    values = {oid: value for oid, tag, value in pdu.varbinds if tag not in ber.EXCEPTIONS}
    descr, name, ticks = values.get(SYS_DESCR), values.get(SYS_NAME), values.get(SYS_UPTIME)
    return result(
        True,
        None,
        "answered",
        sys_descr=descr.decode("utf-8", "replace") if isinstance(descr, bytes) else None,
        sys_name=name.decode("utf-8", "replace") if isinstance(name, bytes) else None,
        uptime_s=ticks // 100 if isinstance(ticks, int) else None,
    )


async def _refine_timeout(
    credentials: SnmpCredentials, address: Address, timeout: float
) -> SnmpReason:
    """Silence can mean several things; ask the questions that tell them apart."""
    packet = ber.encode_request(b"public", 1, ber.encode_null_varbinds((SYS_UPTIME,)))
    loop = asyncio.get_running_loop()
    if await loop.run_in_executor(None, _port_closed, address, packet, min(timeout, 1.0)):
        return "unreachable"
    if credentials.version == "3":
        # net-snmp drops a message it cannot decrypt: authPriv is silent with a wrong priv key.
        # If the same user with authNoPriv gets an answer (even an authorization error), the auth
        # key is right, so the priv key is what is wrong.
        check = V3Engine(credentials, security_level="authNoPriv")
        try:
            await check.get(address, (SYS_UPTIME,), timeout=timeout, retries=0)
        except SnmpError as exc:
            return "timeout" if exc.reason == "timeout" else exc.reason
        finally:
            check.close()
        return "priv_error"
    return "timeout"
