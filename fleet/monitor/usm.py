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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from fleet.errors import (
    SnmpError,
    SnmpReason,
    _Rediscover,  # declared with every error
)
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.fallback import scoped_pdu_with_pysnmp
from fleet.monitor.transport import DEFAULT_RCVBUF, Address, Transport

USM_STATS: Final[MappingProxyType[ber.Oid, SnmpReason]] = MappingProxyType({
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 1, 0): "error",  # usmStatsUnsupportedSecLevels
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0): "not_in_time_window",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0): "unknown_user",
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0): "auth_error",  # usmStatsWrongDigests
    (1, 3, 6, 1, 6, 3, 15, 1, 1, 6, 0): "priv_error",  # usmStatsDecryptionErrors
})
_UNKNOWN_ENGINE_ID: Final = (1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0)  # usmStatsUnknownEngineIDs
_MAX_SIZE: Final = 65507
_FLAG_AUTH, _FLAG_PRIV, _FLAG_REPORTABLE = 0x01, 0x02, 0x04
_USM: Final = 3


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


def is_v3_message(data: bytes) -> bool:
    """Does ``data`` parse as an SNMPv3 message with USM parameters (not: is it authentic)?"""
    try:
        _parse(data)
    except ber.BerError:
        return False
    return True


def _scoped_pdu(plaintext: bytes) -> ber.Pdu:
    """Decode a scoped PDU (fast, pysnmp as fallback); decrypted text may carry padding."""
    try:
        _tag, _start, stop = ber.read_header(plaintext, 0, len(plaintext))
        return ber.decode_scoped_pdu(plaintext[:stop])[2]
    except ber.Unsupported:
        return scoped_pdu_with_pysnmp(plaintext)


@dataclass
class UsmStats:
    discoveries: int = 0
    resyncs: int = 0


def _decode_envelope(data: bytes) -> tuple[int, _Reply]:
    reply = _parse(data)
    return reply.msg_id, reply


def _discovery_packet(msg_id: int) -> bytes:
    """RFC 3414 4: an unauthenticated, reportable, empty GET; the Report carries the agent's
    engine ID, boots and time."""
    pdu = ber.tlv(
        ber.GET_REQUEST,
        ber.encode_integer(msg_id) + ber.encode_integer(0) + ber.encode_integer(0)
        + ber.tlv(ber.SEQUENCE, b""),
    )
    scoped = ber.tlv(ber.SEQUENCE, ber.tlv(4, b"") + ber.tlv(4, b"") + pdu)
    usm = ber.tlv(ber.SEQUENCE, ber.tlv(4, b"") + ber.encode_integer(0)
                  + ber.encode_integer(0) + ber.tlv(4, b"") + ber.tlv(4, b"") + ber.tlv(4, b""))
    return _envelope(msg_id, _FLAG_REPORTABLE, usm, scoped)


def _envelope(msg_id: int, flags: int, usm: bytes, msg_data: bytes) -> bytes:
    header = ber.tlv(
        ber.SEQUENCE,
        ber.encode_integer(msg_id) + ber.encode_integer(_MAX_SIZE)
        + ber.tlv(4, bytes((flags,))) + ber.encode_integer(_USM),
    )
    return ber.tlv(ber.SEQUENCE, ber.encode_integer(3) + header + ber.tlv(4, usm) + msg_data)


async def _discover_with(
    transport: Transport[_Reply], address: Address, timeout: float, retries: int
) -> _Reply:
    msg_id = transport.next_id()
    reply = await transport.exchange(
        address, msg_id, _discovery_packet(msg_id), timeout=timeout, retries=retries
    )
    if not reply.engine_id:
        raise SnmpError(f"{address[0]}:{address[1]}: discovery: no engine ID", "error")
    return reply


async def answers_discovery(address: Address, timeout: float) -> bool:
    """Is an SNMPv3 agent there at all?  One short unauthenticated discovery, on a socket of
    its own (for engines that do not own a :class:`Transport`: :mod:`fleet.monitor.v3arch`)."""
    transport: Transport[_Reply] = Transport(_decode_envelope)
    try:
        await _discover_with(transport, address, min(timeout, 0.5), 0)
    except SnmpError:
        return False
    finally:
        transport.close()
    return True


