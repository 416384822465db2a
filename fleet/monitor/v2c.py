"""SNMPv2c on the fast path: one engine per community, no engine state (pysnmp's *v1arch*
model).

Requests are encoded by :mod:`fleet.monitor.ber` (byte-equal to pysnmp's encoder, see
``tests/monitor/test_ber.py``), replies decoded by its fast decoder with pysnmp as fallback
(:mod:`fleet.monitor.fallback`), and sent over the shared :class:`fleet.monitor.transport.Transport`
that matches replies by request-id *and* source address.  Implements
:class:`fleet.monitor.engine.Engine`.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleet.monitor import ber
from fleet.monitor.fallback import decode_with_pysnmp
from fleet.monitor.transport import DEFAULT_RCVBUF, Address, Transport, TransportStats


class V2cEngine:
    """One SNMPv2c engine per community: one socket, many devices, many requests in flight."""

    def __init__(self, community: bytes, *, rcvbuf: int = DEFAULT_RCVBUF) -> None:
        self.community = community
        self.transport: Transport[ber.Pdu] = Transport(
            self._decode, peek_id=ber.peek_request_id, rcvbuf=rcvbuf
        )

    @property
    def stats(self) -> TransportStats:
        return self.transport.stats

    async def open(self) -> None:
        await self.transport.open()

    def close(self) -> None:
        self.transport.close()

    def _decode(self, data: bytes) -> tuple[int, ber.Pdu] | None:
        try:
            msg = ber.decode_message(data)
        except ber.Unsupported:
            msg = decode_with_pysnmp(data)  # BerError when pysnmp cannot either
            self.transport.stats.fallback_decodes += 1
        if msg.community != self.community or msg.pdu.tag != ber.RESPONSE:
            return None
        return msg.pdu.request_id, msg.pdu

    async def _request(
        self,
        address: Address,
        oids: Sequence[ber.Oid],
        bulk: tuple[int, int] | None,
        timeout: float,
        retries: int,
    ) -> ber.Pdu:
        rid = self.transport.next_id()
        packet = ber.encode_request(
            self.community, rid, ber.encode_null_varbinds(tuple(oids)), bulk=bulk
        )
        return await self.transport.exchange(address, rid, packet, timeout=timeout, retries=retries)

    async def get(
        self, address: Address, oids: Sequence[ber.Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        return await self._request(address, oids, None, timeout, retries)

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
        return await self._request(
            address, oids, (non_repeaters, max_repetitions), timeout, retries
        )
