"""Recordings of real printers, edited to a jam or low toner, open the right incident.

End to end with real parts: snmpsim serves the recordings on 127.0.0.1, the real poller reads
them with the printer profile, the rules decide, the store records."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleet.incidents import list_incidents
from fleet.inventory.models import Device, DeviceKind
from fleet.monitor.cycle import run_cycle
from fleet.monitor.poller import Poller, Sample, load_profiles
from fleet.monitor.rules_file import load_rules
from fleet.store import Store
from tests.incidents.samples import REPO, make_site
from tests.monitor.agents import FIXTURES, Agent, device, snmpsim

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
STATE_OID = "1.3.6.1.2.1.25.3.5.1.2.1"  # hrPrinterDetectedErrorState.1
LEVEL_OID = "1.3.6.1.2.1.43.11.1.1.9.1.1"  # prtMarkerSuppliesLevel.1.1 (Canon: black, max 3000)


def _edit(path: Path, oid: str, typ: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith(oid + "|")]
    assert len(hits) == 1, f"{oid} not in {path.name}"
    lines[hits[0]] = f"{oid}|{typ}|{value}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """The Canon recording three times: as recorded, with a jam, with almost no black ink."""
    data = tmp_path_factory.mktemp("recordings") / "data"
    data.mkdir(mode=0o755)  # snmpsim reads it as nobody
    src = FIXTURES / "printers" / "canonprinter_tm.snmprec"
    for name in ("asis", "jammed", "lowink"):
        shutil.copy(src, data / f"{name}.snmprec")
    _edit(data / "jammed.snmprec", STATE_OID, "4x", "04")  # bit 5 of octet 1: jammed
    _edit(data / "lowink.snmprec", LEVEL_OID, "2", "90")  # 90/3000 = 3 %
    with snmpsim(data, "asis") as served:
        yield served


def _poll_once(store: Store, devices: Sequence[Device]) -> None:
    site = make_site(devices)
    profiles = load_profiles(REPO / "monitoring" / "profiles")
    rules = load_rules(REPO / "monitoring" / "rules.yml")
    poller = Poller(profiles, timeout=5.0, retries=1, clock=lambda: NOW)  # answers end it early

    async def poll(devs: Sequence[Device]) -> list[Sample]:
        return await poller.cycle(devs)

    try:
        report = asyncio.run(run_cycle(store, [site], poll, rules, lambda: NOW))
    finally:
        poller.close()
    assert report.failures == []
    assert report.answered == len(devices), "snmpsim must answer every recording"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    from fleet.store import open_store

    s = open_store(f"sqlite:///{tmp_path}/fleet.sqlite")
    yield s
    s.dispose()


def test_edited_recordings_open_the_right_incidents(agent: Agent, store: Store) -> None:
    devices = [
        device(name, DeviceKind.PRINTER, agent.port, community=name) for name in ("asis", "jammed", "lowink")
    ]
    _poll_once(store, devices)
    got = {(i.device, i.check, i.reason) for i in list_incidents(store)}
    assert got == {
        ("jammed", "printer_jam", "jammed"),
        ("lowink", "supply:CANON Matte Black Ink Tank", "under_threshold"),
    }
    titles = {i.device: i.title for i in list_incidents(store)}
    assert titles["lowink"] == "lowink : CANON Matte Black Ink Tank à 3 % (limite 10 %)"
