"""SNMP engines: one long-lived engine per credential set, shared by every device using it.

* :class:`V2cEngine` (SNMPv2c, pysnmp's *v1arch* model: no engine state, community only).
  It owns one asyncio UDP socket with an enlarged receive buffer, matches replies to requests
  by request-id *and* source address, encodes requests with :mod:`fleet.monitor.ber` (byte-equal
  to pysnmp's encoder, see the tests) and decodes replies with the fast decoder, falling back to
  pysnmp/pyasn1 for anything unusual.
* :class:`V3Engine` (SNMPv3 authPriv SHA/AES, pysnmp's *v3arch* ``SnmpEngine``): pysnmp does
  discovery, USM security and time synchronisation; requests use numeric OIDs with
  ``(oid, Null())`` varbinds and no MIB lookup, through the low-level command generators.

Both return a :class:`ber.Pdu` or raise :class:`fleet.errors.SnmpError` whose ``reason`` is one
of :data:`REASONS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from fleet.errors import SnmpError
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.usm import UsmEngine

REASONS: Final = (
    "timeout",
    "auth_error",
    "priv_error",
    "unknown_user",
    "not_in_time_window",
    "decode_error",
    "unreachable",
    "error",
)

DEFAULT_RCVBUF: Final = 4 * 1024 * 1024
_REQUEST_ID_MAX: Final = 2**31 - 1

Oid = tuple[int, ...]


def _enlarged_socket(rcvbuf: int) -> socket.socket:
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


# ---------------------------------------------------------------------------------------------
# pysnmp fallback decoding


def _tag_byte(value: Any) -> int:
    tag = value.tagSet[0]
    return int(tag.tagClass) | int(tag.tagFormat) | int(tag.tagId)


def _from_pyasn1(value: Any) -> tuple[int, ber.Value]:
    tag = _tag_byte(value)
    if tag in (ber.NULL, *ber.EXCEPTIONS):
        return tag, None
    if tag == ber.OBJECT_IDENTIFIER:
        return tag, tuple(value)
    if tag in (ber.OCTET_STRING, ber.OPAQUE, ber.IP_ADDRESS):
        return tag, bytes(value.asOctets())
    return tag, int(value)


def varbinds_from_pysnmp(varbinds: Sequence[Any]) -> tuple[ber.VarBind, ...]:
    out: list[ber.VarBind] = []
    for name, value in varbinds:
        tag, val = _from_pyasn1(value)
        out.append((tuple(int(a) for a in name), tag, val))
    return tuple(out)


def decode_with_pysnmp(data: bytes) -> ber.Message:
    """Decode a v1/v2c message with pysnmp (the reference, and the fallback)."""
    from pyasn1.codec.ber import decoder
    from pyasn1.error import PyAsn1Error
    from pysnmp.proto import api
    from pysnmp.proto.api import verdec
    from pysnmp.proto.error import ProtocolError

    try:
        version = int(verdec.decode_message_version(data))
        mod = api.PROTOCOL_MODULES[version]
        msg, _rest = decoder.decode(data, asn1Spec=mod.Message())
        pdu = mod.apiMessage.get_pdu(msg)
        return ber.Message(
            version,
            bytes(mod.apiMessage.get_community(msg)),
            ber.Pdu(
                _tag_byte(pdu),
                int(mod.apiPDU.get_request_id(pdu)),
                int(pdu[1]),
                int(pdu[2]),
                varbinds_from_pysnmp(mod.apiPDU.get_varbinds(pdu)),
            ),
        )
    except (PyAsn1Error, ProtocolError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise ber.BerError(f"pysnmp could not decode: {exc}") from exc


def decode_response(data: bytes) -> ber.Message:
    """Fast path first; pysnmp for anything the fast decoder does not take."""
    try:
        return ber.decode_message(data)
    except ber.Unsupported:
        return decode_with_pysnmp(data)


# ---------------------------------------------------------------------------------------------
# SNMPv2c


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[ber.Pdu]
    address: tuple[str, int]
    malformed: bool = False


@dataclass(slots=True)
class EngineStats:
    sent: int = 0
    received: int = 0
    fallback_decodes: int = 0
    dropped_malformed: int = 0
    dropped_unmatched: int = 0


class _V2cProtocol(asyncio.DatagramProtocol):
    def __init__(self, engine: V2cEngine) -> None:
        self.engine = engine

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.engine._received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:  # ICMP errors on an unconnected socket
        pass


@dataclass
class V2cEngine:
    """One SNMPv2c engine per community: one socket, many devices, many requests in flight."""

    community: bytes
    rcvbuf: int = DEFAULT_RCVBUF
    stats: EngineStats = field(default_factory=EngineStats)
    _transport: asyncio.DatagramTransport | None = None
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _next_id: int = field(default_factory=lambda: random.randint(1, 2**30))  # noqa: S311

    async def open(self) -> None:
        if self._transport is not None:
            return
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _V2cProtocol(self), sock=_enlarged_socket(self.rcvbuf)
        )
        self._transport = transport

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

    def _request_id(self) -> int:
        rid = self._next_id
        self._next_id = rid + 1 if rid < _REQUEST_ID_MAX else 1
        return rid

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats.received += 1
        try:
            msg = ber.decode_message(data)
        except ber.Unsupported:
            try:
                msg = decode_with_pysnmp(data)
                self.stats.fallback_decodes += 1
            except ber.BerError:
                self._malformed(data, addr)
                return
        except ber.BerError:
            self._malformed(data, addr)
            return
        pending = self._pending.get(msg.pdu.request_id)
        if (
            pending is None
            or pending.address != addr
            or msg.community != self.community
            or msg.pdu.tag != ber.RESPONSE
        ):
            self.stats.dropped_unmatched += 1
            return
        del self._pending[msg.pdu.request_id]
        if not pending.future.done():
            pending.future.set_result(msg.pdu)

    def _malformed(self, data: bytes, addr: tuple[str, int]) -> None:
        """Remember the request got garbage: if no good reply follows, it is a decode_error."""
        self.stats.dropped_malformed += 1
        rid = ber.peek_request_id(data)
        candidates = (
            [self._pending[rid]] if rid in self._pending else
            [p for p in self._pending.values() if p.address == addr]
        )
        for pending in candidates:
            if pending.address == addr:
                pending.malformed = True

    async def request(
        self,
        address: tuple[str, int],
        build: Callable[[int], bytes],
        *,
        timeout: float,
        retries: int,
    ) -> ber.Pdu:
        """Send ``build(request_id)`` to ``address``; retry on silence; the same id each time."""
        if self._transport is None:
            await self.open()
        transport = self._transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        rid = self._request_id()
        packet = build(rid)
        future: asyncio.Future[ber.Pdu] = loop.create_future()
        pending = _Pending(future, address)
        self._pending[rid] = pending
        try:
            for _attempt in range(retries + 1):
                try:
                    transport.sendto(packet, address)
                except OSError as exc:
                    raise SnmpError(f"{address[0]}:{address[1]}: {exc}", "unreachable") from exc
                self.stats.sent += 1
                done, _ = await asyncio.wait((future,), timeout=timeout)
                if done:
                    return future.result()
            reason = "decode_error" if pending.malformed else "timeout"
            raise SnmpError(f"{address[0]}:{address[1]}: no valid answer ({reason})", reason)
        finally:
            self._pending.pop(rid, None)
            if not future.done():
                future.cancel()

    async def get(
        self, address: tuple[str, int], varbind_list: bytes, *, timeout: float, retries: int
    ) -> ber.Pdu:
        community = self.community
        return await self.request(
            address,
            lambda rid: ber.encode_request(community, rid, varbind_list),
            timeout=timeout,
            retries=retries,
        )

    async def bulk(
        self,
        address: tuple[str, int],
        non_repeaters: int,
        max_repetitions: int,
        varbind_list: bytes,
        *,
        timeout: float,
        retries: int,
    ) -> ber.Pdu:
        community = self.community
        return await self.request(
            address,
            lambda rid: ber.encode_request(
                community, rid, varbind_list, bulk=(non_repeaters, max_repetitions)
            ),
            timeout=timeout,
            retries=retries,
        )


# ---------------------------------------------------------------------------------------------
# SNMPv3 (pysnmp v3arch)


def _reason_of(indication: Any) -> str:
    from pysnmp.proto import errind

    table: tuple[tuple[type[Any], str], ...] = (
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


class V3Engine:
    """One pysnmp ``SnmpEngine`` per SNMPv3 credential set (user + keys + protocols)."""

    def __init__(
        self,
        credentials: SnmpCredentials,
        *,
        rcvbuf: int = DEFAULT_RCVBUF,
        timer: float = 0.05,
        security_level: str = "authPriv",
    ) -> None:
        if credentials.version != "3" or not credentials.user:
            raise SnmpError("SNMPv3 engine needs version 3 and a user", "error")
        self.credentials = credentials
        self.security_level = security_level  # "authNoPriv" only for diagnosis (fleet snmp test)
        self.rcvbuf = rcvbuf
        self.timer = timer
        self._engine: Any = None
        self._targets: dict[tuple[str, int, float, int], str] = {}
        self._get: Any = None
        self._bulk: Any = None

    async def open(self) -> None:
        if self._engine is not None:
            return
        from pysnmp.carrier.asyncio.dgram import udp
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import cmdgen

        creds = self.credentials
        auth = {"SHA": config.USM_AUTH_HMAC96_SHA}.get(creds.auth_protocol.upper())
        priv = {"AES": config.USM_PRIV_CFB128_AES, "AES128": config.USM_PRIV_CFB128_AES}.get(
            creds.priv_protocol.upper()
        )
        if auth is None or priv is None or creds.auth_key is None or creds.priv_key is None:
            raise SnmpError(
                f"SNMPv3 user {creds.user!r}: only authPriv with SHA/AES is supported", "error"
            )
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
        transport = udp.UdpAsyncioTransport().open_server_mode(sock=_enlarged_socket(self.rcvbuf))
        config.add_transport(eng, udp.DOMAIN_NAME, transport)
        eng.transport_dispatcher.set_timer_resolution(self.timer)
        self._engine = eng
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGenerator()

    def close(self) -> None:
        """Stop receiving first, then unregister once the datagrams already queued by the
        transport have been handled (else pysnmp logs 'Unregistered transport' for each)."""
        if self._engine is None:
            return
        engine, self._engine = self._engine, None
        self._targets.clear()
        with contextlib.suppress(Exception):  # pysnmp teardown is best effort
            from pysnmp.carrier.asyncio.dgram import udp
            from pysnmp.entity import config

            config.get_transport(engine, udp.DOMAIN_NAME).close_transport()
        try:
            asyncio.get_running_loop().call_soon(self._close_dispatcher, engine)
        except RuntimeError:  # no running loop
            self._close_dispatcher(engine)

    @staticmethod
    def _close_dispatcher(engine: Any) -> None:
        with contextlib.suppress(Exception):
            engine.close_dispatcher()

    def _target(self, address: tuple[str, int], timeout: float, retries: int) -> str:
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
    def _varbinds(oids: Sequence[Oid]) -> list[tuple[Any, Any]]:
        from pyasn1.type.univ import Null
        from pysnmp.proto import rfc1902

        return [(rfc1902.ObjectName(o), Null("")) for o in oids]

    async def _run(self, send: Callable[[Any, Any], None]) -> ber.Pdu:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ber.Pdu] = loop.create_future()

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

        send(callback, None)
        return await future

    async def get(
        self, address: tuple[str, int], oids: Sequence[Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        await self.open()
        target = self._target(address, timeout, retries)
        vbs = self._varbinds(oids)
        return await self._run(
            lambda cb, ctx: self._get.send_varbinds(self._engine, target, None, "", vbs, cb, ctx)
        )

    async def bulk(
        self,
        address: tuple[str, int],
        non_repeaters: int,
        max_repetitions: int,
        oids: Sequence[Oid],
        *,
        timeout: float,
        retries: int,
    ) -> ber.Pdu:
        await self.open()
        target = self._target(address, timeout, retries)
        vbs = self._varbinds(oids)
        return await self._run(
            lambda cb, ctx: self._bulk.send_varbinds(
                self._engine, target, None, "", non_repeaters, max_repetitions, vbs, cb, ctx
            )
        )


Engine = V2cEngine | V3Engine | UsmEngine


def _engine_key(creds: SnmpCredentials) -> tuple[str, ...]:
    """Two users of the same name with different keys must not share an engine (their
    localized keys differ): ``SnmpCredentials.key`` carries a digest of the secrets."""
    return creds.key


class Engines:
    """The engines of one poller, created on first use, one per credential set.

    ``v3="fast"`` (default): :class:`fleet.monitor.usm.UsmEngine` (pysnmp's security services,
    fast framing and decoding); ``v3="pysnmp"``: :class:`V3Engine`, pysnmp's whole v3arch."""

    def __init__(self, *, rcvbuf: int = DEFAULT_RCVBUF, v3: str = "fast") -> None:
        if v3 not in ("fast", "pysnmp"):
            raise SnmpError(f"unknown SNMPv3 implementation {v3!r}", "error")
        self.rcvbuf = rcvbuf
        self.v3 = v3
        self._engines: dict[tuple[str, ...], Engine] = {}

    def for_credentials(self, creds: SnmpCredentials) -> Engine:
        key = _engine_key(creds)
        engine = self._engines.get(key)
        if engine is None:
            if creds.version == "3" and self.v3 == "fast":
                engine = UsmEngine(creds, rcvbuf=self.rcvbuf)
            elif creds.version == "3":
                engine = V3Engine(creds, rcvbuf=self.rcvbuf)
            elif creds.version in ("2c", "2"):
                community = creds.community.get_secret_value() if creds.community else "public"
                engine = V2cEngine(community.encode(), rcvbuf=self.rcvbuf)
            else:
                raise SnmpError(f"unsupported SNMP version {creds.version!r}", "error")
            self._engines[key] = engine
        return engine

    def __len__(self) -> int:
        return len(self._engines)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()


