"""The poller and the probe against a real net-snmp snmpd on loopback (the PC profile reference):
SNMPv2c and SNMPv3 authPriv SHA/AES, shared engines, and each failure reason."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.monitor import ber
from fleet.monitor.engine import Engines, UsmEngine, V2cEngine, V3Engine
from fleet.monitor.poller import Poller, poll_devices
from fleet.monitor.profiles import Profile, parse_profile
from fleet.monitor.snmp import probe
from tests.monitor.agents import (
    SNMPD_COMMUNITY,
    SNMPD_V3_AUTH,
    SNMPD_V3_PRIV,
    SNMPD_V3_USER,
    Agent,
    device,
    free_udp_port,
    snmpd,
)

GOOD_V3 = (SNMPD_V3_USER, SNMPD_V3_AUTH, SNMPD_V3_PRIV)


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    with snmpd() as a:
        yield a


@pytest.mark.parametrize("v3", [False, True], ids=["v2c", "v3-authPriv"])
def test_pc_profile_reads_a_real_host(
    agent: Agent, profiles: dict[str, Profile], v3: bool
) -> None:
    pc = device(
        "pc1", "public_pc", agent.port,
        community=None if v3 else SNMPD_COMMUNITY, v3=GOOD_V3 if v3 else None,
    )
    [sample] = asyncio.run(poll_devices([pc], profiles, timeout=2.0))
    assert sample.ok, sample.error
    m = sample.metrics
    assert "Linux" in str(m["sys_descr"])
    assert isinstance(m["uptime_s"], int) and m["uptime_s"] > 0  # hrSystemUptime: the host's
    assert 0 < m["mem_used_pct"] < 100
    assert 0 <= m["disk_used_pct:/"] <= 100
    # read, 0 or 1: not compared with /proc, whose relais-wipe processes (lab hosts of other
    # test runs on this machine) come and go within the agent's process-table cache
    assert m["proc_running:relais-wipe"] in (0, 1)
    assert sample.elapsed_ms > 0


def test_process_detection_on_a_real_host(agent: Agent) -> None:
    """snmpd itself runs: a profile expecting 'snmpd' sees it, and not an absent one."""

    raw = {"kind": "public_pc", "read": {"processes": {
        "oids": {"name": "1.3.6.1.2.1.25.4.2.1.2"}, "expect": ["snmpd", "no-such-daemon-x"]}}}
    prof = {"public_pc": parse_profile(raw, "inline")}
    pc = device("pc1", "public_pc", agent.port, community=SNMPD_COMMUNITY)
    [sample] = asyncio.run(poll_devices([pc], prof))
    assert sample.metrics == {"proc_running:snmpd": 1, "proc_running:no-such-daemon-x": 0}


def test_one_engine_per_credential_set(agent: Agent, profiles: dict[str, Profile]) -> None:
    devices = [
        *(device(f"v2-{i}", "public_pc", agent.port, community=SNMPD_COMMUNITY)
          for i in range(20)),
        *(device(f"v3-{i}", "public_pc", agent.port, v3=GOOD_V3) for i in range(10)),
    ]
    poller = Poller(profiles, timeout=2.0)

    async def two_cycles() -> list[bool]:
        try:
            first = await poller.cycle(devices)
            engines_after_first = len(poller.engines)
            second = await poller.cycle(devices)
            assert len(poller.engines) == engines_after_first == 2
            return [s.ok for s in first + second]
        finally:
            poller.close()

    assert all(asyncio.run(two_cycles()))


def test_wrong_credentials_give_precise_reasons(
    agent: Agent, profiles: dict[str, Profile]
) -> None:
    devices = [
        device("wrong-community", "public_pc", agent.port, community="not-this-one"),
        device("unknown-user", "public_pc", agent.port, v3=("ghost", SNMPD_V3_AUTH, SNMPD_V3_PRIV)),
        device("wrong-auth", "public_pc", agent.port,
               v3=(SNMPD_V3_USER, "wrong-auth-key", SNMPD_V3_PRIV)),
        device("wrong-priv", "public_pc", agent.port,
               v3=(SNMPD_V3_USER, SNMPD_V3_AUTH, "wrong-priv-key")),
        device("v3-nobody-listens", "public_pc", free_udp_port(), v3=GOOD_V3),
        device("nobody-listens", "public_pc", free_udp_port(), community=SNMPD_COMMUNITY),
        device("good", "public_pc", agent.port, community=SNMPD_COMMUNITY),
    ]
    # generous: the refusals must arrive before it; the silent ones wait it out, concurrently
    samples = asyncio.run(poll_devices(devices, profiles, timeout=2.0, retries=0))
    got = {s.device: (s.ok, s.error) for s in samples}
    assert got == {
        "wrong-community": (False, "timeout"),  # v2c agents stay silent
        "unknown-user": (False, "unknown_user"),
        "wrong-auth": (False, "auth_error"),
        "wrong-priv": (False, "priv_error"),  # silent agent that answers discovery
        "v3-nobody-listens": (False, "timeout"),
        "nobody-listens": (False, "timeout"),
        "good": (True, None),
    }
    for s in samples:
        if not s.ok:
            assert s.metrics == {}


@pytest.mark.parametrize(
    ("creds", "port_open", "reason"),
    [
        (GOOD_V3, True, None),
        (("ghost", SNMPD_V3_AUTH, SNMPD_V3_PRIV), True, "unknown_user"),
        ((SNMPD_V3_USER, "wrong-auth-key", SNMPD_V3_PRIV), True, "auth_error"),
        ((SNMPD_V3_USER, SNMPD_V3_AUTH, "wrong-priv-key"), True, "priv_error"),
        (None, True, None),
        ("bad-community", True, "timeout"),
        (None, False, "unreachable"),
    ],
    ids=["v3-ok", "unknown-user", "wrong-auth", "wrong-priv", "v2c-ok", "wrong-community",
         "port-closed"],
)
def test_probe_reasons(
    agent: Agent, creds: tuple[str, str, str] | str | None, port_open: bool, reason: str | None
) -> None:
    port = agent.port if port_open else free_udp_port()
    if isinstance(creds, tuple):
        d = device("x", "public_pc", port, v3=creds)
    else:
        d = device("x", "public_pc", port, community=creds or SNMPD_COMMUNITY)
    assert d.snmp is not None
    result = asyncio.run(probe(d.snmp, ("127.0.0.1", port), timeout=2.0, retries=0))
    assert result.reason == reason, result
    assert result.ok is (reason is None)
    if result.ok:
        assert result.sys_descr and "Linux" in result.sys_descr
        assert result.uptime_s is not None


def test_engines_are_keyed_by_credentials() -> None:
    engines = Engines()
    a = device("a", "printer", 161, community="c1").snmp
    b = device("b", "printer", 161, community="c1").snmp
    c = device("c", "printer", 161, community="c2").snmp
    d = device("d", "public_pc", 161, v3=GOOD_V3).snmp
    assert a and b and c and d
    assert engines.for_credentials(a) is engines.for_credentials(b)
    assert engines.for_credentials(a) is not engines.for_credentials(c)
    assert isinstance(engines.for_credentials(a), V2cEngine)
    assert isinstance(engines.for_credentials(d), UsmEngine)
    # same user name, another key: another engine (localized keys differ)
    e = device("e", "public_pc", 161, v3=(SNMPD_V3_USER, SNMPD_V3_AUTH, "other-priv")).snmp
    assert e is not None
    assert engines.for_credentials(e) is not engines.for_credentials(d)
    assert len(engines) == 4
    engines.close()
    assert isinstance(Engines(v3="pysnmp").for_credentials(d), V3Engine)


@pytest.mark.parametrize("kind", ["get", "bulk"])
def test_fast_v3_equals_pysnmp_v3arch(agent: Agent, kind: str) -> None:
    """The fast USM path and pysnmp's whole v3arch engine read the same values."""
    creds = device("x", "public_pc", agent.port, v3=GOOD_V3).snmp
    assert creds is not None
    address = ("127.0.0.1", agent.port)
    scalars = [(1, 3, 6, 1, 2, 1, 1, 1, 0), (1, 3, 6, 1, 2, 1, 1, 2, 0),
               (1, 3, 6, 1, 2, 1, 1, 4, 0), (1, 3, 6, 1, 2, 1, 1, 9, 0)]
    columns = [(1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 3), (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)]

    async def read(impl: str) -> tuple[ber.VarBind, ...]:
        engine = Engines(v3=impl).for_credentials(creds)
        try:
            if kind == "get":
                pdu = await engine.get(address, scalars, timeout=2.0, retries=1)
            else:
                pdu = await engine.bulk(
                    address, 1, 10, [(1, 3, 6, 1, 2, 1, 1, 1), *columns], timeout=2.0, retries=1
                )
        finally:
            engine.close()
        assert pdu.error_status == 0
        return pdu.varbinds

    async def both() -> tuple[tuple[ber.VarBind, ...], tuple[ber.VarBind, ...]]:
        return await read("fast"), await read("pysnmp")

    fast, reference = asyncio.run(both())
    assert fast == reference
    assert len(fast) == (4 if kind == "get" else 21)
    assert any(tag == ber.NO_SUCH_OBJECT for _o, tag, _v in fast) is (kind == "get")


