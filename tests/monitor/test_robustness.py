"""A hostile network: an "evil agent" (asyncio UDP on 127.0.0.1) answering malformed and
truncated replies, wrong request ids, oversized responses, endless or looping walks; plus 10 %
of agents that never answer.  The cycle never crashes, and silent agents never hold the slots
of the ones that answer (checked on the queues, not with a stopwatch)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence

from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.engine import Address, Engine, Engines
from fleet.monitor.poller import Poller, poll_devices
from fleet.monitor.profiles import Oid, Profile, parse_profile
from tests.monitor.agents import device, free_udp_port

UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)

PROFILE = parse_profile(
    {
        "kind": "public_pc",
        "max_repetitions": 10,
        "max_rows": 200,
        "read": {
            "system": {"oids": {"uptime": "1.3.6.1.2.1.1.3.0"}},
            "storage": {"oids": {
                "type": "1.3.6.1.2.1.25.2.3.1.2", "descr": "1.3.6.1.2.1.25.2.3.1.3",
                "size": "1.3.6.1.2.1.25.2.3.1.5", "used": "1.3.6.1.2.1.25.2.3.1.6",
            }},
        },
    },
    "inline",
)
PROFILES: dict[str, Profile] = {"public_pc": PROFILE}


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + ber.encode_length(len(body)) + body


def _varbind(oid: tuple[int, ...], tag: int, body: bytes) -> bytes:
    return _tlv(0x30, ber.encode_oid(oid) + _tlv(tag, body))


def response(
    community: bytes, request_id: int, varbinds: list[bytes], tag: int = ber.RESPONSE
) -> bytes:
    pdu = _tlv(
        tag,
        ber.encode_integer(request_id) + ber.encode_integer(0) + ber.encode_integer(0)
        + _tlv(0x30, b"".join(varbinds)),
    )
    return _tlv(0x30, ber.encode_integer(1) + _tlv(0x04, community) + pdu)


def good_answer(msg: ber.Message) -> list[bytes]:
    """Scalars answered, every column immediately at its end."""
    pdu = msg.pdu
    out = []
    n = pdu.error_status if pdu.tag == ber.GET_BULK_REQUEST else len(pdu.varbinds)
    for i, (oid, _t, _v) in enumerate(pdu.varbinds):
        if i < n:
            out.append(_varbind((*oid, 0), ber.TIMETICKS, (123456).to_bytes(3, "big")))
        else:
            out.append(_varbind(oid, ber.END_OF_MIB_VIEW, b""))
    return out


Behaviour = Callable[[ber.Message, bytes], list[bytes]]


def behaviours() -> dict[str, Behaviour]:
    rng = random.Random(6)

    def good(m: ber.Message, raw: bytes) -> list[bytes]:
        return [response(m.community, m.pdu.request_id, good_answer(m))]

    def garbage(m: ber.Message, raw: bytes) -> list[bytes]:
        return [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))]

    def truncated(m: ber.Message, raw: bytes) -> list[bytes]:
        full = response(m.community, m.pdu.request_id, good_answer(m))
        return [full[: rng.randrange(1, len(full))]]

    def wrong_id(m: ber.Message, raw: bytes) -> list[bytes]:
        return [response(m.community, m.pdu.request_id ^ 0x5A5A, good_answer(m))]

    def wrong_community(m: ber.Message, raw: bytes) -> list[bytes]:
        return [response(b"someone-else", m.pdu.request_id, good_answer(m))]

    def oversized(m: ber.Message, raw: bytes) -> list[bytes]:
        # ~60 KB: thousands of varbinds, far more than asked
        vbs = [_varbind((1, 3, 6, 1, 99, i), ber.OCTET_STRING, b"x" * 40) for i in range(1200)]
        return [response(m.community, m.pdu.request_id, vbs)]

    def flood(m: ber.Message, raw: bytes) -> list[bytes]:
        return [response(m.community, m.pdu.request_id, good_answer(m))] * 30

    def wrong_types(m: ber.Message, raw: bytes) -> list[bytes]:
        pdu = m.pdu
        vbs = [_varbind((*oid, 0), ber.OCTET_STRING, b"\xff\xfe not a number")
               for oid, _t, _v in pdu.varbinds]
        return [response(m.community, pdu.request_id, vbs)]

    def looping(m: ber.Message, raw: bytes) -> list[bytes]:
        # a buggy agent answering the same row forever (OIDs not increasing)
        pdu = m.pdu
        n = pdu.error_status
        vbs = good_answer(m)[:n] + [
            _varbind((*oid[:11], 1), ber.INTEGER, b"\x01") for oid, _t, _v in pdu.varbinds[n:]
        ]
        return [response(m.community, pdu.request_id, vbs)]

    def endless(m: ber.Message, raw: bytes) -> list[bytes]:
        # a table that never ends: increasing rows forever
        pdu = m.pdu
        n = pdu.error_status
        vbs = good_answer(m)[:n]
        for _rep in range(pdu.error_index):
            for oid, _t, _v in pdu.varbinds[n:]:
                column = oid[:11]
                last = oid[11] if len(oid) > 11 else 0
                vbs.append(_varbind((*column, last + 1 + _rep), ber.INTEGER, b"\x05"))
        return [response(m.community, pdu.request_id, vbs)]

    def report(m: ber.Message, raw: bytes) -> list[bytes]:
        return [response(m.community, m.pdu.request_id, good_answer(m), tag=ber.REPORT)]

    def error_status(m: ber.Message, raw: bytes) -> list[bytes]:
        body = response(m.community, m.pdu.request_id, good_answer(m))
        # genErr(5): rebuild with error-status 5
        pdu = _tlv(ber.RESPONSE, ber.encode_integer(m.pdu.request_id) + ber.encode_integer(5)
                   + ber.encode_integer(1) + _tlv(0x30, b"".join(good_answer(m))))
        del body
        return [_tlv(0x30, ber.encode_integer(1) + _tlv(0x04, m.community) + pdu)]

    def silent(m: ber.Message, raw: bytes) -> list[bytes]:
        return []

    return {
        "good": good, "garbage": garbage, "truncated": truncated, "wrong_id": wrong_id,
        "wrong_community": wrong_community, "oversized": oversized, "flood": flood,
        "wrong_types": wrong_types, "looping": looping, "endless": endless, "report": report,
        "error_status": error_status, "silent": silent,
    }


class EvilAgent(asyncio.DatagramProtocol):
    """Chooses its misbehaviour from the community string of each request."""

    def __init__(self) -> None:
        self.behaviours = behaviours()
        self.transport: asyncio.DatagramTransport | None = None
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        msg = ber.decode_message(data)
        behaviour = self.behaviours[msg.community.decode().split("-")[0]]
        assert self.transport is not None
        for packet in behaviour(msg, data):
            self.transport.sendto(packet, addr)


async def _with_agent(run: Callable[[int], object]) -> tuple[object, EvilAgent]:
    loop = asyncio.get_running_loop()
    port = free_udp_port()
    transport, agent = await loop.create_datagram_endpoint(
        EvilAgent, local_addr=("127.0.0.1", port)
    )
    try:
        result = await run(port)  # type: ignore[misc]
    finally:
        transport.close()
    return result, agent


EXPECTED = {
    "good": (True, None),
    "garbage": (False, "decode_error"),
    "truncated": (False, "decode_error"),
    "wrong_id": (False, "timeout"),
    "wrong_community": (False, "timeout"),
    "oversized": (True, None),  # nothing it asked for is in there: no metric, but it answered
    "flood": (True, None),
    "wrong_types": (True, None),
    "looping": (True, None),
    "endless": (True, None),
    "report": (False, "timeout"),
    "error_status": (False, "error"),
    "silent": (False, "timeout"),
}


def test_each_misbehaviour_is_contained() -> None:
    async def run(port: int) -> object:
        devices = [device(name, "public_pc", port, community=name) for name in EXPECTED]
        # a generous timeout: the misbehaving answers must arrive before it; the silent cases
        # wait it out (concurrently: about 2 s in all)
        return await poll_devices(devices, PROFILES, timeout=2.0, retries=0, deadline=60.0)

    samples, _agent = asyncio.run(_with_agent(run))
    got = {s.device: (s.ok, s.error) for s in samples}  # type: ignore[attr-defined]
    assert got == EXPECTED
    by_name = {s.device: s for s in samples}  # type: ignore[attr-defined]
    assert by_name["good"].metrics == {"uptime_s": 1234}
    assert by_name["flood"].metrics == {"uptime_s": 1234}
    assert "uptime_s" not in by_name["wrong_types"].metrics  # a string is not an uptime
    assert by_name["oversized"].metrics == {}


def test_endless_table_is_bounded_by_max_rows() -> None:
    async def run(port: int) -> object:
        return await poll_devices(
            [device("endless", "public_pc", port, community="endless")], PROFILES,
            timeout=5.0, retries=0, deadline=60.0,
        )

    [sample], agent = asyncio.run(_with_agent(run))  # type: ignore[misc]
    assert sample.ok
    # 200 rows per column at 10 repetitions: about 20 requests, not thousands
    assert agent.requests <= 25


class CountingEngines(Engines):
    """The poller's engines, each wrapped to count the requests in flight per device kind
    ("silent" or "good", from the community): the queues' bounds, observed, not timed."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = {"silent": 0, "good": 0, "all": 0}
        self.peak = dict(self.in_flight)
        self.requests: dict[str, int] = {}

    def for_credentials(self, creds: SnmpCredentials) -> Engine:
        assert creds.community is not None
        return _Counted(super().for_credentials(creds), self, creds.community.get_secret_value())

    def reset(self) -> None:
        self.peak = dict(self.in_flight)
        self.requests = {}