# ---------------------------------------------------------------------------------------------
# One-device diagnosis (fleet snmp test)

SYS_DESCR: Final = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_UPTIME: Final = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME: Final = (1, 3, 6, 1, 2, 1, 1, 5, 0)

EXPLANATIONS: Final = {
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
}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    reason: str | None
    message: str
    elapsed_ms: float
    sys_descr: str | None = None
    sys_name: str | None = None
    uptime_s: int | None = None


def _port_closed(address: tuple[str, int], packet: bytes, timeout: float) -> bool:
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
    address: tuple[str, int],
    *,
    timeout: float = 2.0,
    retries: int = 1,
) -> ProbeResult:
    """GET sysDescr, sysName, sysUpTime once and explain precisely what went wrong, if anything."""
    started = time.perf_counter()
    oids = (SYS_DESCR, SYS_NAME, SYS_UPTIME)

    def result(ok: bool, reason: str | None, message: str, **kw: Any) -> ProbeResult:
        elapsed = round((time.perf_counter() - started) * 1000.0, 1)
        return ProbeResult(ok, reason, message, elapsed, **kw)

    engines = Engines()
    try:
        engine = engines.for_credentials(credentials)
        try:
            if isinstance(engine, V2cEngine):
                pdu = await engine.get(
                    address, ber.encode_null_varbinds(oids), timeout=timeout, retries=retries
                )
            else:
                pdu = await engine.get(address, oids, timeout=timeout, retries=retries)
        except SnmpError as exc:
            reason = exc.reason
            if reason == "timeout":
                reason = await _refine_timeout(credentials, address, timeout)
            return result(False, reason, EXPLANATIONS.get(reason, str(exc)))
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
    credentials: SnmpCredentials, address: tuple[str, int], timeout: float
) -> str:
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