def test_v3_survives_an_agent_restart(tmp_path: Path) -> None:
    """snmpd restarted with the same persistent state (boots + 1, time reset): the long-lived
    engine's first request after the restart is refused; it recovers once and succeeds."""
    import os
    import shutil
    import subprocess

    from tests.monitor.agents import _stop, _wait, snmpd_config

    port = free_udp_port()
    conf = snmpd_config(tmp_path, port)
    (tmp_path / "persist").mkdir()
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(tmp_path / "persist"), "MIBS": ""}
    exe = shutil.which("snmpd") or "/usr/sbin/snmpd"

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([exe, "-f", "-r", "-C", "-c", str(conf), "-Lf",
                                 str(tmp_path / "log")], env=env)
        _wait(proc, port, SNMPD_COMMUNITY, tmp_path / "log", 20)
        return proc

    creds = device("x", "public_pc", port, v3=GOOD_V3).snmp
    assert creds is not None
    engine = UsmEngine(creds)
    uptime = [(1, 3, 6, 1, 2, 1, 1, 3, 0)]

    async def poll() -> ber.Pdu:
        return await engine.get(("127.0.0.1", port), uptime, timeout=5.0, retries=1)

    async def scenario() -> tuple[ber.Pdu, ber.Pdu]:
        proc = start()
        try:
            first = await poll()  # a restart increments boots: outside the time window
        finally:
            _stop(proc)
        proc = start()
        try:
            second = await poll()
        finally:
            _stop(proc)
            engine.close()
        return first, second

    first, second = asyncio.run(scenario())
    assert first.varbinds[0][1] == second.varbinds[0][1] == ber.TIMETICKS
    # net-snmp may keep its engine ID (report notInTimeWindow: resynchronise) or not (report
    # unknownEngineID: discover again); either way exactly one recovery, then success
    assert engine.stats.resyncs == 1
    assert engine.stats.discoveries in (1, 2)
