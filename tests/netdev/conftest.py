"""Devices for the netdev contract: the real IOS simulator (fake-switches, on the loopback) and
replayed transcripts for the vendors no simulator exists for here.

netdev checks SSH host keys: each device's key is written to its own known_hosts file
(:attr:`Device.known_hosts`, ``[127.0.0.1]:port key``), and every session of the tests is opened
against it (:meth:`Device.host_keys`) — the strict path, as on a real site."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fleet import settings
from fleet.inventory.network import Platform
from fleet.lab.paths import LabPaths
from fleet.lab.switchsim import Simulators, start_simulators
from fleet.netdev.drivers import Driver, driver_for
from fleet.netdev.engine import Context, Target
from fleet.netdev.transport import Connector, Endpoint, HostKeys, Timeouts
from fleet.store import Store, open_store
from tests.netdev.intent import SECRETS, gear, site_network
from tests.netdev.replay import ReplayServer, host_key

USER = SECRETS["{{ vault_switch_username }}"]
PASSWORD = SECRETS["{{ vault_switch_password }}"]
TIMEOUTS = Timeouts(connect=5, banner=5, auth=5, read=30)
BEFORE_SECRET = "before-community-9"
"""A secret the devices hold before Relais configures them (in each transcript's before file,
and pushed into the simulator): a backup must never show it."""

# What a switch fresh from staging holds on the IOS simulator (like the transcripts' before files)
IOS_BEFORE = [
    f"snmp-server community {BEFORE_SECRET} RO",
    "ntp server 192.0.2.123",
    "logging host 192.0.2.50",
    "vlan 30", "name public", "exit",
    "interface FastEthernet0/3", "switchport access vlan 30", "exit",
    "interface FastEthernet0/4", "switchport access vlan 30", "exit",
]


def fake_switches_ready() -> str | None:
    """Why the IOS simulator cannot run here (None when it can); builds it when root can."""
    paths = LabPaths(Path(settings.get("lab_root")))
    if (paths.fake_switches_venv / "bin" / "python").exists():
        return None
    if os.geteuid() != 0:
        return f"the IOS simulator is not built ({paths.fake_switches_venv}) and building it needs root"
    from fleet.lab.build import build_tool

    build_tool(paths, "fake-switches", lambda _m: None)
    return None


@dataclass
class Device:
    """One device under test, and how to look at it from outside the driver."""

    platform: Platform
    driver: Driver
    target: Target
    address: tuple[str, int]
    known_hosts: Path
    """Its SSH host key, for its address (the file every session of the tests checks it in)."""
    server: ReplayServer | None = None
    sims: Simulators | None = None
    sockets: list[socket.socket] = field(default_factory=list)

    def host_keys(self) -> HostKeys:
        return HostKeys(known_hosts=self.known_hosts)

    def connector(self) -> Connector:
        def connect(_host: str, _port: int, timeout: float) -> socket.socket:
            sock = socket.create_connection(self.address, timeout=timeout)
            self.sockets.append(sock)
            return sock

        return connect

    def context(self, store: Store | None = None, **kw: object) -> Context:
        kw.setdefault("host_keys", self.host_keys())
        return Context(store=store, connector=self.connector(), timeouts=TIMEOUTS, **kw)  # type: ignore[arg-type]

    def endpoint(self, password: str = PASSWORD) -> Endpoint:
        return Endpoint(self.target.hostname, self.address[0], self.address[1], USER, password,
                        password)

    def read(self) -> str:
        """The running configuration, read on a new session."""
        with self.driver.open(self.endpoint(), self.connector(), TIMEOUTS, self.host_keys()) as s:
            return s.read_running()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.sims is not None:
            self.sims.stop()


def known_hosts_of(keys: Path, target: Target, address: tuple[str, int], public_key: str) -> Path:
    """A new known_hosts file under ``keys`` giving ``public_key`` (``type base64``) to the
    device at both the addresses it is reached by: its own (the engine's endpoint, from the
    inventory) and the local stand-in's (the tests' own sessions)."""
    names = [f"[{address[0]}]:{address[1]}"]
    gear = target.gear
    names.append(str(gear.host) if gear.port == 22 else f"[{gear.host}]:{gear.port}")
    fd, name = tempfile.mkstemp(prefix="known_hosts-", dir=keys)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"{','.join(names)} {public_key}\n")
    return Path(name)


def _ios(platform: Platform, keys: Path) -> Device:
    reason = fake_switches_ready()
    if reason is not None:
        pytest.skip(reason)
    net = site_network((platform,))
    target = Target(net, gear(net, platform))
    sims = start_simulators(LabPaths(Path(settings.get("lab_root"))), 1, username=USER,
                            password=PASSWORD, names=[target.hostname],
                            host_key=keys / "switchsim_ed25519")
    known = known_hosts_of(keys, target, (sims.host, sims.ports[0]), sims.public_key)
    dev = Device(platform, driver_for(platform), target, (sims.host, sims.ports[0]), known,
                 sims=sims)
    with dev.driver.open(dev.endpoint(), dev.connector(), TIMEOUTS, dev.host_keys()) as s:
        s.push(IOS_BEFORE)
    return dev


def make(platform: Platform, keys: Path, scenario: str | None = None,
         mode: str = "normal") -> Device:
    """A device of ``platform``; its SSH host key written to a known_hosts file under ``keys``."""
    if platform is Platform.CISCO_IOS and mode == "normal":
        return _ios(platform, keys)
    net = site_network((platform,))
    target = Target(net, gear(net, platform))
    server = ReplayServer(platform.value, username=USER, password=PASSWORD, scenario=scenario,
                          mode=mode)
    key = host_key()
    known = known_hosts_of(keys, target, (server.host, server.port),
                           f"{key.get_name()} {key.get_base64()}")
    return Device(platform, driver_for(platform), target, (server.host, server.port), known,
                  server=server)


ALL = [pytest.param(p, id=p.value) for p in Platform]


@pytest.fixture(params=ALL)
def platform(request: pytest.FixtureRequest) -> Platform:
    p: Platform = request.param
    return p


@pytest.fixture(scope="session")
def host_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The IOS simulators' SSH host key (made once a run) and the devices' known_hosts files."""
    return tmp_path_factory.mktemp("netdev-host-keys")


@pytest.fixture
def make_device(host_keys_dir: Path) -> Iterator[Callable[..., Device]]:
    made: list[Device] = []

    def factory(platform: Platform, scenario: str | None = None, mode: str = "normal") -> Device:
        dev = make(platform, host_keys_dir, scenario, mode)
        made.append(dev)
        return dev

    yield factory
    for dev in made:
        dev.close()


@pytest.fixture
def device(platform: Platform, make_device: Callable[..., Device]) -> Device:
    return make_device(platform)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    try:
        yield opened
    finally:
        opened.dispose()


