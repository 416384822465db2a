"""A small, fast BER codec for the SNMP subset the poller needs.

SNMP messages use a tiny part of BER: definite lengths, primitive encodings, a dozen tags.
pyasn1 (what pysnmp decodes with) handles all of BER generically and costs most of the CPU of
a poll.  This module decodes SNMPv1/v2c *responses* (and SNMPv3 scoped PDUs) directly from
bytes, and encodes the two requests the poller sends (GET, GETBULK).

Contract (checked by property tests against pyasn1/pysnmp in ``tests/monitor/test_ber.py``):

* whenever :func:`decode_message` returns, pysnmp's own decoder returns the same values;
* anything outside the well-trodden subset (indefinite lengths, constructed strings, values out
  of their SMI range, trailing bytes, unknown tags) raises :class:`Unsupported`, and the caller
  falls back to pysnmp;
* malformed or truncated input raises :class:`BerError` (``Unsupported`` is a subclass), never
  anything else, and never loops: every step consumes at least one byte.

Values are plain Python: ``int`` for INTEGER, Counter32, Gauge32, TimeTicks, Counter64;
``bytes`` for OCTET STRING, IpAddress and Opaque; ``tuple[int, ...]`` for OBJECT IDENTIFIER;
``None`` for NULL and the three exception values (the tag says which).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from fleet import errors

# Universal and SNMP application tags (RFC 3416, RFC 2578)
INTEGER: Final = 0x02
OCTET_STRING: Final = 0x04
NULL: Final = 0x05
OBJECT_IDENTIFIER: Final = 0x06
SEQUENCE: Final = 0x30
IP_ADDRESS: Final = 0x40
COUNTER32: Final = 0x41
GAUGE32: Final = 0x42
TIMETICKS: Final = 0x43
OPAQUE: Final = 0x44
COUNTER64: Final = 0x46
NO_SUCH_OBJECT: Final = 0x80
NO_SUCH_INSTANCE: Final = 0x81
END_OF_MIB_VIEW: Final = 0x82

# PDU tags
GET_REQUEST: Final = 0xA0
GET_NEXT_REQUEST: Final = 0xA1
RESPONSE: Final = 0xA2
SET_REQUEST: Final = 0xA3
GET_BULK_REQUEST: Final = 0xA5
REPORT: Final = 0xA8

EXCEPTIONS: Final = frozenset({NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW})

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_UINT32_MAX: Final = 2**32 - 1
_UINT64_MAX: Final = 2**64 - 1
_OCTETS_MAX: Final = 65535  # SMI OCTET STRING (SIZE (0..65535))
_MAX_OID_ARCS: Final = 128  # RFC 2578: at most 128 sub-identifiers
_MAX_ARC: Final = 2**32 - 1
_HIGH_OCTET: Final = re.compile(rb"[\x80-\xff]")

Oid = tuple[int, ...]
Value = int | bytes | tuple[int, ...] | None
VarBind = tuple[Oid, int, Value]
"""``(oid, tag, value)``."""


BerError = errors.BerError
Unsupported = errors.BerUnsupported


@dataclass(frozen=True, slots=True)
class Pdu:
    """A decoded PDU: ``tag`` is RESPONSE, REPORT, ...; ``varbinds`` in wire order."""

    tag: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: tuple[VarBind, ...]


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded SNMPv1/v2c message."""

    version: int
    community: bytes
    pdu: Pdu


def _length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a definite length at ``pos``; return ``(length, position after it)``."""
    if pos >= end:
        raise BerError("truncated: missing length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise Unsupported("indefinite length")
        if count > 4:
            raise Unsupported("length of length > 4")
        if pos + count > end:
            raise BerError("truncated: length octets")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise BerError("truncated: value shorter than its length")
    return length, pos


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Decode tag and length; return ``(tag, start of value, end of value)``."""
    if pos >= end:
        raise BerError("truncated: missing tag")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise Unsupported("multi-octet tag")
    length, start = _length(data, pos + 1, end)
    return tag, start, start + length


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    got, start, stop = _header(data, pos, end)
    if got != tag:
        raise Unsupported(f"expected tag 0x{tag:02x}, got 0x{got:02x}")
    return start, stop


def _integer(data: bytes, start: int, stop: int) -> int:
    if start == stop:
        raise Unsupported("empty INTEGER")
    return int.from_bytes(data[start:stop], "big", signed=True)


def _int32(data: bytes, pos: int, end: int) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, INTEGER)
    value = _integer(data, start, stop)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise Unsupported("INTEGER out of Integer32 range")
    return value, stop


