"""SNMPv3 through pysnmp's whole *v3arch* ``SnmpEngine`` (the reference for the fast path).

pysnmp does discovery, USM security and time synchronisation; requests use numeric OIDs with
``(oid, Null())`` varbinds and no MIB lookup, through its low-level command generators.  The
fast path (:mod:`fleet.monitor.usm`) is the default; this engine is selected with
``Engines(v3="pysnmp")`` and is what ``fleet snmp test`` uses to try a user without privacy.

This module is the boundary with pysnmp's engine: its error indications become the reasons of
:data:`fleet.errors.SnmpReason` (the same as the fast engines', the contract test checks it),
its exceptions become :class:`fleet.errors.SnmpError`.  pysnmp stays silent about garbage and
about datagrams the kernel refused to send (both end in a timeout there), so its transport is
observed to say ``decode_error`` and ``unreachable`` as the other engines do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fleet.errors import SnmpError, SnmpReason
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.fallback import varbinds_from_pysnmp
from fleet.monitor.transport import DEFAULT_RCVBUF, Address, enlarged_socket
from fleet.monitor.usm import answers_discovery, is_v3_message


def _reason_of(indication: Any) -> SnmpReason:
    from pysnmp.proto import errind

    table: tuple[tuple[type[Any], SnmpReason], ...] = (
        (errind.RequestTimedOut, "timeout"),
        (errind.UnknownUserName, "unknown_user"),
        (errind.UnknownSecurityName, "unknown_user"),
        (errind.WrongDigest, "auth_error"),
        (errind.AuthenticationFailure, "auth_error"),
        (errind.AuthenticationError, "auth_error"),
        (errind.DecryptionError, "priv_error"),
        (errind.NotInTimeWindow, "not_in_time_window"),
        (errind.DeserializationError, "decode_error"),
    )
    for cls, reason in table:
        if isinstance(indication, cls):
            return reason
    return "error"


@dataclass(eq=False, slots=True)
class _Call:
    future: asyncio.Future[ber.Pdu]
    address: Address
    malformed: bool = False


async def _observed_transport(engine: V3Engine, rcvbuf: int) -> Any:
    """pysnmp's UDP transport, watched: garbage received and failed sends reach the calls.
    Its endpoint is ready when this returns (pysnmp's own ``open_server_mode`` would queue the
    first datagrams, and a failed send of those would go unnoticed)."""
    from pysnmp.carrier.asyncio.dgram import udp

    class Observed(udp.UdpAsyncioTransport):  # type: ignore[misc]
        def datagram_received(self, datagram: bytes, address: Any) -> None:
            if not is_v3_message(bytes(datagram)):
                engine._malformed((str(address[0]), int(address[1])))
            super().datagram_received(datagram, address)

        def send_message(self, message: bytes, address: Any) -> None:
            self.send_error: Exception | None = None
            super().send_message(message, address)
            if self.send_error is not None:
                engine._send_failed((str(address[0]), int(address[1])), self.send_error)

        def error_received(self, exc: Exception) -> None:  # a failed sendto(), synchronously
            self.send_error = exc

    transport = Observed()
    await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: transport, sock=enlarged_socket(rcvbuf)
    )
    return transport


class V3Engine:
    """One pysnmp ``SnmpEngine`` per SNMPv3 credential set (user + keys + protocols)."""

    def __init__(
        self,
        credentials: SnmpCredentials,
        *,
        rcvbuf: int = DEFAULT_RCVBUF,
        timer: float = 0.05,
        security_level: Literal["authPriv", "authNoPriv"] = "authPriv",
    ) -> None:
        if credentials.version != "3" or not credentials.user:
            raise SnmpError("SNMPv3 engine needs version 3 and a user", "error")
        self.credentials = credentials
        self.security_level = security_level  # "authNoPriv" only for diagnosis (fleet snmp test)
        self.rcvbuf = rcvbuf
        self.timer = timer
        self._engine: Any = None
        self._targets: dict[tuple[str, int, float, int], str] = {}
        self._calls: list[_Call] = []
        self._get: Any = None
        self._bulk: Any = None

    async def open(self) -> None:
        if self._engine is not None:
            return
        from pyasn1.error import PyAsn1Error
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import cmdgen
        from pysnmp.error import PySnmpError

        creds = self.credentials
        auth = {"SHA": config.USM_AUTH_HMAC96_SHA}.get(creds.auth_protocol.upper())
        priv = {"AES": config.USM_PRIV_CFB128_AES, "AES128": config.USM_PRIV_CFB128_AES}.get(
            creds.priv_protocol.upper()
        )
        if auth is None or priv is None or creds.auth_key is None or creds.priv_key is None:
            raise SnmpError(
                f"SNMPv3 user {creds.user!r}: only authPriv with SHA/AES is supported", "error"
            )
        try:
            transport = await _observed_transport(self, self.rcvbuf)
        except OSError as exc:  # out of file descriptors, ...
            raise SnmpError(f"cannot open a UDP socket: {exc}", "error") from exc
        if self._engine is not None:  # another request opened it meanwhile
            transport.close_transport()
            return
        try:
            eng = engine.SnmpEngine()
            if self.security_level == "authNoPriv":
                config.add_v3_user(eng, creds.user, auth, creds.auth_key.get_secret_value())
            else:
                config.add_v3_user(
                    eng,
                    creds.user,
                    auth,
                    creds.auth_key.get_secret_value(),
                    priv,
                    creds.priv_key.get_secret_value(),
                )
            config.add_target_parameters(eng, "relais", creds.user, self.security_level)
            config.add_transport(eng, udp.DOMAIN_NAME, transport)
            eng.transport_dispatcher.set_timer_resolution(self.timer)
        except (PySnmpError, PyAsn1Error) as exc:
            transport.close_transport()
            raise SnmpError(f"SNMPv3 user {creds.user!r}: pysnmp: {exc}", "error") from exc
        self._engine = eng
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGenerator()

    def close(self) -> None:
        """Stop receiving first, then unregister once the datagrams already queued by the
        transport have been handled (else pysnmp logs 'Unregistered transport' for each)."""
        for call in self._calls:
            if not call.future.done():
                with contextlib.suppress(RuntimeError):  # its loop may be closed already
                    call.future.set_exception(SnmpError("engine closed", "error"))
        self._calls.clear()
        if self._engine is None:
            return
        engine, self._engine = self._engine, None
        self._targets.clear()
        # pysnmp teardown is best effort: whatever it raises, the engine is gone for us.
        with contextlib.suppress(Exception):
            from pysnmp.carrier.asyncio.dgram import udp
            from pysnmp.entity import config

            config.get_transport(engine, udp.DOMAIN_NAME).close_transport()
        try:
            asyncio.get_running_loop().call_soon(self._close_dispatcher, engine)
        except RuntimeError:  # no running loop
            self._close_dispatcher(engine)

    @staticmethod
    def _close_dispatcher(engine: Any) -> None:
        with contextlib.suppress(Exception):  # pysnmp teardown, best effort (see close)
            engine.close_dispatcher()

    # -- what pysnmp does not say -----------------------------------------------------------

    def _malformed(self, address: Address) -> None:
        for call in self._calls:
            if call.address == address:
                call.malformed = True

    def _send_failed(self, address: Address, exc: Exception) -> None:
        for call in self._calls:
            if call.address == address and not call.future.done():
                error = SnmpError(f"{address[0]}:{address[1]}: cannot send: {exc}", "unreachable")
                error.__cause__ = exc
                call.future.set_exception(error)

    async def _refine(self, call: _Call, reason: SnmpReason, timeout: float) -> SnmpReason:
        """A timeout, told apart as the fast engines do: garbage came, or the agent answers
        discovery yet not our authPriv requests (net-snmp drops what it cannot decrypt)."""
        if reason != "timeout":
            return reason
        if call.malformed:
            return "decode_error"
        if self.security_level == "authPriv" and await answers_discovery(call.address, timeout):
            return "priv_error"
        return "timeout"

    # -- requests -----------------------------------------------------------------------------

    def _target(self, address: Address, timeout: float, retries: int) -> str:
        key = (address[0], address[1], timeout, retries)
        name = self._targets.get(key)
        if name is None:
            from pysnmp.carrier.asyncio.dgram import udp
            from pysnmp.entity import config

            name = f"t{len(self._targets)}"
            config.add_target_address(
                self._engine,
                name,
                udp.DOMAIN_NAME,
                address,
                "relais",
                timeout=int(timeout * 100),
                retryCount=retries,
            )
            self._targets[key] = name
        return name

    @staticmethod
    def _varbinds(oids: Sequence[ber.Oid]) -> list[tuple[Any, Any]]:
        from pyasn1.type.univ import Null
        from pysnmp.proto import rfc1902

        return [(rfc1902.ObjectName(o), Null("")) for o in oids]

    async def _run(
        self, address: Address, timeout: float, send: Callable[[Any, Any], None]
    ) -> ber.Pdu:
        from pyasn1.error import PyAsn1Error
        from pysnmp.error import PySnmpError

        loop = asyncio.get_running_loop()
        call = _Call(loop.create_future(), address)
        future = call.future

        def callback(
            _engine: Any,
            _handle: Any,
            indication: Any,
            status: Any,
            index: Any,
            varbinds: Any,
            _ctx: Any,
        ) -> None:
            if future.done():
                return
            if indication:
                future.set_exception(SnmpError(str(indication), _reason_of(indication)))
                return
            try:
                pdu = ber.Pdu(
                    ber.RESPONSE, 0, int(status or 0), int(index or 0),
                    varbinds_from_pysnmp(varbinds),
                )
            except (ValueError, TypeError) as exc:
                future.set_exception(SnmpError(f"undecodable reply: {exc}", "decode_error"))
                return
            future.set_result(pdu)

        self._calls.append(call)
        try:
            try:
                send(callback, None)
            except (PySnmpError, PyAsn1Error) as exc:
                raise SnmpError(f"{address[0]}:{address[1]}: pysnmp: {exc}", "error") from exc
            try:
                return await future
            except SnmpError as exc:
                reason = await self._refine(call, exc.reason, timeout)
                if reason == exc.reason:
                    raise
                raise SnmpError(f"{address[0]}:{address[1]}: {reason}", reason) from exc
        finally:
            if call in self._calls:  # close() empties the list
                self._calls.remove(call)

    async def get(
        self, address: Address, oids: Sequence[ber.Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        await self.open()
        target = self._target(address, timeout, retries)
        vbs = self._varbinds(oids)
        return await self._run(
            address,
            timeout,
            lambda cb, ctx: self._get.send_varbinds(self._engine, target, None, "", vbs, cb, ctx),
        )

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
        await self.open()
        target = self._target(address, timeout, retries)
        vbs = self._varbinds(oids)
        return await self._run(
            address,
            timeout,
            lambda cb, ctx: self._bulk.send_varbinds(
                self._engine, target, None, "", non_repeaters, max_repetitions, vbs, cb, ctx
            ),
        )
