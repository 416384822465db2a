"""Profiles as data: validation errors a technician can act on, and the readers' arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleet.errors import ConfigError
from fleet.inventory.models import DeviceKind
from fleet.monitor import ber
from fleet.monitor.poller import in_shard, poll_sharded
from fleet.monitor.profiles import (
    PRINTER_ERROR_FLAGS,
    Data,
    load_profiles,
    read_interfaces,
    read_printer_errors,
    read_printer_supplies,
    read_storage,
    read_ups,
)
from tests.monitor.agents import Agent, device

REPO = Path(__file__).resolve().parents[2]


def test_one_profile_per_device_kind() -> None:
    profiles = load_profiles(REPO / "monitoring" / "profiles")
    assert set(profiles) == {k.value for k in DeviceKind}
    assert profiles["borne"].readers[-1].params["expect"] == ["chromium", "relais-wipe"]
    assert profiles["public_pc"].readers[-1].params["expect"] == ["relais-wipe"]


def _write(tmp_path: Path, name: str, body: object) -> Path:
    d = tmp_path / "profiles"
    d.mkdir(exist_ok=True)
    (d / name).write_text(yaml.safe_dump(body))
    return d


GOOD = {"kind": "switch", "read": {"system": {"oids": {"uptime": "1.3.6.1.2.1.1.3.0"}}}}


@pytest.mark.parametrize(
    ("body", "field", "value"),
    [
        ({**GOOD, "kind": "toaster"}, "kind", "toaster"),
        ({**GOOD, "read": {"sytem": {"oids": {}}}}, "read.sytem", "sytem"),
        ({**GOOD, "read": {"system": {"oids": {"uptime": "1.3.six"}}}},
         "read.system.oids.uptime", "1.3.six"),
        ({**GOOD, "read": {"system": {"oids": {"uptime": "1.3.6.1.2.1.1.3"}}}},
         "read.system.oids.uptime", "1.3.6.1.2.1.1.3"),
        ({**GOOD, "read": {"interfaces": {"oids": {"descr": "1.3.6.1.2.1.2.2.1.2"}}}},
         "read.interfaces.oids", "oper_status"),
        ({**GOOD, "read": {"processes": {"oids": {"name": "1.3.6.1.2.1.25.4.2.1.2"},
                                         "expect": "chromium"}}},
         "read.processes.expect", "chromium"),
        ({**GOOD, "max_repetitions": 0}, "max_repetitions", "0"),
        ({**GOOD, "colour": "blue"}, "colour", "unknown key 'colour'"),
    ],
)
def test_bad_profiles_name_file_field_value(
    tmp_path: Path, body: dict[str, object], field: str, value: str
) -> None:
    d = _write(tmp_path, "switch.yml", body)
    with pytest.raises(ConfigError) as err:
        load_profiles(d)
    message = str(err.value)
    assert "switch.yml" in message and field in message and value in message
    assert "\n" not in message


def test_file_name_must_match_kind(tmp_path: Path) -> None:
    d = _write(tmp_path, "printer.yml", GOOD)
    with pytest.raises(ConfigError, match=r"printer\.yml:1: kind: 'switch', .*'printer'"):
        load_profiles(d)


def test_unreadable_yaml(tmp_path: Path) -> None:
    d = tmp_path / "profiles"
    d.mkdir()
    (d / "ups.yml").write_text("kind: [unclosed\n")
    with pytest.raises(ConfigError, match=r"ups\.yml:1: YAML syntax error"):
        load_profiles(d)
    with pytest.raises(ConfigError, match="not found"):
        load_profiles(tmp_path / "nowhere")


HAND_WRITTEN = """\
# a switch, written by hand: comments and blank lines move the values down
kind: switch
max_repetitions: 30

