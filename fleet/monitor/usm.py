"""SNMPv3 authPriv (USM, RFC 3414; HMAC-SHA-96 and AES-CFB-128, RFC 3826) on the fast path.

pysnmp's v3arch engine spends ~7 ms of CPU per request, most of it decoding the same message
several times with pyasn1.  Here the *security transforms* stay pysnmp's own (key derivation
``localkey``, ``HmacSha`` authentication, ``Aes`` privacy: the services its USM module calls),
while the message framing is done by :mod:`fleet.monitor.ber` and the decrypted scoped PDU is
decoded by the fast decoder (pysnmp/pyasn1 as fallback for anything unusual).

One :class:`UsmEngine` per credential set: one socket, keys derived once (the 1 MB passphrase
hash), localized once per agent engine ID, engine discovery once per agent (single flight),
boots/time tracked per agent with one resynchronisation on ``notInTimeWindow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fleet.errors import SnmpError
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber

USM_STATS: Final[dict[tuple[int, ...], str]] = {
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0): "error",  # usmStatsUnsupportedSecLevels
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0): "not_in_time_window",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0): "unknown_user",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0): "unknown_engine_id",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0): "auth_error",  # usmStatsWrongDigests
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0): "priv_error",  # usmStatsDecryptionErrors
}
_MAX_SIZE: Final = 65507
_FLAG_AUTH, _FLAG_PRIV, _FLAG_REPORTABLE = 0x01, 0x02, 0x04
_USM: Final = 3
_ID_MAX: Final = 2**31 - 1

Oid = tuple[int, ...]


@dataclass(slots=True)
class _Peer:
    engine_id: bytes
    boots: int
    time: int
    at: float
    auth_key: Any  # localized keys (pyasn1 OctetString, as pysnmp's services expect)
    priv_key: Any

    def now(self, clock: Callable[[], float]) -> int:
        return self.time + int(clock() - self.at)


@dataclass(frozen=True, slots=True)
class _Reply:
    msg_id: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_params: bytes
    priv_params: bytes
    data_tag: int
    data: bytes  # encrypted octets or the plaintext scoped PDU
    raw: bytes  # the whole message, for authentication


def _parse(data: bytes) -> _Reply:
    """The SNMPv3 envelope and USM parameters (not the scoped PDU)."""
    end = len(data)
    start, stop = ber.expect_tlv(data, 0, end, ber.SEQUENCE)
    if stop != end:
        raise ber.Unsupported("trailing bytes after message")
    version, p = ber.read_int32(data, start, stop)
    if version != 3:
        raise ber.BerError(f"not SNMPv3 (version {version})")
    hs, he = ber.expect_tlv(data, p, stop, ber.SEQUENCE)
    msg_id, q = ber.read_int32(data, hs, he)
    _max_size, q = ber.read_int32(data, q, he)
    fs, fe = ber.expect_tlv(data, q, he, ber.OCTET_STRING)
    if fe - fs != 1:
        raise ber.BerError("msgFlags is not one octet")
    flags = data[fs]
    model, _q = ber.read_int32(data, fe, he)
    if model != _USM:
        raise ber.BerError(f"security model {model}")
    ss, se = ber.expect_tlv(data, he, stop, ber.OCTET_STRING)
    us, ue = ber.expect_tlv(data, ss, se, ber.SEQUENCE)
    es, ee = ber.expect_tlv(data, us, ue, ber.OCTET_STRING)
    boots, q = ber.read_int32(data, ee, ue)
    etime, q = ber.read_int32(data, q, ue)
    ns, ne = ber.expect_tlv(data, q, ue, ber.OCTET_STRING)
    as_, ae = ber.expect_tlv(data, ne, ue, ber.OCTET_STRING)
    ps, pe = ber.expect_tlv(data, ae, ue, ber.OCTET_STRING)
    tag, ds, de = ber.read_header(data, se, stop)
    if de != stop:
        raise ber.BerError("bytes after msgData")
    body = data[ds:de] if tag == ber.OCTET_STRING else data[se:stop]
    return _Reply(
        msg_id, flags, data[es:ee], boots, etime, data[ns:ne], data[as_:ae], data[ps:pe],
        tag, body, data,
    )


def _scoped_pdu(plaintext: bytes) -> ber.Pdu:
    """Decode a scoped PDU (fast, pysnmp as fallback); decrypted text may carry padding."""
    try:
        _tag, _start, stop = ber.read_header(plaintext, 0, len(plaintext))
        return ber.decode_scoped_pdu(plaintext[:stop])[2]
    except ber.Unsupported:
        return _scoped_pdu_with_pysnmp(plaintext)


def _scoped_pdu_with_pysnmp(plaintext: bytes) -> ber.Pdu:
    from pyasn1.codec.ber import decoder
    from pyasn1.error import PyAsn1Error
    from pysnmp.proto import api
    from pysnmp.proto.mpmod.rfc3412 import ScopedPDU

    from fleet.monitor.snmp import _tag_byte, varbinds_from_pysnmp

    try:
        scoped, _rest = decoder.decode(plaintext, asn1Spec=ScopedPDU())
        pdu = scoped.getComponentByPosition(2).getComponent()
        v2c = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
        return ber.Pdu(
            _tag_byte(pdu), int(pdu[0]), int(pdu[1]), int(pdu[2]),
            varbinds_from_pysnmp(v2c.apiPDU.get_varbinds(pdu)),
        )
    except (PyAsn1Error, ValueError, TypeError, IndexError, KeyError) as exc:
        raise ber.BerError(f"pysnmp could not decode the scoped PDU: {exc}") from exc


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, engine: UsmEngine) -> None:
        self.engine = engine

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.engine._received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        pass


@dataclass(slots=True)
class _Waiting:
    future: asyncio.Future[_Reply]
    address: tuple[str, int]


@dataclass
class UsmStats:
    sent: int = 0
    received: int = 0
    discoveries: int = 0
    resyncs: int = 0
    fallback_decodes: int = 0
    dropped: int = 0


class UsmEngine:
    """SNMPv3 authPriv SHA/AES engine for many agents (see the module docstring)."""

    def __init__(
        self,
        credentials: SnmpCredentials,
        *,
        rcvbuf: int = 4 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        creds = credentials
        if creds.version != "3" or not creds.user:
            raise SnmpError("SNMPv3 engine needs version 3 and a user", "error")
        if (
            creds.auth_protocol.upper() != "SHA"
            or creds.priv_protocol.upper() not in ("AES", "AES128")
            or creds.auth_key is None
            or creds.priv_key is None
        ):
            raise SnmpError(
                f"SNMPv3 user {creds.user!r}: only authPriv with SHA/AES is supported", "error"
            )
        self.user = creds.user.encode()
        self._auth_pass = creds.auth_key
        self._priv_pass = creds.priv_key
        self.rcvbuf = rcvbuf
        self.clock = clock
        self.stats = UsmStats()
        self._transport: asyncio.DatagramTransport | None = None
        self._waiting: dict[int, _Waiting] = {}
        self._peers: dict[tuple[str, int], _Peer] = {}
        self._discovering: dict[tuple[str, int], asyncio.Future[_Peer]] = {}
        self._ids = itertools.count(random.randint(1, 2**30))  # noqa: S311 - not a secret
        self._ku: tuple[Any, Any] | None = None
        self._localized: dict[bytes, tuple[Any, Any]] = {}
        self._services: tuple[Any, Any] | None = None

    # -- plumbing ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._transport is not None:
            return
        from fleet.monitor.snmp import _enlarged_socket

        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), sock=_enlarged_socket(self.rcvbuf)
        )
        self._transport = transport

    def close(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(RuntimeError):
                self._transport.close()
            self._transport = None
        for waiting in self._waiting.values():
            if not waiting.future.done():
                with contextlib.suppress(RuntimeError):  # its loop may be closed already
                    waiting.future.set_exception(SnmpError("engine closed", "error"))
        self._waiting.clear()

    def _next_id(self) -> int:
        value = next(self._ids) % _ID_MAX
        return value or 1

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats.received += 1
        try:
            reply = _parse(data)
        except ber.BerError:
            self.stats.dropped += 1
            return
        waiting = self._waiting.get(reply.msg_id)
        if waiting is None or waiting.address != addr or waiting.future.done():
            self.stats.dropped += 1
            return
        del self._waiting[reply.msg_id]
        waiting.future.set_result(reply)

    async def _exchange(
        self, address: tuple[str, int], msg_id: int, packet: bytes, timeout: float, retries: int
    ) -> _Reply:
        await self.open()
        assert self._transport is not None
        future: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = _Waiting(future, address)
        try:
            for _attempt in range(retries + 1):
                try:
                    self._transport.sendto(packet, address)
                except OSError as exc:
                    raise SnmpError(f"{address[0]}:{address[1]}: {exc}", "unreachable") from exc
                self.stats.sent += 1
                done, _ = await asyncio.wait((future,), timeout=timeout)
                if done:
                    return future.result()
            raise SnmpError(f"{address[0]}:{address[1]}: no answer", "timeout")
        finally:
            self._waiting.pop(msg_id, None)
            if not future.done():
                future.cancel()

    # -- security (pysnmp's services) ---------------------------------------------------------

    def _security(self) -> tuple[Any, Any]:
        if self._services is None:
            from pysnmp.proto.secmod.rfc3414.auth.hmacsha import HmacSha
            from pysnmp.proto.secmod.rfc3826.priv.aes import Aes

            self._services = (HmacSha(), Aes())
        return self._services

    def _keys(self, engine_id: bytes) -> tuple[Any, Any]:
        keys = self._localized.get(engine_id)
        if keys is None:
            from pyasn1.type.univ import OctetString
            from pysnmp.proto.secmod.rfc3414.auth.hmacsha import HmacSha

            auth, priv = self._security()
            if self._ku is None:
                self._ku = (
                    auth.hash_passphrase(self._auth_pass.get_secret_value()),
                    priv.hash_passphrase(HmacSha.SERVICE_ID, self._priv_pass.get_secret_value()),
                )
            eid = OctetString(engine_id)
            keys = (
                auth.localize_key(self._ku[0], eid),
                priv.localize_key(HmacSha.SERVICE_ID, self._ku[1], eid),
            )
            self._localized[engine_id] = keys
        return keys

    # -- discovery ----------------------------------------------------------------------------

    async def _peer(self, address: tuple[str, int], timeout: float, retries: int) -> _Peer:
        peer = self._peers.get(address)
        if peer is not None:
            return peer
        pending = self._discovering.get(address)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Peer] = asyncio.get_running_loop().create_future()
        self._discovering[address] = future
        try:
            peer = await self._discover(address, timeout, retries)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._discovering.pop(address, None)
        future.set_result(peer)
        self._peers[address] = peer
        return peer

    async def _discover(self, address: tuple[str, int], timeout: float, retries: int) -> _Peer:
        """RFC 3414 4: an unauthenticated, reportable, empty GET; the Report carries the agent's
        engine ID, boots and time."""
        self.stats.discoveries += 1
        msg_id = self._next_id()
        pdu = ber.tlv(
            ber.GET_REQUEST,
            ber.encode_integer(msg_id) + ber.encode_integer(0) + ber.encode_integer(0)
            + ber.tlv(ber.SEQUENCE, b""),
        )
        scoped = ber.tlv(ber.SEQUENCE, ber.tlv(4, b"") + ber.tlv(4, b"") + pdu)
        usm = ber.tlv(ber.SEQUENCE, ber.tlv(4, b"") + ber.encode_integer(0)
                      + ber.encode_integer(0) + ber.tlv(4, b"") + ber.tlv(4, b"") + ber.tlv(4, b""))
        packet = self._envelope(msg_id, _FLAG_REPORTABLE, usm, scoped)
        reply = await self._exchange(address, msg_id, packet, timeout, retries)
        if not reply.engine_id:
            raise SnmpError(f"{address[0]}:{address[1]}: discovery: no engine ID", "error")
        auth_key, priv_key = self._keys(reply.engine_id)
        return _Peer(reply.engine_id, reply.boots, reply.time, self.clock(), auth_key, priv_key)

    async def _answers_discovery(self, address: tuple[str, int], timeout: float) -> bool:
        """After a timeout: is the agent there at all?  (One short unauthenticated probe.)"""
        try:
            await self._discover(address, min(timeout, 0.5), 0)
        except SnmpError:
            return False
        return True

    # -- requests -----------------------------------------------------------------------------

    @staticmethod
    def _envelope(msg_id: int, flags: int, usm: bytes, msg_data: bytes) -> bytes:
        header = ber.tlv(
            ber.SEQUENCE,
            ber.encode_integer(msg_id) + ber.encode_integer(_MAX_SIZE)
            + ber.tlv(4, bytes((flags,))) + ber.encode_integer(_USM),
        )
        return ber.tlv(
            ber.SEQUENCE, ber.encode_integer(3) + header + ber.tlv(4, usm) + msg_data
        )

    def _encode(self, peer: _Peer, msg_id: int, pdu: bytes) -> bytes:
        auth, priv = self._security()
        boots, etime = peer.boots, peer.now(self.clock)
        scoped = ber.tlv(ber.SEQUENCE, ber.tlv(4, peer.engine_id) + ber.tlv(4, b"") + pdu)
        encrypted, salt = priv.encrypt_data(peer.priv_key, (boots, etime, None), scoped)
        usm = ber.tlv(
            ber.SEQUENCE,
            ber.tlv(4, peer.engine_id) + ber.encode_integer(boots) + ber.encode_integer(etime)
            + ber.tlv(4, self.user) + ber.tlv(4, bytes(12)) + ber.tlv(4, salt.asOctets()),
        )
        flags = _FLAG_AUTH | _FLAG_PRIV | _FLAG_REPORTABLE
        whole = self._envelope(msg_id, flags, usm, ber.tlv(4, encrypted.asOctets()))
        return bytes(auth.authenticate_outgoing_message(peer.auth_key, whole))

    def _open_reply(self, peer: _Peer, reply: _Reply) -> ber.Pdu:
        """Authenticate, decrypt, decode; raise SnmpError with the precise reason."""
        from pyasn1.type.univ import OctetString
        from pysnmp.proto.error import StatusInformation

        auth, priv = self._security()
        if reply.flags & _FLAG_AUTH:
            if reply.engine_id != peer.engine_id:
                raise SnmpError("reply from another engine ID", "error")
            try:
                auth.authenticate_incoming_message(
                    peer.auth_key, OctetString(reply.auth_params), reply.raw
                )
            except StatusInformation as exc:
                raise SnmpError("reply fails authentication", "auth_error") from exc
            peer.boots, peer.time, peer.at = reply.boots, reply.time, self.clock()
        if reply.flags & _FLAG_PRIV:
            if reply.data_tag != ber.OCTET_STRING or not reply.flags & _FLAG_AUTH:
                raise SnmpError("malformed encrypted reply", "decode_error")
            try:
                plaintext = priv.decrypt_data(
                    peer.priv_key,
                    (reply.boots, reply.time, OctetString(reply.priv_params)),
                    OctetString(reply.data),
                )
            except StatusInformation as exc:
                raise SnmpError("reply cannot be decrypted", "priv_error") from exc
        elif reply.data_tag == ber.SEQUENCE:
            plaintext = reply.data
        else:
            raise SnmpError("malformed reply", "decode_error")
        try:
            pdu = _scoped_pdu(bytes(plaintext))
        except ber.BerError as exc:
            # garbage after decryption: the agent used another privacy key
            reason = "priv_error" if reply.flags & _FLAG_PRIV else "decode_error"
            raise SnmpError(f"undecodable scoped PDU: {exc}", reason) from exc
        if pdu.tag == ber.REPORT:
            oid = pdu.varbinds[0][0] if pdu.varbinds else ()
            reason = USM_STATS.get(oid, "error")
            if reason == "not_in_time_window" and not reply.flags & _FLAG_AUTH:
                reason = "auth_error"  # only an authenticated report may move our clock
            if reason == "not_in_time_window":
                peer.boots, peer.time, peer.at = reply.boots, reply.time, self.clock()
            raise SnmpError(f"agent reported {ber.format_oid(oid)}", reason)
        if pdu.tag != ber.RESPONSE:
            raise SnmpError(f"unexpected PDU 0x{pdu.tag:02x}", "decode_error")
        return pdu

    async def request(
        self,
        address: tuple[str, int],
        tag: int,
        a: int,
        b: int,
        varbind_list: bytes,
        *,
        timeout: float,
        retries: int,
    ) -> ber.Pdu:
        for attempt in range(2):
            peer = await self._peer(address, timeout, retries)
            msg_id = self._next_id()
            pdu = ber.tlv(
                tag,
                ber.encode_integer(msg_id) + ber.encode_integer(a) + ber.encode_integer(b)
                + varbind_list,
            )
            packet = self._encode(peer, msg_id, pdu)
            try:
                reply = await self._exchange(address, msg_id, packet, timeout, retries)
            except SnmpError as exc:
                if exc.reason == "timeout" and await self._answers_discovery(address, timeout):
                    # Alive, yet silent to authPriv: net-snmp drops what it cannot decrypt
                    # (a wrong auth key gets a report instead), so the privacy key is wrong.
                    raise SnmpError(
                        f"{address[0]}:{address[1]}: the agent answers discovery but not our "
                        "authPriv requests: privacy key (or protocol) mismatch", "priv_error",
                    ) from exc
                raise
            try:
                result = self._open_reply(peer, reply)
            except SnmpError as exc:
                if attempt == 0 and exc.reason == "not_in_time_window":
                    self.stats.resyncs += 1
                    continue
                if attempt == 0 and exc.reason == "unknown_engine_id":
                    self._peers.pop(address, None)  # the agent changed engine ID: rediscover
                    self.stats.resyncs += 1
                    continue
                raise
            if result.request_id != msg_id:
                raise SnmpError("reply to another request", "decode_error")
            return result
        raise SnmpError(f"{address[0]}:{address[1]}: time window not reached", "not_in_time_window")

    async def get(
        self, address: tuple[str, int], oids: Sequence[Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        return await self.request(
            address, ber.GET_REQUEST, 0, 0, ber.encode_null_varbinds(tuple(oids)),
            timeout=timeout, retries=retries,
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
        return await self.request(
            address, ber.GET_BULK_REQUEST, non_repeaters, max_repetitions,
            ber.encode_null_varbinds(tuple(oids)), timeout=timeout, retries=retries,
        )

