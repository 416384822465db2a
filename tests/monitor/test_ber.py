"""The fast BER codec against pysnmp/pyasn1, the reference implementation.

Property: for every message pysnmp encodes, the fast decoder returns exactly what pysnmp's
decoder returns; for arbitrary (malformed, truncated, mutated) bytes, the fast decoder either
agrees with pysnmp or raises BerError, never anything else.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import encoder
from pysnmp.proto import api

from fleet.monitor import ber
from fleet.monitor.fallback import decode_response, decode_with_pysnmp

V2C = api.v2c
V1 = api.v1

arcs = st.integers(min_value=0, max_value=2**32 - 1)
small_arcs = st.integers(min_value=0, max_value=200)


@st.composite
def oids(draw: st.DrawFn) -> tuple[int, ...]:
    first = draw(st.integers(0, 2))
    second = draw(st.integers(0, 39)) if first < 2 else draw(st.integers(0, 2**20))
    rest = draw(st.lists(st.one_of(small_arcs, arcs), min_size=0, max_size=40))
    return (first, second, *rest)


def values() -> st.SearchStrategy[object]:
    return st.one_of(
        st.integers(-(2**31), 2**31 - 1).map(V2C.Integer),
        st.binary(max_size=300).map(V2C.OctetString),
        st.just(V2C.Null("")),
        oids().map(V2C.ObjectIdentifier),
        st.binary(min_size=4, max_size=4).map(V2C.IpAddress),
        st.integers(0, 2**32 - 1).map(V2C.Counter32),
        st.integers(0, 2**32 - 1).map(V2C.Gauge32),
        st.integers(0, 2**32 - 1).map(V2C.TimeTicks),
        st.binary(max_size=40).map(V2C.Opaque),
        st.integers(0, 2**64 - 1).map(V2C.Counter64),
        st.just(V2C.NoSuchObject("")),
        st.just(V2C.NoSuchInstance("")),
        st.just(V2C.EndOfMibView("")),
    )


varbind_lists = st.lists(st.tuples(oids(), values()), max_size=60)


def encode_response(
    varbinds: list[tuple[tuple[int, ...], object]],
    request_id: int = 1,
    community: bytes = b"public",
    error_status: int = 0,
    error_index: int = 0,
    report: bool = False,
) -> bytes:
    pdu = V2C.ReportPDU() if report else V2C.ResponsePDU()
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_error_status(pdu, error_status)
    V2C.apiPDU.set_error_index(pdu, error_index)
    V2C.apiPDU.set_varbinds(pdu, varbinds)
    msg = V2C.Message()
    V2C.apiMessage.set_defaults(msg)
    V2C.apiMessage.set_community(msg, community)
    V2C.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    varbinds=varbind_lists,
    request_id=st.integers(1, 2**31 - 1),  # what the engines send (transport.next_id)
    community=st.binary(max_size=40),
    error_status=st.integers(0, 18),
    error_index=st.integers(0, 100),
    report=st.booleans(),
)
def test_fast_decoder_equals_pysnmp(
    varbinds: list[tuple[tuple[int, ...], object]],
    request_id: int,
    community: bytes,
    error_status: int,
    error_index: int,
    report: bool,
) -> None:
    data = encode_response(varbinds, request_id, community, error_status, error_index, report)
    fast = ber.decode_message(data)
    assert fast == decode_with_pysnmp(data)
    assert fast.pdu.request_id == request_id
    assert len(fast.pdu.varbinds) == len(varbinds)
    assert ber.peek_request_id(data) == request_id


def _relength(data: bytes) -> bytes:
    """Re-encode every definite length in long form with one extra leading zero octet (legal
    BER, which pyasn1 accepts)."""

    def walk(buf: bytes) -> bytes:
        out = bytearray()
        pos = 0
        while pos < len(buf):
            tag = buf[pos]
            length, start = ber._length(buf, pos + 1, len(buf))
            body = buf[start : start + length]
            if tag & 0x20:  # constructed: recurse
                body = walk(body)
            size = len(body).to_bytes(max(1, (len(body).bit_length() + 7) // 8), "big")
            out += bytes((tag, 0x80 | (len(size) + 1), 0)) + size + body
            pos = start + length
        return bytes(out)

    return walk(data)


@settings(max_examples=100, deadline=None)
@given(varbinds=varbind_lists)
def test_long_form_lengths(varbinds: list[tuple[tuple[int, ...], object]]) -> None:
    data = _relength(encode_response(varbinds))
    assert ber.decode_message(data) == decode_with_pysnmp(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    varbinds=st.lists(st.tuples(oids(), values()), max_size=8),
    cut=st.integers(0, 10_000),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
)
def test_mutated_messages_never_crash_and_never_disagree(
    varbinds: list[tuple[tuple[int, ...], object]], cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(encode_response(varbinds))
    for where, byte in flips:
        data[where % len(data)] = byte
    data = data[: max(1, cut % (len(data) + 1))]
    try:
        fast = ber.decode_message(bytes(data))
    except ber.BerError:
        # the fallback may accept what the fast path leaves to it; it must not raise otherwise
        with contextlib.suppress(ber.BerError):
            decode_response(bytes(data))
        return
    assert fast == decode_with_pysnmp(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_ber_error(data: bytes) -> None:
    with contextlib.suppress(ber.BerError):
        decode_response(data)


def test_truncations_of_a_real_reply_all_raise_ber_error() -> None:
    data = encode_response([((1, 3, 6, 1, 2, 1, 1, 3, 0), V2C.TimeTicks(42))] * 5)
    for n in range(len(data)):
        with pytest.raises(ber.BerError):
            decode_response(data[:n])


def test_unusual_forms_fall_back_to_pysnmp() -> None:
    good = encode_response([((1, 3, 6, 1, 2, 1, 1, 1, 0), V2C.OctetString(b"hello"))])
    # indefinite length on the outer SEQUENCE: legal BER, not in the fast subset
    indefinite = b"\x30\x80" + good[2:] + b"\x00\x00"
    with pytest.raises(ber.Unsupported):
        ber.decode_message(indefinite)
    assert decode_response(indefinite) == ber.decode_message(good)


def test_snmpv1_message() -> None:
    pdu = V1.GetResponsePDU()
    V1.apiPDU.set_defaults(pdu)
    V1.apiPDU.set_request_id(pdu, 7)
    V1.apiPDU.set_varbinds(pdu, [((1, 3, 6, 1, 2, 1, 1, 5, 0), V1.OctetString(b"pc-1"))])
    msg = V1.Message()
    V1.apiMessage.set_defaults(msg)
    V1.apiMessage.set_community(msg, b"public")
    V1.apiMessage.set_pdu(msg, pdu)
    data = bytes(encoder.encode(msg))
    assert ber.decode_message(data) == decode_with_pysnmp(data)
    assert ber.decode_message(data).version == 0


def test_values_are_typed() -> None:
    data = encode_response([
        ((1, 3, 6, 1, 2, 1, 1, 3, 0), V2C.TimeTicks(12345)),
        ((1, 3, 6, 1, 9), V2C.Counter64(2**64 - 1)),
        ((1, 3, 6, 1, 10), V2C.Integer(-5)),
        ((1, 3, 6, 1, 11), V2C.NoSuchInstance("")),
        ((1, 3, 6, 1, 12), V2C.EndOfMibView("")),
        ((1, 3, 6, 1, 13), V2C.ObjectIdentifier((1, 3, 6, 1, 4, 1, 8072, 3, 2, 10))),
    ])
    vbs = ber.decode_message(data).pdu.varbinds
    assert vbs == (
        ((1, 3, 6, 1, 2, 1, 1, 3, 0), ber.TIMETICKS, 12345),
        ((1, 3, 6, 1, 9), ber.COUNTER64, 2**64 - 1),
        ((1, 3, 6, 1, 10), ber.INTEGER, -5),
        ((1, 3, 6, 1, 11), ber.NO_SUCH_INSTANCE, None),
        ((1, 3, 6, 1, 12), ber.END_OF_MIB_VIEW, None),
        ((1, 3, 6, 1, 13), ber.OBJECT_IDENTIFIER, (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)),
    )


@settings(max_examples=200, deadline=None)
@given(
    oid_list=st.lists(oids(), min_size=1, max_size=30),
    request_id=st.integers(1, 2**31 - 1),  # what the engines send (transport.next_id)
    community=st.binary(max_size=40),
    bulk=st.one_of(st.none(), st.tuples(st.integers(0, 50), st.integers(0, 200))),
)
def test_requests_are_byte_equal_to_pysnmp(
    oid_list: list[tuple[int, ...]],
    request_id: int,
    community: bytes,
    bulk: tuple[int, int] | None,
) -> None:
    if bulk is None:
        pdu = V2C.GetRequestPDU()
        V2C.apiPDU.set_defaults(pdu)
    else:
        pdu = V2C.GetBulkRequestPDU()
        V2C.apiBulkPDU.set_defaults(pdu)
        V2C.apiBulkPDU.set_non_repeaters(pdu, bulk[0])
        V2C.apiBulkPDU.set_max_repetitions(pdu, bulk[1])
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_varbinds(pdu, [(o, V2C.Null("")) for o in oid_list])
    msg = V2C.Message()
    V2C.apiMessage.set_defaults(msg)
    V2C.apiMessage.set_community(msg, community)
    V2C.apiMessage.set_pdu(msg, pdu)
    reference = bytes(encoder.encode(msg))
    mine = ber.encode_request(
        community, request_id, ber.encode_null_varbinds(tuple(oid_list)), bulk=bulk
    )
    assert mine == reference


@pytest.mark.parametrize(
    ("value", "octets"),
    [(-(2**31), 4), (-32769, 3), (-32768, 2), (-129, 2), (-128, 1), (-1, 1), (0, 1), (127, 1),
     (128, 2)],
)
def test_integers_are_encoded_minimally_and_pysnmp_reads_them(value: int, octets: int) -> None:
    """pyasn1 writes -128, -32768... on one octet more than needed (0xff 0x80); both are valid
    BER.  Ours is the minimal (DER) form, and pysnmp decodes it to the same value."""
    from pyasn1.codec.ber import decoder
    from pyasn1.type.univ import Integer

    encoded = ber.encode_integer(value)
    assert encoded[1] == len(encoded) - 2 == octets
    assert int(decoder.decode(encoded, asn1Spec=Integer())[0]) == value


@settings(max_examples=100, deadline=None)
@given(varbinds=varbind_lists, engine_id=st.binary(max_size=32), context=st.binary(max_size=32))
def test_scoped_pdu_equals_pysnmp(
    varbinds: list[tuple[tuple[int, ...], object]], engine_id: bytes, context: bytes
) -> None:
    from pysnmp.proto.mpmod import rfc3412

    pdu = V2C.ResponsePDU()
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, 99)
    V2C.apiPDU.set_varbinds(pdu, varbinds)
    scoped = rfc3412.ScopedPDU()
    scoped.setComponentByPosition(0, engine_id)
    scoped.setComponentByPosition(1, context)
    scoped.setComponentByPosition(2)
    scoped.getComponentByPosition(2).setComponentByType(pdu.tagSet, pdu, verifyConstraints=False)
    data = bytes(encoder.encode(scoped))
    got_engine, got_context, got_pdu = ber.decode_scoped_pdu(data)
    assert (got_engine, got_context) == (engine_id, context)
    reference = decode_with_pysnmp(encode_response(varbinds, 99))
    assert got_pdu == reference.pdu


def test_parse_oid() -> None:
    assert ber.parse_oid(".1.3.6.1.2.1.1.3.0") == (1, 3, 6, 1, 2, 1, 1, 3, 0)
    for bad in ("", "1", "1.3.x", "1..3", "-1.3"):
        with pytest.raises(ValueError):
            ber.parse_oid(bad)