def _oid(data: bytes, start: int, stop: int) -> tuple[int, ...]:
    if start == stop:
        raise Unsupported("empty OBJECT IDENTIFIER")
    body = data[start:stop]
    if body.isascii():  # every sub-identifier fits in one octet: the common case
        if len(body) >= _MAX_OID_ARCS:
            raise Unsupported("OID beyond SMI limits")
        first = body[0]
        if first < 40:
            return (0, *body)
        if first < 80:
            return (1, first - 40, *body[1:])
        return (2, first - 80, *body[1:])
    high = _HIGH_OCTET.search(body)
    assert high is not None  # body is not ASCII
    split = start + high.start()
    arcs: list[int] = list(data[start:split])
    value = 0
    fresh = True
    for i in range(split, stop):
        byte = data[i]
        if fresh and byte == 0x80:
            raise Unsupported("non-minimal OID sub-identifier")
        value = (value << 7) | (byte & 0x7F)
        if byte & 0x80:
            fresh = False
            continue
        arcs.append(value)
        value = 0
        fresh = True
    if not fresh:
        raise Unsupported("OID ends inside a sub-identifier")
    first = arcs[0]
    if first < 40:
        head = [0, first]
    elif first < 80:
        head = [1, first - 40]
    else:
        head = [2, first - 80]
    result = (*head, *arcs[1:])
    if len(result) > _MAX_OID_ARCS or any(a > _MAX_ARC for a in result):
        raise Unsupported("OID beyond SMI limits")
    return result


def _value(data: bytes, tag: int, start: int, stop: int) -> Value:
    if tag == INTEGER:
        value = _integer(data, start, stop)
        if not _INT32_MIN <= value <= _INT32_MAX:
            raise Unsupported("INTEGER out of Integer32 range")
        return value
    if tag in (OCTET_STRING, OPAQUE):
        if stop - start > _OCTETS_MAX:
            raise Unsupported("OCTET STRING over 65535 octets")
        return data[start:stop]
    if tag in (COUNTER32, GAUGE32, TIMETICKS):
        value = _integer(data, start, stop)
        if not 0 <= value <= _UINT32_MAX:
            raise Unsupported("unsigned 32-bit value out of range")
        return value
    if tag == COUNTER64:
        value = _integer(data, start, stop)
        if not 0 <= value <= _UINT64_MAX:
            raise Unsupported("Counter64 out of range")
        return value
    if tag == OBJECT_IDENTIFIER:
        return _oid(data, start, stop)
    if tag == IP_ADDRESS:
        if stop - start != 4:
            raise Unsupported("IpAddress not 4 octets")
        return data[start:stop]
    if tag in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
        if stop != start:
            raise Unsupported("NULL with content")
        return None
    raise Unsupported(f"value tag 0x{tag:02x}")


def decode_pdu(data: bytes, pos: int = 0, end: int | None = None) -> tuple[Pdu, int]:
    """Decode one PDU (RESPONSE, REPORT, requests) at ``pos``; return it and where it ends."""
    if end is None:
        end = len(data)
    tag, start, stop = _header(data, pos, end)
    if tag not in (RESPONSE, REPORT, GET_REQUEST, GET_NEXT_REQUEST, GET_BULK_REQUEST):
        raise Unsupported(f"PDU tag 0x{tag:02x}")
    request_id, p = _int32(data, start, stop)
    error_status, p = _int32(data, p, stop)
    error_index, p = _int32(data, p, stop)
    if tag == GET_BULK_REQUEST and (error_status < 0 or error_index < 0):
        raise Unsupported("negative GETBULK repetitions")
    if tag != GET_BULK_REQUEST and not (0 <= error_status <= 18 and error_index >= 0):
        raise Unsupported("error-status/index out of range")
    vstart, vstop = _expect(data, p, stop, SEQUENCE)
    if vstop != stop:
        raise Unsupported("bytes after varbind list")
    varbinds: list[VarBind] = []
    append = varbinds.append
    p = vstart
    while p < vstop:
        if data[p] != SEQUENCE:
            raise Unsupported("varbind is not a SEQUENCE")
        # short definite lengths inline (the common case); anything else via _expect
        if p + 1 < vstop and data[p + 1] < 0x80:
            bstart = p + 2
            bstop = bstart + data[p + 1]
            if bstop > vstop:
                raise BerError("truncated: value shorter than its length")
        else:
            bstart, bstop = _expect(data, p, vstop, SEQUENCE)
        if bstart + 1 < bstop and data[bstart] == OBJECT_IDENTIFIER and data[bstart + 1] < 0x80:
            ostart = bstart + 2
            ostop = ostart + data[bstart + 1]
            if ostop > bstop:
                raise BerError("truncated: value shorter than its length")
        else:
            ostart, ostop = _expect(data, bstart, bstop, OBJECT_IDENTIFIER)
        oid = _oid(data, ostart, ostop)
        vtag, valstart, valstop = _header(data, ostop, bstop)
        if valstop != bstop:
            raise Unsupported("bytes after varbind value")
        append((oid, vtag, _value(data, vtag, valstart, valstop)))
        p = bstop
    return Pdu(tag, request_id, error_status, error_index, tuple(varbinds)), stop