class UsmEngine:
    """SNMPv3 authPriv SHA/AES engine for many agents (see the module docstring)."""

    def __init__(
        self,
        credentials: SnmpCredentials,
        *,
        rcvbuf: int = DEFAULT_RCVBUF,
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
        self.clock = clock
        self.stats = UsmStats()
        self.transport: Transport[_Reply] = Transport(_decode_envelope, rcvbuf=rcvbuf)
        self._peers: dict[Address, _Peer] = {}
        self._discovering: dict[Address, asyncio.Future[_Peer]] = {}
        self._ku: tuple[Any, Any] | None = None
        self._localized: dict[bytes, tuple[Any, Any]] = {}
        self._services: tuple[Any, Any] | None = None

    # -- plumbing ---------------------------------------------------------------------------

    async def open(self) -> None:
        await self.transport.open()

    def close(self) -> None:
        self.transport.close()

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

    async def _peer(self, address: Address, timeout: float, retries: int) -> _Peer:
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

    async def _discover(self, address: Address, timeout: float, retries: int) -> _Peer:
        self.stats.discoveries += 1
        reply = await _discover_with(self.transport, address, timeout, retries)
        auth_key, priv_key = self._keys(reply.engine_id)
        return _Peer(reply.engine_id, reply.boots, reply.time, self.clock(), auth_key, priv_key)

    async def _answers_discovery(self, address: Address, timeout: float) -> bool:
        """After a timeout: is the agent there at all?  (One short unauthenticated probe.)"""
        try:
            await _discover_with(self.transport, address, min(timeout, 0.5), 0)
        except SnmpError:
            return False
        return True

    # -- requests -----------------------------------------------------------------------------

    def _encode(self, peer: _Peer, msg_id: int, pdu: bytes) -> bytes:
        auth, priv = self._security()
        boots, etime = peer.boots, peer.now(self.clock)
        scoped = ber.tlv(ber.SEQUENCE, ber.tlv(4, peer.engine_id) + ber.tlv(4, b"") + pdu)
        try:
            encrypted, salt = priv.encrypt_data(peer.priv_key, (boots, etime, None), scoped)
            usm = ber.tlv(
                ber.SEQUENCE,
                ber.tlv(4, peer.engine_id) + ber.encode_integer(boots)
                + ber.encode_integer(etime) + ber.tlv(4, self.user) + ber.tlv(4, bytes(12))
                + ber.tlv(4, salt.asOctets()),
            )
            flags = _FLAG_AUTH | _FLAG_PRIV | _FLAG_REPORTABLE
            whole = _envelope(msg_id, flags, usm, ber.tlv(4, encrypted.asOctets()))
            return bytes(auth.authenticate_outgoing_message(peer.auth_key, whole))
        except Exception as exc:  # pysnmp's auth/priv services (boundary): raise what they like
            raise SnmpError(f"cannot encrypt/sign the request: {exc}", "error") from exc

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
            except Exception as exc:  # pysnmp boundary, fed with the agent's bytes
                raise SnmpError(f"reply cannot be authenticated: {exc}", "decode_error") from exc
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
            except Exception as exc:  # pysnmp boundary, fed with the agent's bytes
                raise SnmpError(f"reply cannot be decrypted: {exc}", "decode_error") from exc
        elif reply.data_tag == ber.SEQUENCE:
            plaintext = reply.data
        else:
            raise SnmpError("malformed reply", "decode_error")
        try:
            pdu = _scoped_pdu(bytes(plaintext))
        except ber.BerError as exc:
            # garbage after decryption: the agent used another privacy key
            reason: SnmpReason = "priv_error" if reply.flags & _FLAG_PRIV else "decode_error"
            raise SnmpError(f"undecodable scoped PDU: {exc}", reason) from exc
        if pdu.tag == ber.REPORT:
            self._reported(peer, reply, pdu)
        if pdu.tag != ber.RESPONSE:
            raise SnmpError(f"unexpected PDU 0x{pdu.tag:02x}", "decode_error")
        return pdu

    def _reported(self, peer: _Peer, reply: _Reply, pdu: ber.Pdu) -> None:
        """A Report PDU: raise the reason its usmStats counter names."""
        oid = pdu.varbinds[0][0] if pdu.varbinds else ()
        text = f"agent reported {ber.format_oid(oid)}"
        if oid == _UNKNOWN_ENGINE_ID:
            raise _Rediscover(text, "error")
        reason = USM_STATS.get(oid, "error")
        if reason == "not_in_time_window":
            if not reply.flags & _FLAG_AUTH:
                raise SnmpError(text, "auth_error")  # only an authenticated report moves our clock
            peer.boots, peer.time, peer.at = reply.boots, reply.time, self.clock()
        raise SnmpError(text, reason)

    async def _request(
        self, address: Address, tag: int, a: int, b: int, oids: Sequence[ber.Oid],
        timeout: float, retries: int,
    ) -> ber.Pdu:  # fmt: skip
        varbind_list = ber.encode_null_varbinds(tuple(oids))
        for attempt in range(2):
            peer = await self._peer(address, timeout, retries)
            msg_id = self.transport.next_id()
            pdu = ber.tlv(
                tag,
                ber.encode_integer(msg_id) + ber.encode_integer(a) + ber.encode_integer(b)
                + varbind_list,
            )
            packet = self._encode(peer, msg_id, pdu)
            try:
                reply = await self.transport.exchange(
                    address, msg_id, packet, timeout=timeout, retries=retries
                )
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
            except _Rediscover:
                if attempt == 0:
                    self._peers.pop(address, None)  # the agent changed engine ID: rediscover
                    self.stats.resyncs += 1
                    continue
                raise
            except SnmpError as exc:
                if attempt == 0 and exc.reason == "not_in_time_window":
                    self.stats.resyncs += 1
                    continue
                raise
            if result.request_id != msg_id:
                raise SnmpError("reply to another request", "decode_error")
            return result
        raise SnmpError(f"{address[0]}:{address[1]}: time window not reached", "not_in_time_window")

    async def get(
        self, address: Address, oids: Sequence[ber.Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        return await self._request(address, ber.GET_REQUEST, 0, 0, oids, timeout, retries)

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
            address, ber.GET_BULK_REQUEST, non_repeaters, max_repetitions, oids, timeout, retries
        )
