"""The UDP client every fast SNMP engine shares: one socket, many requests in flight.

One :class:`Transport` per engine (so per credential set): an asyncio datagram endpoint on a
socket with an enlarged receive buffer, a table of the requests waiting for their reply, keyed
by request id (SNMPv2c) or msgID (SNMPv3) *and* source address, and the retry loop.  The engine
gives it a ``decode`` function (bytes -> ``(id, reply)``) and knows nothing of sockets; the
transport knows nothing of SNMP versions.

Failure reasons it produces (:data:`fleet.errors.SnmpReason`):

* ``timeout``: no valid answer after ``retries + 1`` tries;
* ``decode_error``: no valid answer, and garbage came from that address meanwhile (a broken
  agent, or something else on its port);
* ``unreachable``: the kernel refused to send (no route, broadcast address, ...);
* ``error``: the engine was closed while the request waited.

Neighbours: :mod:`fleet.monitor.v2c` and :mod:`fleet.monitor.usm` (the engines on top of it),
:mod:`fleet.monitor.engine` (the interface they implement).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from fleet.errors import SnmpError, SnmpReason
from fleet.monitor import ber

Address = tuple[str, int]
"""(IPv4 address, UDP port) of an agent."""

DEFAULT_RCVBUF: Final = 4 * 1024 * 1024
ID_MAX: Final = 2**31 - 1

R = TypeVar("R")

Decode = Callable[[bytes], "tuple[int, R] | None"]
"""``data -> (id, reply)``; ``None``: valid SNMP but not for us (another community, not a
response); raises :class:`fleet.monitor.ber.BerError` when ``data`` is not valid SNMP."""


def enlarged_socket(rcvbuf: int) -> socket.socket:
    """A non-blocking UDP client socket whose receive buffer holds a burst of replies."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # SO_RCVBUF is capped by net.core.rmem_max (~208 KiB by default: 150 replies of 1.4 KB);
    # SO_RCVBUFFORCE lifts the cap when the poller has CAP_NET_ADMIN.  Best effort either way.
    try:
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), rcvbuf)
    except OSError:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    sock.bind(("0.0.0.0", 0))  # noqa: S104 - a client socket, replies come to its port
    return sock


@dataclass(slots=True)
class TransportStats:
    sent: int = 0
    received: int = 0
    dropped_malformed: int = 0
    dropped_unmatched: int = 0
    fallback_decodes: int = 0
    """Replies the fast decoder left to pysnmp (counted by the engine's ``decode``)."""


@dataclass(slots=True)
class _Pending(Generic[R]):
    future: asyncio.Future[R]
    address: Address
    malformed: bool = False


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: Transport[Any]) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.owner._received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        # asyncio reports a failed sendto() here, synchronously, instead of raising it.
        self.owner._send_error = exc


class Transport(Generic[R]):
    """One socket, many agents, many requests in flight (see the module docstring)."""

    def __init__(
        self,
        decode: Decode[R],
        *,
        peek_id: Callable[[bytes], int | None] = lambda _data: None,
        rcvbuf: int = DEFAULT_RCVBUF,
    ) -> None:
        self._decode = decode
        self._peek_id = peek_id
        self.rcvbuf = rcvbuf
        self.stats = TransportStats()
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: dict[int, _Pending[R]] = {}
        self._next_id = random.randint(1, 2**30)  # noqa: S311 - an id, not a secret
        self._send_error: Exception | None = None

    async def open(self) -> None:
        if self._transport is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), sock=enlarged_socket(self.rcvbuf)
            )
        except OSError as exc:  # out of file descriptors, ...
            raise SnmpError(f"cannot open a UDP socket: {exc}", "error") from exc
        if self._transport is not None:  # another request opened it meanwhile
            transport.close()
            return
        self._transport = transport

    @property
    def local_address(self) -> Address | None:
        if self._transport is None:
            return None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def close(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self._transport.close()
            self._transport = None
        for pending in self._pending.values():
            if not pending.future.done():
                with contextlib.suppress(RuntimeError):  # its loop may be closed already
                    pending.future.set_exception(SnmpError("engine closed", "error"))
        self._pending.clear()

    def next_id(self) -> int:
        """A request id (msgID) in 1..2**31-1, never 0, wrapping."""
        value = self._next_id
        self._next_id = value + 1 if value < ID_MAX else 1
        return value

    # -- receiving ----------------------------------------------------------------------------

    def _received(self, data: bytes, addr: Address) -> None:
        self.stats.received += 1
        try:
            decoded = self._decode(data)
        except ber.BerError:
            self._malformed(data, addr)
            return
        pending = None if decoded is None else self._pending.get(decoded[0])
        if decoded is None or pending is None or pending.address != addr or pending.future.done():
            self.stats.dropped_unmatched += 1
            return
        del self._pending[decoded[0]]
        pending.future.set_result(decoded[1])

    def _malformed(self, data: bytes, addr: Address) -> None:
        """Remember the request got garbage: if no good reply follows, it is a decode_error."""
        self.stats.dropped_malformed += 1
        rid = self._peek_id(data)
        mine = self._pending.get(rid) if rid is not None else None
        candidates = [mine] if mine is not None else self._pending.values()
        for pending in candidates:
            if pending.address == addr:
                pending.malformed = True

    # -- sending ------------------------------------------------------------------------------

    def _send(self, transport: asyncio.DatagramTransport, packet: bytes, address: Address) -> None:
        where = f"{address[0]}:{address[1]}"
        self._send_error = None
        try:
            transport.sendto(packet, address)
        except (OSError, ValueError, OverflowError) as exc:  # a malformed address
            raise SnmpError(f"{where}: {exc}", "unreachable") from exc
        error, self._send_error = self._send_error, None
        if error is not None:
            raise SnmpError(f"{where}: cannot send: {error}", "unreachable") from error
        self.stats.sent += 1

    async def exchange(
        self, address: Address, request_id: int, packet: bytes, *, timeout: float, retries: int
    ) -> R:
        """Send ``packet`` (carrying ``request_id``) to ``address``; resend the same packet on
        silence; the reply whose id and source match, or SnmpError."""
        await self.open()
        transport = self._transport
        assert transport is not None
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        pending = _Pending(future, address)
        self._pending[request_id] = pending
        try:
            for _attempt in range(retries + 1):
                self._send(transport, packet, address)
                done, _ = await asyncio.wait((future,), timeout=timeout)
                if done:
                    return future.result()
            reason: SnmpReason = "decode_error" if pending.malformed else "timeout"
            raise SnmpError(f"{address[0]}:{address[1]}: no valid answer ({reason})", reason)
        finally:
            if self._pending.get(request_id) is pending:
                del self._pending[request_id]
            if not future.done():
                future.cancel()
