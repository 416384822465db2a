"""One contract, every SNMP engine (NAPALM's ``BaseTestGetters`` pattern).

Each engine behind :class:`fleet.monitor.engine.Engine` (SNMPv2c fast path, SNMPv3 fast path,
SNMPv3 through pysnmp's whole v3arch) is run through the same checks against real agents on
loopback: net-snmp ``snmpd`` for the answers and the credential failures, a silent agent and a
garbage-answering agent for the failures a real agent does not produce on demand.

* answers: GET, GETBULK and a walk (successive GETBULKs) give the same varbinds whatever the
  engine, and they are right: the values our snmpd configuration sets, and the OIDs net-snmp's
  own ``snmpwalk`` lists (an independent implementation);
* failures: the same :data:`fleet.errors.SnmpReason` for the same situation (silence, garbage,
  an address the kernel refuses, a closed engine, and per SNMP version the credential errors).

The checks are plain functions so that :func:`test_the_contract_catches_a_wrong_engine` can
run them on deliberately wrong engines and see them fail: the contract is not vacuous.

Timeouts: a check that expects silence may use a short timeout (silence stays silence on a slow
machine); a check that needs an answer uses a generous one (an answer ends the wait at once).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict, TypeVar, get_args

import pytest
from pydantic import SecretStr

from fleet.errors import SnmpError, SnmpReason
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.engine import Address, Engine, Engines, UsmEngine, V2cEngine, V3Engine
from fleet.monitor.snmp import EXPLANATIONS
from tests.monitor.agents import (
    SNMPD_COMMUNITY,
    SNMPD_V3_AUTH,
    SNMPD_V3_PRIV,
    SNMPD_V3_USER,
    Agent,
    free_udp_port,
    snmpd,
)

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME = (*SYSTEM, 1, 0), (*SYSTEM, 2, 0), (*SYSTEM, 3, 0)
SYS_CONTACT, SYS_NAME, SYS_LOCATION = (*SYSTEM, 4, 0), (*SYSTEM, 5, 0), (*SYSTEM, 6, 0)
SYS_SERVICES = (*SYSTEM, 7, 0)
SYS_OR_ID, SYS_OR_DESCR = (*SYSTEM, 9, 1, 2), (*SYSTEM, 9, 1, 3)
NET_SNMP_LINUX = (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)



class Timing(TypedDict):
    timeout: float
    retries: int


ANSWER = Timing(timeout=5.0, retries=1)
"""For checks that need an answer: generous, an answer ends the wait at once."""
SILENCE = Timing(timeout=0.3, retries=0)
"""For checks that expect no valid answer at all."""
T = TypeVar("T")


# ------------------------------------------------------------------------------ agents ----


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    with snmpd() as a:
        yield a


_STOP = b"stop serving"


class _UdpAgent:
    """A UDP endpoint on 127.0.0.1 in a thread: silent, or answering garbage to everything."""

    def __init__(self, reply: Callable[[bytes], bytes | None]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address: Address = ("127.0.0.1", int(self.sock.getsockname()[1]))
        self.received = 0
        self._reply = reply
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            data, peer = self.sock.recvfrom(65535)
            if data == _STOP and peer[0] == "127.0.0.1":
                return
            self.received += 1
            answer = self._reply(data)
            if answer is not None:
                self.sock.sendto(answer, peer)

    def close(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
            waker.sendto(_STOP, self.address)
        self._thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def silent() -> Iterator[_UdpAgent]:
    agent = _UdpAgent(lambda _data: None)
    yield agent
    agent.close()


GARBAGE = bytes(range(7, 90))


@pytest.fixture(scope="module")
def garbage() -> Iterator[_UdpAgent]:
    agent = _UdpAgent(lambda _data: GARBAGE)
    yield agent
    agent.close()


# ----------------------------------------------------------------------------- engines ----


def v2c_credentials(community: str = SNMPD_COMMUNITY, port: int = 161) -> SnmpCredentials:
    return SnmpCredentials(version="2c", community=SecretStr(community), port=port)


def v3_credentials(
    user: str = SNMPD_V3_USER, auth: str = SNMPD_V3_AUTH, priv: str = SNMPD_V3_PRIV
) -> SnmpCredentials:
    return SnmpCredentials(
        version="3", user=user, auth_key=SecretStr(auth), priv_key=SecretStr(priv)
    )


@dataclass(frozen=True)
class Kind:
    """How to build one engine of a kind, with good or deliberately wrong credentials."""

    name: str
    version: str
    make: Callable[[SnmpCredentials], Engine]

    def good(self) -> Engine:
        return self.make(v2c_credentials() if self.version == "2c" else v3_credentials())


KINDS = [
    Kind("v2c", "2c", lambda c: Engines().for_credentials(c)),
    Kind("v3-fast", "3", lambda c: Engines(v3="fast").for_credentials(c)),
    Kind("v3-pysnmp", "3", lambda c: Engines(v3="pysnmp").for_credentials(c)),
]


@pytest.fixture(params=KINDS, ids=[k.name for k in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


def test_the_contract_covers_every_engine() -> None:
    """Every engine class the factory can build is in KINDS (a new one joins the contract)."""
    built = {type(k.good()) for k in KINDS}
    assert built == {V2cEngine, UsmEngine, V3Engine}


def run(engine: Engine, body: Callable[[Engine], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await body(engine)
        finally:
            engine.close()

    return asyncio.run(main())


# ----------------------------------------------------------------------------- answers ----


def _address(agent: Agent) -> Address:
    return (agent.host, agent.port)


def net_snmp_walk(agent: Agent, root: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The OIDs under ``root`` as net-snmp's own ``snmpwalk`` lists them."""
    out = subprocess.run(
        ["snmpwalk", "-v2c", "-c", SNMPD_COMMUNITY, "-On", "-Oq", "-r1", "-t5",
         f"{agent.host}:{agent.port}", ber.format_oid(root)],
        capture_output=True, text=True, check=True, env={**os.environ, "MIBS": ""},
    )  # fmt: skip
    return [ber.parse_oid(line.split(" ", 1)[0]) for line in out.stdout.splitlines()
            if line.startswith(".")]  # fmt: skip


