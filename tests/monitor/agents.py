"""Real SNMP agents for the monitor tests: snmpsim serving recordings, net-snmp snmpd.

Everything listens on 127.0.0.1 only, on a free high port, and is stopped by the caller
(context managers), even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from pydantic import SecretStr

from fleet.inventory.models import Device, DeviceKind, SnmpCredentials, Source
from fleet.monitor import ber  # its request encoder is checked against pysnmp in test_ber

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "snmprec"

# snmpsim drops privileges to nobody before indexing the recordings; when the interpreter lives
# somewhere nobody cannot read (pyenv under /root), modules imported lazily after the drop fail.
# Import them first.
_SNMPSIM_BOOT = (
    "import sys, dbm, dbm.dumb, encodings.latin_1, encodings.ascii, encodings.utf_8, "
    "encodings.hex_codec, encodings.idna\n"
    "from snmpsim.commands.responder import main\n"
    "sys.argv[0] = 'snmpsim-command-responder'\n"
    "sys.exit(main())\n"
)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int, community: str) -> bool:
    """A bare SNMPv2c GET sysUpTime.0 (encoded by hand: tests must not depend on the code
    under test to decide whether an agent is up)."""
    packet = ber.encode_request(
        community.encode(), 1, ber.encode_null_varbinds(((1, 3, 6, 1, 2, 1, 1, 3, 0),))
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(packet, ("127.0.0.1", port))
            s.recvfrom(65535)
        except OSError:
            return False
    return True


def _wait(
    proc: subprocess.Popen[bytes], port: int, community: str, log: Path, limit: float
) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited ({proc.returncode}): {log.read_text()[-2000:]}")
        if _answers(port, community):
            return
        time.sleep(0.05)
    raise RuntimeError(f"agent on port {port} not answering after {limit}s: "
                       f"{log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass(frozen=True)
class Agent:
    host: str
    port: int
    root: Path


@contextlib.contextmanager
def snmpsim(data: Path, probe_community: str) -> Iterator[Agent]:
    """Serve every ``*.snmprec`` below ``data`` (community = relative path without suffix)."""
    root = Path(tempfile.mkdtemp(prefix="relais-snmpsim-", dir="/tmp"))
    try:
        root.chmod(0o755)
        shutil.copytree(data, root / "data")
        for path in (root / "data").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (root / "cache").mkdir(mode=0o777)
        (root / "cache").chmod(0o777)
        port = free_udp_port()
        log = root / "log"
        cmd = [
            sys.executable, "-c", _SNMPSIM_BOOT,
            f"--data-dir={root / 'data'}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}",
            f"--cache-dir={root / 'cache'}",
        ]
        if os.geteuid() == 0:
            cmd += ["--process-user=nobody", "--process-group=nogroup"]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait(proc, port, probe_community, log, 60)
            yield Agent("127.0.0.1", port, root)
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)


SNMPD_V3_USER = "relais-poller"
SNMPD_V3_AUTH = "auth-pass-0123"
SNMPD_V3_PRIV = "priv-pass-4567"
SNMPD_COMMUNITY = "relais-ro"


V3User = tuple[str, str, str]
DEFAULT_V3: tuple[V3User, ...] = ((SNMPD_V3_USER, SNMPD_V3_AUTH, SNMPD_V3_PRIV),)


def snmpd_config(root: Path, port: int, *, communities: tuple[str, ...] = (SNMPD_COMMUNITY,),
                 v3: tuple[V3User, ...] = DEFAULT_V3,
                 addresses: tuple[str, ...] = ("127.0.0.1",)) -> Path:
    """A minimal net-snmp config: read-only v2c community(ies), v3 authPriv SHA/AES users."""
    lines = [
        "agentAddress " + ",".join(f"udp:{a}:{port}" for a in addresses),
        *(f"rocommunity {c} 127.0.0.0/8" for c in communities),
        "sysLocation relais test",
        "sysContact relais-tests",
        "sysServices 72",
        "agentXSocket /dev/null",
        "master no",
        # the processes the public_pc and borne profiles watch (prTable), as the role sets them
        "proc chromium",
        "proc relais-wipe",
    ]
    for user, auth, priv in v3:
        lines += [f"createUser {user} SHA {auth} AES {priv}", f"rouser {user} priv"]
    conf = root / "snmpd.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


@contextlib.contextmanager
def snmpd(
    *,
    communities: tuple[str, ...] = (SNMPD_COMMUNITY,),
    v3: tuple[V3User, ...] = DEFAULT_V3,
    addresses: tuple[str, ...] = ("127.0.0.1",),
    port: int | None = None,
) -> Iterator[Agent]:
    """Our own net-snmp snmpd on loopback (its own config and persistent dir)."""
    exe = shutil.which("snmpd") or "/usr/sbin/snmpd"
    if not Path(exe).exists():
        raise RuntimeError("snmpd not installed (Debian package snmpd)")
    root = Path(tempfile.mkdtemp(prefix="relais-snmpd-", dir="/tmp"))
    try:
        port = port or free_udp_port()
        conf = snmpd_config(root, port, communities=communities, v3=v3, addresses=addresses)
        (root / "persist").mkdir()
        log = root / "log"
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(root / "persist"), "MIBS": ""}
        cmd = [exe, "-f", "-r", "-C", "-c", str(conf), "-Lf", str(log), "-p", str(root / "pid")]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait(proc, port, communities[0], log, 20)
            yield Agent("127.0.0.1", port, root)
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def device(
    hostname: str,
    kind: DeviceKind | str,
    port: int,
    *,
    community: str | None = None,
    v3: tuple[str, str, str] | None = None,
    site: str = "test-site",
    ip: str = "127.0.0.1",
) -> Device:
    if v3 is not None:
        user, auth, priv = v3
        creds = SnmpCredentials(
            version="3", user=user, auth_key=SecretStr(auth), priv_key=SecretStr(priv), port=port
        )
    else:
        creds = SnmpCredentials(version="2c", community=SecretStr(community or "public"), port=port)
    return Device(
        hostname=hostname,
        kind=DeviceKind(kind),
        ip=IPv4Address(ip),
        site_id=site,
        snmp=creds,
        source=Source(file="tests/monitor"),
    )