def decode_message(data: bytes) -> Message:
    """Decode a whole SNMPv1/v2c message (no trailing bytes allowed)."""
    end = len(data)
    start, stop = _expect(data, 0, end, SEQUENCE)
    if stop != end:
        raise Unsupported("trailing bytes after message")
    version, p = _int32(data, start, stop)
    if version not in (0, 1):
        raise Unsupported(f"version {version}")
    cstart, cstop = _expect(data, p, stop, OCTET_STRING)
    pdu, p = decode_pdu(data, cstop, stop)
    if p != stop:
        raise Unsupported("bytes after PDU")
    if version == 0 and any(t == COUNTER64 or t in EXCEPTIONS for _, t, _ in pdu.varbinds):
        raise Unsupported("SNMPv2 types in an SNMPv1 message")
    return Message(version, data[cstart:cstop], pdu)


def peek_request_id(data: bytes) -> int | None:
    """The request-id of a v1/v2c message, or None if it cannot be found (cheap)."""
    try:
        end = len(data)
        start, stop = _expect(data, 0, end, SEQUENCE)
        _, p = _int32(data, start, stop)
        _, cstop = _expect(data, p, stop, OCTET_STRING)
        _, pstart, pstop = _header(data, cstop, stop)
        return _int32(data, pstart, pstop)[0]
    except BerError:
        return None


def decode_scoped_pdu(data: bytes) -> tuple[bytes, bytes, Pdu]:
    """Decode a plaintext SNMPv3 ScopedPDU: ``(contextEngineID, contextName, pdu)``."""
    end = len(data)
    start, stop = _expect(data, 0, end, SEQUENCE)
    estart, estop = _expect(data, start, stop, OCTET_STRING)
    nstart, nstop = _expect(data, estop, stop, OCTET_STRING)
    pdu, p = decode_pdu(data, nstop, stop)
    if p != stop:
        raise Unsupported("bytes after PDU")
    return data[estart:estop], data[nstart:nstop], pdu


def expect_tlv(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """Public form of the header reader: ``(start, stop)`` of the value of a ``tag`` TLV."""
    return _expect(data, pos, end, tag)


def read_int32(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """An Integer32 at ``pos``: ``(value, position after it)``."""
    return _int32(data, pos, end)


def read_header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """``(tag, start of value, end of value)`` of the TLV at ``pos``."""
    return _header(data, pos, end)


# ---------------------------------------------------------------------------------------------
# Encoding (requests only)


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(body)) + body


def tlv(tag: int, body: bytes) -> bytes:
    return _tlv(tag, body)


def encode_integer(value: int) -> bytes:
    size = (value + (value < 0)).bit_length() // 8 + 1
    return _tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def encode_oid(oid: tuple[int, ...]) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise ValueError(f"invalid OID {oid!r}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out.extend(reversed(chunk))
    return _tlv(OBJECT_IDENTIFIER, bytes(out))


def encode_null_varbinds(oids: tuple[tuple[int, ...], ...]) -> bytes:
    """The varbind list ``[(oid, NULL), ...]`` of a read request."""
    return _tlv(SEQUENCE, b"".join(_tlv(SEQUENCE, encode_oid(o) + b"\x05\x00") for o in oids))


def encode_request(
    community: bytes,
    request_id: int,
    varbind_list: bytes,
    *,
    bulk: tuple[int, int] | None = None,
    version: int = 1,
) -> bytes:
    """A v1/v2c GET (``bulk=None``) or GETBULK (``bulk=(non_repeaters, max_repetitions)``).

    ``varbind_list`` comes from :func:`encode_null_varbinds` (cache it per profile)."""
    if bulk is None:
        tag, a, b = GET_REQUEST, 0, 0
    else:
        tag, (a, b) = GET_BULK_REQUEST, bulk
    head = encode_integer(request_id) + encode_integer(a) + encode_integer(b)
    pdu = _tlv(tag, head + varbind_list)
    return _tlv(SEQUENCE, encode_integer(version) + _tlv(OCTET_STRING, community) + pdu)


def parse_oid(text: str) -> tuple[int, ...]:
    """``"1.3.6.1.2.1.1.3.0"`` (a leading dot allowed) to a tuple; ValueError if malformed."""
    parts = text.strip().lstrip(".").split(".")
    try:
        oid = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"not a numeric OID: {text!r}") from None
    if len(oid) < 2 or any(a < 0 for a in oid):
        raise ValueError(f"not a numeric OID: {text!r}")
    return oid


def format_oid(oid: tuple[int, ...]) -> str:
    return ".".join(map(str, oid))