async def walk(
    engine: Engine, address: Address, root: tuple[int, ...], repetitions: int
) -> list[ber.VarBind]:
    """Successive GETBULKs from ``root`` until the answers leave its subtree."""
    out: list[ber.VarBind] = []
    last = root
    for _ in range(200):
        pdu = await engine.bulk(address, 0, repetitions, [last], **ANSWER)
        assert pdu.error_status == 0, pdu
        for oid, tag, value in pdu.varbinds:
            if tag == ber.END_OF_MIB_VIEW or oid[: len(root)] != root:
                return out
            assert oid > last, f"walk went backwards: {oid} after {last}"
            out.append((oid, tag, value))
            last = oid
    raise AssertionError("walk did not end")


def _static(varbinds: Sequence[ber.VarBind]) -> list[ber.VarBind]:
    """Varbinds with the value of sysUpTime blanked (it moves between two requests)."""
    return [(o, t, None if o == SYS_UPTIME else v) for o, t, v in varbinds]


def check_get(engine: Engine, agent: Agent) -> None:
    oids = [SYS_CONTACT, SYS_LOCATION, SYS_SERVICES, SYS_OBJECT_ID, SYS_DESCR, SYS_UPTIME,
            (*SYSTEM, 99, 0), (*SYSTEM, 4, 1)]  # fmt: skip
    pdu = run(engine, lambda e: e.get(_address(agent), oids, **ANSWER))
    assert (pdu.tag, pdu.error_status, pdu.error_index) == (ber.RESPONSE, 0, 0)
    got = list(pdu.varbinds)
    assert [o for o, _t, _v in got] == oids, "one varbind per OID asked, in order"
    assert got[:4] == [
        (SYS_CONTACT, ber.OCTET_STRING, b"relais-tests"),  # as snmpd.conf says
        (SYS_LOCATION, ber.OCTET_STRING, b"relais test"),
        (SYS_SERVICES, ber.INTEGER, 72),
        (SYS_OBJECT_ID, ber.OBJECT_IDENTIFIER, NET_SNMP_LINUX),
    ]
    assert got[4][1] == ber.OCTET_STRING and isinstance(got[4][2], bytes)
    assert got[4][2].startswith(b"Linux")
    assert got[5][1] == ber.TIMETICKS and isinstance(got[5][2], int) and got[5][2] >= 0
    assert got[6:] == [((*SYSTEM, 99, 0), ber.NO_SUCH_OBJECT, None),
                       ((*SYSTEM, 4, 1), ber.NO_SUCH_INSTANCE, None)]  # fmt: skip


def check_walk(engine: Engine, agent: Agent) -> list[ber.VarBind]:
    """The whole system group, 3 rows per GETBULK: a dozen round trips."""
    got = run(engine, lambda e: walk(e, _address(agent), SYSTEM, 3))
    assert [o for o, _t, _v in got] == net_snmp_walk(agent, SYSTEM)
    by_oid = {o: (t, v) for o, t, v in got}
    assert by_oid[SYS_CONTACT] == (ber.OCTET_STRING, b"relais-tests")
    or_ids = [v for o, _t, v in got if o[:-1] == SYS_OR_ID]
    assert len(or_ids) >= 5 and (1, 3, 6, 1, 6, 3, 15, 2, 1, 1) in or_ids  # the USM MIB
    return _static(got)