read:
  system:
    oids:
      descr: 1.3.6.1.2.1.1.1.0
      uptime: 1.3.6.1.2.1.1.3.0   # sysUpTime
  interfaces:
    oids:
      descr: 1.3.6.1.2.1.2.2.1.2
      oper_status: 1.3.6.1.2.1.2.2.1.8
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # wrong type
        ("max_repetitions: 30", "max_repetitions: thirty",
         "max_repetitions: must be a whole number, not the text 'thirty'"),
        # unknown key, with the closest known one
        ("      uptime: 1.3.6.1.2.1.1.3.0", "      uptim: 1.3.6.1.2.1.1.3.0",
         "read.system.oids.uptim: unknown key 'uptim' (did you mean 'uptime'?)"),
        # a required name missing: the line of the mapping that lacks it
        ("      oper_status: 1.3.6.1.2.1.2.2.1.8\n", "",
         "read.interfaces.oids.oper_status: required key missing"),
        # a bad OID, named
        ("      oper_status: 1.3.6.1.2.1.2.2.1.8", "      oper_status: 1.3.6.1.2.1.2.2.1.eight",
         "read.interfaces.oids.oper_status: '1.3.6.1.2.1.2.2.1.eight' is not a numeric OID"),
        # a scalar without its instance
        ("      descr: 1.3.6.1.2.1.1.1.0", "      descr: 1.3.6.1.2.1.1.1",
         "read.system.oids.descr: '1.3.6.1.2.1.1.1': a scalar OID ends in .0"),
        # out of bounds, with the value
        ("max_repetitions: 30", "max_repetitions: 500",
         "max_repetitions: must be less than or equal to 200, not the number 500"),
    ],
)
def test_a_bad_profile_names_the_line_of_the_bad_value(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    d = tmp_path / "profiles"
    d.mkdir()
    assert HAND_WRITTEN.count(old) == 1
    (d / "switch.yml").write_text(HAND_WRITTEN, encoding="utf-8")
    assert load_profiles(d)["switch"].max_repetitions == 30  # the control: it loads as written
    text = HAND_WRITTEN.replace(old, new)
    (d / "switch.yml").write_text(text, encoding="utf-8")
    # the line of the bad value, or of the mapping a key is missing from (interfaces' oids)
    lines = text.splitlines()
    line = (lines.index("  interfaces:") + 2 if not new
            else next(i for i, ln in enumerate(lines, 1) if ln.startswith(new)))
    with pytest.raises(ConfigError) as err:
        load_profiles(d)
    message = str(err.value)
    assert message.startswith(f"{d / 'switch.yml'}:{line}: {expected}"), (line, message)
    assert "\n" not in message


def _column(*cells: tuple[int, ber.Value]) -> dict[tuple[int, ...], tuple[int, ber.Value]]:
    return {(i + 1,): c for i, c in enumerate(cells)}


def test_printer_error_bits_follow_rfc3805_order() -> None:
    for i, flag in enumerate(PRINTER_ERROR_FLAGS):
        octets = bytearray(2)
        octets[i // 8] |= 0x80 >> (i % 8)
        got = read_printer_errors(
            Data({}, {"state": _column((ber.OCTET_STRING, bytes(octets)))}), {}
        )
        assert got == {f"printer_error:{flag}": 1, "printer_errors": 1}
    # empty string (epson) = no error; one octet only = second octet's flags clear
    assert read_printer_errors(Data({}, {"state": _column((4, b""))}), {}) == {"printer_errors": 0}
    assert read_printer_errors(Data({}, {"state": {}}), {}) == {}


def test_supplies_levels_unknown_and_some_remaining() -> None:
    data = Data({}, {
        "descr": _column((4, b"Black Toner"), (4, b"Waste"), (4, b"Drum"), (4, b"Black Toner")),
        "max": _column((2, 200), (2, -2), (2, 100), (2, 50)),
        "level": _column((2, 20), (2, -3), (2, -2), (2, 50)),
    })
    assert read_printer_supplies(data, {}) == {
        "supply_pct:Black Toner": 10.0,
        "supply_state:Waste": "some_remaining",
        "supply_pct:Black Toner#4": 100.0,  # duplicate description: index appended
    }


def test_storage_memory_and_disks() -> None:
    ram, disk, other = (1, 3, 6, 1, 2, 1, 25, 2, 1, 2), (1, 3, 6, 1, 2, 1, 25, 2, 1, 4), (1, 3)
    data = Data({}, {
        "type": _column((6, ram), (6, disk), (6, other), (6, disk)),
        "descr": _column((4, b"Physical memory"), (4, b"/"), (4, b"Swap"), (4, b"/home")),
        "size": _column((2, 1000), (2, 400), (2, 10), (2, 0)),
        "used": _column((2, 250), (2, 100), (2, 10), (2, 0)),
    })
    assert read_storage(data, {}) == {"mem_used_pct": 25.0, "disk_used_pct:/": 25.0}


def test_interfaces_prefer_ifname() -> None:
    data = Data({}, {
        "descr": _column((4, b"GigabitEthernet0/1"), (4, b"Vlan1")),
        "name": _column((4, b"Gi0/1"), (4, b"")),
        "oper_status": _column((2, 1), (2, 2)),
    })
    assert read_interfaces(data, {}) == {
        "if_up:Gi0/1": 1, "if_up:Vlan1": 0, "if_up_count": 1, "if_count": 2,
    }


def test_ups_on_battery() -> None:
    def ups(**scalars: int) -> dict[str, float | int | str]:
        return read_ups(Data({k: (2, v) for k, v in scalars.items()}, {}), {})

    assert ups(output_source=5, charge=40, runtime_min=12, battery_status=3) == {
        "ups_on_battery": 1, "ups_charge_pct": 40, "ups_runtime_min": 12, "ups_battery_status": 3,
    }
    assert ups(output_source=3)["ups_on_battery"] == 0
    assert ups(apc_output_status=3, apc_runtime=360000) == {
        "ups_on_battery": 1, "ups_runtime_min": 60,
    }


def test_shards_are_stable_and_partition() -> None:
    devices = [device(f"d{i}", "printer", 161, site=f"site-{i % 37}") for i in range(300)]
    for n in (1, 2, 3, 8):
        owners = [[i for i in range(n) if in_shard(d, (i, n))] for d in devices]
        assert all(len(o) == 1 for o in owners)
        # a site is never split between shards
        by_site: dict[str, set[int]] = {}
        for d, o in zip(devices, owners, strict=True):
            by_site.setdefault(d.site_id, set()).add(o[0])
        assert all(len(s) == 1 for s in by_site.values())
    assert in_shard(devices[0], None)


def test_poll_sharded_uses_several_processes(corpus_agent: Agent) -> None:
    devices = [
        device(f"prn{i}", "printer", corpus_agent.port, community="printers/utax", site=f"s{i}")
        for i in range(12)
    ]
    samples = poll_sharded(devices, REPO / "monitoring" / "profiles", processes=2, timeout=5.0)
    assert sorted(s.device for s in samples) == sorted(d.hostname for d in devices)
    assert all(s.ok and s.metrics["supply_pct:PK-3010S"] == 89.0 for s in samples)
