"""pysnmp/pyasn1 decoding: the reference the fast codec (:mod:`fleet.monitor.ber`) is tested
against, and its fallback for anything unusual.

The boundary with pysnmp/pyasn1 for decoding: their exceptions are translated into
:class:`fleet.monitor.ber.BerError` here, so the engines see one error type for "not valid
SNMP" whichever decoder ran.  Used by :mod:`fleet.monitor.v2c` (messages),
:mod:`fleet.monitor.usm` (scoped PDUs) and :mod:`fleet.monitor.v3arch` (varbinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fleet.monitor import ber


def tag_byte(value: Any) -> int:
    tag = value.tagSet[0]
    return int(tag.tagClass) | int(tag.tagFormat) | int(tag.tagId)


def _from_pyasn1(value: Any) -> tuple[int, ber.Value]:
    tag = tag_byte(value)
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
                tag_byte(pdu),
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


def scoped_pdu_with_pysnmp(plaintext: bytes) -> ber.Pdu:
    """Decode an SNMPv3 scoped PDU with pysnmp (fallback of :func:`ber.decode_scoped_pdu`)."""
    from pyasn1.codec.ber import decoder
    from pyasn1.error import PyAsn1Error
    from pysnmp.proto import api
    from pysnmp.proto.mpmod.rfc3412 import ScopedPDU

    try:
        scoped, _rest = decoder.decode(plaintext, asn1Spec=ScopedPDU())
        pdu = scoped.getComponentByPosition(2).getComponent()
        v2c = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
        return ber.Pdu(
            tag_byte(pdu), int(pdu[0]), int(pdu[1]), int(pdu[2]),
            varbinds_from_pysnmp(v2c.apiPDU.get_varbinds(pdu)),
        )
    except (PyAsn1Error, ValueError, TypeError, IndexError, KeyError) as exc:
        raise ber.BerError(f"pysnmp could not decode the scoped PDU: {exc}") from exc