def check_bulk(engine: Engine, agent: Agent, walked: Sequence[ber.VarBind]) -> None:
    """Two non-repeaters, two columns x 4 repetitions: exactly what the walk says."""
    def body(e: Engine) -> Awaitable[ber.Pdu]:
        return e.bulk(_address(agent), 2, 4, [SYS_CONTACT[:-1], SYS_UPTIME[:-1], SYS_OR_ID,
                                              SYS_OR_DESCR], **ANSWER)

    pdu = run(engine, body)
    assert (pdu.tag, pdu.error_status) == (ber.RESPONSE, 0)
    column = {c: [vb for vb in walked if vb[0][:-1] == c] for c in (SYS_OR_ID, SYS_OR_DESCR)}
    rows = [vb for pair in zip(column[SYS_OR_ID][:4], column[SYS_OR_DESCR][:4], strict=True)
            for vb in pair]  # fmt: skip
    by_oid = {o: (t, v) for o, t, v in walked}
    assert _static(pdu.varbinds) == [
        (SYS_CONTACT, *by_oid[SYS_CONTACT]), (SYS_UPTIME, ber.TIMETICKS, None), *rows,
    ]  # fmt: skip


def test_get(kind: Kind, agent: Agent) -> None:
    check_get(kind.good(), agent)


def test_walk_and_bulk(kind: Kind, agent: Agent) -> None:
    walked = check_walk(kind.good(), agent)
    check_bulk(kind.good(), agent, walked)


def test_every_engine_reads_the_same(agent: Agent) -> None:
    """Beyond each engine being right: the engines agree with each other, value for value."""
    walks = {k.name: _static(run(k.good(), lambda e: walk(e, _address(agent), SYSTEM, 7)))
             for k in KINDS}  # fmt: skip
    reference = walks["v3-pysnmp"]
    assert len(reference) > 20
    for name, got in walks.items():
        assert got == reference, name


# ---------------------------------------------------------------------------- failures ----


def reason_of(engine: Engine, address: Address, timing: Timing) -> SnmpReason:
    """The reason a GET fails with (the check fails if it does not fail)."""

    async def body(e: Engine) -> SnmpReason:
        try:
            pdu = await e.get(address, [SYS_UPTIME], **timing)
        except SnmpError as exc:
            return exc.reason
        raise AssertionError(f"expected a failure, got {pdu}")

    return run(engine, body)


def check_silence(engine: Engine, silent: _UdpAgent) -> None:
    before = silent.received
    assert reason_of(engine, silent.address, SILENCE) == "timeout"
    assert silent.received > before, "positive control: the request reached the agent"


def check_garbage(engine: Engine, garbage: _UdpAgent) -> None:
    # the garbage must arrive before the timeout: a generous one, retries=0
    assert reason_of(engine, garbage.address, Timing(timeout=3.0, retries=0)) == "decode_error"


def check_refused_address(engine: Engine) -> None:
    """The kernel refuses to send (a broadcast address without SO_BROADCAST): nothing leaves
    this machine, and every engine says so at once instead of waiting for a timeout."""
    assert reason_of(engine, ("255.255.255.255", 161), Timing(timeout=30.0, retries=0)) == "unreachable"


def check_closed_while_waiting(engine: Engine, silent: _UdpAgent) -> None:
    async def body(e: Engine) -> SnmpReason:
        before = silent.received
        task = asyncio.create_task(e.get(silent.address, [SYS_UPTIME], timeout=30.0, retries=0))
        while silent.received == before:  # the request is out: the engine is waiting
            await asyncio.sleep(0.01)
        e.close()
        try:
            await asyncio.wait_for(task, 10)
        except SnmpError as exc:
            return exc.reason
        raise AssertionError("a request survived close()")

    assert run(engine, body) == "error"


def test_silence_is_a_timeout(kind: Kind, silent: _UdpAgent) -> None:
    check_silence(kind.good(), silent)


def test_nobody_listening_is_a_timeout(kind: Kind) -> None:
    """No ICMP on the poller's unconnected socket: a closed port looks like silence (``fleet
    snmp test`` tells the two apart, the poller does not ask on every cycle)."""
    assert reason_of(kind.good(), ("127.0.0.1", free_udp_port()), SILENCE) == "timeout"


def test_garbage_is_a_decode_error(kind: Kind, garbage: _UdpAgent) -> None:
    check_garbage(kind.good(), garbage)


def test_a_refused_address_is_unreachable(kind: Kind) -> None:
    check_refused_address(kind.good())


