"""Each profile reads every device of its kind among the recordings of real devices.

snmpsim serves the LibreNMS recordings copied into tests/fixtures/snmprec; the poller runs
for real over UDP on loopback."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from fleet.monitor.poller import Sample, poll_devices
from fleet.monitor.profiles import Profile
from tests.monitor.agents import FIXTURES, Agent, device, snmpsim

KINDS = {
    "printers": "printer",
    "ups": "ups",
    "aps": "ap",
    "switches": "switch",
    "linux": "public_pc",
}


def recordings(category: str) -> list[str]:
    return sorted(f"{category}/{p.stem}" for p in (FIXTURES / category).glob("*.snmprec"))


@pytest.fixture(scope="module")
def corpus_samples(corpus_agent: Agent, profiles: dict[str, Profile]) -> dict[str, Sample]:
    devices = [
        device(name, KINDS[cat], corpus_agent.port, community=name)
        for cat in KINDS
        for name in recordings(cat)
    ]
    samples = asyncio.run(poll_devices(devices, profiles, timeout=5.0, retries=1))
    return {s.device: s for s in samples}


def test_every_recording_answers(corpus_samples: dict[str, Sample]) -> None:
    expected = {name for cat in KINDS for name in recordings(cat)}
    assert set(corpus_samples) == expected
    failed = {n: s.error for n, s in corpus_samples.items() if not s.ok}
    assert failed == {}
    for name, sample in corpus_samples.items():
        assert isinstance(sample.metrics.get("uptime_s"), int), name
        assert sample.metrics["uptime_s"] > 0, name
        assert sample.at.tzinfo is not None


@pytest.mark.parametrize("name", recordings("printers"))
def test_every_printer_yields_supply_levels(corpus_samples: dict[str, Sample], name: str) -> None:
    metrics = corpus_samples[name].metrics
    levels = {k: v for k, v in metrics.items() if k.startswith(("supply_pct:", "supply_state:"))}
    assert levels, f"{name}: no supply metric in {sorted(metrics)}"
    for key, value in levels.items():
        if key.startswith("supply_pct:"):
            assert isinstance(value, float) and 0.0 <= value <= 100.0, (key, value)
        else:
            assert value == "some_remaining"


def test_printer_values_match_the_recordings(corpus_samples: dict[str, Sample]) -> None:
    # figures from the corpus README (level/max of prtMarkerSupplies)
    assert corpus_samples["printers/dell-laser_s5830dn"].metrics["supply_pct:Black Toner"] == 49.0
    utax = corpus_samples["printers/utax"].metrics
    assert utax["supply_pct:PK-3010S"] == 89.0
    assert utax["supply_state:Waste Toner Box"] == "some_remaining"  # level -3
    assert "supply_pct:Waste Toner Box" not in utax
    brother = corpus_samples["printers/brother"].metrics
    assert brother["supply_state:Black Toner Cartridge"] == "some_remaining"
    sharp = corpus_samples["printers/sharp"].metrics  # hrPrinterDetectedErrorState = 20 00
    assert "supply_pct:Fusing Unit" not in sharp  # -2/-2: unknown, skipped
    assert sharp["printer_error:low_toner"] == 1
    assert sharp["printer_errors"] == 1
    samsung = corpus_samples["printers/samsungprinter_m4080fx"].metrics  # 80 00
    assert samsung["printer_error:low_paper"] == 1
    assert corpus_samples["printers/utax"].metrics["printer_errors"] == 0


def test_every_ups_yields_its_charge(corpus_samples: dict[str, Sample]) -> None:
    for name in recordings("ups"):
        m = corpus_samples[name].metrics
        assert m["ups_on_battery"] == 0, name
        assert 0 <= m["ups_charge_pct"] <= 100, name
        assert m["ups_runtime_min"] > 0, name
    eaton = corpus_samples["ups/eatonupsm2_9px"].metrics
    assert (eaton["ups_charge_pct"], eaton["ups_runtime_min"], eaton["ups_battery_status"]) == (
        98, 430, 2,
    )
    # APC card without UPS-MIB data: PowerNet-MIB upsHighPrecBatteryCapacity 1000 = 100.0 %
    assert corpus_samples["ups/apc_smx750i"].metrics["ups_charge_pct"] == 100.0


@pytest.mark.parametrize("name", recordings("aps") + recordings("switches"))
def test_network_gear_yields_interfaces(corpus_samples: dict[str, Sample], name: str) -> None:
    m = corpus_samples[name].metrics
    ifs = {k: v for k, v in m.items() if k.startswith("if_up:")}
    assert ifs and m["if_count"] == len(ifs)
    assert m["if_up_count"] == sum(int(v) for v in ifs.values())
    assert 0 < m["if_up_count"] <= m["if_count"]


def test_interface_counts(corpus_samples: dict[str, Sample]) -> None:
    assert corpus_samples["switches/procurve_nac"].metrics["if_count"] == 62
    assert corpus_samples["aps/stellar_oaw-ap1321"].metrics["if_count"] == 66
    # UBNT-UniFi-MIB unifiVapNumStations: 4 + 0 + 14 + 0
    assert corpus_samples["aps/unifi_nanohd"].metrics["clients_associated"] == 18


@pytest.mark.parametrize("name", recordings("linux"))
def test_hosts_yield_cpu_memory_disks(corpus_samples: dict[str, Sample], name: str) -> None:
    m = corpus_samples[name].metrics
    assert 0 <= m["cpu_load_pct"] <= 100
    assert 0 < m["mem_used_pct"] <= 100
    disks = [k for k in m if k.startswith("disk_used_pct:")]
    assert disks, name
    assert m["proc_running:relais-wipe"] == 0  # none of these real hosts runs it


def test_process_names_are_read(
    corpus_agent: Agent, profiles: dict[str, Profile]
) -> None:
    """linux/vos_csg770 is the recording with hrSWRunName (hex-encoded versa-* daemons)."""
    borne = profiles["borne"]
    wanted = dict(borne.readers[-1].params)
    assert wanted["expect"] == ["chromium", "relais-wipe"]
    pc = device("vos", "borne", corpus_agent.port, community="linux/vos_csg770")
    [sample] = asyncio.run(poll_devices([pc], profiles, timeout=5.0))
    assert sample.ok
    assert sample.metrics["proc_running:chromium"] == 0
    # a profile expecting a process the recording runs sees it running
    from fleet.monitor.profiles import parse_profile

    raw = {"kind": "borne", "read": {"processes": {
        "oids": {"name": "1.3.6.1.2.1.25.4.2.1.2"}, "expect": ["versa-vsmd", "chromium"]}}}
    [sample] = asyncio.run(
        poll_devices([pc], {"borne": parse_profile(raw, "inline")}, timeout=5.0)
    )
    assert sample.metrics == {"proc_running:versa-vsmd": 1, "proc_running:chromium": 0}


def _edit(src: Path, dst: Path, replace: dict[str, str]) -> None:
    lines = []
    for line in src.read_text().splitlines():
        oid = line.split("|", 1)[0]
        if oid in replace:
            tag_value = replace.pop(oid)
            line = f"{oid}|{tag_value}"
        lines.append(line)
    assert not replace, f"OIDs not in {src.name}: {replace}"
    dst.write_text("\n".join(lines) + "\n")


def test_edited_recordings_low_toner_and_jam(
    tmp_path: Path, profiles: dict[str, Profile]
) -> None:
    data = tmp_path / "data" / "edited"
    data.mkdir(parents=True)
    dell = FIXTURES / "printers" / "dell-laser_s5830dn.snmprec"
    # Black Toner 22050/45000 -> 2250/45000 (5 %), error state: low_toner (bit 2 of octet 0)
    _edit(dell, data / "lowtoner.snmprec", {
        "1.3.6.1.2.1.43.11.1.1.9.1.1": "2|2250",
        "1.3.6.1.2.1.25.3.5.1.2.1": "4x|2000",
    })
    # a jam with the door open (octet 0: door_open 0x08 | jammed 0x04), and no paper
    _edit(dell, data / "jam.snmprec", {"1.3.6.1.2.1.25.3.5.1.2.1": "4x|4c00"})
    shutil.copy(FIXTURES / "printers" / "utax.snmprec", data / "unchanged.snmprec")
    with snmpsim(tmp_path / "data", "edited/jam") as agent:
        devices = [
            device(name, "printer", agent.port, community=f"edited/{name}")
            for name in ("lowtoner", "jam", "unchanged")
        ]
        samples = {s.device: s for s in asyncio.run(poll_devices(devices, profiles, timeout=5))}
    low = samples["lowtoner"].metrics
    assert low["supply_pct:Black Toner"] == 5.0
    assert low["printer_error:low_toner"] == 1
    assert low["printer_errors"] == 1
    jam = samples["jam"].metrics
    assert {k for k in jam if k.startswith("printer_error:")} == {
        "printer_error:no_paper", "printer_error:door_open", "printer_error:jammed",
    }
    assert jam["printer_errors"] == 3
    assert jam["supply_pct:Black Toner"] == 49.0
    assert samples["unchanged"].metrics["printer_errors"] == 0