class _Counted:
    def __init__(self, inner: Engine, counts: CountingEngines, name: str) -> None:
        self.inner, self.counts, self.name = inner, counts, name
        self.kind = name.split("-", maxsplit=1)[0]

    async def open(self) -> None:
        await self.inner.open()

    def close(self) -> None:
        self.inner.close()

    async def _count(self, request: Awaitable[ber.Pdu], retries: int) -> ber.Pdu:
        c = self.counts
        c.requests[self.name] = c.requests.get(self.name, 0) + retries + 1
        for kind in (self.kind, "all"):
            c.in_flight[kind] += 1
            c.peak[kind] = max(c.peak[kind], c.in_flight[kind])
        try:
            return await request
        finally:
            c.in_flight[self.kind] -= 1
            c.in_flight["all"] -= 1

    async def get(
        self, address: Address, oids: Sequence[Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        return await self._count(
            self.inner.get(address, oids, timeout=timeout, retries=retries), retries
        )

    async def bulk(
        self, address: Address, non_repeaters: int, max_repetitions: int, oids: Sequence[Oid],
        *, timeout: float, retries: int,
    ) -> ber.Pdu:  # fmt: skip
        return await self._count(
            self.inner.bulk(address, non_repeaters, max_repetitions, oids, timeout=timeout,
                            retries=retries),
            retries,
        )  # fmt: skip


def test_unresponsive_agents_do_not_hold_the_cycle() -> None:
    """200 devices, 10 % silent.  The silent ones never take the slots of the answering ones:
    in the first cycle they share the fast queue (50 slots) with retries; in the second, known
    down, they go to their own queue (10 slots) without retries.  Checked on the queues
    themselves (requests in flight, tries per device), not on a stopwatch."""
    names = [("silent" if i % 10 == 0 else "good") + f"-{i}" for i in range(200)]

    async def run(port: int) -> object:
        devices = [device(n, "public_pc", port, community=n) for n in names]
        engines = CountingEngines()
        poller = Poller(PROFILES, timeout=0.5, retries=1, concurrency=50, down_concurrency=10,
                        deadline=30.0, engines=engines)  # fmt: skip
        try:
            first = await poller.cycle(devices)
            first_counts = (dict(engines.peak), dict(engines.requests))
            engines.reset()
            down = {s.device for s in first if not s.ok}
            second = await poller.cycle(devices, down=down)
            second_counts = (dict(engines.peak), dict(engines.requests))
        finally:
            poller.close()
        return first, second, down, first_counts, second_counts

    (first, second, down, (peak1, tries1), (peak2, tries2)), _agent = asyncio.run(  # type: ignore[misc]
        _with_agent(run)
    )
    silent = {n for n in names if n.startswith("silent")}
    assert down == silent and len(down) == 20
    assert all(s.ok for s in [*first, *second] if s.device not in down)
    assert {s.error for s in second if s.device in down} == {"timeout"}
    # first cycle: one queue of 50, the silent ones tried twice (retries=1)
    assert peak1["all"] <= 50
    assert {tries1[n] for n in silent} == {2}
    # second cycle: the silent ones in their own queue of 10, tried once; the answering ones
    # never wait behind them (their queue of 50 is theirs alone)
    assert 0 < peak2["silent"] <= 10 and peak2["all"] <= 50 + 10
    assert {tries2[n] for n in silent} == {1}
    assert {tries2[n] for n in names if n not in silent} == {2}


def test_malformed_packets_from_anyone_do_not_break_the_engine() -> None:
    """Junk sent to the poller's socket by a third party is dropped and counted."""
    from fleet.monitor.v2c import V2cEngine

    async def run(port: int) -> object:
        engine = V2cEngine(b"good")
        await engine.open()
        sock = engine.transport.local_address
        assert sock is not None
        loop = asyncio.get_running_loop()
        junk_sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", sock[1])
        )
        for size in (0, 1, 2, 5, 100, 1400):
            junk_sender.sendto(bytes(range(256)) * (size // 256) + bytes(size % 256))
        junk_sender.close()
        pdu = await engine.get(("127.0.0.1", port), (UPTIME,), timeout=5.0, retries=1)
        stats = engine.stats
        engine.close()
        return pdu, stats

    (pdu, stats), _agent = asyncio.run(_with_agent(run))  # type: ignore[misc]
    assert pdu.varbinds[0][0] == (*UPTIME, 0)
    assert stats.dropped_malformed >= 5
