"""A store filled by a real poll of real recordings, for the CLI's output tests.

Two sites on loopback: a mairie in Lozère (Europe/Paris, open around the clock) with a printer
whose recording is edited to a paper jam, another edited to almost no black ink, a UPS and a
public PC that does not answer; and a France Services in Nouméa (Pacific/Noumea, closed at the
test's instant) with a printer as recorded.  Each recorded device is a snmpsim process on its
own 127.0.0.x address; ``fleet poll`` itself polls them, three cycles from a fixed instant, in
its own process — no row of the store is written by hand.
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
from pathlib import Path

import pytest

from fleet.monitor import ber
from tests.conftest import REPO
from tests.monitor.agents import _SNMPSIM_BOOT, FIXTURES

COMMUNITY = "demo-community-48"  # the demo vault's v2c community
CLOCK = "2026-11-23T10:00:00+01:00"  # a Monday: 10:00 in Lozère, 20:00 in Nouméa
STATE_OID = "1.3.6.1.2.1.25.3.5.1.2.1"  # hrPrinterDetectedErrorState.1
LEVEL_OID = "1.3.6.1.2.1.43.11.1.1.9.1.1"  # prtMarkerSuppliesLevel.1.1 (Canon: black, max 3000)

LOZERE = """\
all:
  children:
    site_st_germain_calberte:
      vars:
        site_id: st-germain-calberte
        site_name: "Mairie de Saint-Germain-de-Calberte"
        site_kind: mairie
        site_address: "Le Village"
        site_commune: "Saint-Germain-de-Calberte"
        site_postcode: "48370"
        site_coordinates: {{lat: 44.2167, lon: 3.8167}}
        site_timezone: Europe/Paris
        site_opening_hours: {{mon: ["00:00-24:00"], tue: ["00:00-24:00"], wed: ["00:00-24:00"],
          thu: ["00:00-24:00"], fri: ["00:00-24:00"], sat: ["00:00-24:00"], sun: ["00:00-24:00"]}}
        site_networks: {{management: 127.0.0.0/24}}
        site_referent: {{name: "Secrétariat de mairie", phone: "+33 4 66 45 90 01",
          email: "mairie@example.org"}}
        site_sav: {{name: "Cévennes Informatique SAV", phone: "+33 4 66 00 99 00",
          email: "sav@example.net", contract: CEV-2026-017}}
      hosts:
        st-germain-calberte-prn1: {{ansible_host: 127.0.0.11, snmp_port: {prn1}}}
        st-germain-calberte-prn2: {{ansible_host: 127.0.0.12, snmp_port: {prn2}}}
        st-germain-calberte-ups1: {{ansible_host: 127.0.0.13, snmp_port: {ups1}}}
        st-germain-calberte-pc1: {{ansible_host: 127.0.0.14, snmp_port: {pc1}}}
    printer:
      hosts:
        st-germain-calberte-prn1:
        st-germain-calberte-prn2:
    ups:
      hosts:
        st-germain-calberte-ups1:
    public_pc:
      hosts:
        st-germain-calberte-pc1:
"""
NOUMEA = """\
all:
  children:
    site_noumea_riviere_salee:
      vars:
        site_id: noumea-riviere-salee
        site_name: "France Services de Nouméa Rivière-Salée"
        site_kind: france_services
        site_address: "Centre administratif de Rivière-Salée"
        site_commune: "Nouméa"
        site_postcode: "98800"
        site_coordinates: {{lat: -22.2536, lon: 166.4641}}
        site_timezone: Pacific/Noumea
        site_opening_hours: {{mon: ["07:30-11:30", "12:30-16:00"], tue: ["07:30-11:30", "12:30-16:00"],
          wed: ["07:30-11:30"], thu: ["07:30-11:30", "12:30-16:00"], fri: ["07:30-11:30", "12:30-15:00"]}}
        site_networks: {{management: 127.0.1.0/24}}
        site_referent: {{name: "Accueil France Services", phone: "+687 27 00 00"}}
        site_sav: {{name: "Calédonie Maintenance", phone: "+687 28 00 00", contract: NC-88}}
      hosts:
        noumea-riviere-salee-prn1: {{ansible_host: 127.0.1.11, snmp_port: {nc1}}}
    printer:
      hosts:
        noumea-riviere-salee-prn1:
"""


@dataclass(frozen=True)
class Polled:
    root: Path
    inventory: Path
    db_url: str

    def env(self) -> dict[str, str]:
        return {"FLEET_INVENTORY": str(self.inventory), "FLEET_DB_URL": self.db_url}


def _free_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def _answers(ip: str, port: int) -> bool:
    packet = ber.encode_request(COMMUNITY.encode(), 1,
                                ber.encode_null_varbinds(((1, 3, 6, 1, 2, 1, 1, 3, 0),)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(packet, (ip, port))
            s.recvfrom(65535)
        except OSError:
            return False
    return True


def _edited(src: Path, dest: Path, edits: dict[str, str]) -> None:
    lines = src.read_text(encoding="utf-8").splitlines()
    for oid, value in edits.items():
        hits = [i for i, line in enumerate(lines) if line.startswith(oid + "|")]
        assert len(hits) == 1, f"{oid} not in {src.name}"
        lines[hits[0]] = f"{oid}|{value}"
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _agents(root: Path, recordings: dict[str, tuple[str, Path]]) -> Iterator[dict[str, int]]:
    """One snmpsim per device: name -> (address, recording); yields name -> port."""
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    try:
        for name, (ip, recording) in recordings.items():
            data = root / name / "data"
            data.mkdir(parents=True)
            shutil.copy(recording, data / f"{COMMUNITY}.snmprec")
            (root / name / "cache").mkdir()
            for d in (root, root / name, data, root / name / "cache"):
                d.chmod(0o777 if d.name == "cache" else 0o755)
            (data / f"{COMMUNITY}.snmprec").chmod(0o644)
            port = _free_port(ip)
            cmd = [sys.executable, "-c", _SNMPSIM_BOOT, f"--data-dir={data}",
                   f"--agent-udpv4-endpoint={ip}:{port}", f"--cache-dir={root / name / 'cache'}"]
            if os.geteuid() == 0:
                cmd += ["--process-user=nobody", "--process-group=nogroup"]
            with (root / name / "log").open("wb") as log:
                procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
            ports[name] = port
        deadline = time.monotonic() + 90
        for name, (ip, _rec) in recordings.items():
            while not _answers(ip, ports[name]):
                assert time.monotonic() < deadline, (root / name / "log").read_text()[-2000:]
                time.sleep(0.1)
        yield ports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="session")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polled]:
    root = tmp_path_factory.mktemp("polled")
    canon = FIXTURES / "printers" / "canonprinter_tm.snmprec"
    _edited(canon, root / "jammed.snmprec", {STATE_OID: "4x|04"})  # bit 5 of octet 1: jammed
    _edited(canon, root / "lowink.snmprec", {LEVEL_OID: "2|90"})  # 90/3000 = 3 %
    recordings = {
        "prn1": ("127.0.0.11", root / "jammed.snmprec"),
        "prn2": ("127.0.0.12", root / "lowink.snmprec"),
        "ups1": ("127.0.0.13", FIXTURES / "ups" / "eatonupsm2_9px.snmprec"),
        "nc1": ("127.0.1.11", FIXTURES / "printers" / "brother.snmprec"),
    }
    # snmpsim reads its data as nobody: outside pytest's private temporary directory
    agents = Path(tempfile.mkdtemp(prefix="relais-cli-agents-", dir="/tmp"))
    agents.chmod(0o755)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, agents, ignore_errors=True)
        ports = cleanup.enter_context(_agents(agents, recordings))
        inv = root / "inventory"
        shutil.copytree(REPO / "inventory", inv, ignore=shutil.ignore_patterns("sites"))
        shutil.copy2(REPO / "vault-password", root / "vault-password")
        shutil.copytree(REPO / "monitoring", root / "monitoring")
        (inv / "sites").mkdir()
        (inv / "sites" / "st-germain-calberte.yml").write_text(
            LOZERE.format(pc1=_free_port("127.0.0.14"), **ports), encoding="utf-8")
        (inv / "sites" / "noumea-riviere-salee.yml").write_text(NOUMEA.format(**ports), encoding="utf-8")
        polled = Polled(root, inv, f"sqlite:///{root / 'state' / 'fleet.sqlite'}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")} | polled.env()
        proc = subprocess.run(
            [sys.executable, "-m", "fleet.cli.main", "poll", "--daemon", "--cycles", "3",
             "--interval", "1", "--timeout", "0.5", "--retries", "0", "--clock", CLOCK, "--json"],
            capture_output=True, text=True, env=env, cwd=root, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # the hotline's work since (real commands; their own times are never shown in snapshots)
        for args in (
            ["incidents", "ack", "1", "--by", "Anna (hotline)", "-m", "appelé la mairie"],
            ["incidents", "assign", "3", "--by", "Anna (hotline)"],
            ["maintenance", "add", "st-germain-calberte-ups1", "--start", "2026-11-23 09:00",
             "--until", "2026-11-23 18:00", "--by", "Luc (technicien)",
             "--why", "Remplacement des batteries de l'onduleur par le prestataire, coupure possible"],
            ["maintenance", "add", "noumea", "--start", "2026-11-24 07:00", "--until", "2026-11-24 12:00",
             "--by", "Luc (technicien)", "--why", "Câblage du nouveau commutateur"],
        ):
            done = subprocess.run([sys.executable, "-m", "fleet.cli.main", *args], capture_output=True,
                                  text=True, env=env, cwd=root, timeout=120, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
        yield polled
