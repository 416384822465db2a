"""Poll benchmark: the Relais poller vs net-snmp CLI subprocesses (what LibreNMS does) vs ezsnmp.

One run, same request for every contender, targets are real net-snmp ``snmpd`` processes on
loopback (snmpsim is far too slow to be the target).

Targets: ``--agents`` snmpd processes on 127.0.0.1, each on its own port, each with a v2c
community and a v3 authPriv SHA/AES user.  A "device" is one (port, credentials) endpoint; the
devices are spread round-robin over the agents, so with 1,000 devices and 20 agents each snmpd
answers for 50 devices.  ``--dead`` (default 10 %) of the devices point at ports nobody listens
on (the datagram is dropped: the poller sees a timeout, as for a powered-off PC).

Request (the PC profile of issue 6): sysDescr, sysObjectID, sysUpTime, sysContact, sysName,
sysLocation, hrSystemUptime, hrMemorySize as 8 non-repeaters, then hrStorageType/Descr/Size/Used
with 12 repetitions: one GETBULK, 56 values per device.  ezsnmp's GETBULK cannot set
non-repeaters, so it sends the same 56 values as one GET (8 scalars) plus one GETBULK (4 columns
x 12): two PDUs (noted in the output).

CPU is what the polling side spends (user+system): for the Relais poller and ezsnmp the bench
process itself (``time.process_time``); for the CLI, the bench process plus its finished
children (``getrusage(RUSAGE_CHILDREN)``).  The snmpd targets are not counted.

    .venv/bin/python bench/poll.py                      # 1,000 devices, v2c and v3, all contenders
    .venv/bin/python bench/poll.py --devices 10000      # the 10k cycle (takes minutes for the CLI)
    .venv/bin/python bench/poll.py --contenders fleet --devices 10000 --processes 2
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from fleet.errors import SnmpError
from fleet.inventory.models import SnmpCredentials
from fleet.monitor import ber
from fleet.monitor.engine import Engines

COMMUNITY = "bench-ro"
USER, AUTH, PRIV = "bench-user", "bench-auth-pass", "bench-priv-pass"

SCALARS = [
    "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.4.0",
    "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0", "1.3.6.1.2.1.25.1.1.0", "1.3.6.1.2.1.25.2.2.0",
]
COLUMNS = [
    "1.3.6.1.2.1.25.2.3.1.2", "1.3.6.1.2.1.25.2.3.1.3",
    "1.3.6.1.2.1.25.2.3.1.5", "1.3.6.1.2.1.25.2.3.1.6",
]
REPETITIONS = 12

TARGETS = {"2c": 4.0, "3": 8.0}  # ms CPU per device (issue 6)
CYCLE_TARGET_S = 60.0  # 10,000 devices, 10 % dead


@dataclass(frozen=True)
class Device:
    port: int
    dead: bool


@dataclass
class Result:
    contender: str
    version: str
    devices: int
    ok: int
    wall_s: float
    cpu_s: float
    note: str = ""

    @property
    def cpu_ms_per_device(self) -> float:
        return 1000.0 * self.cpu_s / max(1, self.devices)

    @property
    def cpu_ms_per_answer(self) -> float:
        return 1000.0 * self.cpu_s / max(1, self.ok)

    @property
    def rate(self) -> float:
        return self.devices / self.wall_s if self.wall_s else 0.0


# ------------------------------------------------------------------------------------------
# targets


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    packet = ber.encode_request(
        COMMUNITY.encode(), 1, ber.encode_null_varbinds(((1, 3, 6, 1, 2, 1, 1, 3, 0),))
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(packet, ("127.0.0.1", port))
            s.recvfrom(65535)
        except OSError:
            return False
    return True


@contextlib.contextmanager
def agents(count: int) -> Iterator[list[int]]:
    exe = shutil.which("snmpd") or "/usr/sbin/snmpd"
    root = Path(tempfile.mkdtemp(prefix="relais-bench-snmpd-", dir="/tmp"))
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        for i in range(count):
            port = free_port()
            d = root / str(i)
            (d / "persist").mkdir(parents=True)
            conf = d / "snmpd.conf"
            conf.write_text("\n".join([
                f"agentAddress udp:127.0.0.1:{port}",
                f"rocommunity {COMMUNITY} 127.0.0.1",
                f"createUser {USER} SHA {AUTH} AES {PRIV}",
                f"rouser {USER} priv",
                "proc relais-wipe",  # what the public_pc profile watches (prTable)
                "sysLocation bench", "sysContact bench", "agentXSocket /dev/null", "master no",
            ]) + "\n")
            env = {**os.environ, "SNMP_PERSISTENT_DIR": str(d / "persist"), "MIBS": ""}
            procs.append(subprocess.Popen(
                [exe, "-f", "-r", "-C", "-c", str(conf), "-Lf", str(d / "log")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
            ports.append(port)
        deadline = time.monotonic() + 30
        for port, proc in zip(ports, procs, strict=True):
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"snmpd on port {port} did not start")
                time.sleep(0.05)
        yield ports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def make_devices(n: int, ports: list[int], dead_share: float) -> list[Device]:
    dead_ports = [free_port() for _ in range(5)]  # nobody listens there
    every = round(1 / dead_share) if dead_share > 0 else 0
    return [
        Device(dead_ports[i % len(dead_ports)], True) if every and i % every == 0
        else Device(ports[i % len(ports)], False)
        for i in range(n)
    ]


def credentials(version: str, port: int) -> SnmpCredentials:
    if version == "3":
        return SnmpCredentials(version="3", user=USER, auth_key=SecretStr(AUTH),
                               priv_key=SecretStr(PRIV), port=port)
    return SnmpCredentials(version="2c", community=SecretStr(COMMUNITY), port=port)


# ------------------------------------------------------------------------------------------
# contenders


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


async def _fleet_cycle(
    devices: list[Device], version: str, concurrency: int, timeout: float, retries: int
) -> int:
    engines = Engines()
    sem = asyncio.Semaphore(concurrency)
    oids = tuple(ber.parse_oid(o) for o in (*[s.rsplit(".", 1)[0] for s in SCALARS], *COLUMNS))
    want = len(SCALARS) + len(COLUMNS) * REPETITIONS

    async def one(d: Device) -> bool:
        engine = engines.for_credentials(credentials(version, d.port))
        address = ("127.0.0.1", d.port)
        async with sem:
            try:
                pdu = await engine.bulk(address, len(SCALARS), REPETITIONS, oids,
                                        timeout=timeout, retries=retries)
            except SnmpError:
                return False
        return pdu.error_status == 0 and len(pdu.varbinds) == want

    try:
        return sum(await asyncio.gather(*(one(d) for d in devices)))
    finally:
        engines.close()


def _fleet_worker(args: tuple[list[Device], str, int, float, int]) -> tuple[int, float]:
    devices, version, concurrency, timeout, retries = args
    cpu = time.process_time()
    ok = asyncio.run(_fleet_cycle(devices, version, concurrency, timeout, retries))
    return ok, time.process_time() - cpu


def run_fleet(devices: list[Device], version: str, opts: argparse.Namespace) -> Result:
    if opts.processes <= 1:
        cpu, wall = time.process_time(), time.perf_counter()
        ok = asyncio.run(
            _fleet_cycle(devices, version, opts.concurrency, opts.timeout, opts.retries)
        )
        return Result("fleet", version, len(devices), ok, time.perf_counter() - wall,
                      time.process_time() - cpu)
    shards = [devices[i :: opts.processes] for i in range(opts.processes)]
    with concurrent.futures.ProcessPoolExecutor(opts.processes) as pool:
        list(pool.map(int, range(opts.processes)))  # start the workers before the clock
        wall = time.perf_counter()
        parts = list(pool.map(_fleet_worker, [
            (s, version, opts.concurrency, opts.timeout, opts.retries) for s in shards
        ]))
        wall_s = time.perf_counter() - wall
    return Result(f"fleet x{opts.processes} proc", version, len(devices),
                  sum(p[0] for p in parts), wall_s, sum(p[1] for p in parts))


def _cli_args(version: str, port: int, timeout: float, retries: int) -> list[str]:
    auth = (["-v2c", "-c", COMMUNITY] if version == "2c" else
            ["-v3", "-l", "authPriv", "-u", USER, "-a", "SHA", "-A", AUTH, "-x", "AES", "-X", PRIV])
    return [
        "snmpbulkget", *auth, "-On", "-Oq", f"-t{timeout}", f"-r{retries}",
        f"-Cn{len(SCALARS)}", f"-Cr{REPETITIONS}", f"udp:127.0.0.1:{port}",
        *[s.rsplit(".", 1)[0] for s in SCALARS], *COLUMNS,
    ]


async def _cli_cycle(devices: list[Device], version: str, opts: argparse.Namespace) -> int:
    sem = asyncio.Semaphore(opts.parallel)
    want = len(SCALARS) + len(COLUMNS) * REPETITIONS

    async def one(d: Device) -> bool:
        async with sem:
            proc = await asyncio.create_subprocess_exec(
                *_cli_args(version, d.port, opts.timeout, opts.retries),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "MIBS": ""},
            )
            out, _ = await proc.communicate()
        return proc.returncode == 0 and len(out.splitlines()) >= want

    return sum(await asyncio.gather(*(one(d) for d in devices)))


def run_netsnmp(devices: list[Device], version: str, opts: argparse.Namespace) -> Result:
    cpu, children, wall = time.process_time(), _cpu_children(), time.perf_counter()
    ok = asyncio.run(_cli_cycle(devices, version, opts))
    used = (time.process_time() - cpu) + (_cpu_children() - children)
    return Result("net-snmp CLI", version, len(devices), ok, time.perf_counter() - wall, used,
                  f"{opts.parallel} in parallel")


def run_ezsnmp(devices: list[Device], version: str, opts: argparse.Namespace) -> Result:
    from ezsnmp import Session

    want = len(SCALARS) + len(COLUMNS) * REPETITIONS

    def one(d: Device) -> bool:
        common = {"hostname": "127.0.0.1", "port_number": d.port, "timeout": opts.timeout,
                  "retries": opts.retries, "set_max_repeaters_to_num": REPETITIONS,
                  "print_oids_numerically": True}
        try:
            if version == "2c":
                s = Session(version="2c", community=COMMUNITY, **common)
            else:
                s = Session(version="3", security_level="authPriv", security_username=USER,
                            auth_protocol="SHA", auth_passphrase=AUTH, privacy_protocol="AES",
                            privacy_passphrase=PRIV, **common)
            got = len(s.get(SCALARS)) + len(s.bulk_get(COLUMNS))
        except Exception:  # ezsnmp raises its own tree for timeouts etc.
            return False
        return got >= want

    cpu, wall = time.process_time(), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(opts.parallel) as pool:
        ok = sum(pool.map(one, devices))
    return Result("ezsnmp", version, len(devices), ok, time.perf_counter() - wall,
                  time.process_time() - cpu, f"{opts.parallel} threads, GET+GETBULK")


def run_poller(devices: list[Device], version: str, opts: argparse.Namespace) -> Result:
    """Not a like-for-like contender: the real poller with the shipped public_pc profile
    (system scalars, hrProcessorLoad, hrStorage, prTable), for information."""
    from fleet.inventory.models import Device as InvDevice
    from fleet.inventory.models import DeviceKind, Source
    from fleet.monitor.poller import poll_devices
    from fleet.monitor.profiles import load_profiles

    profiles = load_profiles(Path(__file__).resolve().parents[1] / "monitoring" / "profiles")
    inv = [
        InvDevice(hostname=f"pc{i}", kind=DeviceKind.PUBLIC_PC, ip="127.0.0.1",
                  site_id=f"site{i // 3}", snmp=credentials(version, d.port),
                  source=Source(file="bench"))
        for i, d in enumerate(devices)
    ]
    cpu, wall = time.process_time(), time.perf_counter()
    samples = asyncio.run(poll_devices(inv, profiles, timeout=opts.timeout, retries=opts.retries,
                                       concurrency=opts.concurrency))
    return Result("poller public_pc", version, len(devices), sum(s.ok for s in samples),
                  time.perf_counter() - wall, time.process_time() - cpu,
                  "full profile walk, for information")


CONTENDERS = {
    "fleet": run_fleet, "netsnmp": run_netsnmp, "ezsnmp": run_ezsnmp, "poller": run_poller,
}


# ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=1000)
    p.add_argument("--dead", type=float, default=0.10, help="share of dead devices")
    p.add_argument("--agents", type=int, default=20, help="snmpd processes on loopback")
    p.add_argument("--versions", default="2c,3")
    p.add_argument("--contenders", default="fleet,netsnmp,ezsnmp,poller",
                   help="fleet = our engines, one GETBULK like the others; poller = the whole "
                        "public_pc profile through poll_devices (information)")
    p.add_argument("--concurrency", type=int, default=256, help="fleet: requests in flight")
    p.add_argument("--processes", type=int, default=1, help="fleet: worker processes (shards)")
    p.add_argument("--parallel", type=int, default=32, help="CLI processes / ezsnmp threads")
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--retries", type=int, default=0)
    opts = p.parse_args(argv)
    contenders = [c for c in opts.contenders.split(",") if c]
    if "ezsnmp" in contenders:
        try:
            import ezsnmp  # noqa: F401
        except ImportError:
            print("ezsnmp not installed (pip install 'relais-fleet[bench]'): skipped")
            contenders.remove("ezsnmp")

    print(f"# poll bench: {opts.devices} devices ({opts.dead:.0%} dead), {opts.agents} snmpd on "
          f"loopback, {os.cpu_count()} CPUs, timeout {opts.timeout}s retries {opts.retries}")
    print(f"# request: GETBULK non-repeaters {len(SCALARS)} max-repetitions {REPETITIONS} "
          f"over {len(SCALARS)} scalars + {len(COLUMNS)} hrStorage columns = "
          f"{len(SCALARS) + len(COLUMNS) * REPETITIONS} values per device")
    results: list[Result] = []
    with agents(opts.agents) as ports:
        devices = make_devices(opts.devices, ports, opts.dead)
        alive = sum(not d.dead for d in devices)
        for version in opts.versions.split(","):
            for name in contenders:
                r = CONTENDERS[name](devices, version, opts)
                results.append(r)
                print(f"  v{version:<2} {r.contender:<16} ok {r.ok:>6}/{alive:<6} "
                      f"wall {r.wall_s:7.2f} s  {r.rate:8.0f} dev/s  "
                      f"CPU {r.cpu_s:7.2f} s = {r.cpu_ms_per_device:6.2f} ms/device "
                      f"({r.cpu_ms_per_answer:6.2f} ms/answer)  {r.note}", flush=True)

    print("\n# ratios (CPU per device; higher = the Relais poller spends less)")
    for version in opts.versions.split(","):
        fleet = next((r for r in results if r.version == version and
                      r.contender.startswith("fleet")), None)
        if fleet is None:
            continue
        for r in results:
            if r.version == version and r is not fleet and not r.contender.startswith("poller"):
                print(f"  v{version}: {r.contender} / fleet = "
                      f"{r.cpu_ms_per_device / fleet.cpu_ms_per_device:5.1f}x CPU, "
                      f"fleet is {fleet.rate / r.rate:5.1f}x faster (devices/s)")
    print("\n# targets (issue 6)")
    for version in opts.versions.split(","):
        fleet = next((r for r in results if r.version == version and
                      r.contender.startswith("fleet")), None)
        if fleet is None:
            continue
        target = TARGETS.get(version, 8.0)
        met = fleet.cpu_ms_per_answer <= target
        print(f"  v{version}: <= {target} ms CPU per device: "
              f"{fleet.cpu_ms_per_answer:.2f} ms per answering device -> "
              f"{'MET' if met else 'NOT MET'}")
        if opts.devices >= 10000:
            cycle_met = fleet.wall_s <= CYCLE_TARGET_S
            print(f"  v{version}: 10k-device cycle with {opts.dead:.0%} dead <= "
                  f"{CYCLE_TARGET_S:.0f} s: {fleet.wall_s:.1f} s -> "
                  f"{'MET' if cycle_met else 'NOT MET'}")
        else:
            print(f"  v{version}: 10k cycle target (<= {CYCLE_TARGET_S:.0f} s): run with "
                  "--devices 10000")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
