"""SNMP engines behind one interface: :class:`Engine`, and the :class:`Engines` of a poller.

Every engine answers the same two requests with the same signature and the same failure
reasons (:data:`fleet.errors.SnmpReason`), so the poller never asks which one it holds:

===================  ===========================================  ============================
engine               what                                         module
===================  ===========================================  ============================
:class:`V2cEngine`   SNMPv2c, fast BER codec                      :mod:`fleet.monitor.v2c`
:class:`UsmEngine`   SNMPv3 authPriv SHA/AES, fast framing,       :mod:`fleet.monitor.usm`
                     pysnmp's security services (default v3)
:class:`V3Engine`    SNMPv3 through pysnmp's whole v3arch         :mod:`fleet.monitor.v3arch`
===================  ===========================================  ============================

The fast engines share one UDP client (:mod:`fleet.monitor.transport`).  One contract test,
``tests/monitor/test_engine_contract.py``, runs against every engine.  The one-device diagnosis
(``fleet snmp test``, :mod:`fleet.monitor.snmp`) is built on top and is not an engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from fleet.errors import SnmpError, SnmpReason
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.transport import DEFAULT_RCVBUF, Address
from fleet.monitor.usm import UsmEngine
from fleet.monitor.v2c import V2cEngine
from fleet.monitor.v3arch import V3Engine

__all__ = [
    "Address",
    "Engine",
    "Engines",
    "Reason",
    "UsmEngine",
    "V2cEngine",
    "V3Engine",
]

Reason = SnmpReason

V3Implementation = Literal["fast", "pysnmp"]


class Engine(Protocol):
    """What every SNMP engine does.  Both requests return the agent's response PDU (its
    error-status included: the caller decides) or raise :class:`fleet.errors.SnmpError` whose
    ``reason`` says why there is none."""

    async def open(self) -> None:
        """Create the socket (and any engine state); also done by the first request."""

    def close(self) -> None:
        """Release the socket; requests still waiting fail with reason ``error``."""

    async def get(
        self, address: Address, oids: Sequence[ber.Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        """GET ``oids``; ``timeout`` seconds per try, ``retries`` more tries on silence."""

    async def bulk(
        self,
        address: Address,
        non_repeaters: int,
        max_repetitions: int,
        oids: Sequence[ber.Oid],
        *,
        timeout: float,
        retries: int,
    ) -> ber.Pdu:
        """GETBULK: the first ``non_repeaters`` OIDs once, the others ``max_repetitions``
        times (walking from each)."""


def _new_engine(creds: SnmpCredentials, rcvbuf: int, v3: V3Implementation) -> Engine:
    if creds.version == "3":
        if v3 == "fast":
            return UsmEngine(creds, rcvbuf=rcvbuf)
        return V3Engine(creds, rcvbuf=rcvbuf)
    if creds.version in ("2c", "2"):
        community = creds.community.get_secret_value() if creds.community else "public"
        return V2cEngine(community.encode(), rcvbuf=rcvbuf)
    raise SnmpError(f"unsupported SNMP version {creds.version!r}", "error")


class Engines:
    """The engines of one poller, created on first use, one per credential set.

    ``v3="fast"`` (default): :class:`UsmEngine`; ``v3="pysnmp"``: :class:`V3Engine`.  Two users
    of the same name with different keys do not share an engine (their localized keys differ):
    the key is ``SnmpCredentials.key``, which carries a digest of the secrets."""

    def __init__(self, *, rcvbuf: int = DEFAULT_RCVBUF, v3: V3Implementation = "fast") -> None:
        if v3 not in ("fast", "pysnmp"):
            raise SnmpError(f"unknown SNMPv3 implementation {v3!r}", "error")
        self.rcvbuf = rcvbuf
        self.v3: V3Implementation = v3
        self._engines: dict[tuple[str, ...], Engine] = {}

    def for_credentials(self, creds: SnmpCredentials) -> Engine:
        engine = self._engines.get(creds.key)
        if engine is None:
            engine = _new_engine(creds, self.rcvbuf, self.v3)
            self._engines[creds.key] = engine
        return engine

    def __len__(self) -> int:
        return len(self._engines)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