def test_close_fails_the_waiting_requests(kind: Kind, silent: _UdpAgent) -> None:
    check_closed_while_waiting(kind.good(), silent)


WRONG = {
    "2c": [("wrong community", v2c_credentials("not-this-one"), "timeout")],
    "3": [
        ("unknown user", v3_credentials(user="ghost"), "unknown_user"),
        ("wrong auth key", v3_credentials(auth="wrong-auth-key"), "auth_error"),
        ("wrong priv key", v3_credentials(priv="wrong-priv-key"), "priv_error"),
    ],
}


def test_wrong_credentials(kind: Kind, agent: Agent) -> None:
    # positive control: the same engine kind with the right credentials reads the agent
    assert run(kind.good(), lambda e: e.get(_address(agent), [SYS_UPTIME], **ANSWER))
    got = {label: reason_of(kind.make(creds), _address(agent), Timing(timeout=2.0, retries=0))
           for label, creds, _want in WRONG[kind.version]}  # fmt: skip
    assert got == {label: want for label, _creds, want in WRONG[kind.version]}


def test_the_reasons_are_a_closed_set() -> None:
    """Every reason is explained to the technician and classified by the rules."""
    from fleet.monitor.rules import classify

    reasons = set(get_args(SnmpReason))
    assert set(EXPLANATIONS) == reasons
    assert {classify(r) for r in reasons} == {"no_answer", "access", "bad_reply"}


# ------------------------------------------------------------ the contract can fail ----


class _Wrapped:
    """An engine that delegates to a real one; the subclasses break one promise each."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner

    async def open(self) -> None:
        await self.inner.open()

    def close(self) -> None:
        self.inner.close()

    async def get(
        self, address: Address, oids: Sequence[ber.Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        return await self.inner.get(address, oids, timeout=timeout, retries=retries)

    async def bulk(
        self, address: Address, non_repeaters: int, max_repetitions: int,
        oids: Sequence[ber.Oid], *, timeout: float, retries: int,
    ) -> ber.Pdu:  # fmt: skip
        return await self.inner.bulk(
            address, non_repeaters, max_repetitions, oids, timeout=timeout, retries=retries
        )


class _SwallowsGarbage(_Wrapped):
    """Says "timeout" where the contract says "decode_error" (what the fast SNMPv3 engine and
    the pysnmp one did before the contract)."""

    async def get(
        self, address: Address, oids: Sequence[ber.Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        try:
            return await super().get(address, oids, timeout=timeout, retries=retries)
        except SnmpError as exc:
            if exc.reason == "decode_error":
                raise SnmpError(str(exc), "timeout") from exc
            raise


class _LosesARow(_Wrapped):
    """Loses the first repeated varbind of every GETBULK."""

    async def bulk(
        self, address: Address, non_repeaters: int, max_repetitions: int,
        oids: Sequence[ber.Oid], *, timeout: float, retries: int,
    ) -> ber.Pdu:  # fmt: skip
        pdu = await super().bulk(
            address, non_repeaters, max_repetitions, oids, timeout=timeout, retries=retries
        )
        kept = pdu.varbinds[:non_repeaters] + pdu.varbinds[non_repeaters + 1 :]
        return ber.Pdu(pdu.tag, pdu.request_id, pdu.error_status, pdu.error_index, kept)


class _ForgetsSomeRequests(_Wrapped):
    """Never sends; waits for the timeout (an engine that ignores send failures)."""

    async def get(
        self, address: Address, oids: Sequence[ber.Oid], *, timeout: float, retries: int
    ) -> ber.Pdu:
        await asyncio.sleep(min(timeout, 0.2))
        raise SnmpError("no answer", "timeout")


def test_the_contract_catches_a_wrong_engine(
    agent: Agent, garbage: _UdpAgent, silent: _UdpAgent
) -> None:
    # positive control: the real engine passes the very checks the wrong ones fail
    check_garbage(KINDS[0].good(), garbage)
    walked = check_walk(KINDS[0].good(), agent)
    check_bulk(KINDS[0].good(), agent, walked)
    check_refused_address(KINDS[0].good())

    with pytest.raises(AssertionError):
        check_garbage(_SwallowsGarbage(KINDS[0].good()), garbage)
    with pytest.raises(AssertionError):
        check_walk(_LosesARow(KINDS[0].good()), agent)
    with pytest.raises(AssertionError):
        check_bulk(_LosesARow(KINDS[0].good()), agent, walked)
    with pytest.raises(AssertionError):
        check_refused_address(_ForgetsSomeRequests(KINDS[0].good()))
    with pytest.raises(AssertionError):
        check_silence(_ForgetsSomeRequests(KINDS[0].good()), silent)
