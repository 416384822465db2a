"""Property test over inventory mutations: whatever a technician (or a bad merge) writes into
a site file or a group_vars file — impossible dates, YAML 1.1 numbers, broken networks,
unicode, unknown keys, wrong types, broken YAML — loading ends in a valid inventory or in an
InventoryError whose every problem names its file and line.  Never a traceback.

The inventory is small (group_vars, the vault and two sites: Florac and Nouméa) so that each
example loads in well under a second.  In CI the examples are derandomized (the same 120 every
run: a verdict never depends on luck); to hunt for new failures, run with random examples:
``RELAIS_FUZZ_EXAMPLES=3000 pytest tests/inventory/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fleet.errors import InventoryError
from fleet.inventory import load_inventory
from fleet.inventory.secrets import DEMO_VAULT_PASSWORD

REPO = Path(__file__).resolve().parents[2]
EXPLORE = os.environ.get("RELAIS_FUZZ_EXAMPLES")
EXAMPLES = int(EXPLORE) if EXPLORE else 120
SITES = ("florac-fs", "noumea-ps")
FILES = (*(f"sites/{s}.yml" for s in SITES), "group_vars/all/main.yml",
         "group_vars/printer.yml", "group_vars/switch.yml")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    inv = root / "inventory"
    shutil.copytree(REPO / "inventory" / "group_vars", inv / "group_vars")
    (inv / "sites").mkdir()
    for s in SITES:
        shutil.copy2(REPO / "inventory" / "sites" / f"{s}.yml", inv / "sites" / f"{s}.yml")
    (root / "roles").symlink_to(REPO / "roles")
    return inv


def _octet() -> st.SearchStrategy[str]:
    return st.integers(min_value=-1, max_value=300).map(str)


dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.tuples(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)).map(
        lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.just("2026-02-30"), st.just("2026-2-3"), st.just("2026-12-24T10:00:00Z"),
)
numbers = st.one_of(
    st.integers(min_value=-10**40, max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["01000", "0466001212", "0o17", "0x1F", "1_000", "1e3", ".inf", "-.inf",
                     ".nan", "-0", "0b101", "190:20:30", "1:30", "09:00", "012345678901234567"]),
)
networks = st.one_of(
    st.tuples(_octet(), _octet(), _octet(), _octet(), st.integers(-1, 40)).map(
        lambda t: f"{t[0]}.{t[1]}.{t[2]}.{t[3]}/{t[4]}"),
    st.tuples(_octet(), _octet(), _octet(), _octet()).map(lambda t: ".".join(t)),
    st.sampled_from(["10.48.12.0/24", "10.0.0.0/8", "172.16.12.0/24", "0.0.0.0/0",
                     "10.48.12.5/24", "::1/128", "fe80::/10", "10.48.12.0/30"]),
)
texts = st.one_of(
    st.text(max_size=30).map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
)
odd = st.sampled_from([
    "", "~", "null", "[]", "{}", "yes", "no", "on", "off", "y", "true", "[1, [2, {a: b}]]",
    "{lat: 1}", "{management: 10.48.12.0/24}", "!vault |\n  $ANSIBLE_VAULT;1.1;AES256",
    "*nowhere", "&a x", "!!binary aGk=", "!!python/object/apply:os.system ['true']",
    "!!set {a, b}", "!!timestamp 2026-02-30", "'unclosed", '"unclosed', "[unclosed",
    "{a: 1", "a: b: c", "- item", "|\n  block", ">-\n  folded", "@at", "`tick",
    "'{{ vault_snmp_community }}'", '"{{ nope }}"', "'09:00-12:00'", "['25:00-26:00']",
    "['12:00-09:00']", "['20:00-01:00+1']", "['00:00-24:00']", "closed",
])
values = st.one_of(dates, numbers, networks, texts, odd)
keys = st.one_of(
    st.sampled_from([
        "site_id", "site_name", "site_kind", "site_postcode", "site_timezone", "site_networks",
        "site_closures", "site_pmi", "site_kiosk_allowlist", "site_ntp_servers",
        "site_portal_url", "site_coordinates", "site_opening_hours", "ansible_host",
        "device_pmr", "device_mac", "monitor_parent", "lab_recording", "snmp_version",
        "snmp_community", "snmp_port", "content_filter_allow", "kiosk_homepage", "mon", "lundi",
        "date", "from", "to", "management", "guest", "lat", "lon", "name", "vault_x", "<<",
        "hosts", "vars", "children", "public_pc", "pubic_pc", "site_x_y", "1", "true", "null",
    ]),
    st.text(min_size=1, max_size=12).map(lambda s: json.dumps(s, ensure_ascii=False)),
)


@st.composite
def mutations(draw: st.DrawFn, lines: list[str]) -> list[str]:
    out = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        line = out[i]
        indent = line[: len(line) - len(line.lstrip())]
        key, sep, _value = line.strip().partition(":")
        kind = draw(st.sampled_from(["value", "value", "value", "key", "delete", "duplicate",
                                     "insert", "indent"]))
        if kind == "value" and sep:
            out[i] = f"{indent}{key}: {draw(values)}"
        elif kind == "key" and sep:
            out[i] = f"{indent}{draw(keys)}:{_value}"
        elif kind == "delete":
            del out[i]
        elif kind == "duplicate":
            out.insert(i, line)
        elif kind == "insert":
            spaces = " " * draw(st.integers(0, 12))
            out.insert(i, f"{spaces}{draw(keys)}: {draw(values)}")
        else:
            out[i] = " " * draw(st.integers(0, 12)) + line.lstrip()
    return out


def check_load(inv: Path) -> None:
    """The property: an inventory, or problems that each name a file and a line."""
    try:
        load_inventory(inv, vault_password=DEMO_VAULT_PASSWORD)
    except InventoryError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.file, p
            assert p.line is not None and p.line >= 1, str(p)
            assert str(p).startswith(f"{p.file}:{p.line}:"), str(p)
            assert p.message and "\n" not in p.message, str(p)
            target = Path(p.file)
            if target.is_file():
                assert p.line <= len(target.read_text("utf-8").splitlines()) + 1, str(p)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXPLORE is None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
@example(data=None)  # the unmutated inventory loads: the positive control
def test_any_mutation_ends_in_an_inventory_or_located_problems(
    small: Path, data: st.DataObject | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(small.parent)
    originals = {f: (small / f).read_text(encoding="utf-8") for f in FILES}
    try:
        if data is None:
            load_inventory(Path("inventory"), vault_password=DEMO_VAULT_PASSWORD)
            return
        target = data.draw(st.sampled_from(FILES))
        lines = originals[target].splitlines()
        mutated = data.draw(mutations(lines))
        (small / target).write_text("\n".join(mutated) + "\n", encoding="utf-8")
        check_load(Path("inventory"))
    finally:
        for f, text in originals.items():
            (small / f).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("old, new", [
    ("{date: 2026-09-24,", "{date: 2026-02-30,"),
    ('site_postcode: "98800"', "site_postcode: 01000"),
    ("site_pmi: false", "site_pmi: 2026-02-30"),
    ("site_pmi: false", "site_closures: [{date: 2026-13-01}]"),
    ("lat: -22.2758", "lat: .nan"),
    ("management: 10.98.1.0/24", "management: 10.98.1.1/24"),
    ("ansible_host: 10.98.1.21", "ansible_host: 167772160"),
    ("site_name: \"Province Sud", "site_name: !!python/object/apply:os.system [\"true\"]\n"
                                  "        x: \"Province Sud"),
    ("    borne:\n", "    ? [borne]\n    : x\n    borne:\n"),
    ("mon: [", "<<: {a: 1}\n          mon: ["),
])
def test_known_traps(small: Path, old: str, new: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(small.parent)
    path = small / "sites" / "noumea-ps.yml"
    original = path.read_text(encoding="utf-8")
    assert original.count(old) == 1
    try:
        path.write_text(original.replace(old, new), encoding="utf-8")
        check_load(Path("inventory"))
        with pytest.raises(InventoryError):  # and it is a problem, not a valid inventory
            load_inventory(Path("inventory"), vault_password=DEMO_VAULT_PASSWORD)
    finally:
        path.write_text(original, encoding="utf-8")
